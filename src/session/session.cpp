// ava::session: wires the connection, codec, conversation, audio engine and tool runner on one
// io thread (see include/ava/session.hpp for the contract and
// include/ava/realtime/conversation.hpp for the integrator rules followed here).
//
// Threads:
//  - the io thread (owned here) runs the io_context: connection handlers, timers, the
//    conversation, the engine's control side (read/play/flush/service), files and callbacks;
//  - the device's realtime thread calls engine::process() only (never anything in this file);
//  - tool handlers run on the runner's worker threads; their results are posted back;
//  - public methods of ava::session post to the io thread (or read atomics).
#include "ava/session.hpp"

#include <sndfile.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ava/audio/engine.hpp"
#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"
#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "ava/realtime/codec.hpp"
#include "ava/realtime/connection.hpp"
#include "ava/realtime/conversation.hpp"
#include "ava/tools/runner.hpp"

namespace ava {
namespace {

namespace asio = net::asio;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Received messages larger than this (after audio elision) are logged by size only: a 17 MiB
/// frame from a faulty server must not turn the event log into a disk-filler.
constexpr std::size_t max_logged_event = 256u * 1024u;
/// Mic audio of send_audio() kept for the recording's left channel (embedder mode).
constexpr std::size_t max_embed_mic = static_cast<std::size_t>(core::wire_rate) * 10;

std::int64_t mono_us(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

/// A JSON string literal (quotes included). Control characters become \u00XX.

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

/// The events JSONL file. Io thread only. Lines are buffered and written on a timer (and when
/// the buffer grows), so the io thread never waits on the disk per event.
class event_log {
  public:
    explicit event_log(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {
        if (file_ == nullptr) {
            throw std::system_error(make_error_code(errc::bad_config),
                                    "cannot write the event log '" + path + "'");
        }
        buf_.reserve(buffer_limit * 2);
    }
    ~event_log() { close(); }
    event_log(const event_log&) = delete;
    event_log& operator=(const event_log&) = delete;

    /// `event_json` must be one JSON value (object or string); it is redacted here.
    void write(clock::time_point t, std::string_view dir, std::string_view type,
               std::string_view event_json) {
        if (file_ == nullptr) return;
        buf_ += "{\"t_mono_us\":";
        buf_ += std::to_string(mono_us(t));
        buf_ += ",\"dir\":\"";
        buf_ += dir;
        buf_ += "\",\"type\":";
        buf_ += core::json_string(type);
        buf_ += ",\"event\":";
        buf_ += log::redact(event_json);
        buf_ += "}\n";
        if (buf_.size() >= buffer_limit) flush();
    }
    void flush() {
        if (file_ == nullptr || buf_.empty()) return;
        std::fwrite(buf_.data(), 1, buf_.size(), file_);
        std::fflush(file_);
        buf_.clear();
    }
    void close() {
        flush();
        if (file_ != nullptr) std::fclose(file_);
        file_ = nullptr;
    }

  private:
    static constexpr std::size_t buffer_limit = 64u * 1024u;
    std::FILE* file_;
    std::string buf_;
};

/// Two-channel session recording: left = microphone as sent, right = assistant as played.
/// Fed by recording_dsp in the engine's 10 ms DSP order (render, then capture), on the io
/// thread; written with libsndfile in ~1 s chunks.
class wav_recorder {
  public:
    explicit wav_recorder(const std::string& path) {
        SF_INFO info{};
        info.samplerate = core::wire_rate;
        info.channels = 2;
        info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
        file_ = sf_open(path.c_str(), SFM_WRITE, &info);
        if (file_ == nullptr) {
            throw std::system_error(
                make_error_code(errc::bad_config),
                "cannot write the recording '" + path + "': " + sf_strerror(nullptr));
        }
        interleaved_.reserve(static_cast<std::size_t>(core::wire_rate) * 2 * 2);
    }
    ~wav_recorder() { close(); }
    wav_recorder(const wav_recorder&) = delete;
    wav_recorder& operator=(const wav_recorder&) = delete;

    void speaker(core::pcm_view block) { speaker_.assign(block.begin(), block.end()); }
    void mic(core::pcm_view block) {
        for (std::size_t i = 0; i < block.size(); ++i) {
            core::sample m = block[i];
            if (use_embed_mic) {
                m = 0;
                if (!embed_mic_.empty()) {
                    m = embed_mic_.front();
                    embed_mic_.pop_front();
                }
            }
            interleaved_.push_back(m);
            interleaved_.push_back(i < speaker_.size() ? speaker_[i] : core::sample{0});
        }
        speaker_.clear();
        if (interleaved_.size() >= static_cast<std::size_t>(core::wire_rate) * 2) write_out();
    }
    /// Embedder mode: the mic audio given to send_audio() (the device's mic is silent).
    void push_embed_mic(core::pcm_view pcm) {
        embed_mic_.insert(embed_mic_.end(), pcm.begin(), pcm.end());
        while (embed_mic_.size() > max_embed_mic) embed_mic_.pop_front();
    }
    void close() {
        if (file_ == nullptr) return;
        write_out();
        sf_close(file_);
        file_ = nullptr;
    }

    bool use_embed_mic = false;

  private:
    void write_out() {
        if (file_ != nullptr && !interleaved_.empty()) {
            sf_writef_short(file_, interleaved_.data(),
                            static_cast<sf_count_t>(interleaved_.size() / 2));
        }
        interleaved_.clear();
    }

    SNDFILE* file_ = nullptr;
    std::vector<core::sample> speaker_;
    std::vector<short> interleaved_;
    std::deque<core::sample> embed_mic_;
};

/// Wraps the configured DSP stage and taps both directions for the recording.
class recording_dsp final : public audio::dsp_stage {
  public:
    recording_dsp(std::unique_ptr<audio::dsp_stage> inner, wav_recorder& rec)
        : inner_(std::move(inner)), rec_(rec) {}
    void render(core::pcm_view speaker) override {
        inner_->render(speaker);
        rec_.speaker(speaker);
    }
    void capture(core::pcm_span mic) override {
        inner_->capture(mic);
        rec_.mic(mic);
    }
    [[nodiscard]] bool voice_active() const noexcept override { return inner_->voice_active(); }

  private:
    std::unique_ptr<audio::dsp_stage> inner_;
    wav_recorder& rec_;
};

template <class T>
std::string_view server_type(const T& ev) {
    if constexpr (std::is_same_v<T, realtime::unknown_event>) {
        return ev.type;
    } else if constexpr (std::is_same_v<T, realtime::decode_error>) {
        return "decode_error";
    } else {
        return T::type;
    }
}

}  // namespace

// ---- impl ------------------------------------------------------------------------------------

class session::impl {
  public:
    impl(session_options opts, session_callbacks cbs)
        : opts_(std::move(opts)),
          cbs_(std::move(cbs)),
          tick_timer_(ioc_),
          reconnect_timer_(ioc_),
          close_timer_(ioc_),
          log_(log::get("rt")) {}

    ~impl() {
        stop();
        wait();
    }
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    tools::registry& registry() { return registry_; }

    void add_tool(tools::tool_spec spec, std::function<std::string(std::string_view)> fn,
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
    void start() {
        std::lock_guard lk(start_mu_);
        if (started_.load()) {
            throw std::system_error(make_error_code(errc::bad_config),
                                    "ava::session: start() called twice");
        }
        // The offered tools go into every session.update.
        const std::vector<tools::tool_spec> specs = registry_.specs();
        if (!specs.empty()) {
            auto& defs = opts_.conversation.session.tools;
            if (!defs.has_value()) defs.emplace();
            for (const tools::tool_spec& s : specs) {
                defs->push_back({.name = s.name,
                                 .description = s.description,
                                 .parameters_json = s.parameters_json});
            }
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
            ec.dsp = std::make_unique<recording_dsp>(std::move(inner), *recorder_);
        }
        try {
            engine_ = std::make_unique<audio::engine>(std::move(ec));
        } catch (const std::invalid_argument& e) {
            throw std::system_error(make_error_code(errc::bad_config), e.what());
        }
        if (!opts_.events_jsonl.empty()) events_ = std::make_unique<event_log>(opts_.events_jsonl);
        runner_ = std::make_unique<tools::runner>(registry_);

        start_time_ = clock::now();
        if (const std::error_code dev_ec = device_->start(*engine_)) {
            throw std::system_error(
                make_error_code(errc::no_device),
                "cannot start the audio device (" + std::string(device_->description()) + "): " +
                    dev_ec.message() + "; see --list-devices, or use --input/--output WAV files");
        }
        device_running_ = true;
        log_->info("session: starting ({}; {})", std::string(device_->description()),
                   opts_.connection.target.url.str());

        work_.emplace(asio::make_work_guard(ioc_));
        started_.store(true);
        asio::post(ioc_, [this] { on_start(); });
        thread_ = std::thread([this] { run_io(); });
    }

    // ---- public inputs (any thread) ------------------------------------------------------------
    void send_audio(core::pcm_view pcm) {
        post([this, v = std::vector<core::sample>(pcm.begin(), pcm.end())] {
            if (recorder_ && embedder_audio_) recorder_->push_embed_mic(v);
            conv_->on_mic_audio(v, clock::now());
            drain();
        });
    }
    void send_text(std::string text) {
        post([this, t = std::move(text)] {
            conv_->on_user_text(t, clock::now());
            drain();
        });
    }
    void interrupt() {
        post([this] {
            local("interrupt.requested", "{}");
            conv_->on_interrupt(clock::now());
            drain();
        });
    }
    void talk(bool pressed) {
        post([this, pressed] {
            if (pressed) {
                conv_->on_talk_start(clock::now());
            } else {
                conv_->on_talk_end(clock::now());
            }
            drain();
        });
    }
    void set_muted(bool muted) {
        post([this, muted] {
            conv_->set_muted(muted, clock::now());
            drain();
        });
    }
    void stop() {
        if (!started_.load()) return;
        asio::post(ioc_, [this] { begin_end({session_result::end::stopped, {}, {}}); });
    }

    session_result wait() {
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

    std::optional<session_result> wait_for(std::chrono::milliseconds timeout) {
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

    [[nodiscard]] realtime::session_summary summary() {
        return on_io([this] { return conv_ ? conv_->summary() : realtime::session_summary{}; });
    }
    [[nodiscard]] audio::engine_stats audio_stats() const {
        return engine_ ? engine_->stats() : audio::engine_stats{};
    }
    [[nodiscard]] audio::level input_level() const {
        return engine_ ? engine_->input_level() : audio::level{};
    }
    [[nodiscard]] audio::level output_level() const {
        return engine_ ? engine_->output_level() : audio::level{};
    }
    [[nodiscard]] std::optional<std::chrono::nanoseconds> time_to_session_updated() const {
        const std::int64_t ns = to_session_updated_ns_.load();
        if (ns < 0) return std::nullopt;
        return std::chrono::nanoseconds{ns};
    }

  private:
    struct play_state {
        std::string item_id;
        bool started = false;
        std::int64_t last_heard = 0;
        clock::time_point last_report{};
    };
    struct pending_flush {
        std::uint64_t generation = 0;
        std::string item_id;
        std::uint32_t tag = 0;
    };
    using conn_ptr = std::unique_ptr<realtime::connection>;

    /// Runs `fn` on the io thread (only while the session is live; before start() it waits
    /// in the queue).
    template <class F>
    void post(F fn) {
        asio::post(ioc_, [this, fn = std::move(fn)]() mutable {
            if (ending_) return;
            fn();
        });
    }

    /// Runs `fn` on the io thread and returns its value; directly when there is no io thread
    /// (not started, finished) or when already on it.
    template <class F>
    auto on_io(F fn) -> decltype(fn()) {
        if (!started_.load() || std::this_thread::get_id() == io_thread_id_.load()) return fn();
        {
            std::lock_guard lk(mu_);
            if (done_) return fn();
        }
        auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
        auto fut = task->get_future();
        asio::post(ioc_, [task] { (*task)(); });
        while (fut.wait_for(10ms) != std::future_status::ready) {
            std::lock_guard lk(mu_);
            // The io thread ended before running the task: it is safe to read directly now.
            if (done_) {
                if (fut.wait_for(0ms) == std::future_status::ready) break;
                (*task)();
                break;
            }
        }
        return fut.get();
    }

    void join() {
        std::lock_guard lk(join_mu_);
        if (thread_.joinable()) thread_.join();
    }

    void run_io() {
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

    /// Calls a user callback; an exception from it is logged, never propagated into the loop.
    template <class F, class... A>
    void call(const F& fn, A&&... args) {
        if (!fn) return;
        try {
            fn(std::forward<A>(args)...);
        } catch (const std::exception& e) {
            log_->error("session: a callback threw: {}", e.what());
        } catch (...) {
            log_->error("session: a callback threw");
        }
    }

    void local(std::string_view type, std::string_view event_json) {
        if (events_) events_->write(clock::now(), "local", type, event_json);
    }

    // ---- io thread: start, connection --------------------------------------------------------
    void on_start() {
        if (ending_) return;
        local("session.start", "{\"device\":" + core::json_string(device_->description()) +
                                   ",\"embedder_audio\":" + (embedder_audio_ ? "true" : "false") +
                                   "}");
        connect();
        schedule_tick();
    }

    void connect() {
        const std::uint64_t gen = ++conn_gen_;
        realtime::connection::handlers h;
        h.on_open = [this, gen] { on_open(gen); };
        h.on_message = [this, gen](std::string_view m) { on_message(gen, m); };
        h.on_close = [this, gen](const realtime::close_info& i) { on_close(gen, i); };
        conn_ = std::make_unique<realtime::connection>(ioc_, opts_.connection, std::move(h));
        conn_closed_ = false;
        local("connection.start", "{\"attempt\":" + std::to_string(gen) + "}");
        conn_->start();
    }

    void on_open(std::uint64_t gen) {
        if (gen != conn_gen_ || ending_) return;
        const auto now = clock::now();
        log_->info("session: connected to {}", opts_.connection.target.url.str());
        local("connection.open", "{\"attempt\":" + std::to_string(gen) + "}");
        const auto unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        conv_->on_connected(now, static_cast<std::int64_t>(unix_s));
        drain();
    }

    void on_message(std::uint64_t gen, std::string_view text) {
        if (gen != conn_gen_ || ending_) return;
        const auto now = clock::now();
        quiet_since_.reset();
        realtime::server_event ev = realtime::decode_server(text);
        const std::string_view type = std::visit([](const auto& e) { return server_type(e); }, ev);
        if (events_) {
            if (std::holds_alternative<realtime::decode_error>(ev)) {
                const auto& de = std::get<realtime::decode_error>(ev);
                events_->write(
                    now, "recv", type,
                    "{\"error\":" + core::json_string(de.message) +
                        ",\"field\":" + core::json_string(de.field) +
                        ",\"bytes\":" + std::to_string(text.size()) + ",\"text\":" +
                        core::json_string(text.substr(0, std::min<std::size_t>(text.size(), 512))) +
                        "}");
            } else {
                std::string logged = realtime::elide_audio(text);
                if (logged.size() > max_logged_event) {
                    logged = "{\"type\":" + core::json_string(type) +
                             ",\"elided_bytes\":" + std::to_string(text.size()) + "}";
                }
                events_->write(now, "recv", type, logged);
            }
        }
        if (std::holds_alternative<realtime::server::session_updated>(ev) &&
            to_session_updated_ns_.load() < 0) {
            to_session_updated_ns_.store(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_time_).count());
        }
        if (const auto* done = std::get_if<realtime::server::output_audio_done>(&ev)) {
            // The item's audio is complete: a short item may start below the start threshold.
            if (auto it = tags_.find(done->item_id); it != tags_.end()) {
                engine_->end_item(it->second);
            }
        }
        conv_->on_server_event(std::move(ev), now);
        drain();
    }

    void on_close(std::uint64_t gen, const realtime::close_info& info) {
        if (gen != conn_gen_) {
            // A connection we retired (rollover) finished closing: destroy it outside its
            // own handler.
            auto it = retired_.find(gen);
            if (it != retired_.end()) {
                std::shared_ptr<realtime::connection> dead(std::move(it->second));
                retired_.erase(it);
                asio::post(ioc_, [dead] {});
            }
            return;
        }
        conn_closed_ = true;
        const auto now = clock::now();
        local("connection.close", "{\"ws_code\":" + std::to_string(info.ws_code) +
                                      ",\"http_status\":" + std::to_string(info.http_status) +
                                      ",\"local\":" + (info.local ? "true" : "false") +
                                      ",\"stage\":" + core::json_string(info.stage) +
                                      ",\"message\":" + core::json_string(info.message) + "}");
        if (ending_) {
            asio::post(ioc_, [this] { complete_end(); });
            return;
        }
        if (info.local) return;  // we asked for it (not while ending: nothing to report)
        log_->warn("session: connection ended: {}",
                   info.message.empty() ? info.reason : info.message);
        const int s = info.http_status;
        if (info.fatal() && s != 401 && s != 403 && s != 404) {
            // Fatal for reasons the conversation cannot see (TLS verification, bad URL, proxy
            // authentication, another 4xx): retrying would fail the same way.
            begin_end({session_result::end::fatal,
                       info.message.empty() ? std::string("the connection failed") : info.message,
                       info.error ? info.error : make_error_code(errc::closed)});
            return;
        }
        realtime::disconnect_info d;
        d.http_status = info.http_status;
        d.close_code = info.ws_code;
        d.reason = info.message.empty() ? info.reason : info.message;
        conv_->on_disconnected(d, now);
        drain();
    }

    void retire_connection(bool close_it) {
        if (!conn_) return;
        if (close_it && !conn_closed_) {
            conn_->close(1000, "session rollover");
            retired_.emplace(conn_gen_, std::move(conn_));
        } else {
            std::shared_ptr<realtime::connection> dead(std::move(conn_));
            asio::post(ioc_, [dead] {});
        }
        conn_.reset();
    }

    // ---- io thread: actions
    // ----------------------------------------------------------------------
    void drain() {
        for (;;) {
            std::vector<realtime::action> acts = conv_->drain();
            if (acts.empty()) return;
            for (realtime::action& a : acts) {
                std::visit([this](auto& x) { apply(x); }, a);
            }
        }
    }

    void apply(realtime::act::send& a) {
        std::string text;
        if (auto* app = std::get_if<realtime::client::input_audio_buffer_append>(&a.event)) {
            text = realtime::encode_append(app->audio, app->event_id);
        } else {
            text = realtime::encode(a.event);
        }
        if (events_) {
            events_->write(clock::now(), "send", realtime::type_of(a.event),
                           realtime::elide_audio(text));
        }
        if (conn_) conn_->send(std::move(text));
    }

    void apply(realtime::act::play& a) {
        auto [it, fresh] = tags_.try_emplace(a.item_id, 0);
        if (fresh) {
            // The engine REQUIRES increasing tags (a flush drops every tag played so far).
            it->second = ++next_tag_;
            local("playback.item_queued", "{\"item_id\":" + core::json_string(a.item_id) +
                                              ",\"tag\":" + std::to_string(it->second) + "}");
        }
        const std::uint32_t tag = it->second;
        call(cbs_.on_audio, std::string_view(a.item_id), core::pcm_view(a.pcm));
        engine_->play(tag, a.pcm);
        auto [p, added] = playing_.try_emplace(tag);
        if (added) p->second.item_id = a.item_id;
        played_since_idle_ = true;
    }

    void apply(realtime::act::flush_playback& a) {
        const auto t = tags_.find(a.item_id);
        const std::uint32_t tag = t == tags_.end() ? 0 : t->second;
        const std::uint64_t gen = engine_->flush();
        local("playback.flush_requested", "{\"item_id\":" + core::json_string(a.item_id) +
                                              ",\"tag\":" + std::to_string(tag) +
                                              ",\"generation\":" + std::to_string(gen) + "}");
        // The flush drops everything queued: no other item will be heard any more.
        playing_.clear();
        played_since_idle_ = true;
        pending_flushes_.push_back({gen, a.item_id, tag});
        call(cbs_.on_interrupted);
        if (!device_running_) {
            complete_flushes(clock::now());
        } else {
            hurry_tick(clock::now() + 2ms);  // the device fades out within one period
        }
    }

    void apply(realtime::act::call_tool& a) {
        ++tools_pending_;
        tool_args_[a.call_id] = a.arguments_json;
        local("tool.start", "{\"call_id\":" + core::json_string(a.call_id) +
                                ",\"name\":" + core::json_string(a.name) + "}");
        tool_event ev;
        ev.call_id = a.call_id;
        ev.name = a.name;
        ev.arguments_json = a.arguments_json;
        call(cbs_.on_tool, ev);
        runner_->submit({a.call_id, a.name, a.arguments_json}, [this](tools::tool_result r) {
            // A runner thread: hand the result to the io thread.
            asio::post(ioc_, [this, r = std::move(r)]() mutable { on_tool_done(std::move(r)); });
        });
    }

    void apply(realtime::act::transcript& a) {
        transcript_line l;
        l.item_id = std::move(a.item_id);
        l.role = a.role;
        l.text = std::move(a.text);
        l.unheard = std::move(a.unheard);
        l.final = a.final;
        l.failed = a.failed;
        l.unheard_estimated = a.unheard_estimated;
        l.position = a.position;
        call(cbs_.on_transcript, l);
    }

    void apply(realtime::act::status& a) { call(cbs_.on_status, a.value); }

    void apply(realtime::act::notice& a) {
        const bool warning = a.lvl == realtime::act::notice::level::warning;
        if (warning) {
            log_->warn("{}", a.text);
        } else {
            log_->info("{}", a.text);
        }
        call(cbs_.on_notice, std::string_view(a.text), warning);
    }

    void apply(realtime::act::fatal& a) {
        log_->error("session: {}", a.message);
        begin_end({session_result::end::fatal, a.message, a.code});
    }

    void apply(realtime::act::reconnect& a) {
        if (ending_) return;
        local("connection.reconnect", "{\"delay_ms\":" + std::to_string(a.delay.count()) +
                                          ",\"attempt\":" + std::to_string(a.attempt) +
                                          ",\"rollover\":" + (a.rollover ? "true" : "false") +
                                          ",\"reason\":" + core::json_string(a.reason) + "}");
        log_->info("session: {} (new connection in {} ms)", a.reason, a.delay.count());
        // A rollover closes the still-open socket itself, without an on_disconnected report.
        retire_connection(a.rollover);
        reconnect_timer_.expires_after(a.delay);
        reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || ending_) return;
            connect();
        });
    }

    void apply(realtime::act::turn_metrics& a) {
        local("turn.latency", "{\"turn\":" + std::to_string(a.turn) +
                                  ",\"latency_ms\":" + std::to_string(a.latency.count()) + "}");
        call(cbs_.on_turn, a);
    }

    void apply(realtime::act::usage_metrics& a) { call(cbs_.on_usage, a); }

    void on_tool_done(tools::tool_result r) {
        if (ending_) return;
        --tools_pending_;
        local("tool.done", "{\"call_id\":" + core::json_string(r.call_id) +
                               ",\"ok\":" + (r.ok ? "true" : "false") +
                               ",\"elapsed_ms\":" + std::to_string(r.elapsed.count()) + "}");
        tool_event ev;
        ev.call_id = r.call_id;
        ev.name = r.name;
        if (auto it = tool_args_.find(r.call_id); it != tool_args_.end()) {
            ev.arguments_json = std::move(it->second);
            tool_args_.erase(it);
        }
        ev.finished = true;
        ev.ok = r.ok;
        ev.output_json = r.output_json;
        ev.elapsed = r.elapsed;
        call(cbs_.on_tool, ev);
        conv_->on_tool_result(r.call_id, r.output_json, !r.ok, clock::now());
        drain();
    }

    // ---- io thread: the tick -------------------------------------------------------------------
    // The tick phase-locks onto the capture cadence: it wakes ~1 ms after the device is due to
    // complete the next 20 ms mic frame, so a frame waits ~1 ms for its append instead of up to
    // a whole tick, and the io thread wakes 50 times a second rather than 100 (wake-ups were
    // most of ava-voice's CPU: see docs/benchmarks.md). Without frames (no capture, a stalled
    // device) it falls back to the plain `tick` cadence.
    void schedule_tick() { arm_tick(clock::now() + tick_period()); }

    clock::duration tick_period() const {
        return opts_.tick.count() > 0 ? clock::duration(opts_.tick) : clock::duration(20ms);
    }

    void arm_tick(clock::time_point at) {
        tick_at_ = at;
        tick_timer_.expires_at(at);  // cancels a pending wait (its handler sees the abort)
        tick_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec || ending_) return;
            const auto now = clock::now();
            // A device without a clock of its own (WAV files) runs its due periods here, on
            // this thread, and the next tick is its next period: one wake-up does both.
            const auto device_next =
                device_running_ ? device_->drive(now) : std::optional<clock::time_point>{};
            driven_ = device_next.has_value();
            on_tick(now);
            if (!ending_)
                arm_tick(device_next ? std::max(*device_next, now + 100us) : next_tick(now));
        });
    }

