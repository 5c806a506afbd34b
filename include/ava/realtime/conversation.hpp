// The conversation: the sans-IO state machine with the rules of a realtime voice session
// (DESIGN.md sections 2-3): barge-in and truncation, one response at a time, the tool-call flow,
// transcript order, reconnect with re-seeding, session rollover, metrics.
//
// It owns no sockets, devices, threads or clocks. Every input carries `now` (steady clock).
// Inputs queue actions; the integrator takes them with drain() and carries them out in order.
//
// Threading: NOT thread-safe. Call every method from one thread (the io_context thread). The
// audio side reports playback through the io_context (post), never from the audio callback.
//
// ---- Contract with the integrator ----------------------------------------------------------
// Connection:
//  - Before the first socket opens, nothing is sent; mic audio is buffered (bounded).
//  - The app opens a socket and calls on_connected() once the WebSocket is up. The conversation
//    emits session.update first, then (after a reconnect) the re-seeded history, typed lines
//    that waited for the connection, then the mic audio buffered meanwhile.
//  - When a socket drops or a connect attempt fails, the app calls on_disconnected(). The
//    conversation answers with act::reconnect{delay} (wait `delay`, open a new socket, report
//    on_connected or on_disconnected again) or act::fatal (stop; do not retry).
//  - act::reconnect with `rollover` set is emitted while the socket is still open (session cap
//    ahead, quiet moment): the app closes the old socket itself WITHOUT reporting
//    on_disconnected for it, then opens a new one at once.
//  - After act::fatal every input is ignored and nothing more is emitted.
// Playback (audio side, via the io_context):
//  - act::play{item_id, pcm}: append to the one continuous playback ring, tagged by item.
//  - on_playback_started(item): the first sample of that item reached the device.
//  - on_playback_progress(item, heard): periodic; samples of the item the listener has heard
//    (rendered minus output latency still in flight).
//  - act::flush_playback{item}: fade and drop everything queued (all items), then report
//    on_playback_flushed(item, heard) with what was heard of that item. The conversation
//    sends the truncate (or delete) only after that report, so the value is what was heard.
//  - on_playback_idle(): the ring ran dry (everything queued has been heard). Confirm it on
//    the io_context thread (ring empty there) before calling: play actions are applied on that
//    thread, so a stale "idle" seen after a newer play would make a barge-in skip its flush.
//  - Every act::flush_playback must be answered by on_playback_flushed (the truncate and the
//    assistant's final line wait for it; a rollover waits for it too).
// Tools:
//  - act::call_tool{call_id, name, arguments}: run it (in parallel, with a timeout) and report
//    on_tool_result(call_id, output, is_error) exactly once per call, even on timeout.
//
// Decisions (documented here because integrators and tests rely on them):
//  - Tool calls of a response cancelled by a barge-in: results still go to the model as
//    function_call_output items (the calls ran and may have had side effects), but no
//    response.create follows: the user has the floor and the next response will see them.
//  - Tool calls pending when the connection drops: the new session has no such call_id, so their
//    results are discarded with a notice (the history is re-seeded as text only).
//  - A `server_error` error event is a warning only; if the server cannot go on it closes the
//    socket and the reconnect path takes over. A failed response.create is not retried.
//  - Mic audio is dropped on purpose (not counted) while muted, and with manual turns (push to
//    talk) between on_talk_end and the next on_talk_start.
//  - While disconnected, mic audio is buffered up to `offline_audio`; beyond that the OLDEST is
//    dropped (the latest speech matters most), counted, and reported as a warning.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "ava/core/pcm.hpp"
#include "ava/realtime/backoff.hpp"
#include "ava/realtime/close_policy.hpp"
#include "ava/realtime/conversation_types.hpp"
#include "ava/realtime/events.hpp"

