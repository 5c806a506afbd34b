#!/usr/bin/env bash
# CTest driver for the console's real-browser test: speaks an espeak-ng question into headless
# Chromium's fake microphone, runs ava-realtime-sim and `ava-voice serve` in front of it, and lets
# console_test.mjs (puppeteer-core) drive web/console like a user: connect, talk, hear the reply,
# filter events, type a message and interrupt its long reply. Afterwards it checks the simulator's
# recording (the speech arrived intact) and event log (the truncation matches what the page says
# it played).
#
# Usage: run_console_test.sh <ava-voice> <ava-realtime-sim> <outdir> [chromium|firefox]
#   outdir gets console.png, the logs and the recorded input. AVA_UPDATE_SCREENSHOT=1 also copies
#   the screenshot to docs/console.png (Chromium run). CHROMIUM=path / FIREFOX=path override /usr/bin/chromium, /usr/bin/firefox-esr.
#   Firefox has no fake-microphone-from-file switch: the script runs a private PulseAudio
#   (null sinks "mic" and "out"; the default source is mic.monitor) and plays the WAV into it.
# Exit codes: 0 pass, 1 fail, 77 skip (node_modules or the browser missing and CI unset).
set -euo pipefail
ava=$1
sim=$2
outdir=$3
which_browser=${4:-chromium}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
case "$which_browser" in
    chromium) browser_path=${CHROMIUM:-/usr/bin/chromium} ;;
    firefox) browser_path=${FIREFOX:-/usr/bin/firefox-esr} ;;
    *) echo "console-browser: FAIL: unknown browser '$which_browser' (chromium or firefox)" >&2; exit 1 ;;
esac

skip_or_fail() {
    if [[ -n "${CI:-}" ]]; then
        echo "console-browser: FAIL: $1" >&2
        exit 1
    fi
    echo "console-browser: SKIP: $1"
    exit 77
}
[[ -d "$here/node_modules/puppeteer-core" ]] ||
    skip_or_fail "tests/browser/node_modules is missing: run 'npm ci' in tests/browser"
[[ -x "$browser_path" ]] || skip_or_fail "no $which_browser at $browser_path (apt-get install chromium / firefox-esr)"
if [[ $which_browser == firefox ]]; then
    for tool in pulseaudio pactl paplay; do
        command -v "$tool" >/dev/null || skip_or_fail "'$tool' is missing (apt-get install pulseaudio pulseaudio-utils)"
    done
fi
for tool in node espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "console-browser: FAIL: '$tool' not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x "$sim" ]] || { echo "console-browser: FAIL: no simulator at $sim" >&2; exit 1; }
if [[ ! -x "$ava" ]]; then
    echo "console-browser: FAIL: no ava-voice at $ava" >&2
    exit 1
