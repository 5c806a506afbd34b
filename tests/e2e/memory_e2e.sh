#!/usr/bin/env bash
# Memory and history end to end (issue 18): the real ava-voice binary with a private, empty HOME
# and XDG_DATA_HOME, against its in-process simulator, headless.
#
#   a. run 1: the user asks it to remember a fact; the scenario calls `remember`. The history
#      file appears in $XDG_DATA_HOME/ava-voice/history.db.
#   b. run 2: the memory seed reaches the simulator (run 1's lines as conversation.item.create
#      text items, the fact in session.update's instructions); the scenario calls
#      `search_history`, and the reply quotes run 1's line with its date.
#   c. `ava-voice history`: list shows both runs, show/search/export (md, jsonl) have the lines
#      and the tool calls, facts lists the fact, forget-fact and forget remove them; bad usage
#      exits 2, an unknown session 1.
#   d. --no-memory sends no seed and offers no memory tools (the run is still kept);
#      --incognito leaves no file behind.
#   e. --max-cost: the session ends cleanly after the reply that reaches the limit, with the
#      summary and the message.
#   f. --keep-turns 1: the conversation.item.delete events go out and the simulator accepts them.
#   g. kill -9 mid-conversation (real time): `history show` has every final line printed before
#      the kill.
#   h. a corrupt history file: one warning, moved aside, the conversation goes on.
#
#   memory_e2e.sh AVA_VOICE_BINARY SOURCE_DIR
set -euo pipefail

ava=$(realpath "$1")
src=$(realpath "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/ava-memory-e2e.XXXXXX")
finish() { if [[ "${keep:-0}" == 0 ]]; then rm -rf "$work"; fi; }
trap finish EXIT
fail() {
    echo "memory_e2e: FAILED: $*" >&2
    echo "memory_e2e: output kept in $work" >&2
    keep=1
    exit 1
}

mkdir -p "$work/home/.config" "$work/run" "$work/data"
base_env=(env -i "PATH=/usr/bin:/bin:/usr/local/bin" "HOME=$work/home" "LANG=C.UTF-8"
    "XDG_CONFIG_HOME=$work/home/.config" "NO_COLOR=1")
clean_env=("${base_env[@]}" "XDG_DATA_HOME=$work/data")
db="$work/data/ava-voice/history.db"

# ava NAME [flags...]: one headless run against the in-process simulator, output in $work/NAME.*
ava_run() {
    local name=$1
    shift
    set +e
    (cd "$work/run" && "${clean_env[@]}" timeout -s INT 60 "$ava" --provider sim --text \
        --output "$work/$name-reply.wav" --events "$work/$name-events.jsonl" --log-level warn \
        "$@" </dev/null >"$work/$name.out" 2>"$work/$name.err")
    rc=$?
    set -e
}
history() { "${clean_env[@]}" "$ava" history "$@"; }

# ---- a. remember ---------------------------------------------------------------------------------
cat >"$work/remember.toml" <<'TOML'
name = "memory-remember"
loop = false
generic_reply = "Anything else?"
[[turns]]
user = "Please remember that my sister is called Sarah. She lives in Zürich."
reply = ""
followup = "I will remember that: {output:remember}"
[[turns.calls]]
name = "remember"
arguments = { fact = "The user's sister is called Sarah; she lives in Zürich." }
TOML
ava_run one --scenario "$work/remember.toml" --input "$src/samples/lights.wav" --fast
[[ $rc == 0 ]] || fail "run 1 exited $rc: $(cat "$work/one.err")"
[[ -f "$db" ]] || fail "no history file at $db"
grep -q 'remembered' "$work/one.out" || fail "run 1's reply does not quote the remember result: $(cat "$work/one.out")"
grep -q "history: $db" "$work/one.out" "$work/one.err" || fail "run 1 did not say where the history goes"

