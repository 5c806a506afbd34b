#!/usr/bin/env bash
# Quick start, first command: set up, build and run ava-voice. Arguments go to ava-voice.
# With no OPENAI_API_KEY it talks to the built-in offline simulator; with no sound card it
# plays bundled sample speech in and writes the reply to a WAV file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-browsers
AVA_BUILD_DIR=${AVA_BUILD_DIR:-build} scripts/build.sh >/dev/null
exec "${AVA_BUILD_DIR:-build}/ava-voice" "$@"
