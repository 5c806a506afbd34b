// The session's events JSONL file (event_log.hpp).
#include "event_log.hpp"

#include <system_error>

#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"
#include "ava/core/log.hpp"

namespace ava::session_detail {

event_log::event_log(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {
    if (file_ == nullptr) {
        throw std::system_error(make_error_code(errc::bad_config),
                                "cannot write the event log '" + path + "'");
    }
    buf_.reserve(buffer_limit * 2);
}

void event_log::write(clock::time_point t, std::string_view dir, std::string_view type,
                      std::string_view event_json) {
    if (file_ == nullptr) return;
    buf_ += core::json_object()
                .field("t_mono_us", mono_us(t))
                .field("dir", dir)
                .field("type", type)
                .raw("event", log::redact(event_json))
                .str();
    buf_ += '\n';
    if (buf_.size() >= buffer_limit) flush();
}

void event_log::flush() {
    if (file_ == nullptr || buf_.empty()) return;
    std::fwrite(buf_.data(), 1, buf_.size(), file_);
    std::fflush(file_);
    buf_.clear();
}

void event_log::close() {
    flush();
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
}

}  // namespace ava::session_detail
