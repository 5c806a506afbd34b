#!/bin/bash
# Approval before a risky tool call, in the terminal, as a person sees it (issue 19).
# Usage: approval_tmux_test.sh CASE PREFIX      CASE: approval_yes | approval_no | approval_timeout
#
# The installed ava-voice (PREFIX/bin) runs in a private tmux server (tmux -L <unique socket>;
# only that server is killed), with no API key (so the in-process simulator answers) and no
# sound card (so the bundled "sample speech" is the microphone: here samples/lights.wav, "Turn on
# the kitchen lights", via AVA_SAMPLES_DIR). The scenario answers that turn with a call to a
# [[tools.command]] tool marked require_approval = true, whose program creates a marker file;
# the followup quotes the tool's output. Keys go in with `tmux send-keys`; assertions read the
# pane with `tmux capture-pane -p` (the helpers are those of ui_shell_test.sh).
#   approval_yes      the footer asks "Run make_marker ...?" with "Y run it  N refuse"; Y runs
#                     it: "ok make_marker approved", the marker exists, the reply quotes the output
#   approval_no       N: "no make_marker refused", no marker, the reply says the user declined
#   approval_timeout  no key within approval_timeout_ms (2 s): "not run: no answer in 2 s", no
#                     marker, the reply says there was no answer
set -u
case_name=$1
prefix=$(cd "$2" 2>/dev/null && pwd) || { echo "FAIL: no prefix $2" >&2; exit 1; }
exe="$prefix/bin/ava-voice"
[ -x "$exe" ] || { echo "FAIL: no $exe (the ui_install fixture installs it)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-ui-approval.XXXXXX")
sock="ava-ui-approval-$$-$case_name"
cleanup() {
    tmux -L "$sock" kill-server >/dev/null 2>&1
    # tmux leaves its socket file behind after kill-server.
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$sock"
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL ($case_name): $*" >&2
    if [ -n "${pane_text:-}" ]; then
        echo "---- last pane ----" >&2
        echo "$pane_text" >&2
        echo "-------------------" >&2
    fi
    exit 1
}

# A clean environment: no key, a private HOME/config/runtime dir, the short sample as the demo
# speech (see ui_shell_test.sh).
mkdir -p "$work/home" "$work/samples" "$work/runtime"
chmod 700 "$work/runtime"
cp "$prefix/share/ava-voice/samples/lights.wav" "$work/samples/demo-conversation.wav" ||
    fail "the installed samples are missing"
clean_env=(env -i "PATH=/usr/bin:/bin" "HOME=$work/home" "XDG_CONFIG_HOME=$work/home/.config"
    "XDG_RUNTIME_DIR=$work/runtime"
    "AVA_SAMPLES_DIR=$work/samples" "TERM=${TERM_FOR_TEST:-xterm-256color}" "LANG=C.UTF-8")

marker="$work/marker"
timeout_ms=30000
[ "$case_name" = approval_timeout ] && timeout_ms=2000
# The tool: the user's own program (sh -c is theirs, ava-voice runs argv with no shell).
cat >"$work/config.toml" <<TOML
[tools]
approval_timeout_ms = $timeout_ms

[[tools.command]]
name = "make_marker"
description = "Switches the kitchen lights (a harmless stand-in that creates a marker file)"
parameters = '{"type":"object","properties":{"room":{"type":"string"}},"required":["room"]}'
argv = ["sh", "-c", "cat >/dev/null; echo ran >>'$marker'; echo '{\"done\":true,\"lights\":\"on\"}'"]
require_approval = true
TOML
cat >"$work/scenario.toml" <<'TOML'
# approval_tmux_test: the sample speech's turn calls the tool that needs the user's yes.
name = "ui-approval-test"
loop = false
generic_reply = "Is there anything else I can do for you?"

[[turns]]
user = "Turn on the kitchen lights"
reply = "One moment."
followup = "Result: {output:make_marker}"
[[turns.calls]]
name = "make_marker"
arguments = { room = "kitchen" }
TOML

