#!/usr/bin/env bash
# CTest driver for the Node peer test: starts ava-realtime-sim with TLS (a throwaway CA made here
# with openssl), speaks a WAV at it through the official `openai` Node SDK (peer.mjs), and checks
# the simulator's event log. Usage: run_peer.sh <path to ava-realtime-sim>
# Exit codes: 0 pass, 1 fail, 77 skip (node_modules missing and CI unset).
set -euo pipefail
sim=$1
here=$(cd "$(dirname "$0")" && pwd)

if [[ ! -d "$here/node_modules/openai" || ! -d "$here/node_modules/ws" ]]; then
    msg="tests/node/node_modules is missing: run 'npm ci' in tests/node (scripts/test.sh does)"
    if [[ -n "${CI:-}" ]]; then
        echo "node-peer: FAIL: $msg" >&2
        exit 1
    fi
    echo "node-peer: SKIP: $msg"
    exit 77
fi
for tool in node openssl espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "node-peer: FAIL: '$tool' not installed (scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ava-node-peer.XXXXXX")
sim_pid=""
cleanup() {
    if [[ -n "$sim_pid" ]] && kill -0 "$sim_pid" 2>/dev/null; then kill -TERM "$sim_pid"; wait "$sim_pid" || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# Throwaway CA and server certificate for 127.0.0.1 (nothing secret is committed).
(
    cd "$tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
        -out ca.pem -days 1 -subj "/CN=ava node-peer test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
        -out server.csr -subj "/CN=127.0.0.1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
        -days 1 -extfile ext.cnf
) >/dev/null 2>&1

# The user's question, spoken by espeak-ng and converted to the wire format (24 kHz mono s16).
espeak-ng -w "$tmp/say.wav" "turn off the living room lights"
sox "$tmp/say.wav" -r 24000 -c 1 -b 16 -e signed-integer "$tmp/say24.wav"

key="sk-node-peer-$RANDOM$RANDOM"
"$sim" --port 0 --tls-cert "$tmp/server.pem" --tls-key "$tmp/server.key" --key "$key" \
    --scenario "$here/peer-scenario.json" --pace 20 --events "$tmp/events.jsonl" \
    --record-dir "$tmp" --quiet >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
url=""
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on //p' "$tmp/sim.out")
    [[ -n "$url" ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$tmp/sim.err" >&2; echo "node-peer: FAIL: simulator exited" >&2; exit 1; }
    sleep 0.05
done
[[ -n "$url" ]] || { echo "node-peer: FAIL: simulator did not start" >&2; exit 1; }
port=$(echo "$url" | sed -E 's#^wss://127\.0\.0\.1:([0-9]+)/.*#\1#')
echo "node-peer: simulator at $url"

rc=0
NODE_EXTRA_CA_CERTS="$tmp/ca.pem" OPENAI_API_KEY="$key" OPENAI_BASE_URL="" \
    node "$here/peer.mjs" --base-url "https://127.0.0.1:$port/v1" --wav "$tmp/say24.wav" || rc=$?

kill -TERM "$sim_pid"
wait "$sim_pid" || true
sim_pid=""
cat "$tmp/sim.out"
if [[ $rc -ne 0 ]]; then
    sed -n '1,40p' "$tmp/sim.err" >&2
    exit 1
fi
# The simulator saw the peer's tool output and recorded the peer's audio.
grep '"dir":"in"' "$tmp/events.jsonl" | grep '"type":"conversation.item.create"' | grep -q '"function_call_output"' ||
    { echo "node-peer: FAIL: no function_call_output in the event log" >&2; exit 1; }
ls "$tmp"/sess_*-input.wav >/dev/null || { echo "node-peer: FAIL: no input WAV recorded" >&2; exit 1; }
if grep -q "$key" "$tmp/events.jsonl" "$tmp/sim.out" "$tmp/sim.err"; then
    echo "node-peer: FAIL: the API key leaked into a log" >&2
    exit 1
fi
echo "node-peer: PASS"
