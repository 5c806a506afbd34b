// ava-realtime-sim, private: one simulated Realtime session and the state all sessions share.
//
// The session's members are defined by concern across several files:
//   session.cpp            lifecycle, the output queue, reading and dispatching client events,
//                          session.update, the session cap
//   session_audio.cpp      the input audio buffer: append, VAD, commit, clear, transcription
//   session_items.cpp      conversation.item.* (create and its validation, delete, retrieve,
//                          truncate)
//   session_responses.cpp  response.create/cancel: turns from the scenario, generation, pacing
//   faults.cpp             fault injection (and parse_fault)
//   event_log.cpp          the JSONL event log
// server.cpp accepts connections, answers the HTTP upgrade (auth, rejections) and starts a
// session per WebSocket. Threads: see server.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sndfile.h>
#include <nlohmann/json.hpp>

#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "ava/sim/server.hpp"
#include "scenario.hpp"
#include "session_schema.hpp"
#include "wire_audio.hpp"

namespace ava::sim::detail {

using namespace ava::net;
using json = nlohmann::json;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

inline constexpr std::size_t max_append_bytes = 15u * 1024 * 1024;  // 15 MiB per append (decoded)
/// The uncommitted input audio kept (15 minutes at 24 kHz); older samples are dropped, so a
/// client that streams without commits (or faster than real time: 712 MB in 20 s was seen)
/// cannot grow the simulator's memory without bound.
inline constexpr std::size_t max_uncommitted_samples = 15u * 60 * 24000;
inline constexpr std::int64_t samples_per_ms = 24;

// ---- small helpers (session.cpp) ---------------------------------------------------------------

std::string random_id(std::string_view prefix);
/// Microseconds on the steady clock (comparable with the client's own timestamps).
std::int64_t mono_us();
std::int64_t text_tokens(std::size_t chars);
std::vector<std::string> split_words(const std::string& text);
std::string normalise(const std::string& s);

// ---- the event log's view of an event (event_log.cpp)
// --------------------------------------------

/// The JSONL copy of an event: base64 audio replaced by its decoded byte count (an integer).
json loggable(const json& ev, std::int64_t& audio_bytes);

// ---- state shared by every session ------------------------------------------------------------

class session;

struct shared_state {
    options opts;
    detail::scenario scen;
    std::optional<ssl::context> tls;
    std::shared_ptr<spdlog::logger> log;

    std::mutex events_mutex;
    std::ofstream events;

    mutable std::mutex sum_mutex;
    summary sum;

    std::mutex registry_mutex;
    std::vector<std::weak_ptr<session>> sessions;
    std::atomic<int> live{0};
    std::atomic<bool> stopping{false};

