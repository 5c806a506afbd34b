// The relay's control messages (docs/relay.md): the client's JSON read strictly where it is
// acted on, each error naming its field; and the JSON the relay sends. No sockets here, so the
// fuzz target and the unit tests call it directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "ava/realtime/events.hpp"

namespace ava::relay::proto {

struct text_input {
    std::string text;
};
struct interrupt {};
struct mute {
    bool on = true;
};
struct talk {
    bool pressed = false;
};
struct settings {
    realtime::session_config patch;  ///< voice, speed, turn (only the fields given)
};
struct playback_position {
    std::string item_id;
    std::int64_t played_samples = 0;
    bool interrupted = false;
};
struct events {
    bool enabled = true;
};
struct ping {};

/// A message the relay cannot act on: `code` is bad_json, bad_message or unknown_type.
struct bad {
    std::string code;
    std::string message;  ///< names the field ("settings.speed: must be a number 0.25..1.5")
};

using control =
    std::variant<text_input, interrupt, mute, talk, settings, playback_position, events, ping, bad>;

/// Parses one text frame from the client. Unknown fields are ignored.
control parse_control(std::string_view text);

/// The longest typed message accepted (characters of UTF-8).
constexpr std::size_t max_text_input = 8000;

/// Turn detection from a URL or settings word: server_vad/server, semantic_vad/semantic,
/// none/manual. nullopt for anything else.
std::optional<realtime::vad_type> parse_vad(std::string_view word);

}  // namespace ava::relay::proto
