#!/usr/bin/env bash
# The soak (#20 item 5): ava-voice headless against ava-realtime-sim for MINUTES (default 60),
# with a short session cap so that it rolls over many times, a tool call, a long reply that the
# next question barges into, and an abrupt drop every fourth turn. Every 10 s it samples
# ava-voice's RSS, open file descriptors and threads; at the end it prints them with the
# conversation's summary and checks:
#   - every spoken question became a user turn and got a response;
#   - RSS grew less than 1 MB from the 10th minute (or the middle of a shorter run) to the end;
#   - file descriptors and threads at the end are no more than at the first sample after start;
#   - the events file and the recording are complete (session.end record; WAV length).
# Not in CI (it takes an hour). Usage: bench/soak.sh [MINUTES] (AVA_BUILD_DIR=build)
# Real time, not --fast: in fast mode the input file races ahead while a dropped connection is
# being re-opened, so speech is dropped by design (offline buffer) and turns are not comparable.
set -euo pipefail
minutes=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${AVA_BUILD_DIR:-$src/build}" && pwd)
ava=$build/ava-voice
sim=$build/ava-realtime-sim
for t in "$ava" "$sim"; do [[ -x $t ]] || { echo "soak: $t not built" >&2; exit 1; }; done
command -v sox >/dev/null || { echo "soak: sox missing (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-soak.XXXXXX")
sim_pid=""
ava_pid=""
cleanup() {
    [[ -n $ava_pid ]] && kill "$ava_pid" 2>/dev/null || true
    [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
cd "$work"

# One turn every 7 s of input: 2.2 s of "turn on the lights" and 4.8 s of silence.
turn_s=7
turns=$(( minutes * 60 / turn_s ))
sox "$src/samples/lights.wav" -r 24000 -c 1 -b 16 turn.wav trim 0 2.2 pad 0 4.8
# Built by doubling (a command line of thousands of file names would be too long).
cp turn.wav in.wav
have=1
while (( have * 2 <= turns )); do sox in.wav in.wav in2.wav && mv in2.wav in.wav; have=$((have * 2)); done
while (( have < turns )); do sox in.wav turn.wav in2.wav && mv in2.wav in.wav; have=$((have + 1)); done

cat >scenario.toml <<'TOML'
name = "soak"
loop = true
generic_reply = "Yes."
[[turns]]
reply = "Sure, the kitchen lights are on now."
[[turns]]
reply = "Let me check."
followup = "Done: {output:soak_echo}."
[[turns.calls]]
name = "soak_echo"
arguments = { text = "hello" }
[[turns]]
reply = "This is a much longer answer that goes on and on so that the next question arrives while it is still being spoken, which makes a barge in happen every few turns of the soak, as people do."
[[turns]]
reply = "This answer is cut by a dropped connection."
[[turns.faults]]
kind = "close"
at = "response.output_audio.delta"
nth = 2
abrupt = true
TOML
cat >ava-voice.toml <<'TOML'
[reconnect]
initial_backoff_ms = 200
max_tries = 20
[[tools.command]]
name = "soak_echo"
description = "Echoes its arguments"
parameters = '{"type":"object","properties":{"text":{"type":"string"}}}'
argv = ["cat"]
TOML

cap_s=$(( minutes >= 10 ? 120 : 30 ))
"$sim" --port 0 --pace 1 --scenario scenario.toml --session-cap "$cap_s" --quiet \
    >sim.out 2>sim.err &
sim_pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' sim.out | head -n1)
    [[ -n $url ]] && break
    sleep 0.05
done
[[ -n $url ]] || { echo "soak: the simulator did not start: $(cat sim.err)" >&2; exit 1; }

echo "soak: $minutes min, $turns spoken turns, session cap ${cap_s} s, work dir $work"
HOME=$work OPENAI_API_KEY=sk-soak-bench NO_COLOR=1 "$ava" --config ava-voice.toml \
    --set "provider.endpoint=$url" --input in.wav --output out.wav --record rec.wav \
    --events events.jsonl </dev/null >run.out 2>run.err &
ava_pid=$!
start=$(date +%s)
: >samples.tsv
while kill -0 "$ava_pid" 2>/dev/null; do
    if [[ -r /proc/$ava_pid/status ]]; then
        rss=$(awk '/^VmRSS:/{print $2}' "/proc/$ava_pid/status" 2>/dev/null || echo 0)
        fds=$(ls "/proc/$ava_pid/fd" 2>/dev/null | wc -l)
        thr=$(ls "/proc/$ava_pid/task" 2>/dev/null | wc -l)
        [[ -n $rss && $rss != 0 ]] && printf '%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" \
            "$rss" "$fds" "$thr" >>samples.tsv
    fi
    sleep 10
done
set +e
wait "$ava_pid"
rc=$?
set -e
ava_pid=""
elapsed=$(( $(date +%s) - start ))

# ---- figures -----------------------------------------------------------------------------------
summary=$(sed -n '/-- session summary --/,$p' run.out)
user_turns=$(sed -n 's/^turns: \([0-9]*\) user, .*/\1/p' <<<"$summary")
responses=$(sed -n 's/^turns: [0-9]* user, \([0-9]*\) responses.*/\1/p' <<<"$summary")
reconnects=$(sed -n 's/.* \([0-9]*\) reconnects$/\1/p' <<<"$summary")
interruptions=$(sed -n 's/.* \([0-9]*\) interruptions.*/\1/p' <<<"$summary")
tools_ok=$(sed -n 's/^tool calls: \([0-9]*\) ok.*/\1/p' <<<"$summary")
mid=$(( minutes >= 20 ? 600 : elapsed / 2 ))
read -r first_rss first_fds first_thr < <(awk -F'\t' 'NR==2{print $2, $3, $4}' samples.tsv)
read -r mid_rss < <(awk -F'\t' -v m="$mid" '$1>=m{print $2; exit}' samples.tsv)
read -r last_rss last_fds last_thr < <(tail -n1 samples.tsv | awk -F'\t' '{print $2, $3, $4}')
peak_rss=$(awk -F'\t' 'BEGIN{p=0}{if($2>p)p=$2}END{print p}' samples.tsv)
rec_s=$(soxi -D rec.wav 2>/dev/null || echo 0)
in_s=$(soxi -D in.wav)
end_record=$(grep -c '"type":"session.end"' events.jsonl || true)
growth=$(( last_rss - mid_rss ))

echo "soak: exit $rc after ${elapsed} s"
echo "soak: spoken turns $turns, user turns $user_turns, responses $responses, interruptions" \
     "$interruptions, reconnects $reconnects (session cap and drops), tool calls ok $tools_ok"
echo "soak: RSS first ${first_rss} KB, at ${mid} s ${mid_rss} KB, end ${last_rss} KB, peak" \
     "${peak_rss} KB; growth from ${mid} s to the end: ${growth} KB"
echo "soak: fds first $first_fds end $last_fds; threads first $first_thr end $last_thr"
echo "soak: recording ${rec_s} s of ${in_s} s input; session.end records: $end_record"
fail=0
check() { if eval "$1"; then echo "soak: ok   $2"; else echo "soak: FAIL $2"; fail=1; fi; }
check "[[ $rc == 0 ]]" "ava-voice exited 0"
check "[[ ${user_turns:-0} -ge $turns ]]" "every spoken question became a user turn"
check "[[ ${responses:-0} -ge ${user_turns:-1} ]]" "every user turn got a response"
check "[[ ${tools_ok:-0} -ge 1 ]]" "tool calls ran"
check "[[ $growth -lt 1024 ]]" "RSS growth under 1 MB after ${mid} s"
check "[[ $last_fds -le $first_fds ]]" "no file descriptor leak"
check "[[ $last_thr -le $first_thr ]]" "no thread leak"
check "[[ $end_record -ge 1 ]]" "the events file is complete"
check "awk -v r=$rec_s -v i=$in_s 'BEGIN{exit !(r >= i - 1)}'" "the recording is complete"
exit $fail
