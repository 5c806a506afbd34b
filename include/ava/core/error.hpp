// ava's own error codes, usable as std::error_code at every I/O boundary.
#pragma once

#include <string>
#include <system_error>

namespace ava {

enum class errc {
    ok = 0,
    bad_config = 1,      ///< a setting is out of range or malformed
    protocol = 3,        ///< the peer broke the protocol
    auth_failed = 4,     ///< HTTP 401/403 or invalid_api_key: fatal
    not_found = 5,       ///< HTTP 404 (wrong model or path): fatal
    quota = 6,           ///< insufficient_quota: fatal
    timed_out = 7,       ///< connect, idle or tool timeout
    closed = 8,          ///< the connection closed
    no_device = 9,       ///< no audio device could be opened
    device_failed = 10,  ///< an audio device errored mid-stream
};

const std::error_category& ava_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), ava_category()};
}

/// A configuration or command-line problem: main() prints what() as one line and exits 2.
class config_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace ava

template <>
struct std::is_error_code_enum<ava::errc> : std::true_type {};
