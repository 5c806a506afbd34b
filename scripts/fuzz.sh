#!/usr/bin/env bash
# libFuzzer runs of the fuzz targets (fuzz/CMakeLists.txt), built with clang in build-fuzz.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     every target for that long (default 60)
#   scripts/fuzz.sh --execs N TARGET         one target for N executions (e.g. server_event)
#   scripts/fuzz.sh --seconds S TARGET...    the named targets, S seconds each
# Targets: server_event client_event config wav mcp schema relay_control sim_client.
#
# Each target first runs its hostile probes once (fuzz/make_probes.py: nesting 100,000 deep,
# numbers no double holds, invalid UTF-8, 4 MB strings, truncated base64, absurd WAV headers),
# then fuzzes from its seed corpus (tests/data/golden for the codec, fuzz/corpus/<target>, the
# example config, generated WAV files), copied to a temporary directory so the tree is never
# written. Each run prints one line:
#   fuzz: TARGET execs=N cov=N ft=N crashes=0 seconds=N
# (cov and ft from libFuzzer's last status line, execs from -print_final_stats=1), with the
# crash file instead of 0 when it found one; those are kept in build-fuzz/artifacts/TARGET.
# Exit status: 0 when no target crashed, 1 when one did, 2 for bad usage.
#
# Builds with nice -n 19 and AVA_FUZZ_JOBS jobs (default 1: the machine may be shared), and runs
# that many targets at a time.
# Needs clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes); installed here when
# missing, as they are needed only for fuzzing (scripts/install-deps.sh does not list them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
all_targets=(server_event client_event config wav mcp schema relay_control sim_client)
dir=${AVA_FUZZ_DIR:-build-fuzz}
jobs=${AVA_FUZZ_JOBS:-1}

usage() {
    sed -n '2,5p' "$0" >&2
    exit 2
}

