// Benchmark peer: the OpenAI Agents SDK (@openai/agents-realtime), RealtimeAgent + RealtimeSession
// over its WebSocket transport, used as its docs show for a custom audio path: sendAudio() with
// the mic, the 'audio' event into our player, 'audio_interrupted' flushes it (the SDK itself sends
// the truncate on speech_started, from wall-clock time since the first delta).
// Usage: node agents-peer.mjs --url ws://127.0.0.1:PORT/v1/realtime?model=gpt-realtime --wav in.wav
import { RealtimeAgent, RealtimeSession } from '@openai/agents-realtime';
import { Player, instructions, parseArgs, readWav, streamMic } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const pcm = readWav(args.wav);
const player = new Player();
let micDone = false;
let responding = false;
let interruptions = 0;

const agent = new RealtimeAgent({ name: 'Ava', instructions });
const session = new RealtimeSession(agent, {
  transport: 'websocket',
  model: 'gpt-realtime',
  config: {
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: 24000 },
        transcription: { model: 'gpt-4o-mini-transcribe' },
        turnDetection: { type: 'server_vad', threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500, createResponse: true, interruptResponse: true },
      },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' },
    },
  },
});
session.on('error', (e) => console.error(`agents-peer: error: ${JSON.stringify(e.error?.message ?? e.error ?? e)}`));
session.on('audio', (ev) => player.push(ev.responseId, Buffer.from(ev.data)));
session.on('audio_interrupted', () => {
  interruptions++;
  // The SDK also reports an interruption when the user speaks after the reply has played out;
  // only a cut of audio still queued is a real barge-in.
  const wasPlaying = !player.idle;
  const cut = player.clear();
  // What was actually played of the item, to compare with the audio_end_ms the SDK sent.
  if (wasPlaying && cut.item !== null) console.log(`agents-peer: cut played_ms=${cut.playedMs}`);
});
session.transport.on('turn_started', () => (responding = true));
session.transport.on('turn_done', () => (responding = false));

await session.connect({ apiKey: process.env.OPENAI_API_KEY, url: args.url });
streamMic(
  pcm,
  (c) => session.sendAudio(c.buffer.slice(c.byteOffset, c.byteOffset + c.byteLength)),
  () => (micDone = true),
);
const finish = setInterval(() => {
  if (micDone && !responding && player.idle) {
    clearInterval(finish);
    player.stop();
    console.log(`agents-peer: done, played ${(player.totalPlayed / 24000).toFixed(2)} s, ${interruptions} interruptions`);
    session.close();
  }
}, 100);
