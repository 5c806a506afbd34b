// ava::session: a realtime voice session as a library (what ava-voice itself is built on).
//
// It wires the pieces on ONE io thread of its own: the TLS WebSocket (realtime::connection), the
// codec, the sans-IO conversation (realtime::conversation, which holds every protocol rule), the
// audio engine with its device (or the embedder's own audio), and the tool runner (handlers run
// on worker threads; results are posted back). Embedders register callbacks and call
// send_audio / send_text / interrupt; nothing here exposes Asio, Beast, JSON or PortAudio, and
// only the value types of those pieces are included (their options, status and metrics headers),
// never their classes: an embedder compiles against this file and the pimpl, not their members.
//
// Threads: every public method may be called from any thread (they post to the io thread),
// except add_tool()/tools(), which are for set-up before start(). Callbacks run on the io thread:
// keep them short and never call wait() from one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ava/audio/device.hpp"
#include "ava/audio/engine_config.hpp"
#include "ava/audio/stats.hpp"
#include "ava/core/pcm.hpp"
#include "ava/realtime/connection_options.hpp"
#include "ava/realtime/conversation_types.hpp"
#include "ava/tools/registry.hpp"
#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"

namespace ava {

struct session_options {
    /// Where to connect and how (URL, auth headers, TLS, proxy, keepalive).
    realtime::connection_options connection;
    /// The rules' settings. conversation.session.tools is filled from the tool registry at
    /// start() (the offered tools), so leave it empty unless you want extra raw tool defs.
    realtime::conversation_options conversation;

    /// The audio device the engine drives (PortAudio, WAV or null). Empty: the embedder does its
    /// own audio: feed the mic with send_audio() and play what on_audio delivers. The play clock
    /// is then modelled by a null device rendering at real time (truncation assumes the listener
    /// heard the audio at the pace it would play).
    std::unique_ptr<audio::duplex_device> device;
    /// Engine settings (start threshold, fade, ring sizes, DSP stage). device_rate is taken from
    /// the device.
    audio::engine_config engine;

    /// Every event sent and received as JSON lines with CLOCK_MONOTONIC timestamps
    /// (`t_mono_us`), audio payloads elided, secrets redacted. Empty: none.
    std::string events_jsonl;
    /// Two-channel recording: left the microphone (as sent), right the assistant (as played).
    std::string record_wav;
    /// Headless: end the session once the device's input is exhausted, no response or tool call
    /// is pending and everything queued has been played (plus `linger` of quiet).
    bool stop_when_input_done = false;
    std::chrono::milliseconds linger{1500};
    /// The longest the io thread waits between looks at the engine (mic frames to send, playback
    /// progress, backlog). While the device captures, the io thread instead phase-locks onto its
    /// 20 ms frames (it wakes ~1 ms after each is due), so this only bounds the idle cadence.
    std::chrono::milliseconds tick{20};

    /// Function names that need the user's yes before they run, besides the tools the registry
    /// marks require_approval (MCP tools with destructive annotations, configured ones).
    std::vector<std::string> require_approval;
    /// Who gives that yes. terminal: on_approval is called and the call waits for approve()
    /// (or `approval_timeout`, which counts as no). voice: the model is told the call needs the
    /// user's spoken yes and must call again with user_approved=true. automatic: terminal when
    /// on_approval is set, voice otherwise.
    tools::approval_mode approval = tools::approval_mode::automatic;
    std::chrono::milliseconds approval_timeout{30000};

