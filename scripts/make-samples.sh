#!/usr/bin/env bash
# Regenerates the bundled sample speech (samples/*.wav) with espeak-ng and sox.
# demo-conversation.wav: three questions, 24 kHz mono PCM16, each followed by enough silence
# for the assistant's reply to play, so one file drives a multi-turn headless conversation.
# weather-lights.wav and demo-tools.wav: the user's side of sim/scenarios/demo-*.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
out=samples
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

# say_turns OUT GAP_S LINE...: each line spoken, then GAP_S seconds of silence (time for the
# tools and the reply), after a 0.5 s lead-in.
say_turns() {
    local dest=$1 gap=$2
    shift 2
    local parts=("$tmp/lead.wav") n=0
    for line in "$@"; do
        n=$((n + 1))
        espeak-ng -v en-us -s 165 -w "$tmp/t$n.wav" "$line"
        sox "$tmp/t$n.wav" -r 24000 -c 1 -b 16 -e signed-integer "$tmp/ts$n.wav" norm -3
        sox -n -r 24000 -c 1 -b 16 "$tmp/tg$n.wav" trim 0 "$gap"
        parts+=("$tmp/ts$n.wav" "$tmp/tg$n.wav")
    done
    sox "${parts[@]}" "$dest"
}
# weather-lights.wav: the one turn of sim/scenarios/demo-weather-lights.toml (tools e2e test).
say_turns "$out/weather-lights.wav" 1.5 \
    "What's the weather in Berlin? And please turn off the living room lights."
# demo-tools.wav: the five turns of sim/scenarios/demo-tools.toml (scripts/demo-tools.sh).
say_turns "$out/demo-tools.wav" 3 \
    "Good morning Ava. What's on my calendar today?" \
    "What's the weather like in Berlin?" \
    "Turn off the living room lights." \
    "Email Sam that I'm running ten minutes late." \
    "Yes, send it."
soxi "$out"/*.wav | grep -E 'Input File|Duration'
