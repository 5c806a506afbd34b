#!/usr/bin/env bash
# Tools end to end (issue 6): the real ava-voice binary, headless (--input WAV --output WAV
# --fast), talks over ws:// to the real ava-realtime-sim process (--pace 0: the long spoken
# reply that quotes the tool outputs arrives as fast as it is synthesised) running
# sim/scenarios/demo-weather-lights.toml, with a dummy OPENAI_API_KEY: the user asks
# for the weather in Berlin and to turn off the living room lights; the model calls
# check_weather and control_lights at once. Both tools run against tests/tools/fake_services.py
# on loopback (Open-Meteo's and Home Assistant's shapes), configured through a config file that
# points tools.weather and tools.lights at it.
#
# Asserts: both tool calls printed as ok; the printed AVA reply quotes the fake forecast
# (12.5 °C, overcast) and the new light state (off); the fake Home Assistant recorded exactly
# one POST /api/services/light/turn_off, for the two living room lights, with the token; the
# fake Open-Meteo was asked for Berlin; ava-voice exited 0 and printed its summary.
#
#   tools_e2e.sh AVA_VOICE_BINARY AVA_REALTIME_SIM_BINARY SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skip (python3 missing; not allowed when CI is set).
set -euo pipefail

ava=$(realpath "$1")
sim=$(realpath "$2")
src=$(realpath "$3")
py=$(command -v /usr/bin/python3 || command -v python3 || true)
if [[ -z "$py" ]]; then
    echo "tools_e2e: python3 is missing" >&2
    [[ -n "${CI:-}" ]] && exit 1
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-tools-e2e.XXXXXX")
pids=()
finish() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${keep:-0}" == 0 ]]; then rm -rf "$work"; fi
}
trap finish EXIT

"$py" "$src/tests/tools/fake_services.py" >"$work/services.out" 2>"$work/services.err" &
pids+=($!)
"$sim" --port 0 --pace 0 --scenario "$src/sim/scenarios/demo-weather-lights.toml" \
    >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
port=""
url=""
for _ in $(seq 1 300); do
    port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$work/services.out" | head -n1)
    url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' "$work/sim.out" | head -n1)
    [[ -n "$port" && -n "$url" ]] && break
    sleep 0.05
done
if [[ -z "$port" || -z "$url" ]]; then
    echo "tools_e2e: a server did not start: $(cat "$work/services.err" "$work/sim.err")" >&2
    keep=1
    exit 1
fi
base="http://127.0.0.1:$port"

# The tools are configured through a config file pointing them at the fake server (the Home
# Assistant token comes from the environment, as recommended).
mkdir -p "$work/run"
cat >"$work/ava-voice.toml" <<TOML
[provider]
name = "openai"
endpoint = "$url"

[tools.lights]
enabled = true
base_url = "$base"

[tools.weather]
enabled = true
geocoding_url = "$base/v1/search"
forecast_url = "$base/v1/forecast"
TOML
set +e
(cd "$work/run" && HOME_ASSISTANT_TOKEN=good-token OPENAI_API_KEY=sk-dummy-tools-e2e NO_COLOR=1 \
    timeout -s INT 45 "$ava" --config "$work/ava-voice.toml" \
    --input "$src/samples/weather-lights.wav" --output "$work/reply.wav" --fast \
    --log-level warn </dev/null >"$work/ava.out" 2>"$work/ava.err")
rc=$?
set -e
cat "$work/ava.out"
"$py" -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('$base/__requests').read().decode())" \
    >"$work/requests.json"

status=0
"$py" - "$work" "$rc" <<'PY' || status=$?
import json, os, re, sys, wave
work, rc = sys.argv[1], int(sys.argv[2])
out = open(os.path.join(work, "ava.out"), encoding="utf-8").read()
reqs = json.load(open(os.path.join(work, "requests.json")))
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

need(rc == 0, f"ava-voice exited with {rc}: {open(os.path.join(work, 'ava.err')).read()[-2000:]}")
need("-- session summary --" in out, "no session summary")
need("sk-dummy-tools-e2e" not in out, "the API key was printed")
results = dict(re.findall(r"^  <- (\S+) (ok|failed)", out, re.M))
need(results.get("check_weather") == "ok", f"check_weather: {results.get('check_weather')}")
need(results.get("control_lights") == "ok", f"control_lights: {results.get('control_lights')}")
need(re.search(r"^tool calls: 2 ok, 0 failed$", out, re.M), "summary is not '2 ok, 0 failed'")

# The reply that follows the tool calls quotes both outputs.
ava = [l for l in re.findall(r"^AVA: (.*)$", out, re.M) if "The weather:" in l]
need(len(ava) == 1, f"expected one AVA line with the tool results, got {ava}")
if ava:
    line = ava[0]
    need('"temperature":12.5' in line, "the reply lacks the forecast's 12.5 degrees")
    need('"conditions":"overcast"' in line, "the reply lacks the current conditions 'overcast'")
    need('"location":"Berlin' in line, "the reply lacks the location")
    need('"action":"off"' in line, "the reply lacks the lights action")
    need('{"name":"Living Room Ceiling","state":"off"}' in line,
         "the reply lacks the ceiling light's new state 'off'")
    need('{"name":"Living Room Floor Lamp","state":"off"}' in line,
         "the reply lacks the floor lamp's new state 'off'")

offs = [r for r in reqs if r["method"] == "POST" and r["path"] == "/api/services/light/turn_off"]
need(len(offs) == 1, f"expected one light/turn_off call, got {len(offs)}")
if offs:
    ids = sorted(json.loads(offs[0]["body"]).get("entity_id", []))
    need(ids == ["light.living_room_ceiling", "light.living_room_lamp"], f"turn_off for {ids}")
    need(offs[0]["authorization"] == "Bearer good-token", "turn_off without the token")
need(not any(r["path"].startswith("/api/services/light/turn_on") for r in reqs), "a turn_on call")
need(any(r["path"] == "/v1/search" and r["query"].get("name") == "Berlin" for r in reqs),
     "geocoding was not asked for Berlin")
need(any(r["path"] == "/v1/forecast" for r in reqs), "no forecast request")

# The reply was voiced: the output WAV holds audible audio.
import array
try:
    with wave.open(os.path.join(work, "reply.wav")) as w:
        pcm = array.array("h", w.readframes(w.getnframes()))
except (OSError, wave.Error) as e:
    pcm = array.array("h")
    problems.append(f"no reply.wav: {e}")
loud = sum(1 for s in pcm if abs(s) > 1000)
need(len(pcm) > 24000 and loud > 2400, f"reply.wav is not audible ({len(pcm)} samples, {loud} loud)")

if problems:
    print("tools_e2e: FAILED", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    sys.exit(1)
print("tools_e2e: weather and lights ran against the fake services; the reply quotes them")
PY
if ((status != 0)); then
    keep=1
    echo "tools_e2e: output kept in $work" >&2
fi
exit $status
