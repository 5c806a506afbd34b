// Helpers shared by the conversation's source files (conversation*.cpp); private to them.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"
#include "ava/core/text.hpp"
#include "ava/realtime/conversation.hpp"

namespace ava::realtime::detail {

/// Client event ids remembered to name the event an error refers to (error.event_id).
inline constexpr std::size_t max_remembered_ids = 128;

using core::trim;

inline bool is_space(char c) noexcept {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

inline std::int64_t count_words(std::string_view s) noexcept {
    std::int64_t n = 0;
    bool in_word = false;
    for (char c : s) {
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++n;
        }
    }
    return n;
}

/// The output the model gets for a failed tool: a JSON object it can read. A handler that
/// already produced an object (e.g. {"error":"...","hint":"..."}) is passed through.
inline std::string error_output(std::string_view output) {
    const std::string_view t = trim(output);
    if (!t.empty() && t.front() == '{' && t.back() == '}') return std::string(t);
    return "{\"error\":" + core::json_string(t.empty() ? "the tool failed" : t) + "}";
}

/// Error codes after which the session cannot go on; retrying would fail the same way.
inline std::optional<errc> fatal_code(std::string_view code) noexcept {
    if (code == "invalid_api_key") return errc::auth_failed;
    if (code == "insufficient_quota") return errc::quota;
    if (code == "beta_api_shape_disabled") return errc::protocol;
    if (code == "model_not_found") return errc::not_found;
    return std::nullopt;
}

/// Splits an assistant line into what was heard and the unheard tail. The server gives no
/// word timings for output audio, so this is an ESTIMATE: the heard fraction of the item's
/// received audio applied to the transcript's length, snapped back to a word boundary (a word
/// cut in the middle counts as unheard). The transcript runs ahead of the audio, so the
/// estimate leans towards "heard"; it is marked as estimated in the transcript action.
inline std::pair<std::string, std::string> split_heard(const std::string& text, std::int64_t heard,
                                                       std::int64_t received) {
    if (received <= 0 || heard >= received) return {text, {}};
    if (heard <= 0) return {{}, std::string(trim(text))};
    const double fraction = static_cast<double>(heard) / static_cast<double>(received);
    auto cut = static_cast<std::size_t>(fraction * static_cast<double>(text.size()));
    cut = std::min(cut, text.size());
    if (cut < text.size() && cut > 0 && !is_space(text[cut]) && !is_space(text[cut - 1])) {
        while (cut > 0 && !is_space(text[cut - 1])) --cut;  // back to the word's start
    }
    return {std::string(trim(std::string_view(text).substr(0, cut))),
            std::string(trim(std::string_view(text).substr(cut)))};
}

template <class T>
std::string_view event_type_name() noexcept {
    // unknown_event and decode_error carry `type` as a data member, not the static wire name.
    if constexpr (std::is_same_v<T, unknown_event> || std::is_same_v<T, decode_error>) {
        return "unknown";
    } else {
        return T::type;
    }
}

inline std::string ms_text(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

}  // namespace ava::realtime::detail
