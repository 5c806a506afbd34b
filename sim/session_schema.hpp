// The GA session object: defaults, strict validation of session.update, partial merge (private
// to the simulator). Written against reference/realtime-protocol.md section 2 with
// nlohmann/json only, independent of the client's codec on purpose.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ava::sim::detail {

/// An error in the real service's shape: error{type:"invalid_request_error", code, message,
/// param}.
struct api_error {
    std::string code;
    std::string message;
    std::string param;  ///< empty = null
    std::string type = "invalid_request_error";
};

/// The full default GA session (what session.created carries, minus id/expires_at).
nlohmann::json default_session(const std::string& model, const std::string& voice);

/// Validates a session.update's `session` object against the GA shape. Returns the first
/// problem, with `param` the full path (e.g. "session.audio.input.turn_detection.threshold").
/// `effective` is the current session (for rules that depend on it: model can't change).
std::optional<api_error> validate_session_update(const nlohmann::json& session,
                                                 const nlohmann::json& effective);

/// Merges a validated partial update into `effective`: objects merge key by key, except
/// turn_detection (a given object replaces it, filled with its type's defaults), tools and
/// arrays (replaced), and null (clears). Never called with an invalid update.
void merge_session(nlohmann::json& effective, const nlohmann::json& update);

/// The defaults of a turn_detection object of `type` ("server_vad" or "semantic_vad").
nlohmann::json turn_detection_defaults(const std::string& type);

/// Validates a response.create `response` object (the overrides it may carry).
std::optional<api_error> validate_response_overrides(const nlohmann::json& response);

/// How deep `text`'s brackets nest (outside strings), without parsing it: a frame of 100,000
/// '[' parses fine but every recursive walk of the tree after that (a copy for the event log,
/// a dump) would overflow the stack.
std::size_t nesting_depth(std::string_view text);

/// Deeper than any real event (the deepest, a response with tools' schemas, is about 12): the
/// session refuses such a frame before parsing it.
constexpr std::size_t max_event_depth = 64;

}  // namespace ava::sim::detail
