// Quoting text as a JSON string, for the few places that build small JSON by hand (tool error
// outputs, event-log records) without a JSON library. Only the codec parses JSON.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ava::core {

/// `s` as a JSON string literal, quotes included: `"`, `\` and control characters are escaped
/// (control characters and DEL as \u00XX, which also makes it a valid TOML basic string);
/// UTF-8 passes through unchanged.
std::string json_string(std::string_view s);
/// Appends json_string(s) to `out`.
void append_json_string(std::string& out, std::string_view s);

/// The deepest nesting of arrays and objects in JSON text, found by one linear scan without
/// parsing (brackets inside strings are skipped, escapes honoured). Exact for valid JSON; for
/// anything else the number is meaningless but never above the text's length. nlohmann's
/// parser is iterative, but its dump(), copies and comparisons recurse once per level, so a
/// 200 KB line of '[' can overflow the stack of whoever touches the parsed value: readers that
/// use nlohmann on untrusted text refuse text nested deeper than they need before parsing.
std::size_t json_nesting(std::string_view text) noexcept;

/// A flat JSON object built field by field, for event-log records and small notes:
///   json_object().field("item_id", id).field("tag", 3).field("local", true).str()
/// gives {"item_id":"…","tag":3,"local":true}. Keys are written as given (callers pass
/// literal identifiers); string values are quoted and escaped; raw() embeds JSON as is.
class json_object {
  public:
    json_object() : text_("{") {}
    json_object& field(std::string_view key, std::string_view value) {
        append_json_string(key_(key), value);
        return *this;
    }
    json_object& field(std::string_view key, const char* value) {
        return field(key, std::string_view(value));
    }
    json_object& field(std::string_view key, const std::string& value) {
        return field(key, std::string_view(value));
    }
    json_object& field(std::string_view key, bool value) {
        key_(key) += value ? "true" : "false";
        return *this;
    }
    template <std::integral T>
    requires(!std::same_as<T, bool>) json_object& field(std::string_view key, T value) {
        key_(key) += std::to_string(value);
        return *this;
    }
    /// `json` must be one JSON value.
    json_object& raw(std::string_view key, std::string_view json) {
        key_(key) += json;
        return *this;
    }
    /// The finished text (the builder is spent afterwards).
    [[nodiscard]] std::string str() {
        text_ += '}';
        return std::move(text_);
    }

  private:
    std::string& key_(std::string_view key) {
        if (text_.size() > 1) text_ += ',';
        text_ += '"';
        text_ += key;
        text_ += "\":";
        return text_;
    }
    std::string text_;
};

}  // namespace ava::core
