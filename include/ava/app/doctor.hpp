// `ava-voice doctor`: checks what a conversation needs and says what to do about each problem.
//
// Checks, in order: the config (already loaded; its warnings), the API key's presence (never its
// value), the endpoint (a real TCP + TLS + WebSocket handshake through realtime::connection: a
// 401 means reachable but the key is rejected; with no key the built-in simulator is checked
// instead), the audio devices and the sample rates each accepts, a microphone level test, a
// speaker test tone, and the echo test (doctor_echo.hpp: the echo path's delay and level, the
// noise floor, and how much of the echo the canceller removes). Every line starts with [ ok ],
// [warn], [FAIL] or [skip]; each FAIL and warn comes with one line of advice.
//
// Exit codes: 0 no problem found, 1 at least one FAIL (config errors never get here: the front
// end reports them and exits 2).
//
// Threads: main thread; blocks for a few seconds (the handshake, the mic test, the tone).
#pragma once

#include <chrono>
#include <iosfwd>

#include "ava/app/config.hpp"

namespace ava::app {

struct doctor_options {
    std::chrono::milliseconds mic_test{2000};  ///< how long to listen to the microphone
    std::chrono::milliseconds tone{1000};      ///< how long the speaker test tone plays
    /// How long the echo test's signal plays (0: no echo test), and the least echo loss that
    /// passes (below it the echo "cannot be cancelled": exit 1 with advice).
    std::chrono::milliseconds echo_test{3000};
    double echo_min_erle_db = 20;
    std::chrono::milliseconds connect_timeout{10'000};
};

/// Runs every check and prints the report to `out`. Never throws.
int doctor(const loaded_config& loaded, std::ostream& out, const doctor_options& opts = {});

}  // namespace ava::app
