// JSON answers from HTTP services (internal to the tool handlers).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"

namespace ava::tools::detail {

/// Parses `r.body`; throws tool_error "<service> sent a malformed answer (not JSON)" otherwise.
nlohmann::json parse_json_answer(const http_response& r, std::string_view service);

}  // namespace ava::tools::detail
