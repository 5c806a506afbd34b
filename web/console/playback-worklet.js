// Assistant audio playback for the ava-voice console (AudioWorklet, realtime audio thread).
//
// The main thread posts each binary frame (PCM16 LE, 24 kHz, mono) tagged with its item id. This
// processor upsamples to the context's rate by linear interpolation and counts, per item, the
// 24 kHz samples it has actually rendered: that count is what the page reports to the relay as
// `playback_position`, and what the relay truncates the reply to after a barge-in.
//
// Messages in:
//   {type:'frame', item, pcm: ArrayBuffer}   audio for an item (dropped if the item was interrupted)
//   {type:'end', item}                       no more audio for this item
//   {type:'interrupt', item}                 drop everything queued now; freeze the item's position
//   {type:'reset'}                           forget everything (disconnect)
// Messages out:
//   {type:'tick', pos:[[item, played],...], rms, peak, buffered}   about every 100 ms
//   {type:'done', item, played}              an ended item has been rendered completely
//   {type:'interrupted', item, played, dropped}  answer to 'interrupt', posted from the message handler
//                                            (so before the next render quantum)

const IN_RATE = 24000;
const PREBUFFER = 1440; // 60 ms of 24 kHz audio before an item starts (jitter), unless it has ended
const MAX_INTERRUPTED = 64;

class AvaPlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = IN_RATE / sampleRate; // source samples per output sample
    this.frac = 0;
    this.queue = []; // {item, data: Int16Array, off}
    this.items = new Map(); // item -> {queued, played, ended, started, reported}
    this.interrupted = []; // recent interrupted item ids: late frames for them are dropped
    this.recent = new Map(); // item -> final played count of recently finished/interrupted items
    this.tickEvery = Math.max(1, Math.round((0.1 * sampleRate) / 128));
    this.quanta = 0;
    this.sumSq = 0;
    this.count = 0;
    this.peak = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  state(item) {
    let st = this.items.get(item);
    if (!st) {
      st = { queued: 0, played: 0, ended: false, started: false, reported: -1 };
      this.items.set(item, st);
    }
    return st;
  }

  onMessage(m) {
    if (!m || !m.type) return;
    if (m.type === 'frame') {
      if (this.interrupted.includes(m.item) || this.recent.has(m.item)) return; // late frames
      const data = new Int16Array(m.pcm);
      if (data.length === 0) return;
      const st = this.state(m.item);
      if (st.ended) return; // audio after audio_end: ignore
      st.queued += data.length;
      this.queue.push({ item: m.item, data, off: 0 });
    } else if (m.type === 'end') {
      if (this.recent.has(m.item)) return;
      const st = this.state(m.item);
      st.ended = true;
      st.started = true;
      if (st.played >= st.queued) this.finish(m.item, st);
    } else if (m.type === 'interrupt') {
      let dropped = 0;
      for (const c of this.queue) dropped += c.data.length - c.off;
      this.queue.length = 0;
      this.frac = 0;
      const st = this.items.get(m.item);
      // Its position: live, or final if it already finished or was interrupted before.
      const played = st ? st.played : this.recent.get(m.item) || 0;
      this.markInterrupted(m.item);
      this.remember(m.item, played);
      // Other items that were still queued are interrupted as well.
      for (const [id, s] of this.items) {
        if (id !== m.item) {
          if (s.played < s.queued || !s.ended) this.markInterrupted(id);
          this.remember(id, s.played);
        }
      }
      this.items.clear();
      this.port.postMessage({ type: 'interrupted', item: m.item, played, dropped });
    } else if (m.type === 'reset') {
      this.queue.length = 0;
      this.items.clear();
      this.interrupted.length = 0;
      this.recent.clear();
      this.frac = 0;
    }
  }

  markInterrupted(item) {
    if (item == null || this.interrupted.includes(item)) return;
    this.interrupted.push(item);
    if (this.interrupted.length > MAX_INTERRUPTED) this.interrupted.shift();
  }

  remember(item, played) {
    this.recent.delete(item);
    this.recent.set(item, played);
    if (this.recent.size > MAX_INTERRUPTED) this.recent.delete(this.recent.keys().next().value);
  }

  finish(item, st) {
    this.port.postMessage({ type: 'done', item, played: st.played });
    this.remember(item, st.played);
    this.items.delete(item);
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const n = out.length;
    const step = this.step;
    const q = this.queue;
    for (let k = 0; k < n; k++) {
      const c = q[0];
      if (!c) {
        out[k] = 0;
        continue;
      }
      const st = this.items.get(c.item) || this.state(c.item);
      if (!st.started) {
        if (st.queued - st.played >= PREBUFFER) st.started = true;
        else {
          out[k] = 0;
          continue;
        }
      }
      const s0 = c.data[c.off];
      let s1 = s0;
      if (c.off + 1 < c.data.length) s1 = c.data[c.off + 1];
      else if (q.length > 1 && q[1].item === c.item) s1 = q[1].data[q[1].off];
      const v = (s0 + (s1 - s0) * this.frac) / 32768;
      out[k] = v;
      this.sumSq += v * v;
      this.count++;
      const a = v < 0 ? -v : v;
      if (a > this.peak) this.peak = a;
      this.frac += step;
      while (this.frac >= 1) {
        this.frac -= 1;
        const h = q[0];
        if (!h) {
          this.frac = 0;
          break;
        }
        h.off++;
        const hs = this.items.get(h.item);
        if (hs) hs.played++;
        if (h.off >= h.data.length) {
          q.shift();
          if (!q[0] || q[0].item !== h.item) {
            this.frac = 0; // do not interpolate across items
            if (hs && hs.ended && hs.played >= hs.queued) this.finish(h.item, hs);
            break;
          }
        }
      }
    }
    // Other channels (if the destination asked for more) copy the first.
    for (let ch = 1; ch < outputs[0].length; ch++) outputs[0][ch].set(out);

    if (++this.quanta >= this.tickEvery) {
      this.quanta = 0;
      const pos = [];
      for (const [id, s] of this.items) {
        if (s.played !== s.reported && s.played > 0) {
          pos.push([id, s.played]);
          s.reported = s.played;
        }
      }
      let buffered = 0;
      for (const c of q) buffered += c.data.length - c.off;
      const rms = this.count ? Math.sqrt(this.sumSq / this.count) : 0;
      this.port.postMessage({ type: 'tick', pos, rms, peak: this.peak, buffered });
      this.sumSq = 0;
      this.count = 0;
      this.peak = 0;
    }
    return true;
  }
}

registerProcessor('ava-playback', AvaPlaybackProcessor);