    /// The embedder plays the audio itself and reports what it played (session::played()), as
    /// the relay's browser does: on a barge-in, the truncation waits up to `playback_report_wait`
    /// for the embedder's final position of the item (sent with `stopped`) and uses it; without
    /// a report it falls back to the real-time estimate. Only without a device.
    bool client_playback = false;
    std::chrono::milliseconds playback_report_wait{500};
    /// Local barge-in (with an echo canceller that has converged): when the local VAD hears
    /// the user over the assistant, playback pauses at once; it is flushed and truncated as
    /// usual when the service confirms (speech started), and resumes where it paused, with a
    /// fade, when the service does not confirm within `barge_in_window` or the user spoke for
    /// less than `barge_in_min_speech` (a backchannel such as "mm-hm").
    bool local_barge_in = true;
    std::chrono::milliseconds barge_in_window{700};
    std::chrono::milliseconds barge_in_min_speech{500};
};

/// A transcript line or an update of it (see realtime::act::transcript for the ordering rules).
struct transcript_line {
    std::string item_id;
    realtime::speaker role = realtime::speaker::user;
    std::string text;     ///< assistant: what was heard
    std::string unheard;  ///< assistant after a barge-in: the cut-off tail
    bool final = false;
    bool failed = false;
    bool unheard_estimated = false;
    std::size_t position = 0;
};

/// A tool call starting (no result yet) or finished.
struct tool_event {
    std::string call_id;
    std::string name;
    std::string arguments_json;
    bool finished = false;
    bool ok = false;
    std::string output_json;  ///< when finished: what the model receives
    std::chrono::milliseconds elapsed{0};
};

/// A tool call waiting for the user's yes (terminal approval), and how it was settled.
struct approval_request {
    enum class state { pending, approved, denied, timed_out, cancelled };
    std::string call_id;
    std::string name;
    std::string arguments_json;
    std::chrono::milliseconds timeout{0};
    state st = state::pending;
};

/// How a session ended.
struct session_result {
    enum class end {
        stopped,     ///< stop() was called, or a signal
        input_done,  ///< headless: the input ended and the last reply played
        fatal,       ///< the service refused us (auth, quota, not found) or retries ran out
    };
    end how = end::stopped;
    std::string message;   ///< for fatal: one clear line
    std::error_code code;  ///< for fatal
};

struct session_callbacks {
    std::function<void(const transcript_line&)> on_transcript;
    /// Assistant audio as it arrives (24 kHz mono), before playback. Optional with a device.
    std::function<void(std::string_view item_id, core::pcm_view pcm)> on_audio;
    std::function<void(const tool_event&)> on_tool;
    std::function<void(realtime::conv_status)> on_status;
    /// Something worth telling the user; the session goes on.
    std::function<void(std::string_view text, bool warning)> on_notice;
    /// The assistant was interrupted (barge-in by voice, key or push-to-talk).
    std::function<void()> on_interrupted;
    std::function<void(const realtime::act::turn_metrics&)> on_turn;
    std::function<void(const realtime::act::usage_metrics&)> on_usage;
    /// A tool call needs the user's yes (state pending), or a pending one was settled.
    /// Answer a pending one with session::approve(). Setting this selects terminal approval
    /// when session_options::approval is automatic.
    std::function<void(const approval_request&)> on_approval;
    /// Playback must stop now (a barge-in): drop everything queued; `item_id` was playing. With
    /// session_options::client_playback, answer with played(item_id, samples, true).
    std::function<void(std::string_view item_id)> on_stop_audio;
    /// All of an item's audio has arrived (`samples` in all, 24 kHz).
    std::function<void(std::string_view item_id, std::int64_t samples)> on_audio_done;
    /// Every event sent and received (dir "send", "recv" or "local"), as the events JSONL file
    /// has them: audio payloads replaced by their size, secrets redacted. Setting it costs a
    /// JSON text per event (the mic's appends included).
    std::function<void(std::string_view dir, std::string_view type, std::string_view json)>
        on_event;
    /// The session has ended (any way; also after stop()). Called once, on the io thread, as
    /// its last callback: do not call wait() from it.
    std::function<void(const session_result&)> on_end;
};

class session {
  public:
    session(session_options opts, session_callbacks cbs);
    ~session();  ///< stop() and wait()
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// The registry whose offered tools go into session.update. Set-up only (before start()).
    tools::registry& tools();
    /// Registers a C++ function as a tool (before start()). `fn` runs on a worker thread with
    /// validated arguments and returns JSON text; throwing reports the error to the model.
    void add_tool(tools::tool_spec spec, std::function<std::string(std::string_view args)> fn);
    /// As above, with registry options (a per-tool timeout, disabled, ...).
    void add_tool(tools::tool_spec spec, std::function<std::string(std::string_view args)> fn,
                  tools::tool_options opts);

    /// Starts the io thread, the device and the connection. Throws std::system_error when the
    /// device cannot start (ava::errc::no_device with advice) or options are invalid.
    void start();

    void send_audio(core::pcm_view pcm);  ///< embedder audio (without a device), 24 kHz mono
    void send_text(std::string text);     ///< a typed user message, then a response
    /// The embedder's input has ended (typed lines piped on stdin reached EOF): the session
    /// ends as it does at the end of an input file, once the last reply has been played.
    void end_input();
    void interrupt();         ///< cancel the reply now (with truncation)
    void talk(bool pressed);  ///< push-to-talk (manual turns)
    void set_muted(bool muted);
    /// Changes settings mid-session (a session.update of the fields set in `patch`: voice,
    /// speed, turn detection, instructions); they are kept for every reconnect too.
    void update_settings(realtime::session_config patch);
    /// What the embedder has played of `item_id` (24 kHz samples), with
    /// session_options::client_playback: while it plays, and with `stopped` when it stops the
    /// item (a barge-in or the end of its audio).
    void played(std::string item_id, std::int64_t samples, bool stopped);
    /// Answers a pending approval (empty `call_id`: the oldest one). Any thread.
    void approve(std::string call_id, bool yes);
    /// Cancels every running tool call and pending approval: the model hears that the user
    /// cancelled it. Any thread.
    void cancel_tools();
    /// Ends the session gracefully (closes the socket, stops the device, finishes files).
    void stop();

    /// Blocks until the session has ended and everything is closed.
    session_result wait();
    /// Waits at most `timeout`; nullopt if still running.
    std::optional<session_result> wait_for(std::chrono::milliseconds timeout);

    [[nodiscard]] realtime::session_summary summary() const;
    [[nodiscard]] audio::engine_stats audio_stats() const;
    /// What the audio processing stage did so far (echo handling, its ERLE estimate).
    [[nodiscard]] audio::dsp_report audio_processing() const;
    [[nodiscard]] audio::level input_level() const;
    [[nodiscard]] audio::level output_level() const;
    /// Start (connect call) to on_open of the first connection, and to session.updated.
    [[nodiscard]] std::optional<std::chrono::nanoseconds> time_to_session_updated() const;

  private:
    class impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ava
