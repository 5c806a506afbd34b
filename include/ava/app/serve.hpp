// `ava-voice serve`: the relay and the browser console (docs/relay.md) with the effective config:
// the same provider choice as a run (the in-process simulator without a key), the same tools and
// conversation options, one session per stream. Blocks until SIGINT/SIGTERM.
#pragma once

#include "ava/app/config.hpp"

namespace ava::app {

/// Exit codes as run(): 0 stopped by a signal, 1 cannot listen, 2 bad settings.
int serve(const config& cfg);

}  // namespace ava::app