namespace ava::realtime {

using steady_time = std::chrono::steady_clock::time_point;

// ---- actions ---------------------------------------------------------------------------------
namespace act {

/// Send this event on the socket (event_id already set).
struct send {
    client_event event;
};
/// Append decoded assistant audio to the playback ring, tagged with its item.
struct play {
    std::string item_id;
    std::vector<core::sample> pcm;
};
/// Barge-in: silence output now (short fade), drop everything queued, then report
/// on_playback_flushed(item_id, heard).
struct flush_playback {
    std::string item_id;
};
/// The item's audio is complete (no more deltas will come): a short item may start playing
/// below the jitter threshold.
struct end_playback {
    std::string item_id;
};
/// The straight mic path: send the 20 ms frame given to on_mic_frame() as
/// input_audio_buffer.append with this event_id, encoding it straight from `pcm` (no copy
/// here). `pcm` views the integrator's own buffer, so carry this action out in the drain()
/// that follows that on_mic_frame() call, before the buffer is reused.
struct send_audio {
    std::string event_id;
    core::pcm_view pcm;
};
/// Run a tool; report on_tool_result(call_id, ...) exactly once.
struct call_tool {
    std::string call_id;
    std::string name;
    std::string arguments_json;
};
/// One transcript line (or an update of it). Lines are keyed by item_id; `position` is the
/// item's index in conversation order when emitted. Non-final updates may come at any time;
/// FINAL lines are released in conversation order (a user line whose transcript is late blocks
/// later finals for at most `transcript_wait`; when it completes after that it is released with
/// its own position).
struct transcript {
    std::string item_id;
    speaker role = speaker::user;
    std::string text;     ///< for the assistant: what was heard (all of it without a barge-in)
    std::string unheard;  ///< assistant after a barge-in: the cut-off tail (not heard)
    bool final = false;
    bool failed = false;  ///< user: the transcription failed (text is empty)
    bool unheard_estimated =
        false;  ///< the heard/unheard split is estimated (see conversation.cpp)
    std::size_t position = 0;
};
struct status {
    conv_status value = conv_status::connecting;
};
/// Something the user may want to know; the conversation goes on.
struct notice {
    enum class level { info, warning };
    level lvl = level::info;
    std::string text;
};
/// Stop: the session cannot go on (bad key, no quota, 401/403/404, retries exhausted).
struct fatal {
    std::string message;
    std::error_code code;
};
/// Open a new socket after `delay` (see the contract above). `rollover`: the current socket is
/// still open and should be closed by the app (no on_disconnected for it).
struct reconnect {
    std::chrono::milliseconds delay{0};
    int attempt = 0;  ///< 1-based try number since the last good session; 0 for a rollover
    bool rollover = false;
    std::string reason;
};
}  // namespace act

using action =
    std::variant<act::send, act::send_audio, act::play, act::flush_playback, act::end_playback,
                 act::call_tool, act::transcript, act::status, act::notice, act::fatal,
                 act::reconnect, act::turn_metrics, act::usage_metrics>;

/// How a connection ended (or a connect attempt failed).
struct disconnect_info {
    int http_status = 0;  ///< HTTP status of a failed upgrade (401, 403, 404, 5xx); 0 = none
    int close_code = 0;   ///< WebSocket close code (1000, 1001, 1006, ...); 0 = none/network
    std::string reason;   ///< for messages (must not contain secrets)
    /// The connection's verdict (close_info::kind). Unset: classify_disconnect() of the codes
    /// above, the same rule the connection applies.
    std::optional<close_class> kind;
    std::error_code error;  ///< the connection's error, reported with a fatal verdict
};

class conversation {
  public:
    explicit conversation(conversation_options opts);

