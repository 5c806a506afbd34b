#!/usr/bin/env bash
# Tools that work with no config, and the user's spoken yes (issue 19), end to end: the real
# ava-voice binary with a private, empty HOME / XDG_CONFIG_HOME (so no config file at all), run
# from an empty directory (no .env), against the real ava-realtime-sim process over ws://.
#
#   a. defaults: no config file; only the two Open-Meteo URLs are pointed at
#      tests/tools/fake_services.py with --set. The scenario's turn calls check_weather
#      {"location":"Berlin"} and its followup quotes the output. Asserts: the call was made and
#      ok, the reply quotes the fake forecast (12.5, overcast), the fake Open-Meteo was asked to
#      geocode Berlin, ava-voice exited 0.
#   b. `ava-voice --list-tools` with no config: check_weather is offered; the calendar, lights and
#      email tools are "not offered: disabled: set [tools.<x>] ..." (saying what to set).
#   c. voice approval, headless: a [[tools.command]] with require_approval = true. Turn 1 calls
#      it without user_approved: it does not run, the reply quotes "needs_approval"; turn 2 calls
#      it again with the same arguments plus user_approved: true: it runs (its marker file
#      exists) and the reply quotes its output. The events file records who decided.
#      The two turns are spoken in real time (a WAV of two utterances made here from
#      samples/lights.wav), replies are text, so the turns cannot overlap (~12 s).
#
#   tools_default_e2e.sh AVA_VOICE_BINARY AVA_REALTIME_SIM_BINARY SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skip (python3 missing; not allowed when CI is set).
set -euo pipefail

ava=$(realpath "$1")
sim=$(realpath "$2")
src=$(realpath "$3")
py=$(command -v /usr/bin/python3 || command -v python3 || true)
if [[ -z "$py" ]]; then
    echo "tools_default_e2e: python3 is missing" >&2
    [[ -n "${CI:-}" ]] && exit 1
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-tools-default-e2e.XXXXXX")
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
trap 'exit 130' INT TERM

fail() {
    echo "tools_default_e2e: FAILED: $*" >&2
    echo "tools_default_e2e: output kept in $work" >&2
    keep=1
    exit 1
}

# A private, empty home: no config file, no .env (ava-voice runs in an empty directory).
mkdir -p "$work/home/.config" "$work/run" "$work/runtime"
chmod 700 "$work/runtime"
clean_env=(env -i "PATH=/usr/bin:/bin:/usr/local/bin" "HOME=$work/home"
    "XDG_CONFIG_HOME=$work/home/.config" "XDG_RUNTIME_DIR=$work/runtime" "LANG=C.UTF-8"
    "NO_COLOR=1")

# start_sim NAME SCENARIO: an ava-realtime-sim process; sets $url (its ws:// URL).
start_sim() {
    local name=$1 scenario=$2
    "$sim" --port 0 --pace 0 --scenario "$scenario" --events "$work/$name-sim-events.jsonl" \
        >"$work/$name-sim.out" 2>"$work/$name-sim.err" &
    pids+=($!)
    url=""
    for _ in $(seq 1 200); do
        url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' "$work/$name-sim.out" | head -n1)
        [[ -n "$url" ]] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    fail "the simulator ($name) did not start: $(cat "$work/$name-sim.err")"
}

