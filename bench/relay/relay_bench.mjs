// Load benchmark for `ava-voice serve` (the relay, docs/relay.md).
//
// For each N: starts ava-realtime-sim (a separate process, real-time pace) and
// `ava-voice serve --endpoint <sim>`, opens N WebSocket clients on /realtime/stream that stream
// a spoken question + silence (looped) as 20 ms binary frames on a drift-free clock, read
// everything the relay sends and report their playback position like a real-time player.
// Then it measures, on CLOCK_MONOTONIC on both sides (process.hrtime.bigint() here, the
// simulator's t_mono_us in its --events log):
//   upstream   = sim receipt of the append carrying a frame's first byte - client send of the frame
//   downstream = client receipt of an audio frame - sim send of the delta carrying its first byte
// (matched per session via the relay's {"type":"upstream","session_id"} message, and per item
// for the downstream; with a 1:1 relay that is exactly "k-th frame <-> k-th event"; the mapping
// found is reported), plus the serve process's CPU per session-minute and RSS per session
// (/proc/PID/stat, /proc/PID/status over the measured window), the simulator's CPU for context,
// and every error (client `error` messages, unexpected closes, failed connects, errors the
// simulator sent to the relay). --slow adds the slow-client check (one client stops reading).
//
// Usage (bench/relay/run.sh wraps it):
//   node relay_bench.mjs --ava build/ava-voice --sim build/ava-realtime-sim \
//        --speech speech.wav [--n 1,10,50] [--seconds 60] [--slow] [--work DIR] ...
// Prints progress on stderr; the table and one JSON line ({"relay_bench":...}) on stdout.
// Exit 0 = no errors; 1 = errors (or a protocol deviation) occurred; 2 = bad usage / setup.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import WebSocket from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RATE = 24000;
const FRAME = 960; // 20 ms of 24 kHz mono s16
const FRAME_MS = 20;
const POSITION_EVERY_MS = 100;
const STATES = new Set(['connecting', 'listening', 'user_speaking', 'thinking', 'assistant_speaking', 'calling_tool', 'reconnecting']); // docs/relay.md: "while it plays (every ~100 ms)"

// ---- options -------------------------------------------------------------------------------
const DEFAULTS = {
  ava: null,
  sim: null,
  speech: null, // 24 kHz mono s16 WAV of the spoken question
  silence: 8, // seconds of silence after it in each cycle (the reply plays out in it)
  n: '1,10,50',
  seconds: 60, // measured window per N
  pace: 1, // sim audio pace (1 = replies stream in real time)
  'delta-ms': 100,
  scenario: path.join(HERE, 'scenario.json'),
  'max-sessions': 200,
  'sim-threads': 2,
  work: null,
  settle: 2, // seconds between the end of the window and closing the clients
  'connect-gap-ms': 20, // between successive client connects
  positions: true, // send playback_position like a real-time player (--no-positions: never)
  verify: true, // compare the sim's recorded input with what was sent (--no-verify)
  slow: false, // also run the slow-client check
  'slow-only': false,
  'slow-n': 10,
  'slow-seconds': 60,
  'slow-pace': 8,
  'slow-scenario': path.join(HERE, 'scenario-long.json'),
  'slow-after-ms': 0, // the slow client stops reading this long after its first audio frame
  'ava-args': '', // extra arguments for `ava-voice serve` (space separated)
  keep: false, // keep the sim's recorded WAVs
  dump: false, // write latency-up.csv / latency-down.csv (client, client time, latency) per run
  direct: false, // also run each N without the relay (clients straight to the sim): the floor
};
const BOOL = new Set(['positions', 'verify', 'slow', 'slow-only', 'keep', 'direct', 'dump']);

function parseArgs(argv) {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) usage(`unexpected argument ${a}`);
    let k = a.slice(2);
    let v;
    const eq = k.indexOf('=');
    if (eq >= 0) [k, v] = [k.slice(0, eq), k.slice(eq + 1)];
    if (k === 'help') usage(null);
    if (k.startsWith('no-') && BOOL.has(k.slice(3))) {
      o[k.slice(3)] = false;
      continue;
    }
    if (!(k in DEFAULTS)) usage(`unknown option --${k}`);
    if (BOOL.has(k)) {
      o[k] = v === undefined ? true : !['0', 'false', 'no'].includes(v);
      continue;
    }
    if (v === undefined) {
      if (i + 1 >= argv.length) usage(`--${k} needs a value`);
      v = argv[++i];
    }
    o[k] = typeof DEFAULTS[k] === 'number' ? Number(v) : v;
    if (typeof DEFAULTS[k] === 'number' && !Number.isFinite(o[k])) usage(`--${k}: not a number: ${v}`);
  }
  if (!o.ava || !o.sim || !o.speech) usage('--ava, --sim and --speech are required');
  o.ns = String(o.n)
    .split(/[ ,]+/)
    .filter(Boolean)
    .map(Number);
  if (o.ns.some((x) => !Number.isInteger(x) || x < 1)) usage(`--n: bad list ${o.n}`);
  return o;
}

function usage(err) {
  const s = `usage: node relay_bench.mjs --ava PATH --sim PATH --speech WAV [options]
  --n 1,10,50          client counts to run (each with fresh sim + serve processes)
  --seconds 60         measured window per N
  --silence 8          seconds of silence after the question in each cycle
  --pace 1 --delta-ms 100 --scenario FILE --sim-threads 2   simulator settings
  --max-sessions 200   passed to ava-voice serve; --ava-args "..." adds more
  --no-positions       never send playback_position
  --no-verify          skip comparing the sim's recorded input audio with what was sent
  --direct             also run each N without the relay (clients straight to the sim, GA
                       protocol): the loopback + client floor the relay's figures include
  --slow               also run the slow-client check (baseline vs one client that stops reading)
  --slow-only          only that check; --slow-n 10 --slow-seconds 60 --slow-pace 8
                       --slow-scenario FILE --slow-after-ms 0
  --work DIR           where logs go (default: a new /tmp/relay-bench.* directory)
  --keep               keep the sim's recorded WAVs
  --dump               write every latency (client, client time, latency in us) to
                       latency-up.csv / latency-down.csv in each run's directory`;
  if (err) {
    console.error(`relay-bench: ${err}\n${s}`);
    process.exit(2);
  }
  console.log(s);
  process.exit(0);
}

const log = (msg) => console.error(`relay-bench: ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Number(process.hrtime.bigint() / 1000n); // CLOCK_MONOTONIC on Linux

// ---- statistics ----------------------------------------------------------------------------
/** Nearest-rank percentile (p in 0..100), as bench/bench.py; null for no data. */
function pct(sorted, p) {
  if (!sorted.length) return null;
  const k = Math.max(0, Math.min(sorted.length - 1, Math.round((p / 100) * sorted.length + 0.5) - 1));
  return sorted[k];
}
function summary(valuesUs) {
  const v = Float64Array.from(valuesUs).sort();
  const ms = (x) => (x === null ? null : Math.round(x) / 1000);
  return { n: v.length, p50: ms(pct(v, 50)), p99: ms(pct(v, 99)), max: ms(v.length ? v[v.length - 1] : null), min: ms(v.length ? v[0] : null) };
}

// ---- WAV -----------------------------------------------------------------------------------
function readWav(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file} is not a WAV`);
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { format: buf.readUInt16LE(off + 8), channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== RATE || fmt.bits !== 16) throw new Error(`${file}: need 24 kHz mono 16-bit PCM, got ${JSON.stringify(fmt)}`);
      return buf.subarray(off + 8, off + 8 + Math.min(size, buf.length - off - 8));
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/** speech + silence, padded to whole 20 ms frames. */
function makeCycle(speech, silenceS) {
  const speechFrames = Math.ceil(speech.length / FRAME);
  const silenceFrames = Math.round((silenceS * 1000) / FRAME_MS);
  const cycle = Buffer.alloc((speechFrames + silenceFrames) * FRAME);
  speech.copy(cycle, 0);
  return { pcm: cycle, frames: speechFrames + silenceFrames, speechFrames, silenceFrames };
}