    // ---- inputs (each may queue actions; take them with drain()) ----
    /// The WebSocket is up. `unix_now_s`: wall-clock seconds, if the app wants session.created's
    /// expires_at to set the rollover deadline (otherwise max_session is used).
    void on_connected(steady_time now, std::optional<std::int64_t> unix_now_s = std::nullopt);
    void on_disconnected(const disconnect_info& info, steady_time now);
    /// A decoded server event (by value: audio is moved into the play action).
    void on_server_event(server_event ev, steady_time now);
    /// 24 kHz mono mic audio, any length; sent in frames of `frame_samples` (copied).
    void on_mic_audio(core::pcm_view pcm, steady_time now);
    /// One whole frame of `frame_samples` from the capture path: the conversation decides (mute,
    /// push to talk, offline buffering) and, to send it, queues act::send_audio viewing `frame`
    /// (drain before reusing the buffer). Any other length goes through on_mic_audio().
    void on_mic_frame(core::pcm_view frame, steady_time now);
    /// Typed user text: an item plus a response.create (queued behind an active response).
    void on_user_text(std::string_view text, steady_time now);
    /// Manual barge-in (a key or the API).
    void on_interrupt(steady_time now);
    /// Local barge-in (the session paused playback on its own voice detection, issue 15): while
    /// held, the server's speech_started does not cut the reply yet; the session then either
    /// confirms (the user kept talking: flush and truncate as usual) or withdraws (a backchannel
    /// such as "mm-hm": nothing is truncated, and the answer the server would give to it is
    /// cancelled). Releasing the hold with a barge-in still deferred confirms it.
    void hold_barge_in(bool on, steady_time now);
    [[nodiscard]] bool barge_in_deferred() const noexcept { return barge_in_deferred_; }
    void confirm_barge_in(steady_time now);
    void withdraw_barge_in(steady_time now);
    /// A backchannel by the local VAD while the service may still hear speech: withdrawn now if
    /// its speech has stopped, else at its speech_stopped, unless keep_barge_in() comes first
    /// (the user went on: "Stop, ... wait a moment" is one turn, and the service's speech has
    /// no second speech_started to confirm it with).
    void withdraw_barge_in_when_speech_stops(steady_time now);
    void keep_barge_in() noexcept { withdraw_on_stop_ = false; }
    /// Push to talk (manual turns, turn_detection null). Ignored with a notice under VAD.
    void on_talk_start(steady_time now);
    void on_talk_end(steady_time now);
    void set_muted(bool muted, steady_time now);
    void on_playback_started(std::string_view item_id, steady_time now);
    void on_playback_progress(std::string_view item_id, std::int64_t heard_samples,
                              steady_time now);
    void on_playback_flushed(std::string_view item_id, std::int64_t heard_samples, steady_time now);
    void on_playback_idle(steady_time now);
    /// A tool finished. `is_error`: `output` is an error text (or a JSON object) for the model.
    void on_tool_result(std::string_view call_id, std::string_view output, bool is_error,
                        steady_time now);
    /// A tool call is waiting for something other than its own work (the user's approval on
    /// screen): the filler, if one is spoken, says so instead of "checking". Empty clears it.
    void on_tool_waiting(std::string_view call_id, std::string_view why, steady_time now);
    /// The offered tools changed (an MCP server's list changed): kept for every later
    /// session.update and, when connected, sent now as a session.update of the tools alone.
    void set_tools(std::vector<tool_def> tools, steady_time now);
    /// Settings changed mid-session: the fields set in `patch` (voice, speed, turn detection,
    /// instructions, output modalities) replace those in the options, so every reconnect keeps
    /// them, and, when connected, go out now as a session.update of those fields alone.
    void update_session(session_config patch, steady_time now);
    /// The session is ending (quit, end of input, fatal): every line not yet out is released as
    /// far as it is known, in order. A reply still playing is cut at what was heard (its tail
    /// marked unheard), a reply whose text is incomplete keeps what arrived, and a user turn with
    /// no transcript yet is left out. Nothing is sent.
    void on_end(steady_time now);
    /// Timers: transcript wait timeouts and the rollover check. Call every ~250 ms.
    void on_tick(steady_time now);

    // ---- outputs ----
    /// Actions queued since the last drain, in the order they must be carried out.
    std::vector<action> drain();
    /// The same into `out` (cleared first): the two buffers are swapped, so both keep their
    /// capacity and a steady conversation drains without allocating.
    void drain(std::vector<action>& out);
    [[nodiscard]] session_summary summary() const;
    [[nodiscard]] conv_status current_status() const noexcept { return status_; }
    [[nodiscard]] bool stopped() const noexcept { return stopped_; }
    /// A response is in flight (response.create sent or response.created seen, no done yet).
    [[nodiscard]] bool response_in_flight() const noexcept {
        return response_ != response_state::none;
    }

  private:
    enum class link_state { never_connected, online, reconnecting };
    enum class response_state { none, requested, active };

    struct item_rec {
        std::string id;
        speaker role = speaker::user;
        bool is_message = true;  ///< function calls etc. take a position but carry no line
        bool seeded = false;
        std::string response_id;
        std::string text;  ///< transcript / typed text so far
        bool text_done = false;
        bool failed = false;
        bool has_audio = false;
        std::int64_t received = 0;  ///< samples received
        std::int64_t heard = 0;     ///< samples heard (progress / flushed)
        bool audio_done = false;
        bool played_out = false;
        bool flush_pending = false;  ///< flush_playback sent, waiting for the report
        bool flushed = false;        ///< drop later deltas
        bool cut = false;            ///< heard/unheard split decided
        std::string heard_text;
        std::string unheard_text;
        bool estimated = false;
        bool stale = false;    ///< from a previous connection: never truncate/delete it
        bool deleted = false;  ///< conversation.item.delete sent (pruned, or nothing heard)
        bool released = false;
        steady_time added_at{};
    };