fi

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ava-console-test.XXXXXX")
sim_pid=""
relay_pid=""
auth_pid=""
pa_pid=""
stop() { # stop <pid>: TERM, wait, then KILL if it is still there after 5 s
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$pa_pid"
    stop "$auth_pid"
    stop "$relay_pid"
    stop "$sim_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT

# The question, spoken: espeak-ng at 22.05 kHz, then a 48 kHz 16-bit mono WAV for Chromium's fake
# microphone (which loops it): 0.5 s of silence before, 40 s after, so it is heard once per test.
espeak-ng -w "$tmp/say.wav" "What is the weather like in Berlin today?"
sox "$tmp/say.wav" -r 48000 -c 1 -b 16 -e signed-integer "$tmp/mic.wav" pad 0.5 40

mkdir -p "$tmp/rec" "$tmp/home" "$tmp/profile"

browser_args=(--browser "$which_browser" --browser-path "$browser_path")
if [[ $which_browser == firefox ]]; then
    mkdir -m 700 -p "$tmp/pulse"
    XDG_RUNTIME_DIR="$tmp/pulse" PULSE_RUNTIME_PATH="$tmp/pulse" HOME="$tmp/pulse" \
        pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no --disable-shm=yes \
        --load="module-native-protocol-unix socket=$tmp/pulse/native auth-anonymous=1" \
        --load="module-null-sink sink_name=out rate=48000" --load="module-null-sink sink_name=mic rate=48000" \
        >"$tmp/pulse.log" 2>&1 &
    pa_pid=$!
    export PULSE_SERVER="unix:$tmp/pulse/native"
    for _ in $(seq 1 100); do pactl info >/dev/null 2>&1 && break; sleep 0.05; done
    pactl set-default-sink out && pactl set-default-source mic.monitor ||
        { cat "$tmp/pulse.log" >&2; echo "console-browser: FAIL: PulseAudio did not start" >&2; exit 1; }
    browser_args+=(--pulse-server "$PULSE_SERVER")
fi
"$sim" --port 0 --scenario "$here/console-scenario.toml" --record-dir "$tmp/rec" \
    --events "$tmp/events.jsonl" --quiet >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
url=""
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on //p' "$tmp/sim.out")
    [[ -n "$url" ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$tmp/sim.err" >&2; echo "console-browser: FAIL: simulator exited" >&2; exit 1; }
    sleep 0.05
done
[[ -n "$url" ]] || { echo "console-browser: FAIL: simulator did not start" >&2; exit 1; }
echo "console-browser: simulator at $url"

# The relay, with a home of its own (no history written outside $tmp) whose config adds one
# command tool that answers offline, so the tool call in the scenario really runs.
mkdir -p "$tmp/home/.config/ava-voice"
cat >"$tmp/home/.config/ava-voice/config.toml" <<'TOML'
[[tools.command]]
name = "get_forecast"
description = "The weather forecast for a city"
parameters = '{"type":"object","properties":{"city":{"type":"string"}}}'
argv = ["echo", "{\"forecast\":\"mild and dry\"}"]
TOML
HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" \
    XDG_STATE_HOME="$tmp/home/.local/state" XDG_CACHE_HOME="$tmp/home/.cache" OPENAI_API_KEY=sk-test \
    "$ava" serve --listen 127.0.0.1:0 --endpoint "$url" --console-dir "$repo/web/console" \
    >"$tmp/serve.out" 2>"$tmp/serve.err" &
relay_pid=$!
page=""
for _ in $(seq 1 300); do
    page=$(cat "$tmp/serve.out" "$tmp/serve.err" | grep -o 'http://127\.0\.0\.1:[0-9]*/' | head -n 1 || true)
    [[ -n "$page" ]] && break
    kill -0 "$relay_pid" 2>/dev/null || break
    sleep 0.05
done
if [[ -z "$page" ]]; then
    sed -n '1,40p' "$tmp/serve.out" "$tmp/serve.err" >&2
    echo "console-browser: FAIL: the relay did not print the URL it listens on" >&2
    exit 1
fi
echo "console-browser: console at $page"

# A second relay that requires a token, for the console's token flow.
auth_args=()
if true; then
    token="console-test-$RANDOM$RANDOM"
    HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_DATA_HOME="$tmp/home/.local/share" \
        XDG_STATE_HOME="$tmp/home/.local/state" XDG_CACHE_HOME="$tmp/home/.cache" OPENAI_API_KEY=sk-test \
        AVA_SERVE_TOKEN="$token" "$ava" serve --listen 127.0.0.1:0 --endpoint "$url" \
        --console-dir "$repo/web/console" >"$tmp/serve-auth.out" 2>"$tmp/serve-auth.err" &
    auth_pid=$!
    auth_page=""
    for _ in $(seq 1 300); do
        auth_page=$(cat "$tmp/serve-auth.out" "$tmp/serve-auth.err" | grep -o 'http://127\.0\.0\.1:[0-9]*/' | head -n 1 || true)
        [[ -n "$auth_page" ]] && break
        kill -0 "$auth_pid" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n "$auth_page" ]] || { sed -n '1,20p' "$tmp/serve-auth.err" >&2; echo "console-browser: FAIL: the token relay did not start" >&2; exit 1; }
    auth_args=(--auth-url "$auth_page" --auth-token "$token")
fi

rc=0
node "$here/console_test.mjs" --url "$page" "${browser_args[@]}" --user-data-dir "$tmp/profile" \
    --mic-wav "$tmp/mic.wav" --source-wav "$tmp/say.wav" --record-dir "$tmp/rec" \
    --events "$tmp/events.jsonl" --outdir "$outdir" --stop-sim "$sim_pid" --sim-out "$tmp/sim.out" "${auth_args[@]}" || rc=$?

stop "$auth_pid"
auth_pid=""
stop "$relay_pid"
relay_pid=""
stop "$sim_pid"
sim_pid=""
cp "$tmp/events.jsonl" "$tmp/sim.out" "$tmp/sim.err" "$tmp/serve.out" "$tmp/serve.err" "$outdir/" 2>/dev/null || true
cp "$tmp"/rec/*-input.wav "$outdir/" 2>/dev/null || true
sed -n '/^sessions:/,$p' "$tmp/sim.out"
if [[ $rc -ne 0 ]]; then
    echo "--- relay log (first 60 lines) ---" >&2
    sed -n '1,60p' "$tmp/serve.err" >&2
    echo "console-browser: FAIL (artifacts in $outdir)" >&2
    exit 1
fi
if [[ "${AVA_UPDATE_SCREENSHOT:-}" == 1 && $which_browser == chromium ]]; then
    cp "$outdir/console.png" "$repo/docs/console.png"
    echo "console-browser: updated docs/console.png"
fi
echo "console-browser: PASS ($which_browser)"