    /// Brings the next tick forward to `at` when it is later (a flush to confirm, say).
    void hurry_tick(clock::time_point at) {
        if (!ending_ && !driven_ && at < tick_at_) arm_tick(at);
    }

    clock::time_point next_tick(clock::time_point now) {
        constexpr auto frame = std::chrono::milliseconds(core::frame_ms);
        clock::time_point next = now + tick_period();
        if (frames_last_tick_ >= 8) return now + 1ms;  // a fast device is ahead: keep draining
        if (last_captured_ != clock::time_point{}) {
            const clock::time_point due = last_captured_ + frame + 1ms;
            if (due > now) {
                next = std::min(next, due);
            } else if (late_looks_ < 2 && now - due < frame) {
                ++late_looks_;  // the frame is late (a bursty device): look again soon, twice
                next = std::min(next, now + 3ms);
            }
        }
        // A flush the device performs within one period: confirm it promptly (truncate).
        if (!pending_flushes_.empty()) next = std::min(next, now + 2ms);
        return std::max(next, now + 1ms);
    }

    void on_tick(clock::time_point now) {
        // Microphone: every complete 20 ms frame the engine has, in order.
        audio::capture_frame f;
        frames_last_tick_ = 0;
        while (engine_->read(f)) {
            ++frames_last_tick_;
            last_captured_ = f.captured;
            late_looks_ = 0;
            if (embedder_audio_) continue;  // the null device's silence; send_audio feeds the mic
            if (events_) {
                events_->write(now, "local", "mic.frame",
                               "{\"captured_us\":" + std::to_string(mono_us(f.captured)) +
                                   ",\"samples\":" + std::to_string(f.pcm.size()) + "}");
            }
            conv_->on_mic_audio(f.pcm, now);
        }
        engine_->service();
        report_playback(now);
        if (now >= next_conv_tick_) {
            conv_->on_tick(now);
            // The event log reaches the disk at this pace too: on the tick, not on a timer of its
            // own (a separate 4 Hz wake-up cost more than the write).
            if (events_) events_->flush();
            next_conv_tick_ = now + 250ms;
        }
        drain();
        check_input_done(now);
    }