    struct tool_batch {
        std::vector<std::string> call_ids;
        std::map<std::string, std::optional<std::string>> outputs;
        std::map<std::string, std::string> names;    ///< call id -> tool name
        std::map<std::string, std::string> waiting;  ///< call id -> what it waits for
        bool response_done = false;
        bool cancelled = false;
        bool filler_sent = false;
        steady_time started{};
    };

    void emit(action a) { out_.push_back(std::move(a)); }
    std::string next_event_id();
    /// Gives the event an event_id, remembers its type for error correlation, queues it.
    std::string send(client_event ev);
    /// A new event_id, remembered with `type` for error correlation.
    std::string register_event(std::string_view type);
    void notice(std::string text, bool warning);
    void fatal(std::string message, std::error_code code);
    void update_status();
    /// End of every input: release final lines, check the rollover, update the status.
    void after_input(steady_time now);
    /// Forget the state tied to the server conversation that just ended.
    void leave_connection(steady_time now);
    [[nodiscard]] bool online() const noexcept { return link_ == link_state::online; }
    [[nodiscard]] bool manual_turns() const noexcept;
    [[nodiscard]] bool server_interrupts() const noexcept;

    item_rec& ensure_item(const std::string& id, const std::optional<std::string>& prev,
                          speaker role, steady_time now);
    item_rec* find_item(std::string_view id);
    std::size_t position_of(std::string_view id) const;
    /// Forgets the oldest records once there are more than settled_records_kept and they are
    /// settled (line released, audio done, no tool batch): a day-long conversation's memory and
    /// the per-event walks over order_ stay bounded. Reseeding needs far fewer (reseed_max_items).
    void forget_settled();
    static constexpr std::size_t settled_records_kept = 256;
    void emit_line(item_rec& rec, bool final);
    void release_finals(steady_time now);
    void finish_item_text(item_rec& rec);
    /// Assistant transcript or text: a delta (dropped for cancelled responses, frozen after a
    /// flush) and the final text.
    void append_text(const std::string& response_id, const std::string& item_id,
                     std::string_view delta, steady_time now);
    void finish_text(const std::string& item_id, const std::string& text);
    void cut_item_text(item_rec& rec);
    [[nodiscard]] bool line_ready(const item_rec& rec) const;

    void request_response(steady_time now);
    void send_response_create(std::optional<response_overrides> overrides = std::nullopt);
    /// One spoken filler for a tool batch that runs longer than tool_filler_after.
    void check_slow_tools(steady_time now);
    void response_finished(const response_info& r, steady_time now);
    void barge_in(interrupt_source src, steady_time now);
    void add_tool_call(const std::string& response_id, const std::string& call_id,
                       const std::string& name, const std::string& args, steady_time now);
    void maybe_finish_batch(const std::string& response_id, steady_time now);
    void mark_played_out(item_rec& rec);
    void check_rollover(steady_time now);
    [[nodiscard]] std::chrono::milliseconds rollover_after(std::chrono::milliseconds cap) const;
    void handle_error(const error_info& e, steady_time now);
    void buffer_offline(std::vector<core::sample> frame);
    /// Re-seeds a new connection with the history; true when its last line is the user's (a
    /// question the old connection took but never answered: the caller asks for the answer).
    bool reseed();
    /// The memory lines (opts_.memory) as text items, on every connect.
    void send_memory();
    /// Deletes the server's items older than the last keep_turns user turns. Runs only after
    /// something that can change the answer (prune_due_), not on every mic frame.
    void prune_context();
    bool prune_due_ = false;

