// The ava-voice serve console: talks to the relay over one WebSocket (protocol: docs/relay.md).
// Plain browser JavaScript, no build step, nothing fetched from elsewhere. Standard APIs only
// (Chromium and Firefox): fetch, WebSocket, getUserMedia, AudioWorklet.
//
// Audio: one AudioContext at the device's own rate (a forced 24 kHz context breaks Firefox);
// capture-worklet.js resamples the microphone to 24 kHz PCM16 frames of 480 samples,
// playback-worklet.js upsamples the assistant's 24 kHz audio and counts what it has really
// rendered per item, which is what this page reports as `playback_position`.
//
// For tests, window.avaConsole mirrors the state (connection, status, samples per item, frames,
// the last interrupt, event counts).
'use strict';

(() => {
  const WIRE_RATE = 24000;
  const SAMPLES_PER_MS = WIRE_RATE / 1000;
  const EVENT_CAP = 2000;
  const PING_EVERY_MS = 10000;
  const VOICES = ['marin', 'cedar', 'alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse'];
  const VAD_QUERY = { server_vad: 'server', semantic_vad: 'semantic', none: 'none' };

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  const ui = {
    connect: $('connect'), connState: $('conn-state'), status: $('status'), sessionInfo: $('session-info'),
    tokenBox: $('token-box'), token: $('token'), notices: $('notices'),
    mic: $('mic'), ptt: $('ptt'), interrupt: $('interrupt'), levelIn: $('level-in'), levelOut: $('level-out'),
    conversation: $('conversation'), textForm: $('text-form'), textInput: $('text-input'), sendText: $('send-text'),
    voice: $('voice'), speed: $('speed'), speedValue: $('speed-value'), vad: $('vad'),
    threshold: $('threshold'), thresholdValue: $('threshold-value'), silence: $('silence'), continuous: $('continuous'),
    latency: $('latency'), tokens: $('tokens'), cost: $('cost'), frames: $('frames'), rtt: $('rtt'),
    events: $('events'), eventFilter: $('event-filter'), eventType: $('event-type'), eventDir: $('event-dir'),
    eventClear: $('event-clear'), eventCounts: $('event-counts'), eventRate: $('event-rate'), eventsFollow: $('events-follow'),
  };

  // ---- state mirrored for tests -------------------------------------------------------------
  const ava = {
    connected: false, connState: 'disconnected', status: 'idle',
    session: null, provider: null, voice: null, upstream: null, sampleRate: null,
    playedSamples: {}, receivedSamples: {}, audioEndSamples: {}, doneItems: [],
    sentFrames: 0, sentBytes: 0, receivedFrames: 0, receivedBytes: 0, droppedSamples: 0,
    positionsSent: 0, lastPosition: null, lastInterrupt: null, interrupts: [],
    events: 0, eventRows: 0, eventTypes: {},
    turns: [], usage: null, errors: [], notices: [], closed: null, micRunning: false, pttHeld: false,
    settings: null, mismatches: [], messages: [], sent: [],
  };
  window.avaConsole = ava;

  let ws = null;
  let audio = null; // {ctx, playback}
  let mic = null; // {stream, source, node}
  let micWanted = false;
  let currentAudioItem = null; // item of the binary frames now arriving (after audio_start)
  const activeItems = new Set(); // audio started, not yet fully played or interrupted
  const interruptedItems = new Set();
  const finalPositions = new Map(); // item -> played samples once done or interrupted
  let pingTimer = null;
  let pingSentAt = 0;
  let warnedOdd = false;

  // ---- settings -----------------------------------------------------------------------------
  const SETTINGS_KEY = 'ava-console-settings';
  function readSettings() {
    return {
      voice: ui.voice.value,
      speed: Number(ui.speed.value),
      vad: ui.vad.value,
      threshold: Number(ui.threshold.value),
      silence_ms: Math.round(Number(ui.silence.value) || 500),
      continuous: ui.continuous.checked,
    };
  }
  function loadSettings() {
    const q = new URLSearchParams(location.search);
    let s = {};
    try { s = JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') || {}; } catch { s = {}; }
    if (q.get('voice')) s.voice = q.get('voice');
    if (q.get('speed')) s.speed = Number(q.get('speed'));
    if (q.get('vad')) s.vad = ({ server: 'server_vad', semantic: 'semantic_vad', none: 'none' })[q.get('vad')] || q.get('vad');
    if (s.voice && VOICES.includes(s.voice)) ui.voice.value = s.voice;
    if (s.speed >= 0.25 && s.speed <= 1.5) ui.speed.value = String(s.speed);
    if (s.vad in VAD_QUERY) ui.vad.value = s.vad;
    if (s.threshold >= 0 && s.threshold <= 1) ui.threshold.value = String(s.threshold);
    if (s.silence_ms > 0) ui.silence.value = String(s.silence_ms);
    ui.continuous.checked = ui.vad.value !== 'none';
    showSettings();
  }
  function saveSettings() {
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(readSettings())); } catch { /* private mode */ }
  }
  function showSettings() {
    ui.speedValue.textContent = Number(ui.speed.value).toFixed(2);
    ui.thresholdValue.textContent = Number(ui.threshold.value).toFixed(2);
    const none = ui.vad.value === 'none';
    ui.threshold.disabled = none;
    ui.silence.disabled = none;
    ava.settings = readSettings();
    updateButtons();
  }
  function turnDetection(s = readSettings()) {
    if (s.vad === 'none') return { type: 'none' };
    if (s.vad === 'semantic_vad') return { type: 'semantic_vad' };
    return { type: 'server_vad', threshold: s.threshold, silence_ms: s.silence_ms };
  }
  function sendSettings(fields) {
    saveSettings();
    showSettings();
    if (ava.connected) send({ type: 'settings', ...fields });
  }
  let lastVad = 'server_vad';
  ui.voice.addEventListener('change', () => sendSettings({ voice: ui.voice.value }));
  ui.speed.addEventListener('input', showSettings);
  ui.speed.addEventListener('change', () => sendSettings({ speed: Number(ui.speed.value) }));
  ui.threshold.addEventListener('input', showSettings);
  ui.threshold.addEventListener('change', () => sendSettings({ turn_detection: turnDetection() }));
  ui.silence.addEventListener('change', () => sendSettings({ turn_detection: turnDetection() }));
  ui.vad.addEventListener('change', () => {
    if (ui.vad.value !== 'none') lastVad = ui.vad.value;
    ui.continuous.checked = ui.vad.value !== 'none';
    if (ui.continuous.checked) pttRelease();
    sendSettings({ turn_detection: turnDetection() });
  });
  ui.continuous.addEventListener('change', () => {
    // Continuous = the mic streams and the server finds the turns; off = push-to-talk, no VAD.
    if (ui.continuous.checked) {
      if (ui.vad.value === 'none') ui.vad.value = lastVad;
    } else {
      if (ui.vad.value !== 'none') lastVad = ui.vad.value;
      ui.vad.value = 'none';
    }
    pttRelease();
    sendSettings({ turn_detection: turnDetection() });
  });

  // ---- header, notices ----------------------------------------------------------------------
  function setConn(state, detail) {
    ava.connState = state;
    ava.connected = state === 'connected';
    ui.connState.dataset.state = state;
    ui.connState.textContent = detail ? `${state}: ${detail}` : state;
    ui.connect.textContent = state === 'disconnected' || state === 'error' ? 'Connect' : 'Disconnect';
    ui.connect.classList.toggle('primary', !(state === 'connected' || state === 'connecting'));
    if (!ava.connected) setStatus('idle');
    updateButtons();
  }
  function setStatus(state) {
    ava.status = state;
    ui.status.dataset.state = state;
    ui.status.textContent = state.replace(/_/g, ' ');
  }
  function notice(level, text) {
    ava.notices.push({ level, text });
    if (ava.notices.length > 100) ava.notices.shift();
    const n = el('div', `notice ${level}`, text);
    n.title = 'click to dismiss';
    n.addEventListener('click', () => n.remove());
    ui.notices.append(n);
    while (ui.notices.children.length > 4) ui.notices.firstChild.remove();
    setTimeout(() => n.remove(), level === 'info' ? 8000 : 20000);
  }
  function updateButtons() {
    const c = ava.connected;
    const continuous = ui.continuous.checked;
    ui.mic.disabled = !c;
    ui.ptt.disabled = !c || continuous;
    ui.interrupt.disabled = !c;
    ui.textInput.disabled = !c;
    ui.sendText.disabled = !c;
    ui.mic.setAttribute('aria-pressed', String(micWanted));
    ui.mic.textContent = micWanted ? (continuous ? 'Mic on' : 'Mic armed') : 'Mic off';
    ui.ptt.classList.toggle('held', ava.pttHeld);
  }

  // ---- token --------------------------------------------------------------------------------
  function pageToken() {
    if (ui.token.value.trim()) return ui.token.value.trim();
    const q = new URLSearchParams(location.search);
    const h = new URLSearchParams(location.hash.replace(/^#/, ''));
    const t = q.get('token') || h.get('token');
    if (t) return t;
    try { return sessionStorage.getItem('ava-console-token') || ''; } catch { return ''; }
  }
  function askToken(why) {
    ui.tokenBox.hidden = false;
    ui.token.focus();
    notice('warning', why || 'This server needs a token: enter it and connect again.');
  }

  // ---- audio --------------------------------------------------------------------------------
  async function ensureAudio() {
    if (audio) {
      // resume() stays pending while the browser blocks audio: never wait on it for long.
      if (audio.ctx.state === 'suspended') await Promise.race([audio.ctx.resume(), sleep(300)]).catch(() => {});
      return audio;
    }
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) throw new Error('this browser has no Web Audio: text only');
    const ctx = new Ctx({ latencyHint: 'interactive' }); // the device rate: do not force 24 kHz
    if (!ctx.audioWorklet) {
      ctx.close();
      throw new Error(window.isSecureContext ? 'this browser has no AudioWorklet: text only'
        : 'audio needs a secure page: open the console over https (serve --tls-cert) or on localhost; text works');
    }
    await ctx.audioWorklet.addModule('capture-worklet.js');
    await ctx.audioWorklet.addModule('playback-worklet.js');
    const playback = new AudioWorkletNode(ctx, 'ava-playback', {
      numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
    });
    playback.connect(ctx.destination);
    playback.port.onmessage = (e) => onPlayback(e.data);
    audio = { ctx, playback };
    ava.sampleRate = ctx.sampleRate;
    if (ctx.state === 'suspended') {
      await Promise.race([ctx.resume(), sleep(300)]).catch(() => {});
      if (ctx.state === 'suspended') notice('warning', 'Audio is blocked by the browser: click anywhere on the page to enable it.');
    }
    return audio;
  }
  document.addEventListener('pointerdown', () => {
    if (audio && audio.ctx.state === 'suspended') audio.ctx.resume().catch(() => {});
  });

  let micStarting = false;
  async function startMic() {
    micWanted = true;
    updateButtons();
    if (mic || micStarting) return;
    micStarting = true;
    try {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error(window.isSecureContext ? 'this browser cannot open a microphone'
          : 'the microphone needs a secure page: open the console over https (serve --tls-cert) or on localhost');
      }
      let { ctx } = await ensureAudio();
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      });
      if (!micWanted) { stream.getTracks().forEach((t) => t.stop()); return; }
      let source;
      let ownCtx = null;
      try {
        source = ctx.createMediaStreamSource(stream);
      } catch (err) {
        // Older Firefox cannot connect a microphone whose rate differs from the context's
        // ("Connecting AudioNodes from AudioContexts with different sample-rate..."): capture in
        // a context at the microphone's own rate; the worklet resamples from whatever rate it runs at.
        const rate = stream.getAudioTracks()[0].getSettings().sampleRate;
        if (!rate) throw err;
        ownCtx = new (window.AudioContext || window.webkitAudioContext)({ sampleRate: rate, latencyHint: 'interactive' });
        await ownCtx.audioWorklet.addModule('capture-worklet.js');
        await Promise.race([ownCtx.resume(), sleep(300)]).catch(() => {});
        ctx = ownCtx;
        source = ctx.createMediaStreamSource(stream);
      }
      const node = new AudioWorkletNode(ctx, 'ava-capture', {
        numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
        channelCount: 1, channelCountMode: 'explicit', channelInterpretation: 'speakers',
      });
      node.port.onmessage = (e) => onCapture(e.data);
      source.connect(node);
      node.connect(ctx.destination); // silent output: keeps the processor pulled in every browser
      mic = { stream, source, node, ownCtx };
      ava.micRunning = true;
      ava.captureRate = ctx.sampleRate;
      stream.getAudioTracks()[0].addEventListener('ended', () => { notice('warning', 'The microphone stopped.'); stopMic(); });
    } catch (err) {
      micWanted = false;
      notice('error', `Microphone: ${err.name || ''} ${err.message || err}`);
    } finally {
      micStarting = false;
    }
    updateButtons();
  }
  function stopMic() {
    micWanted = false;
    if (mic) {
      mic.source.disconnect();
      mic.node.disconnect();
      mic.node.port.onmessage = null;
      mic.stream.getTracks().forEach((t) => t.stop());
      if (mic.ownCtx) mic.ownCtx.close().catch(() => {});
      mic = null;
    }
    ava.micRunning = false;
    pttRelease();
    updateButtons();
  }
  function onCapture(m) {
    if (m.type !== 'frame') return;
    meterIn.set(m.rms, m.peak);
    const sending = micWanted && (ui.continuous.checked || ava.pttHeld);
    if (sending && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(m.pcm);
      ava.sentFrames++;
      ava.sentBytes += m.pcm.byteLength;
    }
  }

  function onPlayback(m) {
    if (m.type === 'tick') {
      meterOut.set(m.rms, m.peak);
      for (const [item, played] of m.pos) {
        ava.playedSamples[item] = played;
        if (!interruptedItems.has(item) && !finalPositions.has(item)) sendPosition(item, played, false);
      }
    } else if (m.type === 'done') {
      ava.playedSamples[m.item] = m.played;
      finalPositions.set(m.item, m.played);
      activeItems.delete(m.item);
      ava.doneItems.push(m.item);
      if (!interruptedItems.has(m.item)) sendPosition(m.item, m.played, false);
      const sent = ava.audioEndSamples[m.item];
      if (sent != null && sent !== m.played) {
        ava.mismatches.push({ item_id: m.item, audio_end_samples: sent, played: m.played, received: ava.receivedSamples[m.item] });
      }
    } else if (m.type === 'interrupted') {
      ava.playedSamples[m.item] = m.played;
      ava.droppedSamples += m.dropped;
      finalPositions.set(m.item, m.played);
      reportInterrupted(m.item, m.played);
      for (const item of activeItems) if (item !== m.item) { interruptedItems.add(item); }
      activeItems.clear();
    }
  }
  function sendPosition(item, played, interrupted) {
    const msg = { type: 'playback_position', item_id: item, played_ms: Math.floor(played / SAMPLES_PER_MS), played_samples: played };
    if (interrupted) msg.interrupted = true;
    if (send(msg)) {
      ava.positionsSent++;
      ava.lastPosition = msg;
    }
  }
  function reportInterrupted(item, played) {
    sendPosition(item, played, true);
    ava.lastInterrupt = {
      item_id: item, played_samples: played, played_ms: Math.floor(played / SAMPLES_PER_MS),
      at: Date.now(), stop_ms: ava.interruptRequestedAt ? Math.round((performance.now() - ava.interruptRequestedAt) * 10) / 10 : null,
    };
    ava.interrupts.push(ava.lastInterrupt);
  }
  // Stop playing `item` now (barge-in from the server, or the local button) and report where.
  function stopPlayback(item) {
    if (item == null) return;
    ava.interruptRequestedAt = performance.now();
    const known = interruptedItems.has(item) || finalPositions.has(item);
    interruptedItems.add(item);
    activeItems.delete(item);
    if (known && finalPositions.has(item)) {
      reportInterrupted(item, finalPositions.get(item)); // already stopped or finished: same answer
      return;
    }
    if (audio) audio.playback.port.postMessage({ type: 'interrupt', item });
    else reportInterrupted(item, 0);
  }
  function interruptLocal() {
    send({ type: 'interrupt' });
    const items = [...activeItems];
    const item = items.length ? items[items.length - 1] : null;
    stopPlayback(item);
  }
  function onAudioFrame(buf) {
    ava.receivedFrames++;
    ava.receivedBytes += buf.byteLength;
    const item = currentAudioItem;
    if ((buf.byteLength & 1) && !warnedOdd) {
      warnedOdd = true;
      notice('warning', `An audio frame of ${buf.byteLength} bytes (odd) arrived; the last byte is ignored.`);
    }
    const n = buf.byteLength >> 1;
    if (item == null) { ava.droppedSamples += n; return; }
    ava.receivedSamples[item] = (ava.receivedSamples[item] || 0) + n;
    if (interruptedItems.has(item) || finalPositions.has(item) || !audio) { ava.droppedSamples += n; return; }
    const pcm = buf.byteLength & 1 ? buf.slice(0, n * 2) : buf;
    audio.playback.port.postMessage({ type: 'frame', item, pcm }, [pcm]);
  }

  // ---- level meters -------------------------------------------------------------------------
  function meter(node) {
    const bar = node.querySelector('.bar');
    const peakEl = node.querySelector('.peak');
    const m = { rms: 0, peak: 0, at: 0, shownPeak: 0 };
    const scale = (v) => (v <= 0.001 ? 0 : Math.min(1, Math.max(0, (20 * Math.log10(v) + 60) / 60))); // -60..0 dBFS
    m.set = (rms, peak) => { m.rms = rms; m.peak = peak; m.at = performance.now(); };
    m.draw = (now) => {
      if (now - m.at > 250) { m.rms *= 0.7; m.peak *= 0.7; }
      const r = scale(m.rms);
      m.shownPeak = Math.max(scale(m.peak), m.shownPeak - 0.02);
      bar.style.transform = `scaleX(${r.toFixed(3)})`;
      peakEl.style.left = `calc(${(m.shownPeak * 100).toFixed(1)}% - 2px)`;
      node.dataset.rms = m.rms.toFixed(4);
      node.dataset.peak = m.peak.toFixed(4);
    };
    return m;
  }
  const meterIn = meter(ui.levelIn);
  const meterOut = meter(ui.levelOut);
  setInterval(() => { const now = performance.now(); meterIn.draw(now); meterOut.draw(now); }, 50);

  // ---- conversation -------------------------------------------------------------------------
  const lines = new Map(); // item_id -> element
  const tools = new Map(); // call_id -> element
  let maxPosition = 0;
  let localSeq = 0;

  function nearBottom(box) { return box.scrollHeight - box.scrollTop - box.clientHeight < 40; }
  function place(node) {
    const box = ui.conversation;
    const pos = Number(node.dataset.position);
    const prev = node.previousElementSibling;
    const next = node.nextElementSibling;
    if (node.parentNode === box && (!prev || Number(prev.dataset.position) <= pos) && (!next || Number(next.dataset.position) > pos)) return;
    let before = null;
    for (const c of box.children) {
      if (c !== node && Number(c.dataset.position) > pos) { before = c; break; }
    }
    box.insertBefore(node, before);
  }
  function withScroll(fn) {
    const box = ui.conversation;
    const stick = nearBottom(box);
    fn();
    if (stick) box.scrollTop = box.scrollHeight;
  }
  function lineNode(id, role) {
    const node = el('div', 'line');
    node.dataset.itemId = id;
    node.dataset.role = role;
    node.append(el('span', 'who', role), el('span', 'text'), el('span', 'unheard'), el('span', 'unheard-label', 'not heard'));
    node.querySelector('.unheard').hidden = true;
    node.querySelector('.unheard-label').hidden = true;
    return node;
  }
  function onTranscript(m) {
    if (!m.item_id) return;
    const role = m.role === 'user' ? 'user' : 'assistant';
    withScroll(() => {
      let node = lines.get(m.item_id);
      if (!node) {
        node = lineNode(m.item_id, role);
        lines.set(m.item_id, node);
      }
      node.dataset.role = role;
      node.querySelector('.who').textContent = role === 'user' ? 'you' : 'assistant';
      const pos = Number.isFinite(m.position) ? m.position : Number(node.dataset.position) || maxPosition + 1;
      node.dataset.position = String(pos);
      maxPosition = Math.max(maxPosition, pos);
      const text = m.text || '';
      const unheard = m.unheard || '';
      node.querySelector('.text').textContent = unheard && text && !/\s$/.test(text) ? `${text} ` : text;
      const u = node.querySelector('.unheard');
      u.textContent = unheard;
      u.hidden = !unheard;
      node.querySelector('.unheard-label').hidden = !unheard;
      node.classList.toggle('partial', m.final === false);
      node.classList.toggle('interrupted', !!unheard);
      place(node);
      if (role === 'user' && m.final !== false) dropPending(text);
    });
  }
  function dropPending(text) {
    const norm = (s) => s.trim().toLowerCase().replace(/[\s.!?,]+/g, ' ');
    for (const node of ui.conversation.querySelectorAll('.line.pending')) {
      if (norm(node.querySelector('.text').textContent) === norm(text)) { node.remove(); return; }
    }
  }
  function addPending(text) {
    withScroll(() => {
      const node = lineNode(`local-${++localSeq}`, 'user');
      node.classList.add('pending');
      node.querySelector('.who').textContent = 'you (typed)';
      node.querySelector('.text').textContent = text;
      node.dataset.position = String(maxPosition + 0.25);
      place(node);
    });
  }
  function short(v, max = 400) {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return s && s.length > max ? `${s.slice(0, max)}…` : s || '';
  }
  function onToolCall(m) {
    withScroll(() => {
      let node = tools.get(m.call_id);
      if (!node) {
        node = el('div', 'tool');
        node.dataset.callId = m.call_id || '';
        node.dataset.position = String(maxPosition + 0.5);
        node.append(el('div', 'name'), el('div', 'args'), el('div', 'out'));
        tools.set(m.call_id, node);
      }
      node.dataset.state = 'running';
      node.dataset.name = m.name || '';
      node.querySelector('.name').textContent = `${m.name || 'tool'}()`;
      node.querySelector('.args').textContent = short(m.arguments);
      place(node);
    });
  }
  function onToolResult(m) {
    if (!tools.has(m.call_id)) onToolCall({ call_id: m.call_id, name: m.name, arguments: {} });
    withScroll(() => {
      const node = tools.get(m.call_id);
      node.dataset.state = m.ok ? 'ok' : 'failed';
      const ms = Number.isFinite(m.elapsed_ms) ? ` · ${m.elapsed_ms} ms` : '';
      node.querySelector('.out').textContent = `${m.ok ? 'ok' : 'failed'}${ms} → ${short(m.output)}`;
    });
  }
  function clearConversation() {
    lines.clear();
    tools.clear();
    maxPosition = 0;
    ui.conversation.replaceChildren();
  }

  // ---- events panel -------------------------------------------------------------------------
  const evRows = []; // {node, type, dir, msg, count}
  const evQueue = [];
  const evCounts = new Map();
  let evFlushTimer = null;
  let evStick = true;
  let evThisSecond = 0;
  let evCountsDirty = false;

  function streaming(type) { return type.endsWith('.delta') || type === 'input_audio_buffer.append'; }
  function arrow(dir) { return dir === 'send' ? '▲' : dir === 'recv' ? '▼' : '•'; }
  function fmtTime(t) {
    if (!Number.isFinite(t)) return '';
    if (t > 1e11) return new Date(t).toLocaleTimeString([], { hour12: false }) + `.${String(Math.floor(t % 1000)).padStart(3, '0')}`;
    return `${(t / 1000).toFixed(3)}s`;
  }
  function filterTerms() {
    const terms = ui.eventFilter.value.toLowerCase().split(/[\s,]+/).filter(Boolean);
    return { pos: terms.filter((t) => !t.startsWith('-')), neg: terms.filter((t) => t.startsWith('-') && t.length > 1).map((t) => t.slice(1)) };
  }
  let terms = filterTerms();
  function matches(r) {
    const type = r.type.toLowerCase();
    if (ui.eventType.value && r.type !== ui.eventType.value) return false;
    if (ui.eventDir.value && r.dir !== ui.eventDir.value) return false;
    if (terms.neg.some((t) => type.includes(t))) return false;
    return terms.pos.length === 0 || terms.pos.some((t) => type.includes(t));
  }
  function applyFilter() {
    terms = filterTerms();
    let shown = 0;
    for (const r of evRows) { r.node.hidden = !matches(r); if (!r.node.hidden) shown++; }
    ava.eventRowsShown = shown;
    if (evStick) ui.events.scrollTop = ui.events.scrollHeight;
  }
  ui.eventFilter.addEventListener('input', applyFilter);
  ui.eventType.addEventListener('change', applyFilter);
  ui.eventDir.addEventListener('change', applyFilter);
  ui.eventClear.addEventListener('click', () => {
    evRows.length = 0;
    ui.events.replaceChildren();
    ava.eventRows = 0;
  });
  ui.events.addEventListener('scroll', () => {
    evStick = nearBottom(ui.events);
    ui.eventsFollow.hidden = evStick;
  });
  ui.eventsFollow.addEventListener('click', () => {
    evStick = true;
    ui.events.scrollTop = ui.events.scrollHeight;
    ui.eventsFollow.hidden = true;
  });
  ui.events.addEventListener('click', (e) => {
    const head = e.target.closest('.head');
    if (!head) return;
    const node = head.parentNode;
    const r = evRows.find((x) => x.node === node);
    const pre = node.querySelector('pre');
    if (pre) { pre.remove(); node.classList.remove('open'); return; }
    if (!r) return;
    const body = el('pre');
    const extra = r.count > 1 ? `// ${r.count} consecutive ${r.type} events; the last one:\n` : '';
    body.textContent = extra + JSON.stringify({ dir: r.msg.dir, t_ms: r.msg.t_ms, event: r.msg.event }, null, 2);
    node.append(body);
    node.classList.add('open');
  });
  ui.eventCounts.addEventListener('click', (e) => {
    const s = e.target.closest('span[data-type]');
    if (!s) return;
    ui.eventType.value = ui.eventType.value === s.dataset.type ? '' : s.dataset.type;
    applyFilter();
  });

  function onEvent(m) {
    ava.events++;
    evThisSecond++;
    const type = String(m.event_type || (m.event && m.event.type) || '?');
    const n = (evCounts.get(type) || 0) + 1;
    evCounts.set(type, n);
    ava.eventTypes[type] = n;
    if (n === 1) addTypeOption(type);
    evCountsDirty = true;
    evQueue.push(m);
    if (!evFlushTimer) evFlushTimer = setTimeout(flushEvents, 50);
  }
  function addTypeOption(type) {
    const opts = [...ui.eventType.options].slice(1);
    const o = el('option', null, type);
    o.value = type;
    const before = opts.find((x) => x.value > type);
    ui.eventType.insertBefore(o, before || null);
  }
  function flushEvents() {
    evFlushTimer = null;
    const frag = document.createDocumentFragment();
    for (const m of evQueue) {
      const type = String(m.event_type || (m.event && m.event.type) || '?');
      const dir = m.dir || 'local';
      // Collapse a run of streaming events of one type (*.delta, and the microphone's 50
      // appends a second) into one row with a counter. Audio and transcript deltas and appends
      // interleave, so look past (at most 3) rows of other streaming types.
      let last = null;
      if (streaming(type)) {
        for (let i = evRows.length - 1; i >= Math.max(0, evRows.length - 4); i--) {
          const r = evRows[i];
          if (r.type === type && r.dir === dir) { last = r; break; }
          if (!streaming(r.type)) break;
        }
      }
      if (last) {
        last.count++;
        last.msg = m;
        last.node.querySelector('.count').textContent = `×${last.count}`;
        last.node.querySelector('.time').textContent = fmtTime(m.t_ms);
        continue;
      }
      const node = el('div', 'event-row');
      node.dataset.type = type;
      node.dataset.dir = dir;
      const ev = m.event || {};
      if (type.includes('error') || (ev.response && ev.response.status_details && ev.response.status_details.error)) node.classList.add('error');
      const head = el('div', 'head');
      head.append(el('span', 'dir', arrow(dir)), el('span', 'type', type), el('span', 'count', ''), el('span', 'time', fmtTime(m.t_ms)));
      node.append(head);
      const r = { node, type, dir, msg: m, count: 1 };
      node.hidden = !matches(r);
      evRows.push(r);
      frag.append(node);
    }
    evQueue.length = 0;
    ui.events.append(frag);
    // Prune the oldest rows so a long session stays light; keep the view still if scrolled up.
    if (evRows.length > EVENT_CAP) {
      const before = ui.events.scrollHeight;
      const gone = evRows.splice(0, evRows.length - EVENT_CAP);
      for (const r of gone) r.node.remove();
      if (!evStick) ui.events.scrollTop -= before - ui.events.scrollHeight;
    }
    ava.eventRows = evRows.length;
    if (evStick) ui.events.scrollTop = ui.events.scrollHeight;
  }
  setInterval(() => {
    ui.eventRate.textContent = ava.events ? `${ava.events} · ${evThisSecond}/s` : '';
    ava.eventsPerSecond = evThisSecond;
    evThisSecond = 0;
  }, 1000);
  setInterval(() => {
    if (!evCountsDirty) return;
    evCountsDirty = false;
    const sorted = [...evCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    ui.eventCounts.replaceChildren(...sorted.map(([type, n]) => {
      const s = el('span', null, type);
      s.dataset.type = type;
      s.title = 'show only this type';
      s.append(el('b', null, String(n)));
      return s;
    }));
  }, 500);

  // ---- performance --------------------------------------------------------------------------
  const totals = { input: 0, output: 0, cached: 0 };
  function onTurn(m) {
    ava.turns.push({ turn: m.turn, latency_ms: m.latency_ms });
    const vals = ava.turns.map((t) => t.latency_ms).filter(Number.isFinite);
    const avg = vals.length ? Math.round(vals.reduce((a, b) => a + b, 0) / vals.length) : null;
    ui.latency.textContent = `${m.latency_ms} ms (turn ${m.turn})${vals.length > 1 ? ` · avg ${avg} ms` : ''}`;
  }
  function onUsage(m) {
    ava.usage = m;
    totals.input += m.input_tokens || 0;
    totals.output += m.output_tokens || 0;
    totals.cached += m.cached_tokens || 0;
    ui.tokens.textContent = `in ${totals.input} (cached ${totals.cached}) · out ${totals.output}`;
    ui.tokens.title = `last response: in ${m.input_tokens} · out ${m.output_tokens} · cached ${m.cached_tokens}`;
    const cost = Number.isFinite(m.session_cost_usd) ? m.session_cost_usd : m.cost_usd;
    if (Number.isFinite(cost)) ui.cost.textContent = `$${cost.toFixed(4)}${Number.isFinite(m.cost_usd) ? ` (last $${m.cost_usd.toFixed(4)})` : ''}`;
  }
  setInterval(() => {
    ui.frames.textContent = ws ? `sent ${ava.sentFrames} · received ${ava.receivedFrames}` : '–';
  }, 500);

  // ---- the stream ---------------------------------------------------------------------------
  function send(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(msg));
    if (msg.type !== 'playback_position' && msg.type !== 'ping') {
      ava.sent.push({ t: Math.round(performance.now()), ...msg });
      if (ava.sent.length > 100) ava.sent.shift();
    }
    return true;
  }
  function resetSession() {
    for (const k of ['playedSamples', 'receivedSamples', 'audioEndSamples', 'eventTypes']) ava[k] = {};
    Object.assign(ava, {
      sentFrames: 0, sentBytes: 0, receivedFrames: 0, receivedBytes: 0, droppedSamples: 0, positionsSent: 0,
      lastPosition: null, lastInterrupt: null, interrupts: [], events: 0, turns: [], usage: null, errors: [],
      closed: null, doneItems: [], mismatches: [], upstream: null, session: null, messages: [], sent: [],
    });
    totals.input = totals.output = totals.cached = 0;
    currentAudioItem = null;
    activeItems.clear();
    interruptedItems.clear();
    finalPositions.clear();
    evCounts.clear();
    evRows.length = 0;
    ui.events.replaceChildren();
    ui.eventCounts.replaceChildren();
    while (ui.eventType.options.length > 1) ui.eventType.remove(1);
    clearConversation();
    ui.latency.textContent = ui.tokens.textContent = ui.cost.textContent = ui.rtt.textContent = '–';
    if (audio) audio.playback.port.postMessage({ type: 'reset' });
  }

  async function connect() {
    setConn('connecting');
    resetSession();
    try {
      await ensureAudio();
    } catch (err) {
      notice('error', `Audio: ${err.message || err}`);
    }
    const token = pageToken();
    const headers = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    let info;
    try {
      const res = await fetch('/realtime/session/start', { method: 'POST', headers, body: '{}', cache: 'no-store' });
      const body = await res.json().catch(() => ({}));
      if (res.status === 401) {
        setConn('disconnected');
        askToken(token ? 'The token was refused: check it and connect again.' : undefined);
        return;
      }
      if (!res.ok) {
        const e = body.error || {};
        throw new Error(`session/start: HTTP ${res.status} ${e.code || ''} ${e.message || ''}`.trim());
      }
      info = body;
    } catch (err) {
      setConn('error', 'session/start failed');
      notice('error', err.message || String(err));
      return;
    }
    if (info.auth && !token && !info.stream_token) {
      setConn('disconnected');
      askToken();
      return;
    }
    if (token) { try { sessionStorage.setItem('ava-console-token', token); } catch { /* ignore */ } }
    const s = readSettings();
    const raw = info.websocket_url || '/realtime/stream';
    const url = /^wss?:\/\//.test(raw) ? new URL(raw) : new URL(`${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${raw.startsWith('/') ? raw : `/${raw}`}`);
    if (info.stream_token) url.searchParams.set('token', info.stream_token);
    else if (info.auth && token) url.searchParams.set('token', token);
    url.searchParams.set('voice', s.voice);
    url.searchParams.set('speed', String(s.speed));
    url.searchParams.set('vad', VAD_QUERY[s.vad] || 'server');
    url.searchParams.set('events', '1'); // the event stream from the first event on
    ava.provider = info.provider || null;
    openStream(url);
  }

  function openStream(url) {
    const sock = new WebSocket(url.toString());
    sock.binaryType = 'arraybuffer';
    ws = sock;
    sock.onopen = () => {
      if (ws !== sock) return;
      setConn('connected');
      send({ type: 'events', enabled: true });
      const s = readSettings();
      if (s.vad === 'server_vad') send({ type: 'settings', turn_detection: turnDetection(s) });
      pingTimer = setInterval(() => { pingSentAt = performance.now(); send({ type: 'ping' }); }, PING_EVERY_MS);
      if (micWanted) startMic();
    };
    sock.onmessage = (e) => {
      if (ws !== sock) return;
      if (typeof e.data !== 'string') { onAudioFrame(e.data); return; }
      let m;
      try { m = JSON.parse(e.data); } catch { notice('warning', 'The server sent a text frame that is not JSON.'); return; }
      onMessage(m);
    };
    sock.onerror = () => { if (ws === sock) notice('error', 'WebSocket error'); };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      const why = ava.closed || e.reason || (e.code !== 1000 && e.code !== 1005 ? `code ${e.code}` : '');
      ava.closeCode = e.code;
      setConn('disconnected', why || undefined);
      if (e.code !== 1000 && e.code !== 1005) notice('warning', `Stream closed (${e.code}${e.reason ? `: ${e.reason}` : ''}).`);
      pttRelease();
      stopMic();
      activeItems.clear();
    };
  }

  function disconnect() {
    const sock = ws;
    if (sock) {
      pttRelease();
      sock.close(1000, 'bye');
    }
    ws = null;
    clearInterval(pingTimer);
    stopMic();
    if (audio) audio.playback.port.postMessage({ type: 'reset' });
    activeItems.clear();
    setConn('disconnected');
  }

  function onMessage(m) {
    if (m.type !== 'event') {
      // The last 200 control messages with their arrival time (ms since the page loaded): for tests and debugging.
      ava.messages.push({ t: Math.round(performance.now()), ...m });
      if (ava.messages.length > 200) ava.messages.shift();
    }
    switch (m.type) {
      case 'ready':
        ava.session = m.session || null;
        ava.provider = m.provider || ava.provider;
        ava.voice = m.voice || null;
        ui.sessionInfo.textContent = [m.session, m.provider, m.voice].filter(Boolean).join(' · ');
        if (m.audio_format && m.audio_format.sample_rate && m.audio_format.sample_rate !== WIRE_RATE) {
          notice('warning', `The server says its audio is ${m.audio_format.sample_rate} Hz; this console speaks ${WIRE_RATE} Hz.`);
        }
        break;
      case 'upstream':
        ava.upstream = m.session_id || null;
        ui.sessionInfo.textContent = [ava.session, ava.provider, ava.voice, m.session_id].filter(Boolean).join(' · ');
        break;
      case 'status':
        setStatus(String(m.state || 'unknown'));
        break;
      case 'audio_start':
        currentAudioItem = m.item_id;
        if (!(m.item_id in ava.receivedSamples)) ava.receivedSamples[m.item_id] = 0;
        if (!interruptedItems.has(m.item_id) && !finalPositions.has(m.item_id)) activeItems.add(m.item_id);
        break;
      case 'audio_end':
        ava.audioEndSamples[m.item_id] = m.samples;
        if (Number.isFinite(m.samples) && m.samples !== (ava.receivedSamples[m.item_id] || 0)) {
          ava.mismatches.push({ item_id: m.item_id, audio_end_samples: m.samples, received: ava.receivedSamples[m.item_id] || 0 });
        }
        if (audio && !interruptedItems.has(m.item_id)) audio.playback.port.postMessage({ type: 'end', item: m.item_id });
        break;
      case 'interrupted':
        stopPlayback(m.item_id);
        break;
      case 'transcript':
        onTranscript(m);
        break;
      case 'tool_call':
        onToolCall(m);
        break;
      case 'tool_result':
        onToolResult(m);
        break;
      case 'turn':
        onTurn(m);
        break;
      case 'usage':
        onUsage(m);
        break;
      case 'notice':
        notice(m.level === 'warning' ? 'warning' : 'info', m.text || '');
        break;
      case 'error':
        ava.errors.push(m);
        notice('error', `${m.code || 'error'}: ${m.message || ''}${m.fatal ? ' (fatal)' : ''}`);
        break;
      case 'event':
        onEvent(m);
        break;
      case 'closed':
        ava.closed = m.reason || 'closed';
        notice('info', `Session ended: ${ava.closed}`);
        break;
      case 'pong':
        if (pingSentAt) ui.rtt.textContent = `${Math.round(performance.now() - pingSentAt)} ms`;
        break;
      default:
        (ava.unknown = ava.unknown || []).push(m.type);
    }
  }

  // ---- controls -----------------------------------------------------------------------------
  ui.connect.addEventListener('click', () => {
    if (ava.connState === 'connected' || ava.connState === 'connecting') disconnect();
    else connect();
  });
  ui.tokenBox.addEventListener('submit', (e) => { e.preventDefault(); if (!ava.connected) connect(); });
  ui.mic.addEventListener('click', () => { if (micWanted) stopMic(); else startMic(); });
  ui.interrupt.addEventListener('click', interruptLocal);
  ui.textForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = ui.textInput.value.trim();
    if (!text || !send({ type: 'text_input', text })) return;
    addPending(text);
    ui.textInput.value = '';
  });

  function pttPress() {
    if (!ava.connected || ui.continuous.checked || ava.pttHeld) return;
    if (!micWanted) startMic();
    ava.pttHeld = true;
    if (mic) mic.node.port.postMessage({ type: 'reset' });
    send({ type: 'talk', pressed: true });
    updateButtons();
  }
  function pttRelease() {
    if (!ava.pttHeld) return;
    ava.pttHeld = false;
    send({ type: 'talk', pressed: false });
    updateButtons();
  }
  ui.ptt.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    ui.ptt.setPointerCapture(e.pointerId);
    pttPress();
  });
  for (const t of ['pointerup', 'pointercancel', 'lostpointercapture']) ui.ptt.addEventListener(t, pttRelease);
  ui.ptt.addEventListener('contextmenu', (e) => e.preventDefault());
  const typing = (t) => t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) ||
    (t.tagName === 'INPUT' && !/^(checkbox|radio|range|button|submit|reset)$/.test(t.type)));
  const isSpace = (e) => e.code === 'Space' || e.key === ' ';
  window.addEventListener('keydown', (e) => {
    if (!isSpace(e) || typing(e.target) || ui.continuous.checked || !ava.connected) return;
    e.preventDefault();
    if (!e.repeat) pttPress();
  });
  window.addEventListener('keyup', (e) => {
    if (!isSpace(e) || typing(e.target)) return;
    if (ava.pttHeld) { e.preventDefault(); pttRelease(); }
  });
  window.addEventListener('blur', pttRelease);

  // For tests: handle a server control message as if it came from the stream.
  ava.handle = (m) => onMessage(m);

  loadSettings();
  setConn('disconnected');
  if (pageToken()) ui.token.value = pageToken();
})();
