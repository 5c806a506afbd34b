// Microphone capture for the ava-voice console (AudioWorklet, realtime audio thread).
//
// The AudioContext runs at the device rate (forcing 24 kHz breaks Firefox: "Connecting AudioNodes
// from AudioContexts with different sample-rate is currently not supported"), so this processor
// resamples to the wire rate itself: a windowed-sinc low-pass when it decimates (so 48 kHz speech
// does not alias into the 0-12 kHz band), then linear interpolation whose phase and last sample
// carry over from one render quantum to the next. It posts PCM16 little-endian frames of exactly
// 480 samples (20 ms at 24 kHz) with their RMS and peak, transferring the buffer.
// Messages in: {type:'reset'} (drop the partial frame). Out: {type:'frame', pcm, rms, peak}.

const OUT_RATE = 24000;
const FRAME = 480;

function lowPass(cutoff, taps) {
  // cutoff in cycles per input sample (< 0.5); Hamming-windowed sinc, unity DC gain.
  const h = new Float32Array(taps);
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let i = 0; i < taps; i++) {
    const t = i - mid;
    const sinc = t === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * t) / (Math.PI * t);
    const w = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (taps - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < taps; i++) h[i] /= sum;
  return h;
}

class AvaCaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / OUT_RATE; // input samples per output sample
    this.pos = 0; // next output sample, in input coordinates where 0 = last sample of the previous quantum
    this.prev = 0;
    this.frame = new Int16Array(FRAME);
    this.n = 0;
    this.sumSq = 0;
    this.peak = 0;
    // Anti-alias filter only when decimating (e.g. 48 or 44.1 kHz devices).
    this.fir = this.step > 1.001 ? lowPass((0.45 * OUT_RATE) / sampleRate, 31) : null;
    if (this.fir) {
      this.hist = new Float32Array(this.fir.length * 2 + 1); // doubled ring: contiguous reads
      this.hpos = 0;
    }
    this.filtered = new Float32Array(128);
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === 'reset') {
        this.n = 0;
        this.sumSq = 0;
        this.peak = 0;
      }
    };
  }

  filter(x) {
    const h = this.fir;
    const L = h.length;
    if (this.filtered.length !== x.length) this.filtered = new Float32Array(x.length);
    const y = this.filtered;
    const hist = this.hist;
    for (let k = 0; k < x.length; k++) {
      // write slot w in both halves; the last L samples are then hist[w + 1 .. w + L], in order
      const w = (this.hpos + 1) % L;
      this.hpos = w;
      hist[w] = x[k];
      hist[w + L] = x[k];
      let acc = 0;
      for (let j = 0; j < L; j++) acc += h[j] * hist[w + 1 + j];
      y[k] = acc;
    }
    return y;
  }

  push(v) {
    if (v > 1) v = 1;
    else if (v < -1) v = -1;
    const a = v < 0 ? -v : v;
    if (a > this.peak) this.peak = a;
    this.sumSq += v * v;
    this.frame[this.n++] = v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
    if (this.n === FRAME) {
      const rms = Math.sqrt(this.sumSq / FRAME);
      this.port.postMessage({ type: 'frame', pcm: this.frame.buffer, rms, peak: this.peak }, [this.frame.buffer]);
      this.frame = new Int16Array(FRAME);
      this.n = 0;
      this.sumSq = 0;
      this.peak = 0;
    }
  }

  process(inputs) {
    const input = inputs[0];
    const ch = input && input[0];
    if (!ch || ch.length === 0) return true; // not connected yet: keep the processor alive
    const x = this.fir ? this.filter(ch) : ch;
    const n = x.length;
    const step = this.step;
    let pos = this.pos;
    // x coordinates: 0 = this.prev, i (1..n) = x[i - 1]
    while (pos < n) {
      const i = Math.floor(pos);
      const f = pos - i;
      const a = i === 0 ? this.prev : x[i - 1];
      const b = x[i];
      this.push(a + (b - a) * f);
      pos += step;
    }
    this.pos = pos - n;
    this.prev = x[n - 1];
    return true;
  }
}

registerProcessor('ava-capture', AvaCaptureProcessor);