    void handle(server::error& e, steady_time now);
    void handle(server::session_created& e, steady_time now);
    void handle(server::session_updated& e, steady_time now);
    void handle(server::conversation_item_added& e, steady_time now);
    void handle(server::conversation_item_done& e, steady_time now);
    void handle(server::input_transcription_delta& e, steady_time now);
    void handle(server::input_transcription_completed& e, steady_time now);
    void handle(server::input_transcription_failed& e, steady_time now);
    void handle(server::speech_started& e, steady_time now);
    void handle(server::speech_stopped& e, steady_time now);
    void handle(server::input_audio_committed& e, steady_time now);
    void handle(server::response_created& e, steady_time now);
    void handle(server::response_done& e, steady_time now);
    void handle(server::output_item_added& e, steady_time now);
    void handle(server::output_item_done& e, steady_time now);
    void handle(server::output_audio_delta& e, steady_time now);
    void handle(server::output_audio_done& e, steady_time now);
    void handle(server::output_audio_transcript_delta& e, steady_time now);
    void handle(server::output_audio_transcript_done& e, steady_time now);
    void handle(server::output_text_delta& e, steady_time now);
    void handle(server::output_text_done& e, steady_time now);
    void handle(server::function_call_arguments_done& e, steady_time now);
    void handle(server::conversation_item_truncated& e, steady_time now);
    void handle(server::conversation_item_deleted& e, steady_time now);
    void handle(unknown_event& e, steady_time now);
    void handle(decode_error& e, steady_time now);
    template <class T>
    void handle(T&, steady_time) {}  // events with no effect on the rules

    conversation_options opts_;
    backoff backoff_;
    std::vector<action> out_;
    bool stopped_ = false;
    conv_status status_ = conv_status::connecting;
    bool status_emitted_ = false;

    // link
    link_state link_ = link_state::never_connected;
    bool expired_ = false;  ///< session_expired seen: the next drop reconnects at once
    /// Unreadable server events: the first few of each 10 s window are shown, the rest counted
    /// and reported in one line when the window ends (a flood must not flood the terminal).
    struct bad_event_window {
        steady_time start{};
        int shown = 0;
        int held = 0;
        std::string last;
    } bad_events_;
    void report_held_bad_events(steady_time now, bool window_over);
    /// The last server event (or our response.create) while a response is in flight.
    steady_time response_activity_{};
    void check_response_stall(steady_time now);
    std::optional<steady_time> rollover_at_;
    /// speech_stopped seen with a server that answers turns itself, no response.created yet.
    std::optional<steady_time> answer_due_;
    static constexpr std::chrono::seconds answer_wait{5};
    std::optional<std::int64_t> unix_at_connect_;
    steady_time connected_at_{};
    int generation_ = 0;  ///< connections so far (ids of seeded items carry it)
    std::uint64_t event_seq_ = 0;
    std::uint64_t item_seq_ = 0;
    std::deque<std::pair<std::string, std::string_view>> sent_ids_;  ///< event_id -> type

    // effective turn detection (from options, then session.updated)
    std::optional<turn_detection> turn_;
    bool transcribing_ = false;  ///< input transcription on: user audio items get lines

    // responses
    response_state response_ = response_state::none;
    std::string active_response_id_;
    std::string create_event_id_;  ///< the response.create in flight (requested)
    bool pending_create_ = false;
    bool cancel_when_created_ = false;
    bool drop_when_created_ = false;
    std::set<std::string> dropped_responses_;  ///< deltas of these are dropped
    // local barge-in (hold_barge_in)
    bool barge_in_held_ = false;
    bool barge_in_deferred_ = false;  ///< speech_started seen while held, not yet decided
    /// The response active when the deferred speech_started came (the one being heard).
    std::string deferred_response_id_;
    /// A withdrawn backchannel: the response the server creates for it is cancelled and dropped.
    bool skip_backchannel_answer_ = false;
    bool withdraw_on_stop_ = false;  ///< withdraw_barge_in_when_speech_stops, speech not over

    // items and transcripts (conversation order)
    std::map<std::string, item_rec, std::less<>> items_;
    std::vector<std::string> order_;
    /// Records dropped from the front of order_ (forget_settled): positions stay absolute.
    std::size_t order_base_ = 0;
    std::set<std::string, std::less<>> seed_ids_;
    std::string current_audio_item_;
    bool playback_active_ = false;
    std::vector<std::string> unsent_user_texts_;

    // tools
    std::map<std::string, tool_batch> batches_;  ///< by response id
    std::map<std::string, std::string, std::less<>> call_to_response_;
    std::set<std::string> abandoned_calls_;  ///< calls of a connection that dropped

    // mic
    bool muted_ = false;
    bool user_speaking_ = false;
    bool talking_ = false;  ///< push to talk held
    std::int64_t talk_samples_ = 0;
    std::vector<core::sample> mic_accum_;
    std::deque<std::vector<core::sample>> offline_frames_;
    std::int64_t offline_samples_ = 0;
    std::int64_t dropped_since_report_ = 0;

    // metrics
    std::optional<steady_time> turn_end_at_;
    int turn_no_ = 0;
    session_summary sum_;
};

}  // namespace ava::realtime
