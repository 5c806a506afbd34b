// ava::session's implementation: the io thread that wires the connection, codec, conversation,
// audio engine, item player and tool runner (see include/ava/session.hpp for the contract and
// include/ava/realtime/conversation.hpp for the integrator rules followed here). Private to
// src/session/; its methods are defined by concern:
//   session_impl.cpp     set-up, the public inputs, waiting, and the end
//   session_link.cpp     connections: open, messages in, close, reconnect, rollover
//   session_actions.cpp  carrying out the conversation's actions; tool results
//   session_tick.cpp     the io tick: mic frames out, playback reports in, counters, input done
//
// Threads:
//  - the io thread (owned here) runs the io_context: connection handlers, timers, the
//    conversation, the engine's control side (read/play/flush/service), files and callbacks;
//  - the device's realtime thread calls engine::process() only (never anything here);
//  - tool handlers run on the runner's worker threads; their results are posted back;
//  - public methods of ava::session post to the io thread (or read atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ava/audio/engine.hpp"
#include "ava/audio/item_player.hpp"
#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "ava/realtime/connection.hpp"
#include "ava/realtime/conversation.hpp"
#include "ava/session.hpp"
#include "ava/tools/runner.hpp"
#include "event_log.hpp"
#include "recording.hpp"

namespace ava {

// Shorthands for the session's own source files (this header is private to src/session/).
namespace asio = net::asio;
using session_detail::clock;
using session_detail::mono_us;
using namespace std::chrono_literals;

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
                  tools::tool_options topts);

    // Caller's thread. Everything that can fail for a bad option fails here, before the io
    // thread exists, so the caller gets one exception and nothing is left half-running.
    void start();

    // ---- public inputs (any thread) ------------------------------------------------------------
    void send_audio(core::pcm_view pcm);
    void send_text(std::string text);
    void end_input();
    void interrupt();
    void talk(bool pressed);
    void set_muted(bool muted);
    void update_settings(realtime::session_config patch);
    void played(std::string item_id, std::int64_t samples, bool stopped);
    void approve(std::string call_id, bool yes);
    void cancel_tools();
    void stop();

    session_result wait();

    std::optional<session_result> wait_for(std::chrono::milliseconds timeout);

    [[nodiscard]] realtime::session_summary summary();
    [[nodiscard]] audio::engine_stats audio_stats() const;
    [[nodiscard]] audio::dsp_report audio_processing() const;
    [[nodiscard]] audio::level input_level() const;
    [[nodiscard]] audio::level output_level() const;
    [[nodiscard]] std::optional<std::chrono::nanoseconds> time_to_session_updated() const;

  private:
    using event_log = session_detail::event_log;
    using wav_recorder = session_detail::wav_recorder;
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
        while (fut.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
            std::lock_guard lk(mu_);
            // The io thread ended before running the task: it is safe to read directly now.
            if (done_) {
                if (fut.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) break;
                (*task)();
                break;
            }
        }
        return fut.get();
    }

    void join();

    void run_io();

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

    void local(std::string_view type, std::string_view event_json);
    /// One event for the events file and the on_event callback.
    void record(clock::time_point t, std::string_view dir, std::string_view type,
                std::string_view event_json);
    [[nodiscard]] bool recording_events() const { return events_ || cbs_.on_event; }

    // ---- io thread: start, connection --------------------------------------------------------
    void on_start();

    void connect();

    void on_open(std::uint64_t gen);

    void on_message(std::uint64_t gen, std::string_view text);

    void on_close(std::uint64_t gen, const realtime::close_info& info);

    void retire_connection(bool close_it);

    // ---- io thread: actions
    // ----------------------------------------------------------------------
    void drain();

    void apply(realtime::act::send& a);

    // The straight mic path: the frame is encoded from the capture buffer into the message
    // the connection queues (one allocation, no intermediate copy of the samples).
    void apply(realtime::act::send_audio& a);

    void apply(realtime::act::play& a);

    void apply(realtime::act::end_playback& a);

    void apply(realtime::act::flush_playback& a);

    void apply(realtime::act::call_tool& a);

    void apply(realtime::act::transcript& a);

    void apply(realtime::act::status& a);

    void apply(realtime::act::notice& a);

    void apply(realtime::act::fatal& a);

    void apply(realtime::act::reconnect& a);

    void apply(realtime::act::turn_metrics& a);

    void apply(realtime::act::usage_metrics& a);

    void on_tool_done(tools::tool_result r);

    // ---- io thread: tool approval and the offered tools (session_tools.cpp) ------------------
    /// The offered tools as the model sees them (voice approval adds user_approved).
    std::vector<realtime::tool_def> offered_tools() const;
    [[nodiscard]] bool needs_approval(const std::string& name) const;
    [[nodiscard]] bool terminal_approval() const;
    /// Runs the call now, or first asks for the user's yes. Returns after queueing.
    void begin_tool_call(const realtime::act::call_tool& a);
    void submit_tool(const std::string& call_id, const std::string& name,
                     const std::string& arguments_json);
    /// Answers a call without running it (denied, timed out, needs a spoken yes).
    void answer_tool_now(const std::string& call_id, const std::string& name, std::string output,
                         bool ok);
    void settle_approval(const std::string& call_id, approval_request::state st,
                         std::string_view by);
    void record_approval(const std::string& call_id, const std::string& name,
                         std::string_view decision, std::string_view by);

    // ---- io thread: the tick -------------------------------------------------------------------
    // The tick phase-locks onto the capture cadence: it wakes ~1 ms after the device is due to
    // complete the next 20 ms mic frame, so a frame waits ~1 ms for its append instead of up to
    // a whole tick, and the io thread wakes 50 times a second rather than 100 (wake-ups were
    // most of ava-voice's CPU: see docs/benchmarks.md). Without frames (no capture, a stalled
    // device) it falls back to the plain `tick` cadence.
    void schedule_tick();

    clock::duration tick_period() const;

    void arm_tick(clock::time_point at);

    /// Brings the next tick forward to `at` when it is later (a flush to confirm, say).
    void hurry_tick(clock::time_point at);

    clock::time_point next_tick(clock::time_point now);

    void on_tick(clock::time_point now);

    /// The audio counters (stats.hpp) at debug level, once a second when any has changed, so a
    /// lost mic period or a gap in the reply can be matched with what the user noticed.
    void log_audio_counters();

    /// Hands the item player's reports to the conversation (and the event log), in order.
    void forward_playback(clock::time_point now);

    void check_input_done(clock::time_point now);

    /// client_playback: a flush report waits for the embedder's final position (or times out).
    void hold_flush(const std::string& item_id, std::int64_t model_heard, clock::time_point now);
    void release_flush(std::int64_t heard, bool reported, clock::time_point now);
    void check_held_flush(clock::time_point now);
    /// Local barge-in: pause on the local VAD, resume unless the service confirms.
    void local_barge_in(clock::time_point now);
    clock::time_point pause_since_{};
    clock::time_point pause_voice_until_{};
    std::uint64_t pause_flushes_ = 0;
    bool pause_confirmed_ = false;  ///< the service's speech_started confirmed, flush awaited
    /// Resumed after a short burst while the service's speech goes on: the withdrawal waits for
    /// its speech_stopped (conversation::withdraw_barge_in_when_speech_stops).
    bool backchannel_pending_ = false;
    clock::duration spoken_before_{};  ///< the bursts of this pause before a pending resume
    clock::time_point pause_confirmed_at_{};

    // ---- io thread: the end --------------------------------------------------------------------
    void begin_end(session_result r);

    void complete_end();

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
    std::unique_ptr<audio::item_player> player_;    // after engine_: refers to it
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
    bool input_ended_ = false;        ///< end_input(): as if the device's input were exhausted
    bool ever_open_ = false;          ///< a connection opened at least once this session
    std::string last_close_message_;  ///< why the last connection ended or failed
    std::vector<realtime::action> actions_;        // drain()'s buffer, capacity kept
    std::vector<audio::playback_report> reports_;  // forward_playback()'s buffer
    int tools_pending_ = 0;
    std::map<std::string, std::string> tool_args_;
    struct pending_approval {
        approval_request req;
        std::unique_ptr<asio::steady_timer> timer;
        std::uint64_t seq = 0;  ///< arrival order: approve("") takes the oldest
    };
    std::map<std::string, pending_approval> approvals_;  ///< terminal approvals, by call id
    std::uint64_t approval_seq_ = 0;
    std::vector<realtime::tool_def> extra_tool_defs_;  ///< the embedder's own raw tool defs
    std::set<std::string> voice_drafts_;  ///< "name\nargs" read back and awaiting a spoken yes
    clock::time_point next_conv_tick_{};
    clock::time_point next_counter_log_{};
    audio::engine_stats logged_stats_{};  // the counters as last logged
    clock::time_point tick_at_{};         // when the tick timer fires next
    clock::time_point last_captured_{};   // capture time of the newest mic frame read
    bool driven_ = false;                 // the device's periods run on the tick (device::drive)
    int frames_last_tick_ = 0;
    int late_looks_ = 0;
    std::optional<clock::time_point> quiet_since_;
    // client_playback: the flush waiting for the embedder's position, and positions it reported.
    struct held_flush {
        std::string item_id;
        std::int64_t model_heard = 0;
        clock::time_point deadline{};
    };
    std::optional<held_flush> held_flush_;
    std::string stopped_item_;  ///< the item the embedder last reported stopped, and where
    std::int64_t stopped_at_ = 0;
    std::string audio_item_;  ///< the item whose audio is arriving, and its samples so far
    std::int64_t audio_item_samples_ = 0;
};

}  // namespace ava
