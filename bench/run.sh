#!/usr/bin/env bash
# ava-voice benchmarks, side by side with the Node `openai` and `@openai/agents-realtime` clients.
#   bench/run.sh                 full: 2-minute conversation x 3 runs per client, ingest, TLS start;
#                                writes docs/benchmarks.md and docs/benchmarks.png (~25 min)
#   bench/run.sh --short         CI: ~12 s of audio, one run; checks every figure was produced
#   options: --build-dir DIR (default build/ or $AVA_BUILD_DIR), --runs N, --minutes M,
#            --work DIR (keep logs/WAVs), --no-peers, --report FILE.md
# Builds nothing: run scripts/build.sh first, and `npm ci` in bench/peers for the peers.
# Echo on open speakers (off / gate / the canceller): bench/echo.py (docs/audio-processing.md).
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