    // The JSONL event log (event_log.cpp). One line: fixed field order (t_mono_us, dir,
    // session, type, extras, event) so the log reads well with grep and jq alike.
    void write_line(std::string_view dir, const std::string& session_id, std::string_view type,
                    const json& extra, const json* event);
    /// A wire event, its audio replaced by the decoded byte count (see loggable).
    void write_event(std::string_view dir, const std::string& session_id, const json& ev);
    void write_raw_event(std::string_view dir, const std::string& session_id, std::string_view type,
                         const json& extra);
    template <class F>
    void update(std::size_t index, F&& f) {
        std::lock_guard lock(sum_mutex);
        f(sum, sum.per_session.at(index));
    }
};
// ---- the WebSocket, with its stream type erased -----------------------------------------------

class transport {
  public:
    virtual ~transport() = default;
    virtual asio::awaitable<void> read(beast::flat_buffer& buf, bool& text, error_code& ec) = 0;
    virtual asio::awaitable<void> write(const std::string& text, error_code& ec) = 0;
    virtual asio::awaitable<void> close(std::uint16_t code, const std::string& reason,
                                        error_code& ec) = 0;
    /// Drops the TCP connection without a close frame.
    virtual void abort() = 0;
};
// ---- conversation items -------------------------------------------------------------------------

struct conv_item {
    json item;                        ///< wire form, without audio bytes
    std::vector<std::int16_t> audio;  ///< user input audio or generated assistant audio (24 kHz)
    std::string transcript;           ///< assistant: transcript of the audio generated so far
    std::string full_text;            ///< assistant: the whole planned text
    std::string expected_user;        ///< user audio: the scenario's text for its transcript
    bool assistant_audio = false;
    bool truncated = false;
};
using item_ptr = std::shared_ptr<conv_item>;

struct response_state {
    explicit response_state(const asio::any_io_executor& ex) : timer(ex) {}
    std::string id;
    asio::steady_timer timer;
    std::string cancel_reason;  ///< non-empty = cancel requested
    bool in_conversation = true;
    bool text_mode = false;
    std::string voice = "marin";
    double speed = 1.0;
    std::string format = "audio/pcm";
    json metadata = nullptr;
    json max_output_tokens = "inf";
    std::string text;
    std::vector<detail::scenario_call> calls;
    json output = json::array();
    std::int64_t in_text_tokens = 0;
    std::int64_t in_audio_tokens = 0;
    std::int64_t cached_text_tokens = 0;   ///< of in_text_tokens: the prompt prefix cache
    std::int64_t cached_audio_tokens = 0;  ///< of in_audio_tokens
    std::int64_t out_audio_samples = 0;
    std::size_t out_text_chars = 0;
    bool first_delta_sent = false;
};

struct upgrade_info {
    std::string model;
    bool beta = false;
    bool azure = false;
};
class session : public std::enable_shared_from_this<session> {
  public:
    session(shared_state& st, std::unique_ptr<transport> tr, asio::any_io_executor ex,
            upgrade_info info);
    ~session();
    asio::awaitable<void> run();

    /// From any thread: close this session (server stopping).
    void post_close(std::uint16_t code, std::string reason);

  private:
    // ---- output queue (one writer per WebSocket) ---------------------------------------------
    struct out_msg {
        enum class kind { text, stall, close, abort } k = kind::text;
        std::string text;
        int ms = 0;
        std::uint16_t code = 1000;
        std::string reason;
    };

    void enqueue(out_msg m);
    asio::awaitable<void> writer(std::shared_ptr<session> self);
    void request_close(std::uint16_t code, const std::string& reason);

    // ---- sending events -------------------------------------------------------------------
    void send(json ev);
    void send_error(const api_error& e, const json& client_event_id);

    // ---- faults ----------------------------------------------------------------------------
    void run_faults(const std::string& type);
    void inject(const fault& f);

    // ---- reading client events ---------------------------------------------------------------
    asio::awaitable<void> reader();
    void handle(const std::string& msg);

    // ---- session.update ----------------------------------------------------------------------
    void on_session_update(const json& ev, const json& eid);
    const json& turn_detection() const { return config_["audio"]["input"]["turn_detection"]; }
    void configure_vad();
    std::string input_format() const;

    // ---- input audio -------------------------------------------------------------------------
    void on_append(const json& ev, const json& eid);
    void record(const std::vector<std::int16_t>& pcm);
    std::int64_t buf_start() const { return in_total_ - static_cast<std::int64_t>(in_buf_.size()); }
    void run_vad();
    void on_speech_started();
    void on_speech_stopped();
    void on_commit(const json& eid);
    void on_clear();
    std::string last_item_id() const;
    static json id_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
    void commit_audio(std::int64_t from, std::int64_t to, const std::string& item_id);

    // ---- late input transcription -------------------------------------------------------------
    std::string expected_user_text() const;
    void arm_transcript_fallback();
    void flush_transcripts();