# ---- b. the memory seed and search_history -------------------------------------------------------
cat >"$work/search.toml" <<'TOML'
name = "memory-search"
loop = false
generic_reply = "Anything else?"
[[turns]]
user = "What did I tell you about my sister?"
reply = ""
followup = "From our history: {output:search_history}"
[[turns.calls]]
name = "search_history"
arguments = { query = "sister" }
TOML
ava_run two --scenario "$work/search.toml" --input "$src/samples/lights.wav" --fast
[[ $rc == 0 ]] || fail "run 2 exited $rc: $(cat "$work/two.err")"
python3 - "$work/two-events.jsonl" <<'PY' || fail "run 2's memory seed did not reach the simulator"
import json, sys
sent = [json.loads(l) for l in open(sys.argv[1]) if '"dir":"send"' in l]
types = [e["type"] for e in sent]
assert types[0] == "session.update", types[:3]
instr = sent[0]["event"]["session"]["instructions"]
assert "Things the user asked you to remember" in instr and "Sarah" in instr, instr[-400:]
seed = [e["event"]["item"] for e in sent[1:] if e["type"] == "conversation.item.create" and e["event"]["item"].get("id", "").startswith("ava_m")]
texts = [c["text"] for it in seed for c in it["content"]]
assert any("my sister is called Sarah. She lives in Zürich" in t for t in texts), texts
assert any(it["role"] == "assistant" and "remember" in it["content"][0]["text"] for it in seed), seed
# The seed goes out right after session.update, before any audio.
assert all(t == "conversation.item.create" for t in types[1:1 + len(seed)]), types[:6]
tools = [t["name"] for t in sent[0]["event"]["session"]["tools"]]
assert "remember" in tools and "search_history" in tools, tools
PY
grep -q 'Zürich' "$work/two.out" || fail "run 2's reply does not quote the search result: $(cat "$work/two.out")"
grep -Eq '"date":"[A-Z][a-z]+day 20[0-9]{2}-' "$work/two.out" || fail "the search result has no date: $(cat "$work/two.out")"

# ---- c. ava-voice history -------------------------------------------------------------------------
history list >"$work/list.out"
[[ $(grep -Ec '^ +[0-9]+ +20[0-9]{2}-' "$work/list.out") == 2 ]] || fail "history list: $(cat "$work/list.out")"
history show 1 >"$work/show.out"
grep -q 'you: Please remember that my sister is called Sarah' "$work/show.out" || fail "show: $(cat "$work/show.out")"
grep -q 'tool remember' "$work/show.out" || fail "show has no tool call: $(cat "$work/show.out")"
grep -q $'\x1b\[' "$work/show.out" && fail "colour codes in piped output"
history search sarah >"$work/search.out"
grep -q '\[Sarah\]' "$work/search.out" || fail "search: $(cat "$work/search.out")"
history search 'zurich' | grep -q 'Zürich' || fail "search does not fold accents"
history export 1 --format md | grep -q '^\*\*You\*\*' || fail "export md"
history export 2 --format jsonl | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert rows[0]["type"] == "session" and rows[0]["id"] == 2
assert any(r["type"] == "tool_call" and r["name"] == "search_history" and r["ok"] for r in rows)
assert any(r["type"] == "line" and r["speaker"] == "assistant" for r in rows)
' || fail "export jsonl"
history facts | grep -q "^1\. The user's sister is called Sarah" || fail "facts: $(history facts)"
set +e
history show 99 >/dev/null 2>"$work/e1.err"; r1=$?
history export 1 --format pdf >/dev/null 2>&1; r2=$?
history frobnicate >/dev/null 2>&1; r3=$?
set -e
[[ $r1 == 1 && $r2 == 2 && $r3 == 2 ]] || fail "exit codes: show 99 $r1, --format pdf $r2, unknown verb $r3"
grep -q 'no session 99' "$work/e1.err" || fail "show 99 message: $(cat "$work/e1.err")"

# ---- d. --no-memory and --incognito -------------------------------------------------------------
ava_run fresh --scenario "$work/remember.toml" --input "$src/samples/lights.wav" --fast --no-memory
[[ $rc == 0 ]] || fail "--no-memory run exited $rc"
python3 - "$work/fresh-events.jsonl" <<'PY' || fail "--no-memory still seeded or offered memory tools"
import json, sys
sent = [json.loads(l) for l in open(sys.argv[1]) if '"dir":"send"' in l]
assert not any(e["type"] == "conversation.item.create" and e["event"]["item"].get("id", "").startswith("ava_m") for e in sent)
assert "Sarah" not in sent[0]["event"]["session"].get("instructions", "")
assert not any(t["name"] in ("remember", "search_history") for t in sent[0]["event"]["session"].get("tools", []))
PY
[[ $(history list | grep -Ec '^ +[0-9]+ +20') == 3 ]] || fail "the --no-memory run was not kept"
"${clean_env[@]}" "$ava" --no-memory --list-tools | grep -q 'remember, search_history: off' || fail "--list-tools with --no-memory"
"${clean_env[@]}" "$ava" --list-tools | grep -q '^ *remember' || fail "--list-tools does not list remember: $("${clean_env[@]}" "$ava" --list-tools)"

