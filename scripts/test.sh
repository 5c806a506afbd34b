#!/usr/bin/env bash
# Quick start, second command: set up, build and run every test (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Node peer clients used by the tests, pinned by their lock files.
while IFS= read -r lock; do
    dir=$(dirname "$lock")
    echo "test: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done < <(find tests bench -name package-lock.json -not -path '*/node_modules/*' 2>/dev/null)
build_dir=${AVA_BUILD_DIR:-build}
build_start=$(date +%s)
AVA_BUILD_DIR=$build_dir scripts/build.sh
echo "test: build took $(( $(date +%s) - build_start )) s"
cd "$build_dir"
# Every ava-voice the tests start keeps its history here, never in the user's own data dir
# (where earlier runs would also be remembered into the tests' conversations).
rm -rf test-data && mkdir -p test-data
export XDG_DATA_HOME=$PWD/test-data
ctest --output-on-failure -j "$(nproc)" --timeout 300
