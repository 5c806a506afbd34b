#!/usr/bin/env bash
# MCP end to end (issue 19): a real MCP server nobody here wrote,
# @modelcontextprotocol/server-everything (installed by `npm ci` in tests/mcp, pinned by its
# lock file), added with the four lines of config a user would write, used by voice: the real
# ava-voice binary, headless (--input WAV --fast, text replies), with a private empty HOME,
# talks over ws:// to the real ava-realtime-sim process whose scenario calls
# everything__get-sum {"a":2,"b":3} and quotes the output in its followup.
#
# Asserts: `ava-voice --list-tools` shows everything__echo and everything__get-sum with SERVER
# everything, offered, and the server running; in the conversation the call was printed and ok,
# the reply quotes the server's answer ("The sum of 2 and 3 is 5."), ava-voice exited 0, and
# the server's process is gone afterwards (no orphan node process).
#
#   mcp_e2e.sh AVA_VOICE_BINARY AVA_REALTIME_SIM_BINARY SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skip (node, python3 or tests/mcp/node_modules missing; not allowed
# when CI is set).
set -euo pipefail

ava=$(realpath "$1")
sim=$(realpath "$2")
src=$(realpath "$3")
skip() {
    echo "mcp_e2e: $*" >&2
    [[ -n "${CI:-}" ]] && exit 1
    exit 77
}
py=$(command -v /usr/bin/python3 || command -v python3 || true)
node=$(command -v node || true)
server="$src/tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[[ -n "$py" ]] || skip "python3 is missing"
[[ -n "$node" ]] || skip "node is missing"
[[ -f "$server" ]] || skip "no $server (run npm ci in tests/mcp)"

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-mcp-e2e.XXXXXX")
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
    echo "mcp_e2e: FAILED: $*" >&2
    echo "mcp_e2e: output kept in $work" >&2
    keep=1
    exit 1
}

mkdir -p "$work/home/.config" "$work/run" "$work/runtime"
chmod 700 "$work/runtime"
clean_env=(env -i "PATH=$(dirname "$node"):/usr/bin:/bin" "HOME=$work/home"
    "XDG_CONFIG_HOME=$work/home/.config" "XDG_RUNTIME_DIR=$work/runtime" "LANG=C.UTF-8"
    "NO_COLOR=1")

# The four lines a user adds (node pointed at the installed package instead of npx, offline).
cat >"$work/ava-voice.toml" <<TOML
[[tools.mcp]]
name = "everything"
command = ["node", "$server", "stdio"]
TOML

# ---- --list-tools ------------------------------------------------------------------------------
set +e
(cd "$work/run" && "${clean_env[@]}" timeout 40 "$ava" --config "$work/ava-voice.toml" \
    --list-tools </dev/null >"$work/list.out" 2>"$work/list.err")
list_rc=$?
set -e
grep -E "^(NAME|everything__echo|everything__get-sum) |^  everything:" "$work/list.out" || true

# ---- the conversation --------------------------------------------------------------------------
cat >"$work/scenario.toml" <<'TOML'
# mcp_e2e: the model calls the MCP server's get-sum tool and quotes its answer.
name = "mcp-e2e"
loop = false
generic_reply = "Is there anything else I can do for you?"

