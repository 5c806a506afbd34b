// ava::session's set-up, public inputs, waiting and end (session_impl.hpp).
#include "session_impl.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"

namespace ava {
namespace {

/// A C++ function registered with session::add_tool.
class function_tool final : public tools::tool {
  public:
    function_tool(tools::tool_spec spec, std::function<std::string(std::string_view)> fn)
        : spec_(std::move(spec)), fn_(std::move(fn)) {}
    [[nodiscard]] const tools::tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token /*stop*/) override {
        return fn_(args_json);
    }

  private:
    tools::tool_spec spec_;
    std::function<std::string(std::string_view)> fn_;
};

}  // namespace

void session::impl::add_tool(tools::tool_spec spec, std::function<std::string(std::string_view)> fn,
                             tools::tool_options topts) {
    if (started_.load()) {
        throw std::logic_error("ava::session::add_tool: tools are added before start()");
    }
    if (!fn) throw config_error("tool '" + spec.name + "' has no function");
    registry_.add(std::make_shared<function_tool>(std::move(spec), std::move(fn)),
                  std::move(topts));
}

// Caller's thread. Everything that can fail for a bad option fails here, before the io
// thread exists, so the caller gets one exception and nothing is left half-running.
void session::impl::start() {
    std::lock_guard lk(start_mu_);
    if (started_.load()) {
        throw std::system_error(make_error_code(errc::bad_config),
                                "ava::session: start() called twice");
    }
    // The offered tools go into every session.update; a registry change (an MCP server's new
    // list) is sent as a session.update of the tools alone. The listener is set first, so a
    // change made while this runs is not missed (a duplicate list is not sent twice).
    registry_.set_on_change([this] {
        post([this] {
            std::vector<realtime::tool_def> defs = extra_tool_defs_;
            for (auto& d : offered_tools()) defs.push_back(std::move(d));
            conv_->set_tools(std::move(defs), clock::now());
            drain();
        });
    });
    if (auto defs = offered_tools(); !defs.empty()) {
        auto& mine = opts_.conversation.session.tools;
        if (!mine.has_value()) mine.emplace();
        extra_tool_defs_ = *mine;
        mine->insert(mine->end(), defs.begin(), defs.end());
    } else if (opts_.conversation.session.tools.has_value()) {
        extra_tool_defs_ = *opts_.conversation.session.tools;
    }
    conv_ = std::make_unique<realtime::conversation>(opts_.conversation);

    device_ = std::move(opts_.device);
    if (!device_) {
        // Embedder audio: a null device renders at real time so the play clock (and so the
        // truncation point) follows the pace a listener would hear.
        device_ = audio::open_null_device(10);
        embedder_audio_ = true;
    }
    audio::engine_config ec = std::move(opts_.engine);
    ec.device_rate = device_->format().sample_rate;
    if (!opts_.record_wav.empty()) {
        recorder_ = std::make_unique<wav_recorder>(opts_.record_wav);
        recorder_->use_embed_mic = embedder_audio_;
        std::unique_ptr<audio::dsp_stage> inner =
            ec.dsp ? std::move(ec.dsp) : std::make_unique<audio::identity_dsp>();
        ec.dsp = std::make_unique<session_detail::recording_dsp>(std::move(inner), *recorder_);
    }
    try {
        engine_ = std::make_unique<audio::engine>(std::move(ec));
    } catch (const std::invalid_argument& e) {
        throw std::system_error(make_error_code(errc::bad_config), e.what());
    }
    player_ = std::make_unique<audio::item_player>(*engine_);
    if (!opts_.events_jsonl.empty()) events_ = std::make_unique<event_log>(opts_.events_jsonl);
    runner_ = std::make_unique<tools::runner>(registry_);

    start_time_ = clock::now();
    if (const std::error_code dev_ec = device_->start(*engine_)) {
        throw std::system_error(make_error_code(errc::no_device),
                                "cannot start the audio device (" +
                                    std::string(device_->description()) + "): " + dev_ec.message() +
                                    "; see --list-devices, or use --input/--output WAV files");
    }
    device_running_ = true;
    log_->info("session: starting ({}; {})", std::string(device_->description()),
               opts_.connection.target.url.str());

    work_.emplace(asio::make_work_guard(ioc_));
    started_.store(true);
    asio::post(ioc_, [this] { on_start(); });
    thread_ = std::thread([this] { run_io(); });
}

void session::impl::send_audio(core::pcm_view pcm) {
    post([this, v = std::vector<core::sample>(pcm.begin(), pcm.end())] {
        if (recorder_ && embedder_audio_) recorder_->push_embed_mic(v);
        conv_->on_mic_audio(v, clock::now());
        drain();
    });
}

void session::impl::send_text(std::string text) {
    post([this, t = std::move(text)] {
        conv_->on_user_text(t, clock::now());
        drain();
    });
}

void session::impl::end_input() {
    post([this] { input_ended_ = true; });
}

void session::impl::interrupt() {
    post([this] {
        local("interrupt.requested", "{}");
        conv_->on_interrupt(clock::now());
        drain();
    });
}

void session::impl::talk(bool pressed) {
    post([this, pressed] {
        if (pressed) {
            conv_->on_talk_start(clock::now());
        } else {
            conv_->on_talk_end(clock::now());
        }
        drain();
    });
}

void session::impl::set_muted(bool muted) {
    post([this, muted] {
        conv_->set_muted(muted, clock::now());
        drain();
    });
}