# ---- tmux helpers (from ui_shell_test.sh) ------------------------------------------------------
pane_text=""
start_pane() {  # ava-voice in a 120x40 pane; afterwards its status
    local cmd="cd '$work' && '$exe' --config '$work/config.toml' --scenario '$work/scenario.toml'; echo \"EXIT=\$?\"; stty -a | tr '\\n' ' '; echo; echo PANE-DONE; sleep 60"
    tmux -L "$sock" -f /dev/null new-session -d -s ui -x 120 -y 40 \
        "${clean_env[@]}" bash --norc --noprofile -c "$cmd" || fail "tmux did not start"
}
capture() {
    pane_text=$(tmux -L "$sock" capture-pane -p -J -t ui -S -400 2>/dev/null)
}
wait_for() {  # wait_for REGEX [SECONDS]: until the pane (with history) matches
    local re=$1 limit=${2:-30} i
    for ((i = 0; i < limit * 5; i++)); do
        capture
        if grep -Eq -- "$re" <<<"$pane_text"; then return 0; fi
        # ava-voice has ended: what is not there now never comes.
        if grep -q "^PANE-DONE" <<<"$pane_text"; then break; fi
        sleep 0.2
    done
    fail "timed out after ${limit}s (or ava-voice ended) waiting for /$re/"
}
capture_screen() {  # only what is on the screen now (the footer), no history
    pane_text=$(tmux -L "$sock" capture-pane -p -J -t ui 2>/dev/null)
}
wait_screen() {  # wait_screen REGEX [SECONDS]: until the screen as it is now (no history) matches
    local re=$1 limit=${2:-30} i
    for ((i = 0; i < limit * 5; i++)); do
        capture_screen
        if grep -Eq -- "$re" <<<"$pane_text"; then return 0; fi
        if grep -q "^PANE-DONE" <<<"$pane_text"; then break; fi
        sleep 0.2
    done
    fail "timed out after ${limit}s (or ava-voice ended) waiting for the screen to show /$re/"
}
# The reply has been spoken and AVA listens again: its line is final (Q while AVA speaks would
# end the reply, so the test would not see the whole turn).
wait_turn_done() { wait_screen "listening \\| mic" 30; }
keys() { tmux -L "$sock" send-keys -t ui "$@"; }
assert_pane() { grep -Eq -- "$1" <<<"$pane_text" || fail "${2:-pane does not match /$1/}"; }
refute_pane() { grep -Eq -- "$1" <<<"$pane_text" && fail "${2:-pane unexpectedly matches /$1/}"; }

# After Q / Ctrl+C: exit 0, the summary printed, the terminal back in cooked mode.
assert_clean_exit() {
    wait_for "PANE-DONE" 30
    assert_pane "-- session summary --" "no summary printed"
    assert_pane "EXIT=0" "ava-voice did not exit 0"
    local stty_line
    stty_line=$(grep -E "speed|icanon" <<<"$pane_text" | tail -1)
    grep -Eq "(^| )icanon( |$)" <<<"$stty_line" || fail "icanon not restored: $stty_line"
    grep -Eq "(^| )echo( |$)" <<<"$stty_line" || fail "echo not restored: $stty_line"
}

# ---- the prompt, common to every case ----------------------------------------------------------
wait_prompt() {
    start_pane
    wait_for "You: .*kitchen" 30
    wait_for "  -> make_marker \\{.*kitchen" 30
    wait_for "Run make_marker .*kitchen.*\\?" 20
    assert_pane "Y run it  N refuse  \\(no answer = no\\)" "the footer does not offer Y / N"
    [ -e "$marker" ] && fail "the tool ran before the user answered"
}
marker_runs() { [ -e "$marker" ] && wc -l <"$marker" | tr -d ' ' || echo 0; }

case "$case_name" in
approval_yes)
    wait_prompt
    keys y
    wait_for "  ok make_marker approved" 10
    wait_for "  <- make_marker ok" 20
    wait_for 'AVA: Result: \{"done":true,"lights":"on"\}' 30
    wait_turn_done
    [ "$(marker_runs)" = 1 ] || fail "the approved tool should have run once, ran $(marker_runs) times"
    refute_pane "Y run it  N refuse" "the prompt is still shown after Y"
    keys q
    assert_clean_exit
    assert_pane 'AVA: Result: \{"done":true,"lights":"on"\}' "the reply is not in the transcript"
    assert_pane "tool calls: 1 ok, 0 failed" "the summary does not count one ok call"
    ;;
approval_no)
    wait_prompt
    keys n
    wait_for "  no make_marker refused" 10
    wait_for "  <- make_marker failed .*the user declined" 10
    wait_for "AVA: Result: .*the user declined: make_marker was not run" 30
    wait_turn_done
    refute_pane "Y run it  N refuse" "the prompt is still shown after N"
    [ -e "$marker" ] && fail "the refused tool ran"
    keys q
    assert_clean_exit
    assert_pane "AVA: Result: .*declined" "the reply is not in the transcript"
    assert_pane "tool calls: 0 ok, 1 failed" "the summary does not count the refused call"
    [ -e "$marker" ] && fail "the refused tool ran"
    ;;
approval_timeout)
    wait_prompt
    # No key: after approval_timeout_ms (2 s) it counts as no.
    wait_for "  no make_marker not run: no answer in 2 s" 15
    wait_for "  <- make_marker failed .*no answer from the user within 2 s" 10
    wait_for "AVA: Result: .*no answer from the user" 30
    wait_turn_done
    refute_pane "Y run it  N refuse" "the prompt is still shown after the time limit"
    [ -e "$marker" ] && fail "the tool ran without an answer"
    # A late Y changes nothing.
    keys y
    sleep 1
    [ -e "$marker" ] && fail "a Y after the time limit ran the tool"
    keys q
    assert_clean_exit
    assert_pane "AVA: Result: .*no answer" "the reply is not in the transcript"
    [ -e "$marker" ] && fail "the tool ran without an answer"
    ;;
*)
    fail "unknown case"
    ;;
esac
[ -n "${AVA_TEST_SHOW_PANE:-}" ] && printf "%s\n" "$pane_text"
echo "ok: $case_name"
