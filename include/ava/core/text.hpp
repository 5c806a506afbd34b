// Small ASCII text helpers shared by every module (config parsing, header and host matching,
// URL building, transcripts). Locale-independent; UTF-8 passes through unchanged.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ava::core {

/// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view trim(std::string_view s) noexcept;

/// `s` with ASCII A-Z lowered (other bytes unchanged).
std::string ascii_lower(std::string_view s);

/// Percent-encoding for a URL query value or path segment (RFC 3986): every byte but the
/// unreserved ones (A-Z a-z 0-9 - . _ ~) becomes %XX (upper-case hex).
std::string url_encode(std::string_view s);

/// The length of the UTF-8 character that starts at s[i] (1 for ASCII), its code point in `cp`;
/// 0 when the bytes there are not one whole, shortest-form, non-surrogate character.
std::size_t utf8_length_at(std::string_view s, std::size_t i, char32_t& cp) noexcept;

/// `s` made safe to write to a terminal or a log line: what a terminal would act on instead of
/// show (C0 controls but tab and newline, DEL, C1 controls, bytes that are not UTF-8; so no
/// escape sequence from a server or a model can retitle, clear or move the terminal) becomes
/// '?'. With `one_line`, newlines and tabs become spaces too. Valid UTF-8 text passes unchanged.
std::string printable(std::string_view s, bool one_line = false);

/// The length of `s`'s longest prefix of at most `max_bytes` that does not end inside a UTF-8
/// character.
std::size_t utf8_prefix(std::string_view s, std::size_t max_bytes) noexcept;

/// `s` cut to at most `max_bytes` (never inside a UTF-8 character), with " ... (N bytes more)"
/// saying what was left out. Unchanged when it fits.
std::string clip(std::string_view s, std::size_t max_bytes);

}  // namespace ava::core
