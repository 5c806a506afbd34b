// The console's real-browser test: headless Chromium (puppeteer-core, the system's browser)
// drives web/console served by `ava-voice serve` in front of ava-realtime-sim, as a user would.
// run_console_test.sh starts the servers and passes the paths; this script then:
//   1. connects (#connect) and turns the microphone on (continuous; the fake microphone plays
//      an espeak-ng question), and waits for the reply to play completely in the page;
//   2. checks the DOM: transcripts, tool call, events, the event filter, the figures;
//   3. types a message whose reply is long and clicks #interrupt in the middle of it;
//   4. stops the simulator, then checks its recording (the speech arrived intact: normalised
//      cross-correlation of 10 ms RMS envelopes) and its event log (conversation.item.truncate's
//      audio_end_ms = the position the page reported, within 25 ms).
// Prints one line per check and "N passed, N failed"; exit 0 when all passed.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import puppeteer from 'puppeteer-core';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const firefox = args.browser === 'firefox';
args.browser_path = args['browser-path'] || args.chromium;
if (firefox && !args['pulse-server']) { console.error('console-test: --pulse-server is required with --browser firefox'); process.exit(2); }
for (const k of ['url', 'browser_path', 'user-data-dir', 'mic-wav', 'source-wav', 'record-dir', 'events', 'outdir']) {
  if (!args[k]) { console.error(`console-test: --${k} is required`); process.exit(2); }
}
const outdir = args.outdir;
const TOLERANCE_MS = 25;
const NCC_MIN = 0.6;
const QUANTUM = 128;

const results = [];
const measured = {};
function check(name, ok, detail = '') {
  results.push({ name, ok: !!ok, detail });
  console.log(`console-test: ${ok ? 'PASS' : 'FAIL'}: ${name}${detail ? ` (${detail})` : ''}`);
  return !!ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = fs.createWriteStream(path.join(outdir, args.browser === 'firefox' ? 'browser-firefox.log' : 'browser.log'));
const stamp = () => new Date().toISOString().slice(11, 23);

// ---- WAV and envelopes ---------------------------------------------------------------------
function readWav(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAV`);
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    if (id === 'data') {
      if (!fmt || fmt.bits !== 16) throw new Error(`${file}: need 16-bit PCM, got ${JSON.stringify(fmt)}`);
      size = Math.min(size, buf.length - off - 8); // streaming writers leave a placeholder size
      const n = Math.floor(size / 2 / fmt.channels);
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = buf.readInt16LE(off + 8 + i * 2 * fmt.channels) / 32768;
      return { rate: fmt.rate, x };
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}
function envelope({ rate, x }, blockMs = 10) {
  const b = Math.round((rate * blockMs) / 1000);
  const env = new Float64Array(Math.floor(x.length / b));
  for (let i = 0; i < env.length; i++) {
    let s = 0;
    for (let j = i * b; j < (i + 1) * b; j++) s += x[j] * x[j];
    env[i] = Math.sqrt(s / b);
  }
  return env;
}
function trim(env, relDb = -40) {
  let peak = 0;
  for (const v of env) peak = Math.max(peak, v);
  const floor = peak * 10 ** (relDb / 20);
  let a = 0;
  let b = env.length;
  while (a < b && env[a] < floor) a++;
  while (b > a && env[b - 1] < floor) b--;
  return env.subarray(a, b);
}
// Best Pearson correlation of `s` against every window of `r` of the same length.
function bestNcc(s, r) {
  const n = s.length;
  if (n < 10 || r.length < n) return { ncc: NaN, lag: -1 };
  let ms = 0;
  for (const v of s) ms += v;
  ms /= n;
  let ss = 0;
  const sc = new Float64Array(n);
  for (let i = 0; i < n; i++) { sc[i] = s[i] - ms; ss += sc[i] * sc[i]; }
  let best = { ncc: -Infinity, lag: -1 };
  for (let lag = 0; lag + n <= r.length; lag++) {
    let mr = 0;
    for (let i = 0; i < n; i++) mr += r[lag + i];
    mr /= n;
    let num = 0;
    let rr = 0;
    for (let i = 0; i < n; i++) { const d = r[lag + i] - mr; num += sc[i] * d; rr += d * d; }
    const ncc = rr > 0 && ss > 0 ? num / Math.sqrt(ss * rr) : 0;
    if (ncc > best.ncc) best = { ncc, lag };
  }
  return best;
}
const toDb = (env) => env.map((v) => 20 * Math.log10(Math.max(v, 1e-4)));

// ---- the browser part ----------------------------------------------------------------------
// Chromium: its fake microphone plays the WAV (looped). Firefox (WebDriver BiDi) has no such
// switch: it captures from a private PulseAudio whose default source is a null sink's monitor,
// and this script plays the WAV into that sink (paplay) once the microphone is on.
function launch() {
  if (firefox) {
    return puppeteer.launch({
      browser: 'firefox',
      executablePath: args.browser_path,
      headless: true,
      userDataDir: args['user-data-dir'],
      env: { ...process.env, PULSE_SERVER: args['pulse-server'] },
      extraPrefsFirefox: {
        'media.navigator.permission.disabled': true, 'media.navigator.streams.fake': false,
        'media.autoplay.default': 0, 'media.autoplay.block-webaudio': false,
      },
      protocolTimeout: 60000,
    });
  }
  return puppeteer.launch({
    executablePath: args.browser_path,
    headless: true,
    userDataDir: args['user-data-dir'],
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${args['mic-wav']}`,
    ],
    ignoreDefaultArgs: ['--mute-audio'],
    protocolTimeout: 60000,
  });
}
let player = null; // paplay, for Firefox
function speak() {
  // Chromium's fake microphone restarts its file with each capture; Firefox needs it played again
  // (once its capture runs: the test waits for frames first).
  if (!firefox) return;
  if (player) player.kill();
  player = spawn('paplay', ['--device=mic', args['mic-wav']], { env: { ...process.env, PULSE_SERVER: args['pulse-server'] }, stdio: 'ignore' });
  player.on('error', (e) => log.write(`${stamp()} paplay: ${e.message}\n`));
}

