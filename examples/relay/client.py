# A relay client in Python: asks a question, prints the transcripts, saves the reply as a WAV.
# Needs `websockets` (pip install websockets, or apt install python3-websockets).
import asyncio, json, sys, urllib.request, wave, websockets
BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"

async def main():
    req = urllib.request.Request(BASE + "/realtime/session/start", data=b"{}", method="POST")
    start = json.load(urllib.request.urlopen(req))
    url = BASE.replace("http", "ws", 1) + start["websocket_url"] + "?token=" + start.get("stream_token", "")
    audio = bytearray()
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "text_input", "text": "What can you do?"}))
        async for msg in ws:
            if isinstance(msg, bytes): audio += msg; continue  # the reply: PCM16 24 kHz mono
            m = json.loads(msg)
            if m["type"] == "audio_end":  # tell the relay it all played (it truncates by this)
                await ws.send(json.dumps({"type": "playback_position", "item_id": m["item_id"], "played_samples": m["samples"]}))
            if m["type"] == "transcript" and m["final"]:
                print(f'{m["role"]}: {m["text"]}')
                if m["role"] == "assistant": break
    with wave.open("reply.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(24000); w.writeframes(audio)
asyncio.run(main())