    void report_playback(clock::time_point now) {
        for (auto& [tag, p] : playing_) {
            const std::int64_t heard = engine_->heard_samples(tag);
            if (heard > 0 && !p.started) {
                p.started = true;
                // rendered_us: when the device period that took its first sample ran (this
                // tick may be up to a period later).
                local("playback.first_heard",
                      "{\"item_id\":" + core::json_string(p.item_id) +
                          ",\"tag\":" + std::to_string(tag) + ",\"rendered_us\":" +
                          std::to_string(mono_us(engine_->first_rendered_at(tag))) + "}");
                conv_->on_playback_started(p.item_id, now);
            }
            if (heard > p.last_heard &&
                (now - p.last_report >= 50ms || heard >= engine_->received_samples(tag))) {
                p.last_heard = heard;
                p.last_report = now;
                conv_->on_playback_progress(p.item_id, heard, now);
            }
        }
        complete_flushes(now);
        // Idle is confirmed here, on the io thread, where every play() has been applied: a
        // drained engine now means nothing newer is queued (conversation.hpp contract).
        if (played_since_idle_ && pending_flushes_.empty() && engine_->drained()) {
            played_since_idle_ = false;
            for (auto it = playing_.begin(); it != playing_.end();) {
                const std::int64_t heard = engine_->heard_samples(it->first);
                if (heard > it->second.last_heard) {
                    conv_->on_playback_progress(it->second.item_id, heard, now);
                }
                it = playing_.erase(it);
            }
            local("playback.idle", "{}");
            conv_->on_playback_idle(now);
        }
    }

