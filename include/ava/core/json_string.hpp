// Quoting text as a JSON string, for the few places that build small JSON by hand (tool error
// outputs, event-log records) without a JSON library. Only the codec parses JSON.
#pragma once

#include <string>
#include <string_view>

namespace ava::core {

/// `s` as a JSON string literal, quotes included: `"`, `\` and control characters are escaped
/// (control characters as \u00XX); UTF-8 passes through unchanged.
std::string json_string(std::string_view s);

}  // namespace ava::core