seconds=60
execs=""
targets=()
case "${1:-}" in
--execs)
    [[ $# -eq 3 && $2 =~ ^[0-9]+$ ]] || usage
    execs=$2
    targets=("$3")
    ;;
--seconds)
    [[ $# -ge 3 && $2 =~ ^[0-9]+$ ]] || usage
    seconds=$2
    targets=("${@:3}")
    ;;
"") targets=("${all_targets[@]}") ;;
*)
    [[ $# -eq 1 && $1 =~ ^[0-9]+$ ]] || usage
    seconds=$1
    targets=("${all_targets[@]}")
    ;;
esac
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t'" >&2; usage; }
done

# ---- toolchain: clang with libFuzzer ---------------------------------------------------------
need=()
command -v clang++ >/dev/null 2>&1 || need+=(clang)
dpkg-query -W -f='${Status}' libclang-rt-14-dev 2>/dev/null | grep -q "install ok installed" ||
    need+=(libclang-rt-14-dev)
if ((${#need[@]} > 0)); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "fuzz: installing ${need[*]} (for fuzzing only)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
bash scripts/install-deps.sh >/dev/null

# ---- build -----------------------------------------------------------------------------------
build_start=$(date +%s)
if [[ ! -f $dir/build.ninja ]]; then
    launcher=()
    if command -v ccache >/dev/null 2>&1; then
        launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
    CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DAVA_FUZZ=ON -DAVA_BUILD_TESTS=OFF -DAVA_BUILD_BENCH=OFF -DAVA_BUILD_EXAMPLES=OFF \
        "${launcher[@]}" >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
mkdir -p "$dir"
if ! nice -n 19 ninja -C "$dir" -j "$jobs" "${build_targets[@]}" >"$dir/fuzz-build.log" 2>&1; then
    tail -40 "$dir/fuzz-build.log" >&2
    echo "fuzz: build failed (log: $dir/fuzz-build.log)" >&2
    exit 1
fi
echo "fuzz: build took $(($(date +%s) - build_start)) s"

# ---- runs ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/ava-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

seeds() {  # target, corpus dir
    case $1 in
    server_event) cp tests/data/golden/server/*.json tests/data/golden/decode_only/*.json \
        tests/data/golden/beta/*.json "$2/" ;;
    client_event | sim_client) cp tests/data/golden/client/*.json "$2/" ;;
    config) cp fuzz/corpus/config/* config/ava-voice.example.toml "$2/" ;;
    wav) python3 fuzz/make_probes.py --seeds wav "$2" ;;
    *) cp fuzz/corpus/"$1"/* "$2/" ;;
    esac
}

fuzz_one() {  # target: its probes, then the fuzzing; prints its line; status 1 on a crash
    local t=$1 exe artifacts log start crash dict limit last n status cov ft
    exe=$dir/fuzz/${t}_fuzz
    artifacts=$dir/artifacts/$t
    mkdir -p "$artifacts" "$work/$t/corpus" "$work/$t/probes"
    seeds "$t" "$work/$t/corpus"
    python3 fuzz/make_probes.py "$t" "$work/$t/probes"
    log=$work/$t/log
    start=$(date +%s)
    crash=0
    # The probes, once each (files as arguments: libFuzzer runs them and exits).
    if ! "$exe" -rss_limit_mb=4096 -timeout=60 -artifact_prefix="$artifacts/" \
        "$work/$t/probes"/* >"$log.probes" 2>&1; then
        # Inputs given as files leave no crash file: keep the one that was running.
        last=$(grep "^Running: " "$log.probes" | tail -1 | cut -d' ' -f2- || true)
        crash="a probe (see below)"
        if [[ -n $last ]]; then
            crash=$artifacts/probe-$(basename "$last")
            cp "$last" "$crash"
        fi
        echo "fuzz: $t crashed on a probe:" >&2
        grep -E "^(==|SUMMARY|Running:|    #[0-9])" "$log.probes" | head -40 >&2 || true
    fi
    dict=()
    [[ $t != wav && $t != config ]] && dict=(-dict="$root/fuzz/json.dict")
    limit=(-max_total_time="$seconds")
    [[ -n $execs ]] && limit=(-runs="$execs")
    if [[ $crash == 0 ]]; then
        if ! "$exe" "${limit[@]}" "${dict[@]}" -print_final_stats=1 -rss_limit_mb=2048 \
            -timeout=10 -artifact_prefix="$artifacts/" "$work/$t/corpus" >"$log" 2>&1; then
            crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | cut -d' ' -f5 || true)
            crash=${crash:-"unknown (see the log below)"}
            grep -E "^(==|SUMMARY|    #[0-9])|runtime error|ERROR" "$log" | head -40 >&2 || true
        fi
    fi
    n=$(grep -o "stat::number_of_executed_units: [0-9]*" "$log" 2>/dev/null | awk '{print $2}' ||
        true)
    status=$(grep -E "^#[0-9]+" "$log" 2>/dev/null | tail -1 || true)
    cov=$(grep -o "cov: [0-9]*" <<<"$status" | awk '{print $2}' || true)
    ft=$(grep -o "ft: [0-9]*" <<<"$status" | awk '{print $2}' || true)
    echo "fuzz: $t execs=${n:-0} cov=${cov:-?} ft=${ft:-?} crashes=$crash" \
        "seconds=$(($(date +%s) - start))"
    [[ $crash == 0 ]]
}
# The targets run $jobs at a time (each is one process on one core); each one's output is
# printed when all are done, in the order given.
running=0
for t in "${targets[@]}"; do
    (fuzz_one "$t" >"$work/$t.out" 2>&1; echo $? >"$work/$t.rc") &
    running=$((running + 1))
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
done
wait
for t in "${targets[@]}"; do
    cat "$work/$t.out"
    [[ $(cat "$work/$t.rc" 2>/dev/null) == 0 ]] || failed=1
done
exit $failed