// ---- /proc ---------------------------------------------------------------------------------
let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  /* keep 100 */
}
function procCpuS(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK; // utime + stime (all threads)
  } catch {
    return null;
  }
}
function procStatusKb(pid, key) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Builds (ninja, cc1plus, ld) running now, and the load average: the machine is shared. */
function otherLoad() {
  const names = new Set(['ninja', 'make', 'cc1plus', 'cc1', 'ld', 'ld.lld', 'ld.gold', 'mold', 'cmake']);
  const found = [];
  try {
    for (const pid of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
        if (names.has(comm)) found.push(`${comm} ${pid}`);
      } catch {
        /* gone */
      }
    }
  } catch {
    /* no /proc */
  }
  const builds = found.join(', ');
  let loadavg = null;
  try {
    loadavg = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    /* not Linux */
  }
  return { builds, loadavg };
}

/** The rest of the machine's CPU over the window, % of one core (clock ticks: +-1-2 % noise). */
function othersCpuPct(c0, c1, windowUs) {
  if (!c0.machine || !c1.machine) return null;
  const ours = (c1.serve ?? 0) - (c0.serve ?? 0) + ((c1.sim ?? 0) - (c0.sim ?? 0)) + (c1.me.user + c1.me.system) / 1e6;
  const others = c1.machine.busy - c0.machine.busy - ours;
  return Math.round((Math.max(0, others) * 1e9) / windowUs) / 10; // s -> % of one core, 1 decimal
}

/** Machine-wide CPU seconds from /proc/stat: {busy, steal, total}. */
function machineCpu() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: steal / CLK_TCK, iowait: iowait / CLK_TCK, total: total / CLK_TCK };
  } catch {
    return null;
  }
}

// ---- processes -----------------------------------------------------------------------------
/** Spawns cmd with stdout/stderr to files; resolves with the first match of `pattern` in either. */
function startProc(name, cmd, args, { env, dir, pattern, timeoutMs = 15000 }) {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(path.join(dir, `${name}.out`));
    const err = fs.createWriteStream(path.join(dir, `${name}.err`));
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { name, p, exited: null, out: '', err: '' };
    proc.done = new Promise((res) =>
      p.on('exit', (code, signal) => {
        proc.exited = { code, signal };
        res(proc.exited);
      }),
    );
    let settled = false;
    const check = (which, chunk) => {
      proc[which] += chunk.toString();
      if (proc[which].length > 1 << 20) proc[which] = proc[which].slice(-(1 << 19));
      if (settled) return;
      const m = (proc.out + '\n' + proc.err).match(pattern);
      if (m) {
        settled = true;
        clearTimeout(timer);
        resolve({ proc, match: m });
      }
    };
    p.stdout.on('data', (c) => {
      out.write(c);
      check('out', c);
    });
    p.stderr.on('data', (c) => {
      err.write(c);
      check('err', c);
    });
    p.on('error', (e) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${name}: ${e.message}`));
      }
    });
    proc.done.then((st) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(new Error(`${name} exited (${st.code ?? st.signal}) before printing ${pattern}: ${tail(proc.err || proc.out)}`));
      }
    });
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        p.kill('SIGKILL');
        reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms: ${tail(proc.err || proc.out)}`));
      }
    }, timeoutMs);
  });
}
const tail = (s) => s.trim().split('\n').slice(-5).join(' | ');

async function stopProc(proc, graceMs = 5000) {
  if (proc.exited) return { ...proc.exited, killed: false };
  proc.p.kill('SIGTERM');
  const t = await Promise.race([proc.done, sleep(graceMs).then(() => null)]);
  if (t) return { ...t, killed: false };
  proc.p.kill('SIGKILL');
  return { ...(await proc.done), killed: true };
}

// ---- the client ----------------------------------------------------------------------------
class Client {
  constructor(idx, run) {
    this.idx = idx;
    this.run = run;
    this.cycle = run.cycle;
    // Every client starts in the silence; its first question begins after 0.5 s + k/N of the
    // rest of the silence, so the N conversations' turns are spread over the cycle.
    const lead = Math.min(25, run.cycle.silenceFrames);
    this.phase = run.cycle.frames - lead - Math.floor((idx * (run.cycle.silenceFrames - lead)) / run.n);
    this.slow = false;
    this.errors = []; // {kind, detail}
    this.proto = []; // deviations from docs/relay.md
    this.msgTypes = {};
    this.upstreamIds = [];
    this.sendT = []; // client send time (us) of each binary frame (all FRAME bytes)
    this.recv = []; // {item, t, bytes} of each binary frame received
    this.items = []; // item ids in audio_start order
    this.itemSamples = new Map(); // item -> samples received
    this.audioEnd = new Map(); // item -> samples announced by audio_end
    this.curItem = null;
    this.turns = [];
    this.closing = false;
    this.closed = null; // {code, reason, t}
    this.micTimer = null;
    this.micStopped = false;
    // real-time player
    this.play = { item: null, queued: 0, played: 0, lastTick: 0, lastReport: 0, reported: -1, cut: new Set() };
    this.firstAudioT = null;
    this.pausedAt = null;
    this.resumedAt = null;
    this.bytesIn = 0;
  }

  err(kind, detail) {
    this.errors.push({ kind, detail: String(detail ?? '').slice(0, 300) });
  }
  deviation(what) {
    if (this.proto.length < 20) this.proto.push(what);
  }