mkdir -p "$work/incognito-data"
set +e
(cd "$work/run" && "${base_env[@]}" XDG_DATA_HOME="$work/incognito-data" timeout -s INT 60 "$ava" \
    --provider sim --text --output "$work/inc-reply.wav" --input "$src/samples/lights.wav" \
    --fast --incognito --log-level warn </dev/null >"$work/inc.out" 2>&1)
rc=$?
set -e
[[ $rc == 0 ]] || fail "--incognito run exited $rc"
[[ -z "$(ls -A "$work/incognito-data")" ]] || fail "--incognito left files: $(find "$work/incognito-data")"
grep -q 'incognito' "$work/inc.out" || fail "--incognito did not say so"

# ---- e. --max-cost ------------------------------------------------------------------------------
ava_run budget --input "$src/samples/demo-conversation.wav" --fast --max-cost 0.000001
[[ $rc == 0 ]] || fail "--max-cost run exited $rc: $(cat "$work/budget.err")"
grep -q 'reached the cost limit' "$work/budget.out" "$work/budget.err" || fail "no budget message: $(cat "$work/budget.out")"
grep -q -- '-- session summary --' "$work/budget.out" || fail "no summary after the budget stop"
grep -Eq '^turns: [0-9]+ user, [12] responses' "$work/budget.out" || fail "the budget stop did not end after the first reply: $(grep '^turns' "$work/budget.out")"

# ---- f. pruning ---------------------------------------------------------------------------------
ava_run prune --input "$src/samples/demo-conversation.wav" --fast --keep-turns 1
[[ $rc == 0 ]] || fail "--keep-turns run exited $rc"
deletes=$(grep -c '"dir":"send".*"type":"conversation.item.delete"' "$work/prune-events.jsonl" || true)
deleted=$(grep -c '"dir":"recv".*"type":"conversation.item.deleted"' "$work/prune-events.jsonl" || true)
[[ $deletes -ge 2 && $deleted == "$deletes" ]] || fail "pruning: $deletes deletes sent, $deleted acknowledged"
grep -q '"type":"error"' "$work/prune-events.jsonl" && fail "the simulator refused a delete"
grep -q 'older items deleted' "$work/prune.out" || fail "the summary does not report the pruning"

# ---- g. kill -9 mid-conversation ----------------------------------------------------------------
(cd "$work/run" && exec "${clean_env[@]}" "$ava" --provider sim --text --output "$work/kill-reply.wav" \
    --input "$src/samples/demo-conversation.wav" --log-level warn </dev/null >"$work/kill.out" 2>&1) &
pid=$!
for _ in $(seq 1 900); do
    [[ $(grep -c '^AVA: ' "$work/kill.out" || true) -ge 2 ]] && break
    sleep 0.05
done
sleep 0.2  # the commit of the line just shown (a few ms); the next line is seconds away
kill -9 "$pid" 2>/dev/null || fail "the real-time run ended before the kill"
wait "$pid" 2>/dev/null || true
printed=$(grep -c '^AVA: ' "$work/kill.out" || true)
[[ $printed -ge 2 ]] || fail "the run printed $printed replies before the kill"
last=$(history list | awk 'NR==2 {print $1}')
history show "$last" >"$work/kill-show.out"
while IFS= read -r line; do
    text=${line#AVA: }
    grep -qF "ava: $text" "$work/kill-show.out" || fail "after kill -9 the history lacks: $text"
done < <(grep '^AVA: ' "$work/kill.out")
history list | awk 'NR==2' | grep -q unfinished || fail "the killed session is not shown as unfinished"

# ---- h. a corrupt file --------------------------------------------------------------------------
head -c 20000 /dev/urandom >"$db"
rm -f "$db-wal" "$db-shm"
ava_run corrupt --input "$src/samples/lights.wav" --fast
[[ $rc == 0 ]] || fail "the run with a corrupt history exited $rc"
[[ $(grep -c 'moved it to' "$work/corrupt.out" "$work/corrupt.err" | awk -F: '{s+=$2} END {print s}') == 1 ]] ||
    fail "not exactly one warning about the corrupt file: $(cat "$work/corrupt.out" "$work/corrupt.err")"
ls "$work/data/ava-voice/" | grep -q 'history.db.corrupt-' || fail "the corrupt file was not moved aside"
[[ $(history list | grep -Ec '^ +[0-9]+ +20') == 1 ]] || fail "no new history after the corrupt one"

echo "memory_e2e: passed"
