#!/usr/bin/env python3
"""ava-voice on open speakers: the echo benchmark (issue 15), off / today's gate / the canceller
side by side.

  bench/echo.py                full: ERLE at 0 and +6 dB, 20 barge-in trials, 20 backchannels,
                               a 20-turn spoken conversation per mode; writes
                               docs/audio-processing-figures.md (~20 min)
  bench/echo.py --short        CI: 3 turns, aec and off; checks every figure was produced
  bench/echo.py --backchannels only the 20 backchannels over the answers (~3 min); prints the
                               figure and writes no report
  options: --build-dir DIR (default build/ or $AVA_BUILD_DIR), --work DIR, --report FILE.md

Two parts, both on echo rig (a), the WAV device's simulated room (ava/audio/echo_room.hpp):
 1. ava-echo-bench (bench/echo_bench.cpp): the processing stage alone, block-exact, with ground
    truth: ERLE over assistant-only speech, barge-in detection by the local VAD and its latency,
    the user's words under double talk, false local onsets, time per 10 ms block.
 2. the whole client: ava-voice --room against ava-realtime-sim, whose server VAD listens to
    what ava-voice sends. The user asks N questions, with pauses for the answers. A
    self-interruption is an answer cut off by its own echo. The assistant's voice is about 10 dB
    louder than the questions, so room gain -4 dB puts its echo 6 dB over the user's voice at the
    mic. Then the same conversation with 20 backchannels ("mm-hm", "okay", "yeah") spoken over
    the answers: a false interruption is an answer they truncated. CPU per minute and peak RSS
    of the client alone (the simulator is a process of its own), processing on against off.

python3 standard library, espeak-ng and sox. Exit 0 = every figure produced. Speed is never
asserted.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench import KEY, Sim  # noqa: E402  the simulator as a process of its own

ASSISTANT = [
    "Sure. The weather in Paris today is sunny with a high of twenty two degrees.",
    "Tomorrow will be cloudier, with a chance of light rain in the afternoon.",
    "I have turned on the kitchen lights, and your next meeting is at three o'clock.",
    "Your flight leaves at nine fifteen from terminal two, so plan to leave by seven.",
    "The recipe needs two cups of flour, three eggs and a pinch of salt.",
]
USER = "Wait, stop. What about Berlin?"
# Backchannels as the issue means them: under about half a second each (espeak-ng, en-gb at 150
# words a minute: "hmm" 0.35 s, "okay" 0.49 s, "yeah" 0.28 s, "right" 0.40 s, "uh-huh" 0.38 s;
# the fixtures print their own lengths). espeak draws "mm-hm" out to 0.79 s, longer than any
# listener's "mm-hm" and than the definition, so "hmm" stands in for it.
BACKCHANNELS = ["hmm", "okay", "yeah", "right", "uh-huh"]
REPLY = "It is sunny and warm today, with a light breeze from the west, and tomorrow looks the same."


def log(msg):
    print(f"[echo-bench] {msg}", file=sys.stderr, flush=True)


def sh(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


def speak(text, path, voice="en-us", speed=170):
    raw = path.with_suffix(".raw.wav")
    sh("espeak-ng", "-v", voice, "-s", speed, "-w", raw, text)
    return raw


def norm(src, dst, *extra):
    """24 kHz mono PCM16 at peak -11 dBFS (about -30 dBFS RMS: no clipping at +6 dB echo)."""
    sh("sox", src, "-r", "24000", "-c", "1", "-b", "16", dst, "gain", "-n", "-11", *extra)


def fixtures(work: Path, turns: int):
    parts = []
    for i, t in enumerate(ASSISTANT):
        norm(speak(t, work / f"a{i}.wav"), work / f"a{i}.n.wav", "pad", "0", "0.3")
        parts.append(work / f"a{i}.n.wav")
    sh("sox", *parts, work / "far.wav")
    norm(speak(USER, work / "user.wav", "en-gb", 160), work / "near.wav")
    # The conversation: N questions, each followed by room for the answer (about 5 s).
    qs = []
    for i in range(turns):
        q = work / f"q{i}.wav"
        norm(speak(f"Question number {i + 1}, what is the weather like?", q, "en-us", 170), q.with_suffix(".n.wav"),
             "pad", "0.5", "7")
        qs.append(q.with_suffix(".n.wav"))
    sh("sox", *qs, work / "questions.wav")
    # The same with a backchannel 2 s into each answer (the answer starts ~0.5 s after the question).
    bcs = []
    for i in range(turns):
        q = work / f"q{i}.wav"
        b = work / f"b{i}.wav"
        norm(speak(BACKCHANNELS[i % len(BACKCHANNELS)], b, "en-gb", 150), b.with_suffix(".n.wav"))
        qlen = float(sh("soxi", "-D", q.with_suffix(".raw.wav")).stdout)
        # question (0.5 s pad + speech), then 2.5 s into the pause the backchannel, then the rest.
        out = work / f"qb{i}.wav"
        sh("sox", "-m", q.with_suffix(".n.wav"), "|sox " + str(b.with_suffix(".n.wav")) + f" -p pad {0.5 + qlen + 2.5} 0",
           out)
        bcs.append(out)
    sh("sox", *bcs, work / "backchannels.wav")
    for i, w in enumerate(BACKCHANNELS[:turns]):
        st = sh("sox", work / f"b{i}.raw.wav", "-n", "silence", "1", "0.01", "1%", "reverse", "silence", "1",
                "0.01", "1%", "stat").stderr
        length = re.search(r"Length \(seconds\):\s+([0-9.]+)", st)
        log(f"backchannel fixture {w!r}: {float(length.group(1)):.2f} s of speech" if length else w)
    (work / "scenario.toml").write_text(
        f'name = "echo-bench"\nloop = true\n[[turns]]\nuser = "question"\nreply = "{REPLY}"\n')


def echo_bench(build: Path, work: Path, gain: float, modes: str, trials: int):
    out = sh(build / "ava-echo-bench", "--far", work / "far.wav", "--near", work / "near.wav", "--gain", gain,
             "--modes", modes, "--trials", trials, timeout=600).stdout
    rows = {}
    for line in out.splitlines():
        if not line.startswith("echo_bench "):
            continue
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        rows[kv["mode"]] = kv
    return rows


def conversation(build: Path, work: Path, name: str, wav: str, echo: str, room: str, limit: float):
    """One spoken conversation through ava-voice; returns (answers, cut, cpu_s, wall_s, rss_mb)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")}
    env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "cfg"), XDG_DATA_HOME=str(work / "data"),
               OPENAI_API_KEY=KEY)
    # The simulator runs as a process of its own (as bench/run.sh does), so that the CPU and the
    # peak RSS are the client's alone: in process, its voice synthesis added about 15 MB.
    sim = Sim(build / "ava-realtime-sim", work, name, ["--scenario", str(work / "scenario.toml")])
    try:
        return run_client(work, name, env, [
            str(build / "ava-voice"), "--endpoint", sim.url, "--input", str(work / wav),
            "--output", str(work / f"{name}.out.wav"), "--incognito", "--echo", echo], room, limit)
    finally:
        sim.stop()