    // ---- conversation.item.* ---------------------------------------------------------------
    std::ptrdiff_t find_item(const std::string& id) const;
    void item_not_found(const std::string& id, const json& eid);
    std::optional<api_error> check_item(json& item, item_ptr& out);
    void on_item_create(const json& ev, const json& eid);
    void on_item_delete(const json& ev, const json& eid);
    void on_item_retrieve(const json& ev, const json& eid);
    void on_truncate(const json& ev, const json& eid);

    // ---- responses ---------------------------------------------------------------------------
    void on_response_create(const json& ev, const json& eid);
    void on_response_cancel(const json& ev, const json& eid);
    void cancel_response(const std::string& reason);
    const detail::scenario_turn& next_turn();
    void start_response(const json& overrides);
    json response_object(const response_state& r, const std::string& status, const json& details,
                         const json& usage) const;

    /// When audio (or text) at `media_ms` into a reply is due at the session's pace.
    clock::time_point due_at(clock::time_point t0, double media_ms) const;

    /// Waits until `deadline` unless the response is cancelled; false = stop now.
    asio::awaitable<bool> pace_until(response_state& r, clock::time_point deadline);
    void after_first_delta(response_state& r);
    item_ptr add_output_item(response_state& r, json item);
    void finish_output_item(response_state& r, const item_ptr& ci, std::size_t index);
    asio::awaitable<void> stream_message(response_state& r);
    void emit_function_call(response_state& r, const detail::scenario_call& call);
    asio::awaitable<void> run_response(std::shared_ptr<session> self,
                                       std::shared_ptr<response_state> r);

    // ---- session cap and end -------------------------------------------------------------------
    asio::awaitable<void> cap_watch(std::shared_ptr<session> self);
    void finish(const std::string& fallback);

    shared_state& st_;
    std::unique_ptr<transport> tr_;
    asio::any_io_executor ex_;
    upgrade_info info_;
    std::string id_;
    std::size_t index_ = 0;
    json config_;

    std::deque<out_msg> outq_;
    asio::steady_timer write_wake_;
    asio::steady_timer cap_timer_;
    asio::steady_timer transcript_timer_;
    bool closing_ = false;
    bool ended_ = false;
    bool write_failed_ = false;
    std::string summary_reason_;

    // input audio: in_buf_ holds the uncommitted tail, ending at session sample in_total_
    std::vector<std::int16_t> in_buf_;
    std::int64_t in_total_ = 0;
    std::int64_t vad_pos_ = 0;
    std::optional<std::uint8_t> odd_byte_;
    detail::energy_vad vad_;
    std::string speech_item_id_;
    /// server_vad's idle_timeout_ms counts input audio from here: the session's start, the end
    /// of the last response or of the last speech (session samples).
    std::int64_t idle_from_ = 0;
    bool buffer_capped_ = false;  ///< the uncommitted buffer reached its limit (warned once)
    void check_idle_timeout();
    SNDFILE* wav_ = nullptr;
    bool wav_failed_ = false;

    std::vector<item_ptr> conv_;
    std::vector<item_ptr> pending_transcripts_;
    std::shared_ptr<response_state> resp_;
    /// The last response's prompt, part by part (instructions, then each item: its id and
    /// text/audio tokens): a new prompt that starts with the same parts is billed as cached.
    struct prompt_part {
        std::string key;
        std::int64_t text = 0;
        std::int64_t audio = 0;
        bool operator==(const prompt_part&) const = default;
    };
    std::vector<prompt_part> last_prompt_;
    bool voice_locked_ = false;

    // scenario progress
    std::size_t turn_index_ = 0;
    int turn_number_ = 0;
    detail::scenario_turn generic_turn_;
    std::vector<fault> turn_faults_;
    std::map<std::string, int> turn_event_counts_;
    std::vector<std::pair<std::string, std::string>> pending_calls_;  // call_id, name
    std::vector<std::pair<std::string, std::string>> outputs_;        // name, output
    std::string followup_;
};

}  // namespace ava::sim::detail
