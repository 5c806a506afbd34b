// A relay client in Node.js: types a question, prints the transcripts, saves the reply's audio.
// npm install ws; then: node client.mjs [http://127.0.0.1:8000]  (in a browser, use WebSocket)
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

const base = process.argv[2] ?? 'http://127.0.0.1:8000';
const start = await (await fetch(`${base}/realtime/session/start`, { method: 'POST' })).json();
let url = base.replace(/^http/, 'ws') + start.websocket_url;
if (start.stream_token) url += `?token=${start.stream_token}`;
const ws = new WebSocket(url);
const audio = [];
ws.on('open', () => ws.send(JSON.stringify({ type: 'text_input', text: 'What can you do?' })));
ws.on('message', (data, binary) => {
  if (binary) return audio.push(data); // PCM16 24 kHz mono
  const m = JSON.parse(data);
  if (m.type === 'audio_end') // say we played it all, as a player would
    ws.send(JSON.stringify({ type: 'playback_position', item_id: m.item_id, played_samples: m.samples }));
  if (m.type !== 'transcript' || !m.final) return;
  console.log(`${m.role}: ${m.text}`);
  if (m.role === 'assistant') { writeFileSync('reply.pcm', Buffer.concat(audio)); ws.close(); }
});