[[turns]]
user = "What is two plus three?"
reply = "Let me add that up."
followup = "The server says: {output:everything__get-sum}"
[[turns.calls]]
name = "everything__get-sum"
arguments = { a = 2, b = 3 }
TOML
"$sim" --port 0 --pace 0 --scenario "$work/scenario.toml" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
url=""
for _ in $(seq 1 200); do
    url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' "$work/sim.out" | head -n1)
    [[ -n "$url" ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.05
done
[[ -n "$url" ]] || fail "the simulator did not start: $(cat "$work/sim.err")"

t0=$SECONDS
set +e
(cd "$work/run" && "${clean_env[@]}" OPENAI_API_KEY=sk-dummy-mcp-e2e \
    timeout -s INT 45 "$ava" --config "$work/ava-voice.toml" --endpoint "$url" \
    --input "$src/samples/lights.wav" --output "$work/reply.wav" --fast --text \
    --log-file "$work/ava.log" --log-level info </dev/null >"$work/ava.out" 2>"$work/ava.err")
rc=$?
set -e
echo "mcp_e2e: the conversation took $((SECONDS - t0)) s (exit $rc)"
cat "$work/ava.out"
# The server was ava-voice's child: it must be gone with it (give it a moment). It is found by
# the private HOME it inherited, so servers of other tests running at the same time don't count.
orphans=""
for _ in $(seq 1 20); do
    orphans=$(grep -lzx -- "HOME=$work/home" /proc/[0-9]*/environ 2>/dev/null |
        sed 's|/proc/\([0-9]*\)/environ|\1|' | tr '\n' ' ' || true)
    [[ -z "${orphans// /}" ]] && break
    sleep 0.1
done
orphans=${orphans// /}

status=0
"$py" - "$work" "$rc" "$list_rc" "$orphans" <<'PY' || status=$?
import os, re, sys
work, rc, list_rc, orphans = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def read(name):
    try:
        return open(os.path.join(work, name), encoding="utf-8", errors="replace").read()
    except OSError:
        return ""
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)

lst = read("list.out")
need(list_rc == 0, f"--list-tools exited with {list_rc}: {read('list.err')[-1000:]}")
for tool in ("everything__echo", "everything__get-sum"):
    need(re.search(rf"^{re.escape(tool)}\s+everything\s+offered\s", lst, re.M),
         f"--list-tools has no '{tool}  everything  offered' row")
need(re.search(r"^  everything: running, [1-9][0-9]* tools", lst, re.M),
     "--list-tools does not show the server running with its tools")

out = read("ava.out")
need(rc == 0, f"ava-voice exited with {rc}: {read('ava.err')[-2000:]}")
need("-- session summary --" in out, "no session summary")
need(re.search(r'^  -> everything__get-sum \{"a":2,"b":3\}', out, re.M),
     "no everything__get-sum {\"a\":2,\"b\":3} call printed")
results = re.findall(r"^  <- (\S+) (ok|failed)", out, re.M)
need(results == [("everything__get-sum", "ok")], f"tool results: {results}")
ava = [l for l in re.findall(r"^AVA: (.*)$", out, re.M) if l.startswith("The server says:")]
need(len(ava) == 1, f"expected one AVA line quoting the server, got {ava}")
if ava:
    need("The sum of 2 and 3 is 5." in ava[0], f"the reply lacks the sum 5: {ava[0]}")
need(not orphans, f"the MCP server outlived ava-voice: pids {orphans}")

if problems:
    print("mcp_e2e: FAILED", file=sys.stderr)
    for p in problems:
        print("  - " + p, file=sys.stderr)
    sys.exit(1)
print("mcp_e2e: server-everything's get-sum was called by voice; the reply quotes its sum")
PY
# ---- the same server through `ava-voice serve`: one bridge shared by the streams -----------------
ws_module="$src/tests/node/node_modules/ws/wrapper.mjs"
if ((status == 0)) && [[ -f "$ws_module" ]]; then
    cat >"$work/stream.mjs" <<JS
import WebSocket from '$ws_module';
const ws = new WebSocket(process.argv[2].replace(/^http/, 'ws') + 'realtime/stream');
const seen = [];
ws.on('message', (d, bin) => {
  if (bin) return;
  const m = JSON.parse(d);
  if (m.type === 'ready') ws.send(JSON.stringify({ type: 'text_input', text: 'What is two plus three?' }));
  if (m.type === 'tool_result') seen.push(m.name + ' ' + (m.ok ? 'ok' : 'failed'));
  if (m.type === 'transcript' && m.final && m.role === 'assistant' && m.text.includes('server says')) {
    console.log(seen.join(',') + ' | ' + m.text);
    process.exit(m.text.includes('The sum of 2 and 3 is 5.') && seen.join() === 'everything__get-sum ok' ? 0 : 1);
  }
});
setTimeout(() => { console.log('timeout: ' + seen.join()); process.exit(1); }, 30000);
JS
    (cd "$work/run" && exec "${clean_env[@]}" OPENAI_API_KEY=sk-dummy-mcp-e2e "$ava" serve \
        --config "$work/ava-voice.toml" --endpoint "$url" --listen 127.0.0.1:0 \
        >"$work/serve.out" 2>"$work/serve.err") &
    pids+=($!)
    page=""
    for _ in $(seq 1 100); do
        page=$(grep -o 'http://127.0.0.1:[0-9]*/' "$work/serve.out" | head -n1 || true)
        [[ -n "$page" ]] && break
        sleep 0.1
    done
    if [[ -z "$page" ]] || ! "$node" "$work/stream.mjs" "$page" >"$work/stream.out" 2>&1; then
        echo "mcp_e2e: FAILED: through ava-voice serve: $(cat "$work/stream.out" 2>/dev/null) $(tail -5 "$work/serve.err")" >&2
        status=1
    else
        echo "mcp_e2e: through ava-voice serve too: $(cat "$work/stream.out")"
    fi
fi
if ((status != 0)); then
    keep=1
    echo "mcp_e2e: output kept in $work" >&2
fi
exit $status