# ---- a. check_weather with no config ----------------------------------------------------------
"$py" "$src/tests/tools/fake_services.py" >"$work/services.out" 2>"$work/services.err" &
pids+=($!)
port=""
for _ in $(seq 1 200); do
    port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$work/services.out" | head -n1)
    [[ -n "$port" ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
done
[[ -n "$port" ]] || fail "fake_services.py did not start: $(cat "$work/services.err")"
base="http://127.0.0.1:$port"

cat >"$work/weather.toml" <<'TOML'
# tools_default_e2e: one spoken turn that asks for the weather with no config at all.
name = "tools-default-weather"
loop = false
generic_reply = "Is there anything else I can do for you?"

[[turns]]
user = "What's the weather in Berlin?"
reply = "Let me check."
followup = "The weather: {output:check_weather}"
[[turns.calls]]
name = "check_weather"
arguments = { location = "Berlin" }
TOML
start_sim weather "$work/weather.toml"

t0=$SECONDS
set +e
(cd "$work/run" && "${clean_env[@]}" OPENAI_API_KEY=sk-dummy-tools-default-e2e \
    timeout -s INT 40 "$ava" --endpoint "$url" \
    --set "tools.weather.geocoding_url=$base/v1/search" \
    --set "tools.weather.forecast_url=$base/v1/forecast" \
    --input "$src/samples/weather-lights.wav" --output "$work/weather-reply.wav" --fast --text \
    --log-level warn </dev/null >"$work/weather.out" 2>"$work/weather.err")
rc=$?
set -e
echo "tools_default_e2e: a. weather run took $((SECONDS - t0)) s (exit $rc)"
cat "$work/weather.out"
"$py" -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('$base/__requests').read().decode())" \
    >"$work/requests.json"
[[ -f "$work/home/.config/ava-voice/config.toml" ]] && fail "a config file appeared in the private home"

# ---- b. --list-tools with no config -----------------------------------------------------------
set +e
(cd "$work/run" && "${clean_env[@]}" timeout 20 "$ava" --list-tools \
    </dev/null >"$work/list.out" 2>"$work/list.err")
list_rc=$?
set -e
cat "$work/list.out"

# ---- c. voice approval, headless ----------------------------------------------------------------
# Two utterances (samples/lights.wav, 3.8 s) with silence after each, spoken in real time.
"$py" - "$src/samples/lights.wav" "$work/two-turns.wav" <<'PY'
import sys, wave
with wave.open(sys.argv[1]) as w:
    params, frames = w.getparams(), w.readframes(w.getnframes())
gap = b"\0" * (params.sampwidth * params.nchannels * params.framerate * 3)
with wave.open(sys.argv[2], "wb") as o:
    o.setparams(params)
    o.writeframes(frames + gap + frames + gap[: len(gap) // 3])
PY
cat >"$work/approval.toml" <<TOML
# The tool the model may only run after the user's spoken yes.
[tools]
filler_after_ms = 0

[[tools.command]]
name = "make_marker"
description = "Creates the marker file (a harmless stand-in for a risky action)"
parameters = '{"type":"object","properties":{"label":{"type":"string"}},"required":["label"]}'
argv = ["sh", "-c", "cat >/dev/null; echo ran >>'$work/marker'; echo '{\"done\":true,\"marker\":\"created\"}'"]
require_approval = true
TOML
cat >"$work/approval-scenario.toml" <<'TOML'
# tools_default_e2e: the model asks first, then calls again with the user's yes.
name = "tools-default-approval"
loop = false
generic_reply = "Is there anything else I can do for you?"

[[turns]]
user = "Make the marker file."
reply = ""
followup = "Before I do that: {output:make_marker} Shall I?"
[[turns.calls]]
name = "make_marker"
arguments = { label = "e2e" }

[[turns]]
user = "Yes, do it."
reply = ""
followup = "Done: {output:make_marker}"
[[turns.calls]]
name = "make_marker"
arguments = { label = "e2e", user_approved = true }
TOML
start_sim approval "$work/approval-scenario.toml"
t0=$SECONDS
set +e
(cd "$work/run" && "${clean_env[@]}" OPENAI_API_KEY=sk-dummy-tools-default-e2e \
    timeout -s INT 45 "$ava" --config "$work/approval.toml" --endpoint "$url" \
    --input "$work/two-turns.wav" --text --events "$work/approval-events.jsonl" \
    --log-level warn </dev/null >"$work/approval.out" 2>"$work/approval.err")
approval_rc=$?
set -e
echo "tools_default_e2e: c. voice approval run took $((SECONDS - t0)) s (exit $approval_rc)"
cat "$work/approval.out"
marker=0
[[ -e "$work/marker" ]] && marker=$(wc -l <"$work/marker")

status=0
"$py" - "$work" "$rc" "$list_rc" "$approval_rc" "$marker" <<'PY' || status=$?
import json, os, re, sys
work = sys.argv[1]
rc, list_rc, approval_rc, marker = (int(x) for x in sys.argv[2:6])
def read(name):
    try:
        return open(os.path.join(work, name), encoding="utf-8", errors="replace").read()
    except OSError:
        return ""
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

# a. the weather, with no config
out = read("weather.out")
reqs = json.loads(read("requests.json") or "[]")
need(rc == 0, f"a. ava-voice exited with {rc}: {read('weather.err')[-2000:]}")
need("-- session summary --" in out, "a. no session summary")
need("sk-dummy" not in out + read("weather.err"), "a. the API key was printed")
need(re.search(r'^  -> check_weather \{.*"location":"Berlin"', out, re.M),
     "a. no check_weather call with location Berlin printed")
results = re.findall(r"^  <- (\S+) (ok|failed)", out, re.M)
need(results == [("check_weather", "ok")], f"a. tool results: {results}")
ava = [l for l in re.findall(r"^AVA: (.*)$", out, re.M) if "The weather:" in l]
need(len(ava) == 1, f"a. expected one AVA line quoting the weather, got {ava}")
if ava:
    need('"temperature":12.5' in ava[0], "a. the reply lacks the fake forecast's 12.5 degrees")
    need('"conditions":"overcast"' in ava[0], "a. the reply lacks the fake conditions 'overcast'")
    need('"location":"Berlin' in ava[0], "a. the reply lacks the location Berlin")
need(any(r["path"] == "/v1/search" and r["query"].get("name") == "Berlin" for r in reqs),
     f"a. the fake Open-Meteo was not asked to geocode Berlin: {reqs}")
need(any(r["path"] == "/v1/forecast" for r in reqs), "a. no forecast request")

# b. --list-tools with no config
lst = read("list.out")
need(list_rc == 0, f"b. --list-tools exited with {list_rc}: {read('list.err')[-1000:]}")
# A row's STATUS is "offered", "not offered: <why>", or (a long why) "not offered, see note N"
# with "note N: <tool>: <why>" under the table.
notes = dict(re.findall(r"^note ([0-9]+): (.*)$", lst, re.M))
rows = {}
for line in lst.splitlines():
    m = re.match(r"^(\S+)\s+(\S+)\s+(offered|not offered: .*?|not offered, see note ([0-9]+))\s{2,}", line)
    if m:
        status = m.group(3)
        if m.group(4):
            note = notes.get(m.group(4), "")
            prefix = m.group(1) + ": "
            status = "not offered: " + note[len(prefix):] if note.startswith(prefix) else status
        rows[m.group(1)] = (m.group(2), status)
need(rows.get("check_weather", ("", ""))[1] == "offered", f"b. check_weather: {rows.get('check_weather')}")
for tool, table in (("get_calendar_events", "calendar"), ("control_lights", "lights"),
                    ("send_email", "email")):
    status = rows.get(tool, ("", ""))[1]
    need(status.startswith(f"not offered: disabled: set [tools.{table}] "),
         f"b. {tool} should say what to set in [tools.{table}]: {status!r}")
need(re.search(r'\[tools\.calendar\] source = ', lst), "b. the calendar row does not name source")
need(re.search(r'\[tools\.lights\] base_url = .*HOME_ASSISTANT_TOKEN', lst),
     "b. the lights row does not name base_url and HOME_ASSISTANT_TOKEN")
need(re.search(r'\[tools\.email\] smtp_url = ', lst), "b. the email row does not name smtp_url")

# c. voice approval
out = read("approval.out")
need(approval_rc == 0, f"c. ava-voice exited with {approval_rc}: {read('approval.err')[-2000:]}")
need("-- session summary --" in out, "c. no session summary")
calls = re.findall(r"^  -> make_marker (.*)$", out, re.M)
need(len(calls) == 2, f"c. expected two make_marker calls, got {calls}")
ava = re.findall(r"^AVA: (.*)$", out, re.M)
asked = [l for l in ava if l.startswith("Before I do that:")]
done = [l for l in ava if l.startswith("Done:")]
need(len(asked) == 1 and '"status":"needs_approval"' in asked[0],
     f"c. turn 1's reply does not quote needs_approval: {asked}")
need(len(done) == 1 and '"done":true' in done[0] and '"marker":"created"' in done[0],
     f"c. turn 2's reply does not quote the tool's output: {done}")
need(marker == 1, f"c. the command should have run exactly once (after the yes), ran {marker} times")
decisions = []
for line in read("approval-events.jsonl").splitlines():
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("type") == "tool.approval":
        body = ev.get("event", ev)
        decisions.append((body.get("decision"), body.get("by")))
need(("asked", "model (voice read-back)") in decisions and ("approved", "user (voice)") in decisions,
     f"c. the events file lacks the voice decisions: {decisions}")
# Only one asked-then-approved pair: the first call never ran.
need(len([d for d in decisions if d[0] == "approved"]) == 1, f"c. decisions: {decisions}")

if problems:
    print("tools_default_e2e: FAILED", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    sys.exit(1)
print("tools_default_e2e: check_weather works with no config, --list-tools says what to set, "
      "and a voice-approved call runs only after the yes")
PY
if ((status != 0)); then
    keep=1
    echo "tools_default_e2e: output kept in $work" >&2
fi
exit $status
