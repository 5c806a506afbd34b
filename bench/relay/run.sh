#!/usr/bin/env bash
# Load benchmark for `ava-voice serve` (the relay): N real-time WebSocket clients through the
# relay to ava-realtime-sim; added latency up and down (CLOCK_MONOTONIC on both sides), CPU per
# session-minute, RSS per session, errors. See relay_bench.mjs for what each figure is.
#
#   bench/relay/run.sh <ava-voice> <ava-realtime-sim> [N...] [-- relay_bench options]
#   bench/relay/run.sh build/ava-voice build/ava-realtime-sim              # N = 1 10 50, 60 s each
#   bench/relay/run.sh build/ava-voice build/ava-realtime-sim 1 10 -- --seconds 15
#   bench/relay/run.sh ... 10 -- --slow-only         # only the slow-client check (N=10, twice)
#   bench/relay/run.sh ... -- --slow                 # the table, then the slow-client check
# Options after `--` go to relay_bench.mjs (node relay_bench.mjs --help). Builds nothing.
# Needs node >= 20, npm (once: `npm ci` here), espeak-ng and sox (the spoken question).
# Exit: 0 = no errors; 1 = errors or protocol problems (printed); 2 = setup failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 2 ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
ava=$1 sim=$2
shift 2
ns=()
while [[ $# -gt 0 && $1 != -* ]]; do ns+=("$1"); shift; done
[[ $# -gt 0 && $1 == -- ]] && shift
[[ ${#ns[@]} -gt 0 ]] || ns=(1 10 50)
for t in node espeak-ng sox; do
  command -v "$t" >/dev/null || { echo "relay-bench: $t is not installed" >&2; exit 2; }
done
for f in "$ava" "$sim"; do [[ -x $f ]] || { echo "relay-bench: not an executable: $f" >&2; exit 2; }; done
if [[ ! -d $here/node_modules/ws ]]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
work=${RELAY_BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/relay-bench.XXXXXX")}
mkdir -p "$work"
# The question, spoken: espeak-ng (22.05 kHz) -> 24 kHz mono s16, peak -3 dBFS, 0.1 s pads.
espeak-ng -v en-us -s 165 -w "$work/question-22k.wav" "Please turn off the living room lights."
sox "$work/question-22k.wav" -r 24000 -c 1 -b 16 -e signed-integer "$work/speech.wav" norm -3 pad 0.1 0.1
n_list=$(IFS=,; echo "${ns[*]}")
exec node "$here/relay_bench.mjs" --ava "$ava" --sim "$sim" --speech "$work/speech.wav" \
  --work "$work" --n "$n_list" "$@"
