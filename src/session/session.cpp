// ava::session: the public facade, forwarding to its implementation (session_impl.hpp).
#include "ava/session.hpp"

#include "session_impl.hpp"

namespace ava {

// ---- session ---------------------------------------------------------------------------------

session::session(session_options opts, session_callbacks cbs)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(cbs))) {}

session::~session() = default;

tools::registry& session::tools() {
    return impl_->registry();
}

void session::add_tool(tools::tool_spec spec, std::function<std::string(std::string_view)> fn) {
    impl_->add_tool(std::move(spec), std::move(fn), {});
}

void session::add_tool(tools::tool_spec spec, std::function<std::string(std::string_view)> fn,
                       tools::tool_options opts) {
    impl_->add_tool(std::move(spec), std::move(fn), std::move(opts));
}

void session::start() {
    impl_->start();
}
void session::send_audio(core::pcm_view pcm) {
    impl_->send_audio(pcm);
}
void session::send_text(std::string text) {
    impl_->send_text(std::move(text));
}
void session::end_input() {
    impl_->end_input();
}
void session::interrupt() {
    impl_->interrupt();
}
void session::talk(bool pressed) {
    impl_->talk(pressed);
}
void session::set_muted(bool muted) {
    impl_->set_muted(muted);
}
void session::update_settings(realtime::session_config patch) {
    impl_->update_settings(std::move(patch));
}
void session::played(std::string item_id, std::int64_t samples, bool stopped) {
    impl_->played(std::move(item_id), samples, stopped);
}
void session::approve(std::string call_id, bool yes) {
    impl_->approve(std::move(call_id), yes);
}
void session::cancel_tools() {
    impl_->cancel_tools();
}
void session::stop() {
    impl_->stop();
}
session_result session::wait() {
    return impl_->wait();
}
std::optional<session_result> session::wait_for(std::chrono::milliseconds timeout) {
    return impl_->wait_for(timeout);
}
realtime::session_summary session::summary() const {
    return impl_->summary();
}
audio::engine_stats session::audio_stats() const {
    return impl_->audio_stats();
}
audio::dsp_report session::audio_processing() const {
    return impl_->audio_processing();
}
audio::level session::input_level() const {
    return impl_->input_level();
}
audio::level session::output_level() const {
    return impl_->output_level();
}
std::optional<std::chrono::nanoseconds> session::time_to_session_updated() const {
    return impl_->time_to_session_updated();
}

}  // namespace ava