async function browse() {
  const browser = await launch();
  const pageErrors = [];
  try {
    const page = await browser.newPage();
    measured.browser = await browser.version();
    page.on('console', (m) => log.write(`${stamp()} console.${m.type()}: ${m.text()}\n`));
    page.on('pageerror', (e) => { pageErrors.push(e.message); log.write(`${stamp()} pageerror: ${e.message}\n`); });
    try {
      page.on('requestfailed', (r) => log.write(`${stamp()} requestfailed: ${r.url()} ${r.failure() && r.failure().errorText}\n`));
    } catch { /* not every protocol has it */ }
    await page.setViewport({ width: 1280, height: 860 });
    const ava = () => page.evaluate(() => JSON.parse(JSON.stringify(window.avaConsole)));
    const waitFor = async (what, fn, arg, timeout = 20000) => {
      try {
        await page.waitForFunction(fn, { timeout, polling: 50 }, arg);
        return true;
      } catch {
        const s = await ava().catch(() => null);
        log.write(`${stamp()} timeout waiting for ${what}; state: ${JSON.stringify(s)}\n`);
        return false;
      }
    };

    const res = await page.goto(args.url, { waitUntil: 'load' });
    check('the console loads from the relay', res && res.ok(), `HTTP ${res && res.status()}`);
    const ids = ['connect', 'mic', 'ptt', 'text-input', 'send-text', 'interrupt', 'status', 'conversation', 'events', 'event-filter',
      'event-counts', 'latency', 'tokens', 'cost', 'level-in', 'level-out', 'voice', 'speed', 'vad', 'threshold', 'silence'];
    const missing = await page.evaluate((l) => l.filter((id) => !document.getElementById(id)), ids);
    check('every stable element id is present', missing.length === 0, missing.join(' '));

    // The level meters' highest readings, sampled in the page.
    await page.evaluate(() => {
      window.__levels = { in: 0, out: 0 };
      setInterval(() => {
        window.__levels.in = Math.max(window.__levels.in, Number(document.getElementById('level-in').dataset.rms));
        window.__levels.out = Math.max(window.__levels.out, Number(document.getElementById('level-out').dataset.rms));
      }, 50);
    });

    // 1. connect, talk
    await page.click('#connect');
    const up = await waitFor('connected + listening', () => window.avaConsole.connected && window.avaConsole.status === 'listening', null, 15000);
    let s = await ava();
    check('connects: stream open, status listening', up, `conn=${s.connState} status=${s.status} session=${s.session} upstream=${s.upstream}`);
    measured.sample_rate = s.sampleRate;
    await page.click('#mic');
    const sending = await waitFor('mic frames', () => window.avaConsole.micRunning && window.avaConsole.sentFrames > 10, null, 10000);
    check('the microphone streams (continuous)', sending, `sentFrames=${(await ava()).sentFrames}`);
    speak();
    const frameClock = () => page.evaluate(() => ({ t: performance.now(), f: window.avaConsole.sentFrames }));
    const fc0 = await frameClock();

    // The reply to the spoken question: every item it has plays to its last sample.
    const played = await waitFor('a fully played reply', (q) => {
      const a = window.avaConsole;
      return a.doneItems.some((id) => a.receivedSamples[id] > 0 && Math.abs(a.playedSamples[id] - a.receivedSamples[id]) <= q);
    }, QUANTUM, 30000);
    const fc1 = await frameClock();
    const fps = ((fc1.f - fc0.f) * 1000) / (fc1.t - fc0.t);
    measured.mic_frames_per_s = +fps.toFixed(2);
    check('the microphone sends 20 ms frames in real time (50/s ±5%)', Math.abs(fps - 50) <= 2.5, `${fps.toFixed(2)} frames/s over ${((fc1.t - fc0.t) / 1000).toFixed(1)} s at ${measured.sample_rate} Hz`);
    s = await ava();
    const full = s.doneItems.map((id) => ({ id, received: s.receivedSamples[id], played: s.playedSamples[id], audio_end: s.audioEndSamples[id] }));
    measured.played_items = full;
    check('a reply plays completely in the page (played = received, ±1 quantum)', played && full.some((f) => f.received > 0 && Math.abs(f.played - f.received) <= QUANTUM),
      full.map((f) => `${f.id}: played ${f.played} of ${f.received}, audio_end ${f.audio_end}`).join('; '));
    check('audio_end sample counts match the audio received', s.mismatches.length === 0, JSON.stringify(s.mismatches));
    const userLine = await waitFor('user transcript', () => [...document.querySelectorAll('#conversation .line[data-role=user]:not(.pending)')]
      .some((l) => l.dataset.itemId && l.querySelector('.text').textContent.trim().length > 0), null, 10000);
    const conv = await page.evaluate(() => [...document.querySelectorAll('#conversation .line')].map((l) => ({
      id: l.dataset.itemId, role: l.dataset.role, pos: l.dataset.position, text: l.querySelector('.text').textContent, partial: l.classList.contains('partial'),
    })));
    measured.conversation_after_turn1 = conv;
    check('the user transcript appears', userLine, conv.filter((l) => l.role === 'user').map((l) => l.text).join(' | '));
    check('the assistant transcript appears (final)', conv.some((l) => l.role === 'assistant' && !l.partial && l.text.trim()),
      conv.filter((l) => l.role === 'assistant').map((l) => l.text).join(' | '));
    const ordered = conv.every((l, i) => i === 0 || Number(conv[i - 1].pos) <= Number(l.pos));
    check('conversation lines are in `position` order', ordered, conv.map((l) => `${l.role}@${l.pos}`).join(' '));
    const tool = await waitFor('tool card', () => !!document.querySelector('#conversation .tool[data-state=ok]'), null, 5000);
    const toolText = await page.evaluate(() => { const t = document.querySelector('#conversation .tool'); return t ? `${t.dataset.state}: ${t.textContent}` : ''; });
    check('the tool call ran and its result is shown', tool && toolText.includes('mild and dry'), toolText);
    await waitFor('turn latency', () => document.getElementById('latency').textContent !== '–', null, 5000);
    const figures = await page.evaluate(() => ({ latency: document.getElementById('latency').textContent, tokens: document.getElementById('tokens').textContent, cost: document.getElementById('cost').textContent }));
    measured.figures_turn1 = figures;
    check('latency, tokens and cost are shown', !Object.values(figures).includes('–'), JSON.stringify(figures));

    // Let every item of that reply finish (a message typed while it still plays would queue
    // behind it, and the turn's latency would count the wait).
    const allDone = await waitFor('turn 1 fully played', () => {
      const a = window.avaConsole;
      return Object.keys(a.receivedSamples).every((id) => a.doneItems.includes(id)) && a.status === 'listening';
    }, null, 15000);
    check('every item of the first reply plays to its end', allDone, JSON.stringify((await ava()).doneItems));
    const levels = await page.evaluate(() => window.__levels);
    measured.max_levels_rms = levels;
    check('the input and output level meters move', levels.in > 0.01 && levels.out > 0.01, `max RMS in ${levels.in}, out ${levels.out}`);

    // Turn the mic off: the fake microphone loops its file, and the rest of the test is typed.
    await page.click('#mic');
    await sleep(300);
    const f1 = (await ava()).sentFrames;
    await sleep(500);
    const f2 = (await ava()).sentFrames;
    check('mic off stops the frames', f1 === f2 && !(await ava()).micRunning, `${f1} -> ${f2}`);
    measured.sent_frames = f2;

    // 2. the events panel
    const evState = await page.evaluate(() => ({
      rows: document.querySelectorAll('#events .event-row').length,
      types: [...new Set([...document.querySelectorAll('#events .event-row')].map((r) => r.dataset.type))],
      counts: document.getElementById('event-counts').children.length,
      collapsed: [...document.querySelectorAll('#events .event-row .count')].filter((c) => c.textContent).length,
    }));
    measured.events = { received: (await ava()).events, ...evState, types: evState.types.length };
    check('events appear in the panel', evState.rows > 5 && evState.types.includes('response.done'), `${evState.rows} rows, ${evState.types.length} types`);
    check('counts per type are shown', evState.counts >= evState.types.length - 1, `${evState.counts} counters`);
    check('consecutive *.delta events collapse into one row', evState.collapsed > 0, `${evState.collapsed} collapsed rows`);
    await page.type('#event-filter', 'transcript');
    await sleep(150);
    const filtered = await page.evaluate(() => {
      const rows = [...document.querySelectorAll('#events .event-row')];
      const vis = rows.filter((r) => !r.hidden && r.offsetParent !== null);
      return { total: rows.length, visible: vis.length, bad: vis.filter((r) => !r.dataset.type.includes('transcript')).map((r) => r.dataset.type) };
    });
    check('the text filter shows only matching rows', filtered.visible > 0 && filtered.bad.length === 0 && filtered.visible < filtered.total,
      `${filtered.visible} of ${filtered.total} visible${filtered.bad.length ? `; wrong: ${filtered.bad.join(',')}` : ''}`);
    await page.$eval('#event-filter', (e) => { e.value = ''; e.dispatchEvent(new Event('input')); });
    await page.select('#event-dir', 'send');
    await sleep(100);
    const dirs = await page.evaluate(() => [...document.querySelectorAll('#events .event-row')].filter((r) => !r.hidden).map((r) => r.dataset.dir));
    check('the direction filter shows only sent events', dirs.length > 0 && dirs.every((d) => d === 'send'), `${dirs.length} visible`);
    await page.select('#event-dir', '');
    await sleep(100);
    const all = await page.evaluate(() => [...document.querySelectorAll('#events .event-row')].filter((r) => r.hidden).length);
    check('clearing the filters shows every row again', all === 0, `${all} still hidden`);
    const rowSel = '#events .event-row[data-type="response.done"]';
    await page.click(`${rowSel} .head`);
    const expanded = await page.evaluate((sel) => { const p = document.querySelector(`${sel} pre`); return p ? p.textContent : ''; }, rowSel);
    let json = null;
    try { json = JSON.parse(expanded); } catch { /* checked below */ }
    check('clicking a row expands its JSON', json && json.event && json.event.type === 'response.done', `${expanded.length} chars`);
    await page.click(`${rowSel} .head`); // fold it again
    const follow = await page.$('#events-follow:not([hidden])');
    if (follow) await follow.click(); // back to the newest rows: auto-scroll resumes
    const atBottom = await page.evaluate(() => { const e = document.getElementById('events'); return e.scrollHeight - e.scrollTop - e.clientHeight < 40; });
    check('scrolling up stops auto-scroll; "new events" brings it back', !!follow && atBottom, `button shown: ${!!follow}, at bottom after: ${atBottom}`);

    // 3. barge-in: a typed message with a long reply, interrupted in the middle
    const before = new Set((await ava()).doneItems.concat(Object.keys((await ava()).receivedSamples)));
    await page.type('#text-input', 'Tell me a long story.');
    await page.click('#send-text');
    const t0 = Date.now();
    const midway = await waitFor('long reply playing', (b) => {
      const a = window.avaConsole;
      return Object.keys(a.receivedSamples).some((id) => !b.includes(id) && a.playedSamples[id] >= 36000 && a.receivedSamples[id] > a.playedSamples[id] + 24000);
    }, [...before], 20000);
    s = await ava();
    const item = Object.keys(s.receivedSamples).find((id) => !before.has(id));
    const typedAt = (s.sent.filter((m) => m.type === 'text_input').pop() || {}).t;
    const startAt = (s.messages.find((m) => m.type === 'audio_start' && m.item_id === item) || {}).t;
    measured.typed_reply_first_audio_ms = typedAt != null && startAt != null ? startAt - typedAt : null;
    check('the long reply plays (1.5 s heard, more buffered)', midway && item, `item ${item}: played ${s.playedSamples[item]} received ${s.receivedSamples[item]}`);
    await page.click('#interrupt');
    const stopped = await waitFor('interrupt report', (id) => window.avaConsole.lastInterrupt && window.avaConsole.lastInterrupt.item_id === id, item, 3000);
    s = await ava();
    const li = s.lastInterrupt;
    measured.interrupt = { ...li, after_ms: Date.now() - t0, received: s.receivedSamples[item] };
    check('interrupt: the page stops and reports its position', stopped && li && li.played_samples > 0,
      li ? `played ${li.played_samples} samples (${(li.played_samples / 24).toFixed(1)} ms) of ${s.receivedSamples[item]} received; stopped in ${li.stop_ms} ms` : 'no report');
    await sleep(500);
    const later = await ava();
    check('nothing more of the interrupted item is played', later.playedSamples[item] === li.played_samples, `${li.played_samples} -> ${later.playedSamples[item]}`);
    const unheard = await waitFor('unheard tail', (id) => {
      const l = document.querySelector(`#conversation .line[data-item-id="${CSS.escape(id)}"] .unheard`);
      return l && !l.hidden && l.textContent.trim().length > 0;
    }, item, 4000);
    const line = await page.evaluate((id) => {
      const l = document.querySelector(`#conversation .line[data-item-id="${CSS.escape(id)}"]`);
      return l ? { text: l.querySelector('.text').textContent, unheard: l.querySelector('.unheard').textContent } : null;
    }, item);
    measured.interrupted_line = line;
    check('the interrupted reply shows its unheard tail', unheard, line ? `heard "${line.text.slice(-40)}" | unheard "${line.unheard.slice(0, 40)}…"` : 'no line');

    // 3b. barge-in by voice: another long reply, then the microphone comes on and the question
    // is spoken over it (the fake microphone restarts its file with each capture): the server's
    // VAD hears it, the relay sends `interrupted`, the page stops and reports.
    const before2 = new Set(Object.keys((await ava()).receivedSamples));
    await page.type('#text-input', 'Tell me another long story.');
    await page.click('#send-text');
    const midway2 = await waitFor('second long reply playing', (b) => {
      const a = window.avaConsole;
      return Object.keys(a.receivedSamples).some((id) => !b.includes(id) && a.playedSamples[id] >= 36000 && a.receivedSamples[id] > a.playedSamples[id] + 24000);
    }, [...before2], 20000);
    s = await ava();
    const item2 = Object.keys(s.receivedSamples).find((id) => !before2.has(id));
    check('the second long reply plays', midway2 && item2, `item ${item2}: played ${s.playedSamples[item2]}`);
    const sentBefore = s.sent.length;
    const framesBefore = s.sentFrames;
    await page.click('#mic');
    await waitFor('capture running', (f) => window.avaConsole.sentFrames >= f + 10, framesBefore, 8000);
    speak();
    const barged = await waitFor('server barge-in', (id) => window.avaConsole.lastInterrupt && window.avaConsole.lastInterrupt.item_id === id, item2, 8000);
    s = await ava();
    const li2 = s.lastInterrupt;
    const serverSaid = s.messages.some((m) => m.type === 'interrupted' && m.item_id === item2);
    const weAsked = s.sent.slice(sentBefore).some((m) => m.type === 'interrupt');
    measured.voice_interrupt = li2 ? { ...li2, received: s.receivedSamples[item2] } : null;
    check('speaking over the reply interrupts it (server `interrupted`, page reports)', barged && serverSaid && !weAsked && li2.played_samples > 0,
      li2 ? `played ${li2.played_samples} samples (${(li2.played_samples / 24).toFixed(1)} ms) of ${s.receivedSamples[item2]}; server interrupted: ${serverSaid}` : 'no report');
    const answered2 = await waitFor('reply to the spoken barge-in', (b) => Object.keys(window.avaConsole.receivedSamples).some((id) => !b.includes(id)), [...before2, item2], 15000);
    check('the spoken barge-in gets its own reply', answered2);
    await waitFor('that reply played', (b) => window.avaConsole.doneItems.some((id) => !b.includes(id)), [...before2, item2], 15000);
    await page.click('#mic'); // off again
    await waitFor('mic off', () => !window.avaConsole.micRunning, null, 3000);

    await sleep(300);
    await page.screenshot({ path: path.join(outdir, firefox ? 'console-firefox.png' : 'console.png') });
    // 4. push-to-talk: continuous off (turn detection none), hold Space, release: a reply comes
    await page.click('#continuous');
    const ptt = await page.evaluate(() => ({ vad: document.getElementById('vad').value, enabled: !document.getElementById('ptt').disabled }));
    check('continuous off selects push-to-talk (vad none, #ptt enabled)', ptt.vad === 'none' && ptt.enabled, JSON.stringify(ptt));
    await page.click('#conversation');
    const known = Object.keys((await ava()).receivedSamples);
    const pf0 = (await ava()).sentFrames;
    await page.keyboard.down(' '); // the space bar (WebDriver BiDi has no 'Space' name)
    await waitFor('capture running', (f) => window.avaConsole.sentFrames >= f + 10, pf0, 8000);
    speak();
    const talking = await waitFor('ptt frames', (f) => window.avaConsole.pttHeld && window.avaConsole.sentFrames >= f + 150, pf0, 8000);
    await page.keyboard.up(' ');
    s = await ava();
    check('holding Space streams the microphone', talking && !s.pttHeld, `${s.sentFrames - pf0} frames while held`);
    await sleep(400);
    const pf1 = (await ava()).sentFrames;
    await sleep(400);
    check('releasing Space stops the frames', (await ava()).sentFrames === pf1, `${pf1} -> ${(await ava()).sentFrames}`);
    const answered = await waitFor('ptt reply', (k) => Object.keys(window.avaConsole.receivedSamples).some((id) => !k.includes(id)), known, 10000);
    check('a push-to-talk turn gets a reply', answered, '');
    measured.ptt_frames = s.sentFrames - pf0;

    // A phone-sized window (without isMobile, which would reload the page).
    await page.setViewport({ width: 390, height: 844 });
    await sleep(200);
    const narrow = await page.evaluate(() => {
      const a = document.getElementById('talk').getBoundingClientRect();
      const b = document.getElementById('events-panel').getBoundingClientRect();
      return { oneColumn: b.top >= a.bottom - 1, overflow: document.documentElement.scrollWidth > window.innerWidth + 1 };
    });
    await page.screenshot({ path: path.join(outdir, firefox ? 'console-phone-firefox.png' : 'console-phone.png'), fullPage: true });
    check('phone-sized screen: one column, no sideways scrolling', narrow.oneColumn && !narrow.overflow, JSON.stringify(narrow));

    // An hour-long session stays light: 6000 more events (as many as ~2 minutes of a busy
    // session, mixed so they do not collapse) leave at most 2000 rows.
    const stress = await page.evaluate(async () => {
      const t0 = performance.now();
      const types = ['response.created', 'rate_limits.updated', 'response.output_item.added', 'conversation.item.added'];
      for (let i = 0; i < 6000; i++) window.avaConsole.handle({ type: 'event', dir: 'recv', event_type: types[i % 4], t_ms: i, event: { type: types[i % 4], n: i } });
      const fed = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 300));
      return { fed_ms: Math.round(fed), rows: document.querySelectorAll('#events .event-row').length, total: window.avaConsole.events };
    });
    measured.event_stress = stress;
    check('old event rows are pruned (at most 2000 kept)', stress.rows <= 2000 && stress.rows >= 1900, JSON.stringify(stress));

    await page.click('#connect'); // disconnect
    await waitFor('disconnected', () => !window.avaConsole.connected, null, 3000);
    const final = await ava();
    if (args['auth-url']) await authFlow(browser, pageErrors);
    check('no errors in the page', pageErrors.length === 0, pageErrors.join(' | '));
    measured.turns = final.turns;
    fs.writeFileSync(path.join(outdir, firefox ? 'page-state-firefox.json' : 'page-state.json'), JSON.stringify(final, null, 1));
    return { item, lastInterrupt: li, interrupts: [li, li2].filter(Boolean), final };
  } finally {
    if (player) player.kill();
    await browser.close();
  }
}

