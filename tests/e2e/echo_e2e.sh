#!/usr/bin/env bash
# Echo on open speakers, end to end (issue 15): the real ava-voice binary against its offline
# simulator, whose server VAD listens to what ava-voice sends, with the WAV device's echo rig
# (--room: what is played comes back into the microphone 65 ms later). The user asks three
# questions with pauses long enough for each answer; the simulator's voice is 10 dB louder
# than the questions, so room gain -4 dB puts the echo 6 dB over the user's voice at the mic.
#
#   a. --echo off: the assistant interrupts itself (its echo is a "user turn"): > 0
#      interruptions. This proves the rig (without it the check below would prove nothing).
#      It never stops answering its own echo, so that run is cut off after 60 s.
#   b. --echo aec: no interruption, three answers heard in full, the summary says the canceller
#      converged and how much echo it removed.
#   c. AVA_LAZY_LIBS_DISABLE=speexdsp with --echo aec: exit 1 naming the package; --echo gate
#      still runs.
#   d. a bad --room names the field, exit 2.
#
#   echo_e2e.sh AVA_VOICE_BINARY SOURCE_DIR
# Exit 0 pass, 1 fail, 77 skip (espeak-ng or sox missing; not allowed when CI is set).
set -euo pipefail

ava=$(realpath "$1")
src=$(realpath "$2")
for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null; then
        echo "echo_e2e: $tool is missing" >&2
        [[ -n "${CI:-}" ]] && exit 1
        exit 77
    fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"
mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_DATA_HOME"
unset OPENAI_API_KEY AZURE_OPENAI_API_KEY GEMINI_API_KEY GOOGLE_API_KEY

parts=()
for i in 1 2 3; do
    espeak-ng -v en-us -s 170 -w "q$i.raw.wav" "Question number $i, what is the weather like?"
    sox "q$i.raw.wav" -r 24000 -c 1 -b 16 "q$i.wav" gain -n -12 pad 0.5 6.5
    parts+=("q$i.wav")
done
sox "${parts[@]}" questions.wav
cat > scenario.toml <<'TOML'
name = "echo-rig"
loop = true
[[turns]]
user = "question"
reply = "It is sunny and warm today, with a light breeze from the west."
TOML

fail=0
run() {  # run NAME ARGS...: ava-voice on the rig, output in NAME.log
    local name=$1
    shift
    set +e
    # Bounded: an assistant that hears itself answers its own echo for ever (each answer is a
    # new "question"); 60 s is twice what the three real turns take.
    timeout -s INT 60 "$ava" --scenario scenario.toml --input questions.wav --output "$name.wav" --incognito \
        --room delay=65,gain=-4 "$@" >"$name.log" 2>&1
    echo $? >"$name.rc"
    set -e
}
check() {  # check WHAT COMMAND...
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
    else
        echo "FAIL: $what" >&2
        fail=1
    fi
}
interruptions() { grep -c '\[interrupted' "$1" || true; }

run off --echo off
run aec --echo aec

i_off=$(interruptions off.log)
i_aec=$(interruptions aec.log)
check "a. echo off: the assistant interrupted itself ($i_off)" test "${i_off:-0}" -gt 0
check "b. aec: exit 0" test "$(cat aec.rc)" = 0
check "b. aec: no self-interruption ($i_aec)" test "${i_aec:-x}" = 0
check "b. aec: three answers in full" \
    test "$(grep -c 'AVA: It is sunny and warm today, with a light breeze from the west.' aec.log)" = 3
check "b. aec: the summary says it converged" grep -q '^echo: aec, .*converged; .*ERLE' aec.log

set +e
AVA_LAZY_LIBS_DISABLE=speexdsp "$ava" --scenario scenario.toml --input questions.wav \
    --output x.wav --incognito --echo aec >nolib.log 2>&1
rc_nolib=$?
AVA_LAZY_LIBS_DISABLE=speexdsp timeout 60 "$ava" --scenario scenario.toml --input q1.wav \
    --output y.wav --incognito --echo gate --fast >gate.log 2>&1
rc_gate=$?
"$ava" --input q1.wav --output z.wav --room delay=65,loud=3 >badroom.log 2>&1
rc_bad=$?
set -e
check "c. no speexdsp: exit 1 ($rc_nolib)" test "$rc_nolib" = 1
check "c. no speexdsp: names the package" grep -q 'libspeexdsp1' nolib.log
check "c. no speexdsp, --echo gate: still runs ($rc_gate)" test "$rc_gate" = 0
check "d. bad --room: exit 2 ($rc_bad)" test "$rc_bad" = 2
check "d. bad --room: names the field" grep -q "loud" badroom.log

if [[ $fail != 0 ]]; then
    for f in off aec nolib gate badroom; do
        echo "---- $f.log" >&2
        tail -25 "$f.log" >&2
    done
    exit 1
fi
echo "echo_e2e: pass (self-interruptions: off $i_off, aec $i_aec)"
