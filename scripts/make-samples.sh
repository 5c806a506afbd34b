#!/usr/bin/env bash
# Regenerates the bundled sample speech (sim/samples/*.wav) with espeak-ng and sox.
# demo-conversation.wav: three questions, 24 kHz mono PCM16, each followed by enough silence
# for the assistant's reply to play, so one file drives a multi-turn headless conversation.
set -euo pipefail
cd "$(dirname "$0")/.."
out=sim/samples
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lines=(
    "Hello Ava. What can you do?"
    "What is the weather like in Berlin today?"
    "Please turn off the living room lights."
)
parts=()
sox -n -r 24000 -c 1 -b 16 "$tmp/lead.wav" trim 0 0.5
parts+=("$tmp/lead.wav")
for i in "${!lines[@]}"; do
    espeak-ng -v en-us -s 165 -w "$tmp/raw$i.wav" "${lines[$i]}"
    sox "$tmp/raw$i.wav" -r 24000 -c 1 -b 16 -e signed-integer "$tmp/say$i.wav" norm -3
    sox -n -r 24000 -c 1 -b 16 "$tmp/gap$i.wav" trim 0 9
    parts+=("$tmp/say$i.wav" "$tmp/gap$i.wav")
done
sox "${parts[@]}" "$out/demo-conversation.wav"
espeak-ng -v en-us -s 165 -w "$tmp/q.wav" "Turn off the living room lights."
sox "$tmp/q.wav" -r 24000 -c 1 -b 16 -e signed-integer "$out/lights.wav" norm -3 pad 0.3 1.5
soxi "$out"/*.wav | grep -E 'Input File|Duration'
