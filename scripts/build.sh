#!/usr/bin/env bash
# Configures and builds ava-voice into build/ (Release with debug info, warnings as errors).
#   scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${AVA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAVA_WARNINGS_AS_ERRORS=ON "$@"
cmake --build "$build_dir" -j "$(nproc)"
