#!/usr/bin/env bash
# An outside project builds against the installed package (issue 13, point 4): the library
# ("devel" component) is installed into a temporary prefix, examples/ is configured on its own
# (find_package(ava-voice CONFIG) through CMAKE_PREFIX_PATH) and built, and the built
# embed_minimal runs against the ava-realtime-sim process over ws:// on loopback, as the
# integration test runs the in-tree one: it must print the question, the add tool's result and
# the answer that quotes it, and exit 0.
#
# Asserts also that the example compiles against the installed headers only: its compile command
# names neither the source tree (include/, tools/) nor curl.
#
#   install_test.sh BUILD_DIR SOURCE_DIR SIM_BINARY CMAKE GENERATOR CXX CONFIG [LAUNCHER]
# Exit 0 pass, 1 fail.
set -euo pipefail

build=$(realpath "$1")
src=$(realpath "$2")
sim=$(realpath "$3")
cmake=$4
generator=$5
cxx=$6
config=${7:-}
launcher=${8:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/ava-install-test.XXXXXX")
pids=()
finish() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${keep:-0}" == 0 ]]; then rm -rf "$work"; fi
}
trap finish EXIT
fail() {
    echo "install_test: $*" >&2
    keep=1
    echo "install_test: output kept in $work" >&2
    exit 1
}

prefix=$work/prefix
install=("$cmake" --install "$build" --prefix "$prefix" --component devel)
[[ -n "$config" ]] && install+=(--config "$config")
"${install[@]}" >"$work/install.log" 2>&1 ||
    fail "cmake --install failed: $(tail -n 20 "$work/install.log")"
[[ -f "$prefix/include/ava/session.hpp" ]] || fail "ava/session.hpp was not installed"

configure=("$cmake" -S "$src/examples" -B "$work/build" -G "$generator"
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$config" -DCMAKE_PREFIX_PATH="$prefix"
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
[[ -n "$launcher" ]] && configure+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher")
"${configure[@]}" >"$work/configure.log" 2>&1 ||
    fail "configuring examples/ against the package failed: $(tail -n 30 "$work/configure.log")"
"$cmake" --build "$work/build" >"$work/build.log" 2>&1 ||
    fail "building examples/ against the package failed: $(tail -n 40 "$work/build.log")"
example=$work/build/embed_minimal
[[ -x "$example" ]] || fail "no embed_minimal in $work/build"

# The consumer's include path: the installed headers, never the source tree or curl.
cmd=$(grep '"command"' "$work/build/compile_commands.json" | grep embed_minimal.cpp) ||
    fail "no compile command for embed_minimal.cpp"
[[ "$cmd" == *"$prefix/include"* ]] || fail "not compiled against $prefix/include: $cmd"
for bad in "-I$src" "-isystem $src" "-I$build" "-isystem $build" curl; do
    [[ "$cmd" != *"$bad"* ]] || fail "the compile command has '$bad': $cmd"
done

# The simulator: one turn that calls the example's add tool, then quotes its output.
cat >"$work/add.toml" <<'TOML'
name = "install-add"
loop = false

[[turns]]
user = "What is 2 plus 3?"
followup = "The sum is {output:add}."
[[turns.calls]]
name = "add"
arguments = { a = 2, b = 3 }
TOML
"$sim" --port 0 --pace 0 --quiet --scenario "$work/add.toml" >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
url=""
for _ in $(seq 1 300); do
    url=$(sed -n 's/^listening on \(ws:.*\)$/\1/p' "$work/sim.out" | head -n1)
    [[ -n "$url" ]] && break
    sleep 0.05
done
[[ -n "$url" ]] || fail "the simulator did not start: $(cat "$work/sim.err")"

key=sk-dummy-install-test
set +e
output=$(OPENAI_API_KEY=$key no_proxy='*' NO_PROXY='*' "$example" "$url" --timeout 20 2>&1)
rc=$?
set -e
echo "$output"
((rc == 0)) || fail "embed_minimal exited with $rc"
for want in 'You: What is 2 plus 3?' '[tool] add -> {"sum":5}' 'AVA: The sum is {"sum":5}.'; do
    [[ "$output" == *"$want"* ]] || fail "embed_minimal did not print '$want'"
done
[[ "$output" != *"$key"* ]] || fail "embed_minimal printed the API key"
echo "install_test: examples/ built against the installed package and answered with its tool"
