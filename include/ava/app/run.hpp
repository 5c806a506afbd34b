// Running a conversation from the effective config: what `ava-voice` does after parsing.
//
// Chooses the service (OpenAI, Azure, a custom endpoint, or the built-in simulator when no API
// key is set), the audio devices (PortAudio, WAV files, or the bundled sample speech when the
// machine has no sound card and the simulator is in use), registers the tools, then prints the
// transcripts, tool calls and, at the end, a summary.
//
// Exit codes: 0 the session ended normally, 1 a runtime failure (no audio device, a device or
// network failure we could not recover from), 3 the service refused us (bad key, no quota,
// unknown model or deployment).
#pragma once

#include "ava/app/config.hpp"
#include "ava/realtime/connection.hpp"
#include "ava/realtime/provider.hpp"

namespace ava::app {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_refused = 3;

/// True when `cfg` asks for the built-in simulator: provider sim, or OpenAI with no key and no
/// explicit endpoint (the offline demo).
bool wants_simulator(const config& cfg);

/// The service's URL and auth headers for `cfg` (not for the simulator). The key comes from
/// `cfg` (the loader read the environment); nothing is read again.
realtime::endpoint service_endpoint(const config& cfg);

/// Connection settings (CA, proxy, timeouts, keepalive) for `ep` under `cfg`.
realtime::connection_options connection_options_from(const config& cfg, realtime::endpoint ep);

/// Runs ava-voice with `cfg` until the user quits, the input ends (headless) or a fatal error.
/// Main thread. Blocks SIGINT/SIGTERM for its own threads and turns them into a clean stop.
int run(const config& cfg);

}  // namespace ava::app
