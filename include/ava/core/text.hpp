// Small ASCII text helpers shared by every module (config parsing, header and host matching,
// URL building, transcripts). Locale-independent; UTF-8 passes through unchanged.
#pragma once

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

}  // namespace ava::core
