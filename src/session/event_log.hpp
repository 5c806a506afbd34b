// The session's events JSONL file (session_options::events_jsonl): every event sent and
// received, and the session's own local records, with CLOCK_MONOTONIC timestamps. Io thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ava::session_detail {

using clock = std::chrono::steady_clock;

/// Microseconds of a steady_clock time point (CLOCK_MONOTONIC on Linux): the log's time base.
inline std::int64_t mono_us(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

/// The events JSONL file. Io thread only. Lines are buffered and written on the session's
/// tick (and when the buffer grows), so the io thread never waits on the disk per event.
class event_log {
  public:
    /// Throws std::system_error (errc::bad_config) when the file cannot be written.
    explicit event_log(const std::string& path);
    ~event_log() { close(); }
    event_log(const event_log&) = delete;
    event_log& operator=(const event_log&) = delete;

    /// `event_json` must be one JSON value (object or string); it is redacted here.
    void write(clock::time_point t, std::string_view dir, std::string_view type,
               std::string_view event_json);
    void flush();
    void close();

  private:
    static constexpr std::size_t buffer_limit = 64u * 1024u;
    std::FILE* file_;
    std::string buf_;
};

}  // namespace ava::session_detail