// 5. a relay that needs a token: the console asks for it, refuses a wrong one, connects with it.
async function authFlow(browser, pageErrors) {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { pageErrors.push(e.message); log.write(`${stamp()} auth pageerror: ${e.message}\n`); });
  page.on('console', (m) => log.write(`${stamp()} auth console.${m.type()}: ${m.text()}\n`));
  await page.goto(args['auth-url'], { waitUntil: 'load' });
  const boxShown = () => page.evaluate(() => !document.getElementById('token-box').hidden);
  check('token relay: the token input is hidden at first', !(await boxShown()));
  await page.click('#connect');
  await page.waitForFunction(() => !document.getElementById('token-box').hidden, { timeout: 5000 }).catch(() => {});
  const asked = await page.evaluate(() => ({ shown: !document.getElementById('token-box').hidden, conn: window.avaConsole.connState }));
  check('token relay: connecting without a token asks for it', asked.shown && asked.conn === 'disconnected', JSON.stringify(asked));
  await page.type('#token', 'wrong-token');
  await page.click('#connect');
  await sleep(800);
  const wrong = await page.evaluate(() => ({ conn: window.avaConsole.connState, notices: window.avaConsole.notices.map((n) => n.text) }));
  check('token relay: a wrong token is refused', wrong.conn === 'disconnected' && wrong.notices.some((t) => /refused/.test(t)), JSON.stringify(wrong));
  await page.$eval('#token', (e) => { e.value = ''; });
  await page.type('#token', args['auth-token']);
  await page.keyboard.press('Enter'); // the token form submits
  const ok = await page.waitForFunction(() => window.avaConsole.connected && window.avaConsole.status === 'listening', { timeout: 8000 }).then(() => true, () => false);
  check('token relay: the right token connects (one-time stream token)', ok, await page.evaluate(() => window.avaConsole.connState));
  if (ok) {
    await page.type('#text-input', 'Hello there.');
    await page.click('#send-text');
    const heard = await page.waitForFunction(() => Object.values(window.avaConsole.receivedSamples).some((n) => n > 0), { timeout: 10000 }).then(() => true, () => false);
    check('token relay: a typed message gets a spoken reply', heard);
    await page.click('#connect');
  }
  await page.close();
}

