// Shared by the benchmark peers: the same workload ava-voice runs in bench/run.sh.
//  - readWav: the input speech (24 kHz mono PCM16, as the harness builds it);
//  - Microphone: 20 ms appends at real time on a drift-free clock (like a sound card period);
//  - Player: decoded deltas go into a playback buffer that a real-time play clock (10 ms ticks)
//    consumes, counting the samples "handed to the device" per item, so a barge-in truncates at
//    what was actually played (the most careful thing a peer can do).
import fs from 'node:fs';

export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) if (argv[i].startsWith('--')) out[argv[i].slice(2)] = argv[i + 1];
  return out;
}

export function readWav(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV`);
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== 24000 || fmt.bits !== 16) throw new Error(`${path}: need 24 kHz mono 16-bit`);
      return buf.subarray(off + 8, off + 8 + Math.min(size, buf.length - off - 8));
    }
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/** Calls send(chunk) with each 20 ms (960-byte) chunk of pcm at real time; onDone at the end. */
export function streamMic(pcm, send, onDone) {
  const chunk = 960;
  const t0 = performance.now();
  let i = 0;
  const tick = () => {
    const due = Math.floor((performance.now() - t0) / 20) + 1;
    while (i < due && i * chunk < pcm.length) {
      send(pcm.subarray(i * chunk, Math.min(pcm.length, (i + 1) * chunk)));
      i++;
    }
    if (i * chunk >= pcm.length) return onDone();
    setTimeout(tick, Math.max(0, t0 + i * 20 - performance.now()));
  };
  tick();
}

export class Player {
  constructor() {
    this.queue = []; // Int16Array chunks of the current item, in order
    this.queued = 0; // samples waiting
    this.item = null;
    this.received = 0; // samples of this.item received
    this.played = 0; // samples of this.item handed to the "device"
    this.totalPlayed = 0;
    this.t0 = performance.now();
    this.clock = 0; // device samples elapsed
    this.timer = setInterval(() => this.#render(), 10);
  }
  push(itemId, bytes) {
    if (itemId !== this.item) {
      this.clear();
      this.item = itemId;
      this.received = 0;
      this.played = 0;
    }
    const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    this.queue.push(pcm);
    this.queued += pcm.length;
    this.received += pcm.length;
  }
  /** Barge-in: drop everything queued; returns {item, playedMs, receivedMs} of the cut item. */
  clear() {
    const cut = { item: this.item, playedMs: Math.floor((this.played * 1000) / 24000), receivedMs: Math.floor((this.received * 1000) / 24000) };
    this.queue = [];
    this.queued = 0;
    return cut;
  }
  get idle() {
    return this.queued === 0;
  }
  stop() {
    clearInterval(this.timer);
  }
  #render() {
    // Samples the device consumed since the last tick (real-time clock, not timer count).
    const now = Math.floor(((performance.now() - this.t0) * 24000) / 1000);
    let want = now - this.clock;
    this.clock = now;
    let mix = 0;
    while (want > 0 && this.queue.length > 0) {
      const head = this.queue[0];
      const n = Math.min(want, head.length);
      for (let k = 0; k < n; k++) mix += head[k]; // touch the samples, as a device copy would
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      this.queued -= n;
      this.played += n;
      this.totalPlayed += n;
      want -= n;
    }
    this.sink = mix;
  }
}

/** Session settings ava-voice sends (bench/run.sh compares like with like). */
export const sessionAudio = {
  input: {
    format: { type: 'audio/pcm', rate: 24000 },
    transcription: { model: 'gpt-4o-mini-transcribe' },
    turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true },
  },
  output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' },
};
export const instructions = 'You are Ava, a friendly and efficient voice assistant. Keep answers short.';