void session::impl::update_settings(realtime::session_config patch) {
    post([this, p = std::move(patch)]() mutable {
        conv_->update_session(std::move(p), clock::now());
        drain();
    });
}

void session::impl::played(std::string item_id, std::int64_t samples, bool stopped) {
    post([this, id = std::move(item_id), samples, stopped] {
        if (!stopped) return;  // progress: the real-time model drives the conversation meanwhile
        stopped_item_ = id;
        stopped_at_ = std::max<std::int64_t>(0, samples);
        if (held_flush_ && held_flush_->item_id == id) {
            release_flush(stopped_at_, true, clock::now());
        }
    });
}

void session::impl::stop() {
    if (!started_.load()) return;
    asio::post(ioc_, [this] { begin_end({session_result::end::stopped, {}, {}}); });
}

session_result session::impl::wait() {
    if (!started_.load()) return {};
    if (std::this_thread::get_id() == io_thread_id_.load()) {
        log_->error("session: wait() called from a session callback; not waiting");
        std::lock_guard lk(mu_);
        return result_.value_or(session_result{});
    }
    {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return done_; });
    }
    join();
    std::lock_guard lk(mu_);
    return result_.value_or(session_result{});
}

std::optional<session_result> session::impl::wait_for(std::chrono::milliseconds timeout) {
    if (!started_.load()) return session_result{};
    if (std::this_thread::get_id() == io_thread_id_.load()) return std::nullopt;
    {
        std::unique_lock lk(mu_);
        if (!cv_.wait_for(lk, timeout, [&] { return done_; })) return std::nullopt;
    }
    join();
    std::lock_guard lk(mu_);
    return result_.value_or(session_result{});
}

realtime::session_summary session::impl::summary() {
    return on_io([this] { return conv_ ? conv_->summary() : realtime::session_summary{}; });
}

audio::engine_stats session::impl::audio_stats() const {
    audio::engine_stats st = engine_ ? engine_->stats() : audio::engine_stats{};
    if (device_) st.host_xruns = device_->host_xruns();
    return st;
}

audio::dsp_report session::impl::audio_processing() const {
    return engine_ ? engine_->processing() : audio::dsp_report{};
}

audio::level session::impl::input_level() const {
    return engine_ ? engine_->input_level() : audio::level{};
}

audio::level session::impl::output_level() const {
    return engine_ ? engine_->output_level() : audio::level{};
}

std::optional<std::chrono::nanoseconds> session::impl::time_to_session_updated() const {
    const std::int64_t ns = to_session_updated_ns_.load();
    if (ns < 0) return std::nullopt;
    return std::chrono::nanoseconds{ns};
}

void session::impl::join() {
    std::lock_guard lk(join_mu_);
    if (thread_.joinable()) thread_.join();
}

void session::impl::run_io() {
    io_thread_id_.store(std::this_thread::get_id());
    for (;;) {
        try {
            ioc_.run();
            break;
        } catch (const std::exception& e) {
            // Nothing should throw here (callbacks are guarded); if something does, the
            // session ends with a clear message instead of terminating the process.
            log_->error("session: unexpected error on the io thread: {}", e.what());
            begin_end({session_result::end::fatal, std::string("internal error: ") + e.what(),
                       make_error_code(errc::protocol)});
        }
    }
    {
        std::lock_guard lk(mu_);
        done_ = true;
    }
    cv_.notify_all();
}

void session::impl::local(std::string_view type, std::string_view event_json) {
    record(clock::now(), "local", type, event_json);
}

void session::impl::record(clock::time_point t, std::string_view dir, std::string_view type,
                           std::string_view event_json) {
    if (events_) events_->write(t, dir, type, event_json);
    if (cbs_.on_event) call(cbs_.on_event, dir, type, std::string_view(log::redact(event_json)));
}

void session::impl::begin_end(session_result r) {
    if (ending_) return;
    ending_ = true;
    {
        std::lock_guard lk(mu_);
        result_ = std::move(r);
    }
    local("session.end", "{}");
    // Lines still playing or waiting are shown as far as they were heard: quitting mid-reply
    // must not erase the reply from the transcript.
    conv_->on_end(clock::now());
    drain();
    tick_timer_.cancel();
    reconnect_timer_.cancel();
    if (conn_ && !conn_closed_) {
        conn_->close(1000, "");
        // A server that never answers the close must not keep us waiting.
        close_timer_.expires_after(2s);
        close_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) complete_end();
        });
    } else {
        asio::post(ioc_, [this] { complete_end(); });
    }
}

void session::impl::complete_end() {
    if (ended_) return;
    ended_ = true;
    close_timer_.cancel();
    if (device_running_) {
        device_->stop();
        device_running_ = false;
    }
    runner_->shutdown();  // no tool callback runs after this
    if (recorder_) recorder_->close();
    if (events_) events_->close();
    conn_.reset();
    retired_.clear();
    {
        std::lock_guard lk(mu_);
        if (result_) {
            log_->info("session: ended ({})",
                       result_->how == session_result::end::fatal ? "fatal: " + result_->message
                       : result_->how == session_result::end::input_done ? "input done"
                                                                         : "stopped");
        }
    }
    session_result r;
    {
        std::lock_guard lk(mu_);
        if (result_) r = *result_;
    }
    call(cbs_.on_end, r);
    work_.reset();
    ioc_.stop();
}

}  // namespace ava