async function stopSim() {
  if (!args['stop-sim']) return;
  try { process.kill(Number(args['stop-sim']), 'SIGTERM'); } catch { return; }
  // It flushes its logs and recordings, then prints its summary.
  for (let i = 0; i < 100; i++) {
    if (args['sim-out'] && /^sessions:/m.test(fs.readFileSync(args['sim-out'], 'utf8'))) return;
    await sleep(100);
  }
}

function verify(run) {
  // The speech that reached the simulator is the speech that was spoken.
  const wavs = fs.readdirSync(args['record-dir']).filter((f) => f.endsWith('-input.wav')).map((f) => path.join(args['record-dir'], f));
  if (!check('the simulator recorded the input', wavs.length > 0, wavs.map((w) => path.basename(w)).join(' '))) return;
  const rec = readWav(wavs.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]);
  const src = readWav(args['source-wav']);
  const s = trim(envelope(src));
  const r = envelope(rec);
  const lin = bestNcc(s, r);
  const db = bestNcc(toDb(s), toDb(r));
  measured.input = { recorded_s: +(rec.x.length / rec.rate).toFixed(2), rate: rec.rate, speech_s: s.length / 100, ncc: +lin.ncc.toFixed(3), ncc_db: +db.ncc.toFixed(3), lag_ms: lin.lag * 10 };
  check('the recorded input is the spoken question (envelope NCC >= 0.6)', rec.rate === 24000 && lin.ncc >= NCC_MIN,
    `NCC ${lin.ncc.toFixed(3)} (dB envelope ${db.ncc.toFixed(3)}) at ${lin.lag * 10} ms, ${rec.x.length} samples at ${rec.rate} Hz`);

  // The truncation is where the page said it stopped.
  const events = fs.readFileSync(args.events, 'utf8').split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);
  const truncs = events.filter((e) => e.dir === 'in' && e.type === 'conversation.item.truncate');
  check('the relay sent conversation.item.truncate', truncs.length >= run.interrupts.length, `${truncs.length} truncate(s) for ${run.interrupts.length} interrupt(s)`);
  measured.truncate = [];
  run.interrupts.forEach((li, n) => {
    const how = n === 0 ? 'Interrupt button' : 'spoken barge-in';
    const t = truncs.find((e) => e.event.item_id === li.item_id);
    if (!check(`${how}: a truncate names the item the page played`, t, `page item ${li.item_id}; truncated: ${truncs.map((e) => e.event.item_id).join(' ')}`)) return;
    const pageMs = li.played_samples / 24;
    const diff = t.event.audio_end_ms - pageMs;
    measured.truncate.push({ how, audio_end_ms: t.event.audio_end_ms, page_ms: +pageMs.toFixed(2), diff_ms: +diff.toFixed(2) });
    check(`${how}: truncate audio_end_ms matches the page's position (±${TOLERANCE_MS} ms)`, Math.abs(diff) <= TOLERANCE_MS,
      `audio_end_ms ${t.event.audio_end_ms}, page ${pageMs.toFixed(1)} ms, diff ${diff.toFixed(1)} ms`);
  });
  const commit = events.find((e) => e.dir === 'in' && e.type === 'input_audio_buffer.commit');
  const manual = events.find((e) => e.dir === 'in' && e.type === 'session.update' && e.event.session && e.event.session.audio &&
    e.event.session.audio.input && e.event.session.audio.input.turn_detection === null);
  check('push-to-talk reached the service (turn_detection null, then a commit)', manual && commit && commit.t_mono_us > manual.t_mono_us,
    `session.update with turn_detection null: ${!!manual}, input_audio_buffer.commit: ${!!commit}`);
  const refused = truncs.filter((t) => !events.some((e) => e.dir === 'out' && e.type === 'conversation.item.truncated' && e.event.item_id === t.event.item_id));
  const errors = events.filter((e) => e.dir === 'out' && e.type === 'error').map((e) => e.event.error);
  check('the simulator accepted every truncation, and sent no error', truncs.length > 0 && refused.length === 0 && errors.length === 0,
    `${refused.length} refused; errors: ${JSON.stringify(errors)}`);
}

let run = null;
const watchdog = setTimeout(() => { console.error('console-test: FAIL: timed out after 150 s'); process.exit(1); }, 150000);
try {
  run = await browse();
} catch (e) {
  check('the browser run completed', false, e.stack || String(e));
}
await stopSim();
if (run) {
  try { verify(run); } catch (e) { check('the recordings could be checked', false, e.stack || String(e)); }
}
clearTimeout(watchdog);
fs.writeFileSync(path.join(outdir, firefox ? 'result-firefox.json' : 'result.json'), JSON.stringify({ results, measured }, null, 2));
console.log(`console-test: measured truncate ${JSON.stringify(measured.truncate || [])} input ${JSON.stringify(measured.input || {})}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
log.end();
process.exit(failed ? 1 : 0);
