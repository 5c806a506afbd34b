#!/usr/bin/env bash
# Installs every Debian/Ubuntu package that ava-voice's build, tests and benchmarks need.
# Idempotent: when everything is installed it only checks (about a second) and exits.
#   scripts/install-deps.sh          build + run + tests + benchmarks
#   scripts/install-deps.sh --no-browsers   the same without the browsers of the console's tests
#                                    (scripts/run.sh: running ava-voice needs no browser)
#   scripts/install-deps.sh --print  list the packages and exit
# macOS (Homebrew) and Windows (vcpkg) equivalents: see README.md, "Other platforms".
set -euo pipefail

packages=(
    # toolchain
    cmake ninja-build g++ pkg-config git ca-certificates
    # fixed dependencies
    libboost-dev libboost-system-dev libssl-dev openssl nlohmann-json3-dev libcli11-dev
    libspdlog-dev libfmt-dev portaudio19-dev
    # libraries we use instead of hand-writing their job
    libtomlplusplus-dev  # config files
    libsoxr-dev          # resampling to and from the device rate
    libspeexdsp-dev      # echo cancellation (MDF) and preprocessing
    libsndfile1-dev      # WAV in and out
    libcurl4-openssl-dev # HTTP and SMTP for the tools
    libical-dev          # calendars (RRULE/EXDATE expansion)
    libsqlite3-dev       # the conversation history (WAL, FTS5)
    libespeak-ng-dev espeak-ng  # the simulator's voice
    # tests and benchmarks
    libgtest-dev libgmock-dev libbenchmark-dev sox
    pulseaudio pulseaudio-utils libasound2-plugins  # a virtual sound card for device tests
    python3 python3-aiosmtpd  # a real SMTP server on loopback for the email tool's tests
    tmux                      # terminal UI tests
    gnuplot-nox               # the benchmark report's plot
    time                      # /usr/bin/time -v: peak RSS in benchmarks
    clang-format              # the format check CI runs
    python3-websockets        # the relay's Python client example, run by its test
)

# The browser console's tests, headless (driven by puppeteer-core): about 300 MB, tests only.
if [[ "${1:-}" != "--no-browsers" ]]; then
    packages+=(chromium firefox-esr)
fi

if [[ "${1:-}" == "--print" ]]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the peer clients (tests and benchmarks); any recent Node will do.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
