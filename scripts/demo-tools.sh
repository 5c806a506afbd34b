#!/usr/bin/env bash
# The tools demo: ava-voice with the offline simulator uses ALL FOUR built-in tools against
# local services, with no network and no sound card.
#
#   scripts/demo-tools.sh [--check] [--ava-voice PATH] [--workdir DIR]
#
# What it does:
#   1. starts tests/tools/fake_services.py on loopback (Home Assistant's API for the lights,
#      Open-Meteo's geocoding and forecast for the weather) and tests/tools/smtp_server.py
#      (plain SMTP on loopback; messages are saved as WORKDIR/mail/<n>.eml);
#   2. runs `ava-voice --provider sim --scenario sim/scenarios/demo-tools.toml` with
#      config/demo/ava-voice.toml (calendar = config/demo/calendar.ics), the service URLs added
#      with --set, and samples/demo-tools.wav as the microphone (made by
#      scripts/make-samples.sh): five spoken turns — the calendar, the weather, the living room
#      lights, an email to Sam, and "yes, send it";
#   3. prints the transcripts (You:/AVA:) and the tool calls (-> call, <- result) as they happen,
#      then ava-voice's session summary, and stops the services (by PID) at the end.
#
# Email confirmation stays ON (the safe default): the first send_email only drafts and answers
# "needs_confirmation"; after the user's "yes" the scenario calls it again with
# "confirmed": true, and only then is the message sent.
#
# --check   also verify the outcome (used by the e2e CTest test): all five tool calls ok, the
#           fake Home Assistant got light/turn_off for both living room lights, the fake
#           Open-Meteo was asked for Berlin, exactly one email reached Sam, and the replies quote
#           the tools' answers. Exit 0 when all hold, 1 otherwise.
# The run takes about 30 s: the sample speech plays in real time (replies are text, instant).
# Needs python3 with aiosmtpd (Debian: python3-aiosmtpd). Exit 77 when that is missing (1 when
# env CI is set).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
check=0
ava=${AVA_VOICE:-}
workdir=""
while (($#)); do
    case "$1" in
    --check) check=1 ;;
    --ava-voice)
        ava=$2
        shift
        ;;
    --workdir)
        workdir=$2
        shift
        ;;
    -h | --help)
        sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo-tools: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
    shift
done

if [[ -z "$ava" ]]; then
    ava="$here/${AVA_BUILD_DIR:-build}/ava-voice"
fi
if [[ ! -x "$ava" ]]; then
    echo "demo-tools: no ava-voice at $ava (build it with scripts/build.sh, or pass --ava-voice)" >&2
    exit 2
fi
ava=$(cd "$(dirname "$ava")" && pwd)/$(basename "$ava")

# A python3 that has aiosmtpd (a pyenv python3 earlier in PATH may lack it).
py=""
for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "import aiosmtpd" 2>/dev/null; then
        py=$(command -v "$candidate")
        break
    fi
done
if [[ -z "$py" ]]; then
    echo "demo-tools: needs python3 with aiosmtpd (apt-get install python3-aiosmtpd)" >&2
    [[ -n "${CI:-}" ]] && exit 1
    exit 77
fi

if [[ -z "$workdir" ]]; then
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/ava-demo-tools.XXXXXX")
    cleanup_dir=1
else
    mkdir -p "$workdir"
    workdir=$(cd "$workdir" && pwd)
    cleanup_dir=0
fi
mkdir -p "$workdir/mail" "$workdir/run"