    void complete_flushes(clock::time_point now) {
        while (!pending_flushes_.empty()) {
            const pending_flush& f = pending_flushes_.front();
            if (device_running_ && !engine_->flush_completed(f.generation)) return;
            const std::int64_t heard = f.tag == 0 ? 0 : engine_->heard_samples(f.tag);
            local("playback.flushed",
                  "{\"item_id\":" + core::json_string(f.item_id) +
                      ",\"tag\":" + std::to_string(f.tag) +
                      ",\"heard_samples\":" + std::to_string(heard) + ",\"done_us\":" +
                      std::to_string(device_running_ ? mono_us(engine_->last_flush_done_at())
                                                     : mono_us(now)) +
                      ",\"received_samples\":" +
                      std::to_string(f.tag == 0 ? 0 : engine_->received_samples(f.tag)) + "}");
            const std::string item = f.item_id;
            pending_flushes_.pop_front();
            conv_->on_playback_flushed(item, heard, now);
        }
    }

    void check_input_done(clock::time_point now) {
        if (!opts_.stop_when_input_done) return;
        const bool quiet = device_->input_exhausted() && engine_->drained() &&
                           !played_since_idle_ && pending_flushes_.empty() && tools_pending_ == 0 &&
                           !conv_->response_in_flight();
        if (!quiet) {
            quiet_since_.reset();
            return;
        }
        if (!quiet_since_) quiet_since_ = now;
        if (now - *quiet_since_ >= opts_.linger) {
            begin_end({session_result::end::input_done, {}, {}});
        }
    }

