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
#   e. --echo aec, local barge-in: a backchannel ("mm-hm") spoken 2 s into the first answer
#      pauses it and resumes it, nothing truncated; "Wait, stop" over the second answer cuts
#      it (the service confirms): exactly one interruption, and it is the second answer's.
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
# e: question 1 with "mm-hm" 2.5 s after it, then question 2 with "wait, stop" 2.5 s after it.
espeak-ng -v en-gb -s 150 -w bc.raw.wav "mm-hm"
sox bc.raw.wav -r 24000 -c 1 -b 16 bc.wav gain -n -12
espeak-ng -v en-gb -s 160 -w stop.raw.wav "Wait, stop. What about Berlin?"
sox stop.raw.wav -r 24000 -c 1 -b 16 stop.wav gain -n -12 pad 0 6
q1len=$(soxi -D q1.raw.wav)
sox -m q1.wav "|sox bc.wav -p pad $(awk "BEGIN{print 3 + $q1len}") 0" qbc.wav
q2len=$(soxi -D q2.raw.wav)
sox -m q2.wav "|sox stop.wav -p pad $(awk "BEGIN{print 3 + $q2len}") 0" qstop.wav
sox qbc.wav qstop.wav bargein.wav
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
set +e
timeout -s INT 60 "$ava" --scenario scenario.toml --input bargein.wav --output bargein.out.wav \
    --incognito --room delay=65,gain=-4 --echo aec --log-level info >bargein.log 2>&1
rc_barge=$?
set -e

i_off=$(interruptions off.log)
i_aec=$(interruptions aec.log)
check "a. echo off: the assistant interrupted itself ($i_off)" test "${i_off:-0}" -gt 0
check "b. aec: exit 0" test "$(cat aec.rc)" = 0
check "b. aec: no self-interruption ($i_aec)" test "${i_aec:-x}" = 0
check "b. aec: three answers in full" \
    test "$(grep -c 'AVA: It is sunny and warm today, with a light breeze from the west.' aec.log)" = 3
check "b. aec: the summary says it converged" grep -q '^echo: aec, .*converged; .*ERLE' aec.log
i_barge=$(interruptions bargein.log)
check "e. barge-in run: exit 0 ($rc_barge)" test "$rc_barge" = 0
check "e. the backchannel paused and resumed the reply" grep -q 'a short backchannel; the reply goes on' bargein.log
check "e. one interruption: the barge-in's ($i_barge)" test "${i_barge:-x}" = 1
check "e. the first answer was heard in full" \
    test "$(grep -c 'AVA: It is sunny and warm today, with a light breeze from the west.$' bargein.log)" -ge 1

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
    for f in off aec bargein nolib gate badroom; do
        echo "---- $f.log" >&2
        tail -25 "$f.log" >&2
    done
    exit 1
fi
echo "echo_e2e: pass (self-interruptions: off $i_off, aec $i_aec)"