pids=()
stop_services() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
finish() {
    stop_services
    if ((cleanup_dir && check == 0)); then
        rm -rf "$workdir"
    fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# start_service NAME LOGFILE CMD...: starts CMD in the background, waits for its "PORT n" line
# and sets $port (not a $(...) call: the PID must be recorded in this shell).
start_service() {
    local name=$1 log=$2
    shift 2
    "$@" >"$log" 2>"$log.err" &
    pids+=($!)
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$log" | head -n1)
        [[ -n "$port" ]] && break
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [[ -z "$port" ]]; then
        echo "demo-tools: $name did not start: $(cat "$log.err")" >&2
        exit 1
    fi
}

start_service "fake Home Assistant / Open-Meteo" "$workdir/services.out" \
    "$py" "$here/tests/tools/fake_services.py" --data "$here/config/demo"
http_port=$port
start_service "SMTP server" "$workdir/smtp.out" \
    "$py" "$here/tests/tools/smtp_server.py" --outdir "$workdir/mail"
smtp_port=$port
base="http://127.0.0.1:$http_port"
echo "demo-tools: Home Assistant and Open-Meteo at $base, SMTP at smtp://127.0.0.1:$smtp_port," \
    "calendar config/demo/calendar.ics"

# The token goes through the environment, never a file or the command line.
export HOME_ASSISTANT_TOKEN=good-token
# ava-voice runs in an empty directory, so no stray .env or reply file lands in the repo.
set +e
(cd "$workdir/run" && NO_COLOR=1 "$ava" --config "$here/config/demo/ava-voice.toml" \
    --provider sim --scenario "$here/sim/scenarios/demo-tools.toml" \
    --input "$here/samples/demo-tools.wav" --output "$workdir/replies.wav" \
    --set "tools.lights.base_url=$base" \
    --set "tools.weather.geocoding_url=$base/v1/search" \
    --set "tools.weather.forecast_url=$base/v1/forecast" \
    --set "tools.email.smtp_url=smtp://127.0.0.1:$smtp_port" \
    --log-level warn </dev/null 2>&1) | tee "$workdir/ava-voice.out"
rc=${PIPESTATUS[0]}
set -e
echo "demo-tools: ava-voice exited with $rc"
curl -fsS "$base/__requests" >"$workdir/http-requests.json" 2>/dev/null ||
    "$py" -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('$base/__requests').read().decode())" \
        >"$workdir/http-requests.json"
stop_services

if ((check == 0)); then
    exit "$rc"
fi

# ---- --check: the outcome, from what the services recorded and what ava-voice printed ----
status=0
"$py" - "$workdir" "$rc" <<'PY' || status=$?
import glob, json, os, re, sys
work, rc = sys.argv[1], int(sys.argv[2])
out = open(os.path.join(work, "ava-voice.out"), encoding="utf-8").read()
reqs = json.load(open(os.path.join(work, "http-requests.json")))
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

need(rc == 0, f"ava-voice exited with {rc}")
need("-- session summary --" in out, "no session summary printed")
results = re.findall(r"^  <- (\S+) (ok|failed)", out, re.M)
oks = [n for n, s in results if s == "ok"]
for tool in ("get_calendar_events", "check_weather", "control_lights", "send_email"):
    need(tool in oks, f"{tool} did not run ok (results: {results})")
need(oks.count("send_email") == 2, f"send_email should run twice (draft, then confirmed): {results}")
need(not any(s == "failed" for _, s in results), f"a tool call failed: {results}")
need(re.search(r"^tool calls: 5 ok, 0 failed$", out, re.M), "summary does not say 5 ok, 0 failed")

ava = re.findall(r"^AVA: (.*)$", out, re.M)
def said(fragment):
    return any(fragment in line for line in ava)
need(said("Team stand-up") and said("Lunch with Sam"), "the calendar reply lacks today's events")
need(said('"temperature":12.5') and said("overcast"), "the weather reply lacks 12.5 / overcast")
need(said('"action":"off"') and said("Living Room Ceiling"), "the lights reply lacks the switch")
need(said("needs_confirmation"), "the first email call was not a read-back")
need(said('"status":"sent"'), "the reply does not say the email was sent")

calls = [r for r in reqs if r["path"] == "/api/services/light/turn_off"]
need(len(calls) == 1, f"expected one light/turn_off call, got {len(calls)}")
if calls:
    ids = sorted(json.loads(calls[0]["body"]).get("entity_id", []))
    need(ids == ["light.living_room_ceiling", "light.living_room_lamp"],
         f"turn_off was for {ids}")
need(any(r["path"] == "/v1/search" and r["query"].get("name") == "Berlin" for r in reqs),
     "Open-Meteo geocoding was not asked for Berlin")
need(any(r["path"] == "/v1/forecast" for r in reqs), "no Open-Meteo forecast request")

mails = sorted(glob.glob(os.path.join(work, "mail", "*.json")))
need(len(mails) == 1, f"expected exactly one email, got {len(mails)}")
if mails:
    env = json.load(open(mails[0]))
    need(env["rcpt_tos"] == ["sam@example.com"], f"email went to {env['rcpt_tos']}")
    eml = open(mails[0][:-5] + ".eml", encoding="utf-8", errors="replace").read()
    need("Subject: Running late" in eml, "email subject missing")
    need("ten minutes late" in eml, "email body missing")

if problems:
    print("demo-tools --check: FAILED", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    print(f"  (output and recordings kept in {work})", file=sys.stderr)
    sys.exit(1)
print("demo-tools --check: all four tools ran ok against the local services")
PY
if ((status == 0 && cleanup_dir)); then rm -rf "$workdir"; fi
exit $status
