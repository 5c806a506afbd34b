// A client nobody on this project wrote: the official `openai` Node SDK's GA realtime WebSocket
// client (openai/realtime/ws, OpenAIRealtimeWS) holds a conversation with ava-realtime-sim:
// it streams a WAV, receives the spoken reply, and does a function-call round trip.
//
// Usage: node peer.mjs --base-url https://127.0.0.1:PORT/v1 --wav speech24k.wav
// (OPENAI_API_KEY = the key the simulator expects; NODE_EXTRA_CA_CERTS = its test CA: the SDK
// forces the wss scheme.) Exit 0 = every check passed; 1 = a check failed (printed).
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const fail = (msg) => {
  console.error(`node-peer: FAIL: ${msg}`);
  process.exit(1);
};
const timer = setTimeout(() => fail('timed out after 30 s'), 30000);

function readWav(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') fail(`${path} is not a WAV`);
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') fmt = { channels: buf.readUInt16LE(off + 10), rate: buf.readUInt32LE(off + 12), bits: buf.readUInt16LE(off + 22) };
    if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== 24000 || fmt.bits !== 16) fail(`${path}: need 24 kHz mono 16-bit, got ${JSON.stringify(fmt)}`);
      return buf.subarray(off + 8, off + 8 + size);
    }
    off += 8 + size + (size % 2);
  }
  fail(`${path}: no data chunk`);
}

const pcm = readWav(args.wav);
const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY, baseURL: args['base-url'] });
const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client);
console.log(`node-peer: connecting to ${rt.url}`);

const seen = [];
const responses = [];
let audioBytes = 0;
let transcript = '';
let userTranscript = null;
const toolOutput = JSON.stringify({ ok: true, room: 'living room', state: 'off' });

rt.on('error', (err) => fail(`error event: ${err.message}`));
rt.on('event', (ev) => seen.push(ev.type));

rt.socket.on('open', () => {
  rt.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: 'You control a smart home.',
      audio: {
        input: {
          transcription: { model: 'gpt-4o-mini-transcribe' },
          turn_detection: { type: 'server_vad', silence_duration_ms: 300 },
        },
        output: { voice: 'cedar' },
      },
      tools: [
        {
          type: 'function',
          name: 'control_lights',
          description: 'Switch the lights in a room',
          parameters: { type: 'object', properties: { room: { type: 'string' }, on: { type: 'boolean' } }, required: ['room', 'on'] },
        },
      ],
    },
  });
});

rt.on('session.updated', () => {
  if (responses.length > 0 || audioBytes > 0) return;
  // 20 ms appends of the WAV, then 800 ms of silence so server VAD ends the turn.
  const chunk = 960;
  for (let i = 0; i < pcm.length; i += chunk) rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(i, i + chunk).toString('base64') });
  const silence = Buffer.alloc(chunk);
  for (let i = 0; i < 40; i++) rt.send({ type: 'input_audio_buffer.append', audio: silence.toString('base64') });
});

rt.on('response.output_audio.delta', (ev) => {
  audioBytes += Buffer.from(ev.delta, 'base64').length;
});
rt.on('response.output_audio_transcript.delta', (ev) => {
  transcript += ev.delta;
});
rt.on('conversation.item.input_audio_transcription.completed', (ev) => {
  userTranscript = ev.transcript;
});

rt.on('response.done', (ev) => {
  const r = ev.response;
  responses.push({ status: r.status, output: r.output, audioBytes, transcript, usage: r.usage });
  audioBytes = 0;
  transcript = '';
  if (r.status !== 'completed') fail(`response ${r.id} ended ${r.status}`);
  const calls = r.output.filter((o) => o.type === 'function_call');
  if (responses.length === 1) {
    if (calls.length !== 1 || calls[0].name !== 'control_lights') fail(`expected one control_lights call, got ${JSON.stringify(r.output)}`);
    const parsed = JSON.parse(calls[0].arguments);
    if (parsed.room !== 'living room' || parsed.on !== false) fail(`unexpected arguments ${calls[0].arguments}`);
    rt.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: calls[0].call_id, output: toolOutput } });
    rt.send({ type: 'response.create' });
    return;
  }
  // Second response: the follow-up, quoting the tool's output.
  const [first, second] = responses;
  const checks = [
    [first.audioBytes > 0, `first response carried audio (${first.audioBytes} bytes)`],
    [second.audioBytes > 24000, `follow-up carried audio (${second.audioBytes} bytes)`],
    [second.transcript === `Done. The lights said: ${toolOutput}`, `follow-up transcript quotes the tool output: ${JSON.stringify(second.transcript)}`],
    [userTranscript === 'turn off the living room lights', `late user transcript: ${JSON.stringify(userTranscript)}`],
    [seen.includes('input_audio_buffer.speech_started') && seen.includes('input_audio_buffer.committed'), 'server VAD ran on the streamed WAV'],
    [second.usage && second.usage.output_token_details.audio_tokens > 0, 'usage reported'],
  ];
  let ok = true;
  for (const [pass, what] of checks) {
    console.log(`node-peer: ${pass ? 'ok  ' : 'FAIL'} ${what}`);
    ok = ok && pass;
  }
  clearTimeout(timer);
  rt.close();
  process.exitCode = ok ? 0 : 1;
});
