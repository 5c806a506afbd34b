// Benchmark peer: the official `openai` Node SDK's GA realtime WebSocket client
// (openai/realtime/ws, OpenAIRealtimeWS), used as its README shows, on ava-voice's workload:
// stream the WAV in 20 ms appends at real time, decode the audio deltas into a playback buffer
// paced by a real-time play clock, truncate at the played position on speech_started.
// Usage: node openai-peer.mjs --base-url http://127.0.0.1:PORT/v1 --wav in.wav
// The SDK forces wss://; over a plain ws:// simulator we pass createConnection (plain TCP under
// the wss URL), the documented `ws` option, so the comparison with ava-voice is TLS-free on both.
import net from 'node:net';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { Player, instructions, parseArgs, readWav, sessionAudio, streamMic } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const pcm = readWav(args.wav);
const plain = args['base-url'].startsWith('http://');
const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY, baseURL: args['base-url'].replace(/^http:/, 'https:') });
const rt = new OpenAIRealtimeWS(
  { model: 'gpt-realtime', options: plain ? { createConnection: (o) => net.connect({ host: o.host, port: o.port }) } : {} },
  client,
);
const player = new Player();
let micDone = false;
let responding = false;
let truncations = 0;

rt.on('error', (err) => console.error(`openai-peer: error: ${err.message}`));
rt.socket.on('open', () => {
  rt.send({ type: 'session.update', session: { type: 'realtime', instructions, audio: sessionAudio } });
  streamMic(pcm, (c) => rt.send({ type: 'input_audio_buffer.append', audio: c.toString('base64') }), () => (micDone = true));
});
rt.on('response.created', () => (responding = true));
rt.on('response.done', () => (responding = false));
rt.on('response.output_audio.delta', (ev) => player.push(ev.item_id, Buffer.from(ev.delta, 'base64')));
rt.on('input_audio_buffer.speech_started', () => {
  if (player.item === null || player.idle) return;
  const cut = player.clear();
  const ms = Math.min(cut.playedMs, cut.receivedMs);
  console.log(`openai-peer: cut played_ms=${cut.playedMs}`);
  if (ms > 0) {
    rt.send({ type: 'conversation.item.truncate', item_id: cut.item, content_index: 0, audio_end_ms: ms });
    truncations++;
  }
});
const finish = setInterval(() => {
  if (micDone && !responding && player.idle) {
    clearInterval(finish);
    player.stop();
    console.log(`openai-peer: done, played ${(player.totalPlayed / 24000).toFixed(2)} s, ${truncations} truncations`);
    rt.close();
  }
}, 100);
