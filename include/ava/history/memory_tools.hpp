// The two tools that use the history store: `remember` (a fact kept until the user forgets it)
// and `search_history` (full-text search over past conversations, with dates). They are offered
// only when memory is on (the app registers them then).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "ava/history/store.hpp"
#include "ava/tools/registry.hpp"

namespace ava::history {

/// Registers `remember` and `search_history` in `reg`, working on `db` (null: listed, and each
/// call answers that the history is unavailable). `current_session` is left out of searches
/// only when the caller asks for past sessions.
void register_memory_tools(tools::registry& reg, std::shared_ptr<store> db);

}  // namespace ava::history