    // ---- io thread: the end --------------------------------------------------------------------
    void begin_end(session_result r) {
        if (ending_) return;
        ending_ = true;
        {
            std::lock_guard lk(mu_);
            result_ = std::move(r);
        }
        local("session.end", "{}");
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

    void complete_end() {
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
        work_.reset();
        ioc_.stop();
    }

    // ---- state
    // ----------------------------------------------------------------------------------- Declared
    // first: destroyed last (timers and connections refer to it).
    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;

    session_options opts_;
    session_callbacks cbs_;
    tools::registry registry_;

    asio::steady_timer tick_timer_;
    asio::steady_timer reconnect_timer_;
    asio::steady_timer close_timer_;
    std::shared_ptr<spdlog::logger> log_;

    std::unique_ptr<wav_recorder> recorder_;
    std::unique_ptr<event_log> events_;
    std::unique_ptr<realtime::conversation> conv_;
    std::unique_ptr<audio::engine> engine_;
    std::unique_ptr<audio::duplex_device> device_;  // after engine_: destroyed (stopped) first
    std::unique_ptr<tools::runner> runner_;         // after registry_: destroyed first
    conn_ptr conn_;
    std::map<std::uint64_t, conn_ptr> retired_;

    // control (any thread)
    std::mutex start_mu_;
    std::atomic<bool> started_{false};
    std::thread thread_;
    std::mutex join_mu_;
    std::atomic<std::thread::id> io_thread_id_{};
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;                     // guarded by mu_
    std::optional<session_result> result_;  // guarded by mu_
    std::atomic<std::int64_t> to_session_updated_ns_{-1};
    clock::time_point start_time_{};

    // io thread only
    bool embedder_audio_ = false;
    bool device_running_ = false;
    bool ending_ = false;
    bool ended_ = false;
    std::uint64_t conn_gen_ = 0;
    bool conn_closed_ = true;
    std::map<std::string, std::uint32_t> tags_;  // assistant item -> engine tag
    std::uint32_t next_tag_ = 0;
    std::map<std::uint32_t, play_state> playing_;
    std::deque<pending_flush> pending_flushes_;
    bool played_since_idle_ = false;
    int tools_pending_ = 0;
    std::map<std::string, std::string> tool_args_;
    clock::time_point next_conv_tick_{};
    clock::time_point tick_at_{};        // when the tick timer fires next
    clock::time_point last_captured_{};  // capture time of the newest mic frame read
    bool driven_ = false;                // the device's periods run on the tick (device::drive)
    int frames_last_tick_ = 0;
    int late_looks_ = 0;
    std::optional<clock::time_point> quiet_since_;
};

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
void session::interrupt() {
    impl_->interrupt();
}
void session::talk(bool pressed) {
    impl_->talk(pressed);
}
void session::set_muted(bool muted) {
    impl_->set_muted(muted);
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
