#!/usr/bin/env bash
# The two client examples of docs/relay.md (examples/relay/client.py and client.mjs), run as a
# reader would paste them, against `ava-voice serve` with the offline simulator; then the Node
# one again over HTTPS/WSS (serve --tls-cert/--tls-key, a throwaway certificate made here).
# Usage: examples_test.sh <ava-voice>. Exit 0 pass, 1 fail, 77 skip (a runtime missing, CI unset).
set -euo pipefail
ava=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
skip() {
    if [[ -n "${CI:-}" ]]; then echo "relay-examples: FAIL: $1" >&2; exit 1; fi
    echo "relay-examples: SKIP: $1"; exit 77
}
py=/usr/bin/python3
"$py" -c 'import websockets' 2>/dev/null || skip "python3-websockets is not installed (scripts/install-deps.sh)"
[[ -d "$src/tests/node/node_modules/ws" ]] || skip "tests/node/node_modules is missing (npm ci there; scripts/test.sh does)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ava-relay-examples.XXXXXX")
pid=""
tls_pid=""
cleanup() {
    for p in $pid $tls_pid; do
        if kill -0 "$p" 2>/dev/null; then kill -TERM "$p"; wait "$p" || true; fi
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config"
env -u OPENAI_API_KEY "$ava" serve --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
base=""
for _ in $(seq 100); do
    base=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1 || true)
    [[ -n "$base" ]] && break
    sleep 0.1
done
[[ -n "$base" ]] || { echo "relay-examples: FAIL: serve did not say where it listens" >&2; cat "$tmp/serve.err" >&2; exit 1; }

check() {  # name, output file, reply file, minimum bytes
    grep -q '^user: What can you do?$' "$2" || { echo "relay-examples: FAIL: $1 printed no user line" >&2; cat "$2" >&2; exit 1; }
    grep -q '^assistant: .\+' "$2" || { echo "relay-examples: FAIL: $1 printed no reply" >&2; cat "$2" >&2; exit 1; }
    local size; size=$(stat -c %s "$3")
    (( size > $4 )) || { echo "relay-examples: FAIL: $1 saved only $size bytes of audio" >&2; exit 1; }
    echo "relay-examples: $1 ok ($size bytes of reply audio)"
}
(cd "$tmp" && timeout 60 "$py" "$src/examples/relay/client.py" "$base" >py.out)
check client.py "$tmp/py.out" "$tmp/reply.wav" 48000
mkdir "$tmp/js" && cp "$src/examples/relay/client.mjs" "$tmp/js/" && ln -s "$src/tests/node/node_modules" "$tmp/js/node_modules"
(cd "$tmp/js" && timeout 60 node client.mjs "$base" >js.out)
check client.mjs "$tmp/js/js.out" "$tmp/js/reply.pcm" 48000

# Over TLS: the same client, trusting the throwaway certificate; plain HTTP is refused there.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" -days 1 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
env -u OPENAI_API_KEY "$ava" serve --listen 127.0.0.1:0 --tls-cert "$tmp/cert.pem" --tls-key "$tmp/key.pem" \
    >"$tmp/tls.out" 2>"$tmp/tls.err" &
tls_pid=$!
tls_base=""
for _ in $(seq 100); do
    tls_base=$(grep -o 'https://127.0.0.1:[0-9]*' "$tmp/tls.out" | head -1 || true)
    [[ -n "$tls_base" ]] && break
    sleep 0.1
done
[[ -n "$tls_base" ]] || { echo "relay-examples: FAIL: serve with TLS did not start" >&2; cat "$tmp/tls.err" >&2; exit 1; }
rm -f "$tmp/js/reply.pcm"
(cd "$tmp/js" && NODE_EXTRA_CA_CERTS="$tmp/cert.pem" timeout 60 node client.mjs "$tls_base" >tls.out)
check "client.mjs over wss" "$tmp/js/tls.out" "$tmp/js/reply.pcm" 48000
if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
    "${tls_base/https/http}/healthz" 2>/dev/null; then
    echo "relay-examples: FAIL: the TLS listener answered plain HTTP" >&2
    exit 1
fi