  /** POST /realtime/session/start, then the WebSocket; resolves once streaming (or failed). */
  async connect(base) {
    let info;
    try {
      const r = await fetch(`${base}/realtime/session/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      const body = await r.text();
      if (r.status !== 200) return this.err('connect_failed', `session/start HTTP ${r.status}: ${body}`);
      info = JSON.parse(body);
    } catch (e) {
      return this.err('connect_failed', `session/start: ${e.message}`);
    }
    if (info.status !== 'ready') this.deviation(`session/start status ${JSON.stringify(info.status)}`);
    const af = info.audio_format || {};
    if (af.encoding !== 'pcm16' || af.sample_rate !== RATE || af.channels !== 1) this.deviation(`session/start audio_format ${JSON.stringify(info.audio_format)}`);
    const url = new URL(info.websocket_url || '/realtime/stream', base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (info.stream_token) url.searchParams.set('token', info.stream_token);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.err('connect_failed', `no "upstream" message within 15 s (got: ${Object.keys(this.msgTypes).join(',') || 'nothing'})`);
        done();
      }, 15000);
      this.onStreaming = done;
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 20 });
      this.ws = ws;
      ws.on('unexpected-response', (req, res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => {
          this.err('connect_failed', `upgrade HTTP ${res.statusCode}: ${b}`);
          this.closed = { code: null, reason: 'upgrade refused', t: nowUs() };
          done();
        });
      });
      ws.on('error', (e) => {
        if (!this.closing && !(this.slow && this.pausedAt)) this.err('socket_error', e.message);
        this.socketError = e.message;
      });
      ws.on('message', (data, isBinary) => this.onMessage(nowUs(), data, isBinary));
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString(), t: nowUs() };
        this.stopMic();
        if (this.slow) {
          if (this.onSlowClosed) this.onSlowClosed();
        } else if (!this.closing) this.err('unexpected_close', `code ${code} ${reason}`);
        else if (code !== 1000) this.deviation(`close after our 1000 came back as ${code}`);
        done();
      });
    });
  }

  onMessage(t, data, isBinary) {
    if (isBinary) {
      this.bytesIn += data.length;
      if (this.curItem === null) {
        this.deviation('binary audio before any audio_start');
        return;
      }
      this.recv.push({ item: this.curItem, t, bytes: data.length });
      this.itemSamples.set(this.curItem, (this.itemSamples.get(this.curItem) || 0) + data.length / 2);
      if (this.firstAudioT === null) {
        this.firstAudioT = t;
        if (this.slow) setTimeout(() => this.pause(), this.run.opts['slow-after-ms']);
      }
      this.playPush(this.curItem, data.length / 2);
      return;
    }
    let m;
    try {
      m = JSON.parse(data.toString());
    } catch {
      return this.deviation('a text frame that is not JSON');
    }
    const type = m.type;
    this.msgTypes[type] = (this.msgTypes[type] || 0) + 1;
    if (!this.gotFirst) {
      this.gotFirst = true;
      if (type !== 'ready') this.deviation(`first message is ${type}, not ready`);
    }
    switch (type) {
      case 'ready':
        break;
      case 'upstream':
        this.upstreamIds.push(m.session_id);
        if (this.upstreamIds.length === 1) {
          this.startMic();
          this.onStreaming?.();
        }
        break;
      case 'audio_start':
        if (typeof m.item_id !== 'string') this.deviation('audio_start without item_id');
        this.curItem = m.item_id;
        if (this.itemSamples.has(m.item_id)) this.deviation(`second audio_start for ${m.item_id}`);
        else {
          this.items.push(m.item_id);
          this.itemSamples.set(m.item_id, 0);
        }
        break;
      case 'audio_end':
        this.audioEnd.set(m.item_id, m.samples);
        this.playEnd(m.item_id);
        break;
      case 'interrupted':
        this.playCut(m.item_id);
        break;
      case 'turn':
        if (typeof m.latency_ms === 'number') this.turns.push(m.latency_ms);
        break;
      case 'error':
        this.err('error_message', `${m.code}: ${m.message}${m.fatal ? ' (fatal)' : ''}`);
        break;
      case 'closed':
        if (!this.closing && !this.slow) this.err('unexpected_close', `closed message: ${m.reason}`);
        break;
      case 'notice':
        if (m.level === 'warning') this.run.notices.push(`client ${this.idx}: ${m.text}`);
        break;
      case 'status':
        if (!STATES.has(m.state)) this.deviation(`status state ${JSON.stringify(m.state)} is not in docs/relay.md`);
        break;
      case 'transcript':
      case 'usage':
      case 'pong':
      case 'tool_call':
      case 'tool_result':
      case 'event':
        break;
      default:
        this.deviation(`unknown message type ${type}`);
    }
  }

  // -- microphone: 20 ms frames on a drift-free clock, the cycle looped --
  startMic() {
    const t0 = performance.now();
    let i = 0;
    const tick = () => {
      if (this.micStopped) return;
      const due = Math.floor((performance.now() - t0) / FRAME_MS) + 1;
      while (i < due && !this.micStopped) {
        this.sendFrame(i);
        i++;
      }
      if (!this.micStopped) this.micTimer = setTimeout(tick, Math.max(0, t0 + i * FRAME_MS - performance.now()));
    };
    tick();
  }
  sendFrame(i) {
    if (this.ws.readyState !== WebSocket.OPEN) return this.stopMic();
    const off = ((this.phase + i) % this.cycle.frames) * FRAME;
    const t = nowUs();
    this.ws.send(this.cycle.pcm.subarray(off, off + FRAME), { binary: true });
    this.sendT.push(t);
  }
  stopMic() {
    this.micStopped = true;
    clearTimeout(this.micTimer);
  }
  /** The bytes sent, reconstructed (for the check against the sim's recording). */
  sentBytes(count) {
    const out = Buffer.alloc(count * FRAME);
    for (let i = 0; i < count; i++) {
      const off = ((this.phase + i) % this.cycle.frames) * FRAME;
      this.cycle.pcm.copy(out, i * FRAME, off, off + FRAME);
    }
    return out;
  }

  // -- slow client --
  pause() {
    if (this.closed || !this.ws) return;
    this.pausedAt = nowUs();
    if (typeof this.ws.pause === 'function') this.ws.pause();
    else this.ws._socket.pause();
  }
  resume() {
    if (!this.ws || this.pausedAt === null || this.resumedAt !== null) return;
    this.resumedAt = nowUs();
    if (typeof this.ws.resume === 'function') this.ws.resume();
    else this.ws._socket?.resume();
  }

  // -- real-time player: plays what arrived at 24 kHz, reports the position every ~100 ms --
  playPush(item, samples) {
    const p = this.play;
    if (p.cut.has(item)) return;
    if (item !== p.item) {
      p.item = item;
      p.queued = 0;
      p.played = 0;
      p.reported = -1;
      p.lastTick = performance.now();
    }
    p.queued += samples;
  }
  playTick(now) {
    const p = this.play;
    if (p.item === null || this.pausedAt !== null) return;
    const want = Math.floor(((now - p.lastTick) * RATE) / 1000);
    if (want <= 0) return;
    p.lastTick += (want * 1000) / RATE;
    const n = Math.min(want, p.queued);
    p.queued -= n;
    p.played += n;
    if (this.run.opts.positions && p.played !== p.reported && now - p.lastReport >= POSITION_EVERY_MS) {
      p.lastReport = now;
      p.reported = p.played;
      this.sendJson({ type: 'playback_position', item_id: p.item, played_ms: Math.floor((p.played * 1000) / RATE), played_samples: p.played });
    }
  }
  playEnd() {
    /* the rest keeps playing out in playTick */
  }
  playCut(item) {
    const p = this.play;
    p.cut.add(item);
    if (p.item !== item) return;
    if (this.run.opts.positions)
      this.sendJson({ type: 'playback_position', item_id: item, played_ms: Math.floor((p.played * 1000) / RATE), played_samples: p.played, interrupted: true });
    p.item = null;
    p.queued = 0;
  }
  sendJson(m) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  close() {
    this.stopMic();
    if (!this.ws || this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.deviation('no close handshake within 5 s of our close(1000)');
        this.ws.terminate();
        resolve();
      }, 5000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'bench done');
    });
  }
}

/**
 * The same client without the relay (--direct): straight to the simulator with the GA protocol
 * (base64 appends, JSON deltas). The floor the relay's figures compare with: the same loopback,
 * the same Node client, one hop instead of two.
 */
class DirectClient extends Client {
  async connect(url) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.err('connect_failed', 'no session.created within 15 s');
        done();
      }, 15000);
      const ws = new WebSocket(url, { headers: { Authorization: 'Bearer sk-bench' }, perMessageDeflate: false, maxPayload: 16 << 20 });
      this.ws = ws;
      ws.on('unexpected-response', (req, res) => {
        this.err('connect_failed', `upgrade HTTP ${res.statusCode}`);
        done();
      });
      ws.on('error', (e) => {
        if (!this.closing) this.err('socket_error', e.message);
      });
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString(), t: nowUs() };
        this.stopMic();
        if (!this.closing) this.err('unexpected_close', `code ${code} ${reason}`);
        done();
      });
      ws.on('message', (data) => {
        const t = nowUs();
        const m = JSON.parse(data.toString());
        this.msgTypes[m.type] = (this.msgTypes[m.type] || 0) + 1;
        if (m.type === 'session.created') {
          this.upstreamIds.push(m.session.id);
          ws.send(JSON.stringify({ type: 'session.update', session: DIRECT_SESSION }));
          this.startMic();
          done();
        } else if (m.type === 'response.output_audio.delta') {
          const pcm = Buffer.from(m.delta, 'base64');
          if (!this.itemSamples.has(m.item_id)) {
            this.items.push(m.item_id);
            this.itemSamples.set(m.item_id, 0);
          }
          this.itemSamples.set(m.item_id, this.itemSamples.get(m.item_id) + pcm.length / 2);
          this.recv.push({ item: m.item_id, t, bytes: pcm.length });
          this.bytesIn += pcm.length;
          this.playPush(m.item_id, pcm.length / 2);
        } else if (m.type === 'input_audio_buffer.speech_started') {
          if (this.play.item) this.playCut(this.play.item);
        } else if (m.type === 'error') this.err('error_message', `${m.error?.code}: ${m.error?.message}`);
      });
    });
  }
  sendFrame(i) {
    if (this.ws.readyState !== WebSocket.OPEN) return this.stopMic();
    const off = ((this.phase + i) % this.cycle.frames) * FRAME;
    const t = nowUs();
    this.ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: this.cycle.pcm.toString('base64', off, off + FRAME) }));
    this.sendT.push(t);
  }
  sendJson() {
    /* no relay to report playback positions to */
  }
}
const DIRECT_SESSION = {
  type: 'realtime',
  audio: {
    input: {
      format: { type: 'audio/pcm', rate: RATE },
      transcription: { model: 'gpt-4o-mini-transcribe' },
      turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true },
    },
    output: { format: { type: 'audio/pcm', rate: RATE }, voice: 'marin' },
  },
};

// ---- the simulator's event log -------------------------------------------------------------
async function readSimEvents(file, w0, w1) {
  const inWindow = []; // every logged event's time inside the window: the sim's own gaps
  const sessions = new Map(); // id -> {appends:[{t,bytes}], deltas:[{t,bytes,item}], errors:[], in:{}, closed:null}
  const get = (id) => {
    let s = sessions.get(id);
    if (!s) sessions.set(id, (s = { appends: [], deltas: [], errors: [], inTypes: {}, closed: null, closeSent: null }));
    return s;
  };
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    if (e.t_mono_us >= w0 && e.t_mono_us <= w1) inWindow.push(e.t_mono_us);
    if (!e.session) continue;
    const s = get(e.session);
    if (e.dir === 'in') {
      s.inTypes[e.type] = (s.inTypes[e.type] || 0) + 1;
      if (e.type === 'input_audio_buffer.append') s.appends.push({ t: e.t_mono_us, bytes: e.audio_bytes });
    } else if (e.dir === 'out') {
      if (e.type === 'response.output_audio.delta') s.deltas.push({ t: e.t_mono_us, bytes: e.audio_bytes, item: e.event?.item_id });
      else if (e.type === 'error') s.errors.push(`${e.event?.error?.code ?? e.event?.error?.type}: ${e.event?.error?.message ?? ''}`.slice(0, 200));
    } else if (e.dir === 'conn') {
      if (e.type === 'connection.closed') s.closed = { t: e.t_mono_us, reason: e.reason };
      if (e.type === 'connection.close_sent' || e.type === 'connection.abort_sent') s.closeSent = { t: e.t_mono_us, type: e.type };
    }
  }
  const t = Float64Array.from(inWindow).sort();
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  sessions.maxGapMs = t.length > 1 ? Math.round(gap / 100) / 10 : null;
  return sessions;
}

/**
 * For each element of `b` (a stream of chunks with times) inside [w0, w1], the time of the
 * chunk of `a` that carries its first byte: latency = b.t - a.t. Both streams are the same
 * bytes chunked differently (or identically). Returns {lat: [us], oneToOne, aBytes, bBytes}.
 */
function matchStreams(a, b, w0, w1, wantSign) {
  const lat = [];
  const latT = []; // the client-side time of each
  let ai = 0;
  let aStart = 0; // first byte offset of a[ai]
  let bStart = 0;
  for (const x of b) {
    while (ai < a.length && aStart + a[ai].bytes <= bStart) {
      aStart += a[ai].bytes;
      ai++;
    }
    if (ai >= a.length) break;
    const tRef = wantSign === 'up' ? a[ai].t : x.t; // the client side's time decides the window
    if (tRef >= w0 && tRef <= w1) {
      lat.push(x.t - a[ai].t);
      latT.push(tRef);
    }
    bStart += x.bytes;
  }
  const sum = (s) => s.reduce((acc, y) => acc + y.bytes, 0);
  // 1:1 = the same chunk sizes, in order, as far as both go (b may stop early: a cut reply's
  // tail the relay dropped, frames still in flight at the end)
  let oneToOne = b.length <= a.length;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n && oneToOne; i++) if (a[i].bytes !== b[i].bytes) oneToOne = false;
  return { lat, latT, oneToOne, aCount: a.length, bCount: b.length, aBytes: sum(a), bBytes: sum(b) };
}

function readWavFile(file) {
  try {
    return readWav(file);
  } catch {
    return null;
  }
}

// ---- one run -------------------------------------------------------------------------------
async function runOnce(opts, n, { label, pace, scenario, seconds, slowIdx = -1, direct = false }) {
  const dir = path.join(opts.work, label);
  fs.mkdirSync(dir, { recursive: true });
  const recDir = path.join(dir, 'rec');
  if (opts.verify) fs.mkdirSync(recDir, { recursive: true });
  const events = path.join(dir, 'sim-events.jsonl');
  const run = { n, opts, cycle: opts.cycle, notices: [], errors: [], proto: [] };
  const res = { label, n, seconds, pace, direct, errors: 0, error_detail: {}, problems: [], notes: [] };
  const addErr = (kind, detail) => {
    res.errors++;
    (res.error_detail[kind] ||= []).length < 10 && res.error_detail[kind].push(detail);
  };

  // 1. simulator and relay
  const simArgs = ['--port', '0', '--events', events, '--scenario', scenario, '--pace', String(pace), '--delta-ms', String(opts['delta-ms']), '--threads', String(opts['sim-threads']), '--quiet'];
  if (opts.verify) simArgs.push('--record-dir', recDir);
  const { proc: sim, match: sm } = await startProc('sim', opts.sim, simArgs, { env: process.env, dir, pattern: /listening on (ws\S+)/ });
  const simUrl = sm[1];
  const xdg = path.join(dir, 'xdg');
  for (const d of ['config', 'data', 'state', 'cache']) fs.mkdirSync(path.join(xdg, d), { recursive: true });
  const env = {
    ...process.env,
    OPENAI_API_KEY: 'sk-bench',
    XDG_CONFIG_HOME: path.join(xdg, 'config'),
    XDG_DATA_HOME: path.join(xdg, 'data'),
    XDG_STATE_HOME: path.join(xdg, 'state'),
    XDG_CACHE_HOME: path.join(xdg, 'cache'),
  };
  const serveArgs = ['serve', '--listen', '127.0.0.1:0', '--endpoint', simUrl, '--max-sessions', String(opts['max-sessions']), ...opts['ava-args'].split(' ').filter(Boolean)];
  let serve = null;
  let base = simUrl;
  if (!direct) {
    try {
      const r = await startProc('serve', opts.ava, serveArgs, { env, dir, pattern: /http:\/\/127\.0\.0\.1:(\d+)\// });
      serve = r.proc;
      base = `http://127.0.0.1:${r.match[1]}`;
    } catch (e) {
      await stopProc(sim);
      throw e;
    }
    log(`${label}: sim ${simUrl} (pid ${sim.p.pid}), serve ${base}/ (pid ${serve.p.pid})`);
    try {
      const h = await fetch(`${base}/healthz`);
      const body = await h.text();
      if (h.status !== 200 || JSON.parse(body).status !== 'ok') res.problems.push(`GET /healthz: HTTP ${h.status} ${body.slice(0, 200)}`);
    } catch (e) {
      res.problems.push(`GET /healthz: ${e.message}`);
    }
  } else log(`${label}: sim ${simUrl} (pid ${sim.p.pid}), clients straight to it (no relay)`);
  const servePid = serve ? serve.p.pid : -1; // -1: /proc reads give null
  await sleep(500);
  // idle: the relay with no session, 2 s (CPU ticks are 10 ms: a rough figure)
  const idle0 = procCpuS(servePid);
  await sleep(2000);
  const idle1 = procCpuS(servePid);
  const rssIdleKb = procStatusKb(servePid, 'VmRSS');

  // 2. clients
  const clients = [];
  const playTimer = setInterval(() => {
    const now = performance.now();
    for (const c of clients) c.playTick(now);
  }, 20);
  const connects = [];
  const tc0 = performance.now();
  for (let i = 0; i < n; i++) {
    const c = direct ? new DirectClient(i, run) : new Client(i, run);
    if (i === slowIdx) c.slow = true;
    clients.push(c);
    connects.push(c.connect(base));
    await sleep(opts['connect-gap-ms']);
  }
  await Promise.all(connects);
  const streaming = clients.filter((c) => c.upstreamIds.length > 0).length;
  log(`${label}: ${streaming}/${n} clients streaming after ${((performance.now() - tc0) / 1000).toFixed(1)} s; measuring ${seconds} s`);

  // 3. the measured window
  const busy0 = otherLoad();
  const w0 = nowUs();
  const cpu0 = { serve: procCpuS(servePid), sim: procCpuS(sim.p.pid), me: process.cpuUsage(), machine: machineCpu() };
  const rssSamples = [];
  const rssStartKb = procStatusKb(servePid, 'VmRSS');
  const buildsSeen = new Set();
  const rssTimer = setInterval(() => {
    const v = procStatusKb(servePid, 'VmRSS');
    if (v !== null) rssSamples.push(v);
    for (const b of otherLoad().builds.split(', ').filter(Boolean)) buildsSeen.add(b.split(' ')[0]);
  }, 1000);
  let metrics = null;
  // The slow client cannot see the relay's close while it does not read: watch the sim's log
  // (live) for its upstream session closing, and start reading again 1 s after that, as a
  // client back from a stall would (else it reads again at the end of the window).
  let tailTimer = null;
  const slowWatch = { upstreamClosedT: null };
  if (slowIdx >= 0) {
    let pos = 0;
    let rest = '';
    tailTimer = setInterval(() => {
      const sid = clients[slowIdx].upstreamIds[0];
      if (!sid || slowWatch.upstreamClosedT !== null) return;
      try {
        const fd = fs.openSync(events, 'r');
        const size = fs.fstatSync(fd).size;
        if (size > pos) {
          const buf = Buffer.alloc(size - pos);
          fs.readSync(fd, buf, 0, buf.length, pos);
          pos = size;
          const lines = (rest + buf.toString()).split('\n');
          rest = lines.pop();
          for (const l of lines)
            if (l.includes('"connection.closed"') && l.includes(sid)) {
              slowWatch.upstreamClosedT = JSON.parse(l).t_mono_us;
              log(`${label}: the slow client's upstream session closed; it reads again in 1 s`);
              setTimeout(() => clients[slowIdx].resume(), 1000);
            }
        }
        fs.closeSync(fd);
      } catch {
        /* not there yet */
      }
    }, 500);
  }
  await sleep(seconds * 1000);
  clearInterval(tailTimer);
  const w1 = nowUs();
  const busy1 = otherLoad();
  for (const b of `${busy0.builds}, ${busy1.builds}`.split(', ').filter(Boolean)) buildsSeen.add(b.split(' ')[0]);
  if (buildsSeen.size) res.notes.push(`a build was running during the window (${[...buildsSeen].join(', ')} seen): the figures compete with it`);
  res.builds_during_window = [...buildsSeen];
  res.loadavg = [busy0.loadavg, busy1.loadavg];
  const cpu1 = { serve: procCpuS(servePid), sim: procCpuS(sim.p.pid), me: process.cpuUsage(cpu0.me), machine: machineCpu() };
  const rssNKb = procStatusKb(servePid, 'VmRSS');
  const hwmKb = procStatusKb(servePid, 'VmHWM');
  clearInterval(rssTimer);
  if (serve)
    try {
      const r = await fetch(`${base}/metrics`);
      metrics = await r.text();
      fs.writeFileSync(path.join(dir, 'metrics.txt'), metrics);
    } catch (e) {
      res.problems.push(`GET /metrics: ${e.message}`);
    }
  const serveDiedInWindow = serve?.exited;

  // 4. wind down: mics off, let the last audio arrive, close
  for (const c of clients) c.stopMic();
  await sleep(opts.settle * 1000);
  const slowC = slowIdx >= 0 ? clients[slowIdx] : null;
  let slowClosedWait = null;
  if (slowC) {
    slowClosedWait = slowC.closed ? Promise.resolve() : new Promise((r) => (slowC.onSlowClosed = r));
    slowC.resume();
  }
  await Promise.all(clients.filter((c) => c !== slowC).map((c) => c.close()));
  if (slowC) {
    await Promise.race([slowClosedWait, sleep(10000)]);
    if (!slowC.closed) await slowC.close();
  }
  clearInterval(playTimer);
  const serveStop = serve ? await stopProc(serve) : { code: 0, signal: null, killed: false };
  const simStop = await stopProc(sim);
  if (serveDiedInWindow) addErr('serve_exit', `serve exited during the window: ${JSON.stringify(serveDiedInWindow)}: ${tail(serve.err)}`);
  else if (serveStop.killed || (serveStop.code !== 0 && serveStop.signal !== 'SIGTERM'))
    res.problems.push(`serve did not stop cleanly on SIGTERM: ${JSON.stringify(serveStop)} ${tail(serve.err)}`);
  if (simStop.killed) res.problems.push(`the sim did not stop on SIGTERM within 5 s`);

  // 5. analysis
  const sessions = await readSimEvents(events, w0, w1);
  const dumpUp = opts.dump ? ['client,t_client_us,latency_us'] : null;
  const dumpDown = opts.dump ? ['client,t_client_us,latency_us'] : null;
  const up = [];
  const down = [];
  const downOthers = []; // every client but the slow one
  let upOne = true;
  let downOne = true;
  const itemsById = { matched: 0, byOrder: 0 };
  let upFrames = 0;
  let downFrames = 0;
  let simErrs = 0;
  const verify = { checked: 0, ok: 0, bad: [] };
  for (const c of clients) {
    for (const e of c.errors) addErr(e.kind, `client ${c.idx}${c.slow ? ' (slow)' : ''}: ${e.detail}`);
    for (const p of c.proto) res.problems.push(`client ${c.idx}: ${p}`);
    if (c.upstreamIds.length > 1) res.problems.push(`client ${c.idx}: ${c.upstreamIds.length} upstream sessions (reconnects): ${c.upstreamIds.join(' ')}`);
    if (!c.upstreamIds.length) continue;
    const sid = c.upstreamIds[0];
    const s = sessions.get(sid);
    if (!s) {
      res.problems.push(`client ${c.idx}: upstream session ${sid} is not in the simulator's log`);
      continue;
    }
    for (const e of s.errors) {
      simErrs++;
      addErr('sim_error_sent_to_relay', `client ${c.idx} ${sid}: ${e}`);
    }
    // upstream: client frames (a) -> sim appends (b)
    const a = c.sendT.map((t) => ({ t, bytes: FRAME }));
    const mu = matchStreams(a, s.appends, w0, w1, 'up');
    if (!mu.oneToOne) upOne = false;
    if (mu.bBytes > mu.aBytes) res.problems.push(`client ${c.idx}: the sim got ${mu.bBytes} input bytes, the client sent only ${mu.aBytes}`);
    const lost = mu.aBytes - mu.bBytes;
    if (lost > 50 * FRAME && !c.slow) res.problems.push(`client ${c.idx}: ${lost} bytes sent were never appended upstream (${(lost / 48).toFixed(0)} ms)`);
    up.push(...mu.lat);
    if (dumpUp) for (let k = 0; k < mu.lat.length; k++) dumpUp.push(`${c.idx},${mu.latT[k]},${mu.lat[k]}`);
    upFrames += mu.lat.length;
    // the recording: is what arrived upstream exactly what was sent, in order?
    if (opts.verify) {
      const rec = readWavFile(path.join(recDir, `${sid}-input.wav`));
      if (rec) {
        verify.checked++;
        const frames = Math.min(c.sendT.length, Math.floor(rec.length / FRAME));
        const sent = c.sentBytes(frames);
        if (sent.equals(rec.subarray(0, frames * FRAME))) verify.ok++;
        else {
          let k = 0;
          while (k < sent.length && sent[k] === rec[k]) k++;
          verify.bad.push(`client ${c.idx}: sim input differs from what was sent at byte ${k} (frame ${Math.floor(k / FRAME)})`);
        }
      }
      if (!opts.keep) fs.rmSync(path.join(recDir, `${sid}-input.wav`), { force: true });
    }
    // downstream: sim deltas (a) -> client binary frames (b), per item
    const simItems = [];
    const simBy = new Map();
    for (const d of s.deltas) {
      if (!simBy.has(d.item)) {
        simBy.set(d.item, []);
        simItems.push(d.item);
      }
      simBy.get(d.item).push(d);
    }
    const cliBy = new Map();
    for (const f of c.recv) {
      if (!cliBy.has(f.item)) cliBy.set(f.item, []);
      cliBy.get(f.item).push(f);
    }
    c.items.forEach((item, k) => {
      const b = cliBy.get(item) || [];
      let a2 = simBy.get(item);
      if (a2) itemsById.matched++;
      else if (simItems[k]) {
        a2 = simBy.get(simItems[k]);
        itemsById.byOrder++;
      }
      if (!a2) {
        if (b.length) res.problems.push(`client ${c.idx}: item ${item} has audio the sim never sent`);
        return;
      }
      const md = matchStreams(a2, b, w0, w1, 'down');
      if (!md.oneToOne) downOne = false;
      if (md.bBytes > md.aBytes) res.problems.push(`client ${c.idx}: item ${item}: got ${md.bBytes} audio bytes, the sim sent ${md.aBytes}`);
      const announced = c.audioEnd.get(item);
      if (announced !== undefined && announced !== md.bBytes / 2) res.problems.push(`client ${c.idx}: audio_end of ${item} says ${announced} samples, ${md.bBytes / 2} arrived`);
      down.push(...md.lat);
      if (dumpDown) for (let k = 0; k < md.lat.length; k++) dumpDown.push(`${c.idx},${md.latT[k]},${md.lat[k]}`);
      if (!c.slow) downOthers.push(...md.lat);
      downFrames += md.lat.length;
    });
    if (!c.slow) {
      // items whose audio the sim sent inside the window but that never reached the client
      const seen = new Set(c.items);
      const missing = simItems.filter((it) => !seen.has(it) && simBy.get(it)[0].t < w1);
      if (missing.length && seen.size && c.items.every((it) => simBy.has(it)))
        res.problems.push(`client ${c.idx}: ${missing.length} item(s) with sim audio never announced by audio_start: ${missing.slice(0, 3).join(' ')}`);
    }
  }
  for (const v of verify.bad.slice(0, 10)) res.problems.push(v);
  if (dumpUp) {
    fs.writeFileSync(path.join(dir, 'latency-up.csv'), dumpUp.join('\n') + '\n');
    fs.writeFileSync(path.join(dir, 'latency-down.csv'), dumpDown.join('\n') + '\n');
  }
  for (const nt of run.notices.slice(0, 10)) res.problems.push(`notice: ${nt}`);

  const minutes = (w1 - w0) / 60e6;
  const perSessMin = (cpuA, cpuB) => (cpuA === null || cpuB === null ? null : (cpuB - cpuA) / (n * minutes));
  const round = (x, d = 3) => (x === null || x === undefined ? null : Math.round(x * 10 ** d) / 10 ** d);
  const turns = clients.flatMap((c) => c.turns).sort((x, y) => x - y);
  Object.assign(res, {
    window_s: round((w1 - w0) / 1e6, 2),
    streaming_clients: streaming,
    up: summary(up),
    down: summary(down),
    down_others: slowC ? summary(downOthers) : undefined,
    mapping: { up: upFrames === 0 ? 'no input audio in the window' : upOne ? '1 binary frame = 1 append' : 'rechunked (matched by bytes)', down: downFrames === 0 ? 'no assistant audio in the window' : downOne ? '1 delta = 1 binary frame' : 'rechunked (matched by bytes)', items: itemsById },
    cpu_s_per_session_min: round(perSessMin(cpu0.serve, cpu1.serve), 4),
    serve_idle_cpu_pct: round(idle0 === null || idle1 === null ? null : ((idle1 - idle0) * 100) / 2, 1),
    relay_errors_total: metrics ? Number((metrics.match(/^ava_relay_errors_total (\d+)/m) || [])[1] ?? NaN) : null,
    serve_cpu_pct: round(cpu1.serve === null ? null : ((cpu1.serve - cpu0.serve) * 1e8) / (w1 - w0), 1),
    sim_cpu_s_per_session_min: round(perSessMin(cpu0.sim, cpu1.sim), 4),
    // everything else on the machine during the window, in % of one core (the machine is shared)
    others_cpu_pct: othersCpuPct(cpu0, cpu1, w1 - w0),
    steal_pct: cpu0.machine && cpu1.machine ? round(((cpu1.machine.steal - cpu0.machine.steal) * 1e8) / (w1 - w0), 1) : null,
    bench_cpu_pct: round(((cpu1.me.user + cpu1.me.system) * 100) / (w1 - w0), 1),
    rss_idle_mib: round(rssIdleKb / 1024, 2),
    rss_n_mib: round(rssNKb / 1024, 2),
    rss_start_mib: round(rssStartKb / 1024, 2), // all N streaming, at the window's start
    rss_growth_mib: rssStartKb === null || rssNKb === null ? null : round((rssNKb - rssStartKb) / 1024, 2), // over the window
    rss_series_mib: rssSamples.map((k) => round(k / 1024, 1)), // every second
    rss_peak_mib: round(hwmKb / 1024, 2),
    rss_max_window_mib: round(Math.max(...rssSamples, rssNKb ?? 0) / 1024, 2),
    rss_mib_per_session: rssNKb === null || rssIdleKb === null ? null : round((rssNKb - rssIdleKb) / 1024 / n, 3),
    turns: turns.length,
    turn_latency_ms_p50: pct(turns, 50),
    frames_up: upFrames,
    frames_down: downFrames,
    sim_errors: simErrs,
    // the longest time the sim logged nothing at all (every session's events): with many
    // sessions streaming every 20 ms, a long gap = the simulator (or the machine) stalled
    sim_max_log_gap_ms: sessions.maxGapMs,
    audio_verified: opts.verify ? `${verify.ok}/${verify.checked} sessions byte-exact` : 'off',
    serve_exit: serveStop,
    sim_exit: simStop,
  });
  if (slowC) {
    const s = slowC.upstreamIds[0] ? sessions.get(slowC.upstreamIds[0]) : null;
    const rel = (t) => (t === null || t === undefined || slowC.pausedAt === null ? null : round((t - slowC.pausedAt) / 1e6, 2));
    res.slow = {
      client: slowC.idx,
      resumed_s_after_pause: rel(slowC.resumedAt),
      paused_after_first_audio_ms: slowC.pausedAt && slowC.firstAudioT ? round((slowC.pausedAt - slowC.firstAudioT) / 1000, 1) : null,
      close_code: slowC.closed?.code ?? null,
      close_reason: slowC.closed?.reason ?? null,
      socket_error: slowC.socketError ?? null,
      closed_by_relay_1008: slowC.closed?.code === 1008 && !slowC.closing,
      // the connection ended without our close: a 1008 (docs/relay.md) or a dropped TCP (1006)
      dropped_by_relay: !!slowC.closed && !slowC.closing && [1006, 1008].includes(slowC.closed.code),
      closed_s_after_pause: rel(slowC.closed?.t),
      audio_bytes_received: slowC.bytesIn,
      upstream_closed_s_after_pause: rel(s?.closed?.t),
      upstream_close_reason: s?.closed?.reason ?? null,
      sim_audio_bytes_sent: s ? s.deltas.reduce((x, d) => x + d.bytes, 0) : null,
    };
    if (!res.slow.dropped_by_relay) res.problems.push(`slow client: the relay did not close it (close ${JSON.stringify(slowC.closed)}, socket error ${slowC.socketError ?? 'none'})`);
    else if (!res.slow.closed_by_relay_1008)
      res.notes.push(`slow client: docs/relay.md says "closed (1008)"; the client saw close code ${slowC.closed.code}${slowC.socketError ? ` (${slowC.socketError})` : ''}, i.e. the TCP connection was dropped`);
  }
  return res;
}

// ---- output --------------------------------------------------------------------------------
const f = (x, d = 2) => (x === null || x === undefined ? 'n/a' : Number(x).toFixed(d));
function printTable(rows) {
  const head = ['N', 'up_p50_ms', 'up_p99_ms', 'down_p50_ms', 'down_p99_ms', 'cpu_s_per_session_min', 'rss_MiB_per_session', 'errors'];
  const lines = rows.map((r) => [String(r.n), f(r.up.p50), f(r.up.p99), f(r.down.p50), f(r.down.p99), f(r.cpu_s_per_session_min, 3), f(r.rss_mib_per_session, 3), String(r.errors)]);
  printCols(head, lines);
  console.log('');
  const head2 = ['N', 'window_s', 'frames_up', 'frames_down', 'up_max_ms', 'down_max_ms', 'serve_idle_cpu_%', 'serve_cpu_%', 'sim_cpu_s_per_session_min', 'bench_cpu_%', 'others_cpu_%', 'rss_idle_MiB', 'rss_N_MiB', 'rss_growth_in_window_MiB', 'turns', 'turn_latency_p50_ms'];
  const lines2 = rows.map((r) => [String(r.n), f(r.window_s, 1), String(r.frames_up), String(r.frames_down), f(r.up.max), f(r.down.max), f(r.serve_idle_cpu_pct, 1), f(r.serve_cpu_pct, 1), f(r.sim_cpu_s_per_session_min, 3), f(r.bench_cpu_pct, 1), f(r.others_cpu_pct, 1), f(r.rss_idle_mib, 1), f(r.rss_n_mib, 1), f(r.rss_growth_mib, 1), String(r.turns), f(r.turn_latency_ms_p50, 0)]);
  printCols(head2, lines2);
}
/** The same problem from many clients once, with the clients' count. */
function grouped(problems) {
  const m = new Map();
  for (const p of problems) {
    const key = p.replace(/^client \d+: /, '').replace(/\b(item|sess)_[A-Za-z0-9]+/g, '$1_…');
    if (!m.has(key)) m.set(key, { first: p, count: 0 });
    m.get(key).count++;
  }
  return [...m.values()].map((g) => (g.count > 1 ? `${g.first} (and ${g.count - 1} more like it)` : g.first));
}
function printCols(head, lines) {
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

// ---- main ----------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  for (const k of ['ava', 'sim']) if (!fs.existsSync(opts[k])) usage(`--${k}: no such file: ${opts[k]}`);
  opts.work ||= fs.mkdtempSync(path.join(os.tmpdir(), 'relay-bench.'));
  fs.mkdirSync(opts.work, { recursive: true });
  opts.cycle = makeCycle(readWav(opts.speech), opts.silence);
  log(`work dir ${opts.work}; cycle ${((opts.cycle.frames * FRAME_MS) / 1000).toFixed(2)} s (${((opts.cycle.speechFrames * FRAME_MS) / 1000).toFixed(2)} s speech)`);
  const rows = [];
  const slowRows = [];
  const t0 = Date.now();
  if (!opts['slow-only'])
    for (const n of opts.ns) {
      const r = await runOnce(opts, n, { label: `n${n}`, pace: opts.pace, scenario: opts.scenario, seconds: opts.seconds });
      rows.push(r);
      log(`N=${n}: up p50 ${f(r.up.p50)} p99 ${f(r.up.p99)} ms, down p50 ${f(r.down.p50)} p99 ${f(r.down.p99)} ms, errors ${r.errors}`);
    }
  const directRows = [];
  if (opts.direct && !opts['slow-only'])
    for (const n of opts.ns) {
      const r = await runOnce(opts, n, { label: `direct-n${n}`, pace: opts.pace, scenario: opts.scenario, seconds: opts.seconds, direct: true });
      directRows.push(r);
      log(`N=${n} direct: up p50 ${f(r.up.p50)} p99 ${f(r.up.p99)} ms, down p50 ${f(r.down.p50)} p99 ${f(r.down.p99)} ms, errors ${r.errors}`);
    }
  if (opts.slow || opts['slow-only']) {
    const n = opts['slow-n'];
    if (n < 2) usage('--slow-n must be at least 2');
    const common = { pace: opts['slow-pace'], scenario: opts['slow-scenario'], seconds: opts['slow-seconds'] };
    slowRows.push(await runOnce(opts, n, { ...common, label: `slow-baseline-n${n}` }));
    slowRows.push(await runOnce(opts, n, { ...common, label: `slow-n${n}`, slowIdx: 0 }));
  }

  if (rows.length) {
    console.log('');
    console.log(`relay bench: ava-voice serve <-> ava-realtime-sim (pace ${opts.pace}, ${opts['delta-ms']} ms deltas), ${opts.seconds} s per N, 20 ms binary frames, real-time clients`);
    printTable(rows);
    console.log(
      'up = sim receipt of the append - client send of the frame; down = client receipt of the frame - sim send of the delta (CLOCK_MONOTONIC both sides, ' +
        'pooled over all sessions, nearest-rank); cpu = serve utime+stime over the window / (N x minutes); rss = (serve VmRSS at the end of the window - idle VmRSS) / N; ' +
        'others_cpu = the rest of the machine (a shared machine: high values mean the figures competed with other work)',
    );
    for (const r of rows) {
      console.log(
        `N=${r.n}: mapping: ${r.mapping.up}; ${r.mapping.down}; items matched by id ${r.mapping.items.matched}, by order ${r.mapping.items.byOrder}; ` +
          `audio check: ${r.audio_verified}; sim errors: ${r.sim_errors}; sim's longest silence in its log: ${f(r.sim_max_log_gap_ms, 1)} ms; steal ${f(r.steal_pct, 1)} %`,
      );
      for (const [k, v] of Object.entries(r.error_detail)) for (const d of v) console.log(`  error ${k}: ${d}`);
      for (const p of grouped(r.problems).slice(0, 30)) console.log(`  problem: ${p}`);
      for (const p of r.notes) console.log(`  note: ${p}`);
    }
  }
  if (directRows.length) {
    console.log('');
    console.log('without the relay (the same clients straight to the sim, GA protocol: base64 appends, JSON deltas): the floor');
    const head = ['N', 'up_p50_ms', 'up_p99_ms', 'down_p50_ms', 'down_p99_ms', 'sim_cpu_s_per_session_min', 'bench_cpu_%', 'others_cpu_%', 'errors', 'relay_adds_up_p50_ms', 'relay_adds_down_p50_ms'];
    printCols(
      head,
      directRows.map((d) => {
        const r = rows.find((x) => x.n === d.n);
        const diff = (a, b) => (a === null || b === null || a === undefined || b === undefined ? null : a - b);
        return [String(d.n), f(d.up.p50), f(d.up.p99), f(d.down.p50), f(d.down.p99), f(d.sim_cpu_s_per_session_min, 3), f(d.bench_cpu_pct, 1), f(d.others_cpu_pct, 1), String(d.errors), f(diff(r?.up.p50, d.up.p50)), f(diff(r?.down.p50, d.down.p50))];
      }),
    );
    for (const r of directRows) {
      for (const [k, v] of Object.entries(r.error_detail)) for (const d of v) console.log(`  direct N=${r.n}: error ${k}: ${d}`);
      for (const p of grouped(r.problems).slice(0, 10)) console.log(`  direct N=${r.n}: problem: ${p}`);
      for (const p of r.notes) console.log(`  direct N=${r.n}: note: ${p}`);
    }
  }
  if (slowRows.length) {
    const [b, s] = slowRows;
    console.log('');
    console.log(`slow-client check: N=${b.n}, sim pace ${b.pace}, ${b.seconds} s, client 0 stops reading after its first audio frame (ws.pause())`);
    const head = ['run', 'others_down_p50_ms', 'others_down_p99_ms', 'others_down_max_ms', 'up_p99_ms', 'errors', 'machine_others_cpu_%'];
    const others = (r) => r.down_others || r.down;
    printCols(head, [
      ['baseline (all read)', f(others(b).p50), f(others(b).p99), f(others(b).max), f(b.up.p99), String(b.errors), f(b.others_cpu_pct, 1)],
      ['one slow client', f(others(s).p50), f(others(s).p99), f(others(s).max), f(s.up.p99), String(s.errors), f(s.others_cpu_pct, 1)],
    ]);
    const sl = s.slow;
    console.log(
      `slow client: close code ${sl.close_code ?? 'none'}${sl.close_reason ? ` (${sl.close_reason})` : ''}${sl.socket_error ? `, socket error ${sl.socket_error}` : ''}; ` +
        `received ${(sl.audio_bytes_received / 1048576).toFixed(2)} MiB of ${sl.sim_audio_bytes_sent === null ? '?' : (sl.sim_audio_bytes_sent / 1048576).toFixed(2)} MiB the sim sent; ` +
        `the client saw the end ${sl.closed_s_after_pause ?? 'n/a'} s after the pause; its upstream session closed ${sl.upstream_closed_s_after_pause ?? 'n/a'} s after the pause (${sl.upstream_close_reason ?? 'not closed'}) => ` +
        (sl.closed_by_relay_1008 ? 'closed by the relay with 1008' : sl.dropped_by_relay ? `dropped by the relay (close code ${sl.close_code}, not the 1008 of docs/relay.md)` : 'NOT closed by the relay'),
    );
    for (const r of slowRows) {
      for (const [k, v] of Object.entries(r.error_detail)) for (const d of v) console.log(`  ${r.label}: error ${k}: ${d}`);
      for (const p of grouped(r.problems).slice(0, 30)) console.log(`  ${r.label}: problem: ${p}`);
      for (const p of r.notes) console.log(`  ${r.label}: note: ${p}`);
    }
  }
  const strip = (r) => {
    const { serve_exit, sim_exit, ...rest } = r;
    return rest;
  };
  console.log(
    JSON.stringify({
      relay_bench: {
        date: new Date().toISOString(),
        wall_s: Math.round((Date.now() - t0) / 1000),
        machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release(), node: process.version, loadavg: os.loadavg() },
        settings: {
          seconds: opts.seconds,
          pace: opts.pace,
          delta_ms: opts['delta-ms'],
          cycle_s: (opts.cycle.frames * FRAME_MS) / 1000,
          speech_s: (opts.cycle.speechFrames * FRAME_MS) / 1000,
          positions: opts.positions,
          scenario: path.basename(opts.scenario),
          slow: slowRows.length ? { n: opts['slow-n'], seconds: opts['slow-seconds'], pace: opts['slow-pace'], scenario: path.basename(opts['slow-scenario']) } : null,
        },
        runs: rows.map(strip),
        direct: directRows.map(strip),
        slow: slowRows.length ? { baseline: strip(slowRows[0]), slow: strip(slowRows[1]) } : null,
      },
    }),
  );
  const bad = [...rows, ...slowRows, ...directRows].some((r) => r.errors > 0) || (slowRows.length && !slowRows[1].slow?.dropped_by_relay);
  const deviations = [...rows, ...slowRows].some((r) => r.problems.length > 0);
  if (deviations) log('problems were found (see "problem:" lines)');
  process.exit(bad || deviations ? 1 : 0);
}

main().catch((e) => {
  log(`FAILED: ${e.stack || e.message}`);
  process.exit(2);
});