def run_client(work: Path, name: str, env, cmd, room: str, limit: float):
    if room:
        cmd += ["--room", room]
    logf = work / f"{name}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(logf, "w") as f:
        p = subprocess.Popen(cmd, env=env, cwd=work, stdout=f, stderr=subprocess.STDOUT)
        peak = 0
        while p.poll() is None:
            try:
                for line in open(f"/proc/{p.pid}/status"):
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            if time.monotonic() - t0 > limit:
                p.send_signal(2)  # an assistant answering its own echo never stops by itself
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                break
            time.sleep(0.2)
        p.wait()
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = logf.read_text(errors="replace")
    answers = len(re.findall(r"^AVA: ", text, re.M))
    cut = len(re.findall(r"\[interrupted", text))
    erle = re.search(r"ERLE ([0-9.]+) dB", text)
    return {"answers": answers, "cut": cut, "cpu_min": cpu / (wall / 60.0), "rss_mb": peak / 1024.0,
            "erle": float(erle.group(1)) if erle else None, "wall": wall}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--build-dir", default=os.environ.get("AVA_BUILD_DIR", str(ROOT / "build")))
    ap.add_argument("--backchannels", action="store_true")
    ap.add_argument("--work")
    ap.add_argument("--report")
    a = ap.parse_args()
    build = Path(a.build_dir).resolve()
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="ava-echo-bench."))
    work.mkdir(parents=True, exist_ok=True)
    turns = 3 if a.short else 20
    trials = 5 if a.short else 20
    t_start = time.monotonic()
    fixtures(work, turns)
    lines = []

    def row(name, value):
        lines.append((name, value))
        log(f"{name}: {value}")

    room = "delay=65,gain=-4"  # the whole client's room: echo 6 dB over the user (docstring)
    limit = float(sh("soxi", "-D", work / "questions.wav").stdout) + 30
    if a.backchannels:
        bc = conversation(build, work, "conv-backchannel", "backchannels.wav", "aec", room, limit)
        print(f"false interruptions: {turns} backchannels spoken over the answers, --echo aec: "
              f"{bc['cut']} answers truncated of {bc['answers']}; client peak RSS {bc['rss_mb']:.1f} MB "
              f"(log: {work / 'conv-backchannel.log'})")
        return 0 if bc["answers"] else 1

    # ---- 1. the stage alone
    modes = "off,gate,aec"
    for gain in (0.0, 6.0):
        r = echo_bench(build, work, gain, modes, trials)
        for m in ("off", "gate", "aec"):
            k = r.get(m)
            if not k:
                continue
            row(f"ERLE, rig (a) at {gain:+.0f} dB, {m}: all / first 1.5 s / after",
                f"{k['erle_db']} / {k['erle_cold_db']} / {k['erle_warm_db']} dB")
        k = r.get("aec", {})
        if k:
            row(f"barge-in detected by the local VAD at {gain:+.0f} dB (aec)",
                f"{k['bargein_detected']}, onset to detection median {k['detect_ms_median']} ms, worst {k['detect_ms_worst']} ms")
            row(f"double talk: sent vs the clean user speech, correlation ({gain:+.0f} dB, aec; off: {r['off']['doubletalk_corr']})",
                k["doubletalk_corr"])
            row(f"false local onsets per minute of assistant-only speech ({gain:+.0f} dB; gate: {r['gate']['false_onsets_per_min']})",
                k["false_onsets_per_min"])
            row(f"time per 10 ms block, median / p99 ({gain:+.0f} dB; gate {r['gate']['frame_us_median']} us)",
                f"{k['frame_us_median']} / {k['frame_us_p99']} us")

    # ---- 2. the whole client, echo 6 dB over the user (room gain -4 dB, see the docstring);
    # the time limit is the questions' length plus room for the last answer (a run that hears
    # itself never ends).
    conv_modes = ("off", "aec") if a.short else ("off", "gate", "aec")
    conv = {}
    for m in conv_modes:
        log(f"conversation: {turns} turns, --echo {m}, --room {room}")
        conv[m] = conversation(build, work, f"conv-{m}", "questions.wav", m, room, limit)
        c = conv[m]
        row(f"self-interruptions in a {turns}-turn conversation, echo +6 dB over the user, --echo {m}",
            f"{c['cut']} cut of {c['answers']} answers" + (" (it never stopped answering its own echo; cut off)" if c["answers"] > turns else ""))
    # The same room (its convolution runs in the client's WAV device) with the echo 40 dB down:
    # no self-interruption, so the difference to --echo aec is the processing alone.
    base = conversation(build, work, "conv-quiet-room", "questions.wav", "off", "delay=65,gain=-40", limit)
    row("CPU s per minute of the client, the same room with its echo 40 dB down, processing off",
        f"{base['cpu_min']:.3f}")
    row("CPU s per minute of the client, echo +6 dB, --echo aec", f"{conv['aec']['cpu_min']:.3f}"
        + (f" = {conv['aec']['cpu_min'] / base['cpu_min']:.2f}x off" if base['cpu_min'] else ""))
    row("peak RSS, --echo aec / off", f"{conv['aec']['rss_mb']:.1f} / {base['rss_mb']:.1f} MB")
    if not a.short:
        log(f"backchannels: {turns} over the answers, --echo aec")
        bc = conversation(build, work, "conv-backchannel", "backchannels.wav", "aec", room, limit)
        row(f"false interruptions: {turns} backchannels spoken over the answers, --echo aec",
            f"{bc['cut']} answers truncated of {bc['answers']}")

    elapsed = time.monotonic() - t_start
    w = max(len(n) for n, _ in lines)
    print()
    for n, v in lines:
        print(f"  {n:<{w}}  {v}")
    print()
    missing = []
    if not any(n.startswith("ERLE, rig (a) at +0 dB, aec") for n, _ in lines):
        missing.append("ERLE")
    if "aec" not in conv or conv["aec"]["answers"] == 0:
        missing.append("aec conversation")
    report = Path(a.report) if a.report else (None if a.short else ROOT / "docs/audio-processing-figures.md")
    if report:
        t = ["# Echo benchmark figures\n",
             f"Generated by `bench/echo.py` in {elapsed:.0f} s on {time.strftime('%Y-%m-%d')} "
             f"(commit {subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()}). "
             "Do not edit by hand; see docs/audio-processing.md for what they mean.\n",
             "| figure | value |", "|---|---|"]
        t += [f"| {n} | {v} |" for n, v in lines]
        report.write_text("\n".join(t) + "\n")
        log(f"report written: {report}")
    if missing:
        log("FAIL: figures missing: " + ", ".join(missing))
        return 1
    log(f"PASS: every figure produced in {elapsed:.0f} s (speed is reported, never asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
