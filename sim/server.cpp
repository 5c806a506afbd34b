// ava-realtime-sim: the server. See include/ava/sim/server.hpp and docs/simulator.md.
//
// Deliberately independent of the client: the wire JSON is built and parsed here with
// nlohmann/json, never through ava/realtime/codec.hpp, so a mistake in the client's codec shows
// up as a protocol error instead of being mirrored by a simulator that shares it.
//
// Threads: an io_context run by `options::threads` workers. Each connection (HTTP upgrade, then
// the session) runs on its own strand; every coroutine of a session (reader, writer, responder,
// timers) is spawned on that strand, so session state needs no locks. The only state shared
// between sessions (event log, summary, session registry) sits in `shared_state` behind mutexes.
// Voice synthesis runs inline on the session strand (espeak-ng is much faster than real time and
// its result is cached); it blocks only that worker thread.
#include "ava/sim/server.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <sndfile.h>
#include <nlohmann/json.hpp>

#include "ava/core/base64.hpp"
#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "scenario.hpp"
#include "session_schema.hpp"
#include "voice.hpp"
#include "wire_audio.hpp"

namespace ava::sim {
namespace {

using namespace ava::net;
using json = nlohmann::json;
using detail::api_error;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;

constexpr std::size_t max_append_bytes = 15u * 1024 * 1024;  // 15 MiB per append (decoded)
constexpr std::int64_t samples_per_ms = 24;

std::string random_id(std::string_view prefix) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
    std::string id(prefix);
    for (int i = 0; i < 20; ++i) id += alphabet[pick(rng)];
    return id;
}

std::int64_t mono_us() {
    // steady_clock is CLOCK_MONOTONIC on Linux: comparable with the client's own timestamps.
    return std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch())
        .count();
}

std::int64_t b64_decoded_size(const std::string& s) {
    if (s.empty()) return 0;
    std::int64_t n = static_cast<std::int64_t>(s.size()) / 4 * 3;
    if (s.back() == '=') --n;
    if (s.size() >= 2 && s[s.size() - 2] == '=') --n;
    return n;
}

/// The JSONL copy of an event: base64 audio replaced by its decoded byte count (an integer).
json loggable(const json& ev, std::int64_t& audio_bytes) {
    audio_bytes = -1;
    const std::string type = ev.value("type", "");
    auto strip = [&](json& obj, const char* key) {
        if (obj.is_object() && obj.contains(key) && obj[key].is_string()) {
            const std::int64_t n = b64_decoded_size(obj[key].get_ref<const std::string&>());
            audio_bytes = std::max<std::int64_t>(audio_bytes, 0) + n;
            obj[key] = n;
        }
    };
    if (type == "input_audio_buffer.append" || type == "response.output_audio.delta") {
        json copy = ev;
        strip(copy, type == "input_audio_buffer.append" ? "audio" : "delta");
        return copy;
    }
    if ((type == "conversation.item.create" || type == "conversation.item.retrieved") &&
        ev.contains("item") && ev["item"].is_object() && ev["item"].contains("content") &&
        ev["item"]["content"].is_array()) {
        json copy = ev;
        for (json& part : copy["item"]["content"]) strip(part, "audio");
        return copy;
    }
    return ev;
}

std::int64_t text_tokens(std::size_t chars) {
    return static_cast<std::int64_t>((chars + 3) / 4);
}

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

std::string normalise(const std::string& s) {
    std::string out;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    }
    return out;
}

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

    // One JSONL line: fixed field order (t_mono_us, dir, session, type, extras, event) so the
    // log reads well with grep and jq alike.
    void write_line(std::string_view dir, const std::string& session_id, std::string_view type,
                    const json& extra, const json* event) {
        if (!events.is_open()) return;
        auto str = [](std::string_view v) { return json(std::string(v)).dump(); };
        std::string line = "{\"t_mono_us\":" + std::to_string(mono_us()) + ",\"dir\":" + str(dir) +
                           ",\"session\":" + str(session_id) + ",\"type\":" + str(type);
        for (const auto& [k, v] : extra.items())
            line += "," + str(k) + ":" + v.dump(-1, ' ', false, json::error_handler_t::replace);
        if (event != nullptr)
            line += ",\"event\":" + event->dump(-1, ' ', false, json::error_handler_t::replace);
        line += "}\n";
        std::lock_guard lock(events_mutex);
        events << line;
        events.flush();
    }
    void write_event(std::string_view dir, const std::string& session_id, const json& ev) {
        if (!events.is_open()) return;
        std::int64_t audio_bytes = -1;
        const json copy = ev.is_object() ? loggable(ev, audio_bytes) : ev;
        json extra = json::object();
        if (audio_bytes >= 0) extra["audio_bytes"] = audio_bytes;
        write_line(dir, session_id, ev.is_object() ? ev.value("type", "") : "", extra, &copy);
    }
    void write_raw_event(std::string_view dir, const std::string& session_id, std::string_view type,
                         const json& extra) {
        write_line(dir, session_id, type, extra, nullptr);
    }
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

template <class Ws>
class ws_transport final : public transport {
  public:
    explicit ws_transport(Ws ws) : ws_(std::move(ws)) {}
    asio::awaitable<void> read(beast::flat_buffer& buf, bool& text, error_code& ec) override {
        co_await ws_.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
        text = ws_.got_text();
    }
    asio::awaitable<void> write(const std::string& text, error_code& ec) override {
        ws_.text(true);
        co_await ws_.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
    }
    asio::awaitable<void> close(std::uint16_t code, const std::string& reason,
                                error_code& ec) override {
        websocket::close_reason cr(code);
        cr.reason = reason.substr(0, 120);
        co_await ws_.async_close(cr, asio::redirect_error(asio::use_awaitable, ec));
    }
    void abort() override {
        error_code ignored;
        beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

  private:
    Ws ws_;
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
    std::int64_t out_audio_samples = 0;
    std::size_t out_text_chars = 0;
    bool first_delta_sent = false;
};

struct upgrade_info {
    std::string model;
    bool beta = false;
    bool azure = false;
};

// ---- one session ------------------------------------------------------------------------------

class session : public std::enable_shared_from_this<session> {
  public:
    session(shared_state& st, std::unique_ptr<transport> tr, asio::any_io_executor ex,
            upgrade_info info)
        : st_(st),
          tr_(std::move(tr)),
          ex_(std::move(ex)),
          info_(std::move(info)),
          id_(random_id("sess_")),
          write_wake_(ex_),
          cap_timer_(ex_),
          transcript_timer_(ex_) {
        config_ = detail::default_session(info_.model, st_.opts.voice);
        config_["id"] = id_;
        const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        config_["expires_at"] = now_s + static_cast<std::int64_t>(st_.opts.session_cap_s);
        configure_vad();
        std::lock_guard lock(st_.sum_mutex);
        index_ = st_.sum.per_session.size();
        st_.sum.sessions++;
        st_.sum.per_session.push_back(session_summary{.id = id_});
    }

    ~session() {
        if (wav_ != nullptr) sf_close(wav_);
    }

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        st_.live++;
        {
            std::lock_guard lock(st_.registry_mutex);
            st_.sessions.push_back(self);
        }
        st_.write_raw_event("conn", id_, "connection.open",
                            {{"model", info_.model}, {"azure", info_.azure}});
        asio::co_spawn(ex_, writer(self), asio::detached);
        if (info_.beta) {
            // The beta shape is retired: 101, then this error, then a close (as the real one).
            send_error({"beta_api_shape_disabled",
                        "The Realtime beta API shape (OpenAI-Beta: realtime=v1) is disabled. "
                        "Use the GA interface.",
                        ""},
                       nullptr);
            request_close(1000, "beta_api_shape_disabled");
        } else {
            send({{"type", "session.created"}, {"session", config_}});
            asio::co_spawn(ex_, cap_watch(self), asio::detached);
        }
        co_await reader();
        finish("client closed");
        st_.live--;
    }

    /// From any thread: close this session (server stopping).
    void post_close(std::uint16_t code, std::string reason) {
        asio::post(ex_, [self = shared_from_this(), code, r = std::move(reason)] {
            self->request_close(code, r);
        });
    }

  private:
    // ---- output queue (one writer per WebSocket) ---------------------------------------------
    struct out_msg {
        enum class kind { text, stall, close, abort } k = kind::text;
        std::string text;
        int ms = 0;
        std::uint16_t code = 1000;
        std::string reason;
    };

    void enqueue(out_msg m) {
        if (closing_ || ended_) return;
        if (m.k == out_msg::kind::close || m.k == out_msg::kind::abort) closing_ = true;
        outq_.push_back(std::move(m));
        write_wake_.cancel();
    }

    asio::awaitable<void> writer(std::shared_ptr<session> self) {
        (void)self;  // keeps the session alive while the writer runs
        error_code ec;
        for (;;) {
            while (!outq_.empty() && !write_failed_) {
                out_msg m = std::move(outq_.front());
                outq_.pop_front();
                switch (m.k) {
                    case out_msg::kind::text:
                        co_await tr_->write(m.text, ec);
                        if (ec) write_failed_ = true;
                        break;
                    case out_msg::kind::stall: {
                        asio::steady_timer t(ex_);
                        t.expires_after(std::chrono::milliseconds(m.ms));
                        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                        break;
                    }
                    case out_msg::kind::close: {
                        st_.write_raw_event("conn", id_, "connection.close_sent",
                                            {{"code", m.code}, {"reason", m.reason}});
                        co_await tr_->close(m.code, m.reason, ec);
                        write_failed_ = true;
                        // A peer that never answers the close frame must not keep us alive.
                        asio::steady_timer t(ex_);
                        t.expires_after(std::chrono::seconds(2));
                        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                        if (!ended_) tr_->abort();
                        break;
                    }
                    case out_msg::kind::abort:
                        st_.write_raw_event("conn", id_, "connection.abort_sent", json::object());
                        tr_->abort();
                        write_failed_ = true;
                        break;
                }
            }
            if (write_failed_) {
                if (!ended_) tr_->abort();  // unblocks the reader
                co_return;
            }
            if (ended_) co_return;
            write_wake_.expires_at(clock::time_point::max());
            co_await write_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    void request_close(std::uint16_t code, const std::string& reason) {
        if (summary_reason_.empty()) summary_reason_ = reason;
        enqueue({.k = out_msg::kind::close, .code = code, .reason = reason});
    }

    // ---- sending events -------------------------------------------------------------------
    void send(json ev) {
        if (closing_ || ended_) return;
        const std::string type = ev["type"].get<std::string>();
        run_faults(type);
        if (closing_) return;  // a close fault fired before this event
        ev["event_id"] = random_id("event_");
        st_.write_event("out", id_, ev);
        enqueue({.text = ev.dump(-1, ' ', false, json::error_handler_t::replace)});
    }

    void send_error(const api_error& e, const json& client_event_id) {
        json err = {{"type", e.type},
                    {"code", e.code.empty() ? json(nullptr) : json(e.code)},
                    {"message", e.message},
                    {"param", e.param.empty() ? json(nullptr) : json(e.param)},
                    {"event_id", client_event_id}};
        const std::string code = e.code.empty() ? e.type : e.code;
        st_.update(index_, [&](summary& s, session_summary& ss) {
            s.errors_sent++;
            ss.errors_sent++;
            ss.error_codes.push_back(code);
        });
        send({{"type", "error"}, {"error", err}});
    }

    // ---- faults ----------------------------------------------------------------------------
    void run_faults(const std::string& type) {
        const int count = ++turn_event_counts_[type];
        auto matches = [&](const fault& f, bool from_turn) {
            if (f.at != type || f.nth != count) return false;
            return from_turn || f.turn == 0 || f.turn == turn_number_;
        };
        std::vector<fault> firing;
        for (const fault& f : st_.opts.faults)
            if (matches(f, false)) firing.push_back(f);
        for (const fault& f : turn_faults_)
            if (matches(f, true)) firing.push_back(f);
        for (const fault& f : firing) inject(f);
    }

    void inject(const fault& f) {
        st_.log->info("sim {}: injecting fault {} before {} #{} (turn {})", id_, f.kind, f.at,
                      f.nth, turn_number_);
        st_.update(index_, [&](summary& s, session_summary& ss) {
            s.faults_injected++;
            ss.faults_injected++;
            ss.faults.push_back(f.kind);
        });
        st_.write_raw_event("fault", id_, f.kind,
                            {{"at", f.at}, {"nth", f.nth}, {"turn", turn_number_}});
        if (f.kind == "close") {
            summary_reason_ = "fault: close";
            if (f.abrupt)
                enqueue({.k = out_msg::kind::abort});
            else
                enqueue({.k = out_msg::kind::close,
                         .code = static_cast<std::uint16_t>(f.code),
                         .reason = f.reason});
        } else if (f.kind == "malformed_json") {
            enqueue({.text = R"({"type":"response.output_audio.delta","delta":"AAAA",)"});
        } else if (f.kind == "unknown_event") {
            json ev = {{"type", "sim.unknown_event"},
                       {"event_id", random_id("event_")},
                       {"note", "an event type no client knows"}};
            st_.write_event("out", id_, ev);
            enqueue({.text = ev.dump()});
        } else if (f.kind == "oversized_frame") {
            std::string frame = R"({"type":"sim.oversized","event_id":")" + random_id("event_") +
                                R"(","padding":")";
            const std::size_t tail = 2;
            if (f.bytes > frame.size() + tail) frame.append(f.bytes - frame.size() - tail, 'A');
            frame += "\"}";
            st_.write_raw_event("out", id_, "sim.oversized", {{"bytes", frame.size()}});
            enqueue({.text = std::move(frame)});
        } else if (f.kind == "stall") {
            enqueue({.k = out_msg::kind::stall, .ms = f.ms});
        } else if (f.kind == "server_error") {
            // The real service's transient failure shape; the session goes on.
            json err = {{"type", "server_error"},
                        {"code", nullptr},
                        {"message",
                         "The server had an error while processing your request. Sorry about "
                         "that! (injected by the simulator)"},
                        {"param", nullptr},
                        {"event_id", nullptr}};
            json ev = {{"type", "error"}, {"event_id", random_id("event_")}, {"error", err}};
            st_.write_event("out", id_, ev);
            enqueue({.text = ev.dump()});
            st_.update(index_, [&](summary& s, session_summary& ss) {
                s.errors_sent++;
                ss.errors_sent++;
                ss.error_codes.push_back("server_error");
            });
        }
    }

    // ---- reading client events ---------------------------------------------------------------
    asio::awaitable<void> reader() {
        beast::flat_buffer buf;
        for (;;) {
            error_code ec;
            bool text = true;
            co_await tr_->read(buf, text, ec);
            if (ec) {
                if (summary_reason_.empty()) {
                    summary_reason_ = ec == websocket::error::closed
                                          ? "client closed"
                                          : "connection lost: " + ec.message();
                }
                co_return;
            }
            std::string msg = beast::buffers_to_string(buf.data());
            buf.consume(buf.size());
            if (!text) {
                st_.write_raw_event("in", id_, "binary", {{"bytes", msg.size()}});
                send_error(
                    {"invalid_value", "Binary frames are not supported; send JSON text.", ""},
                    nullptr);
                continue;
            }
            try {
                handle(msg);
            } catch (const std::exception& e) {
                // A field of an unexpected JSON type that a check did not catch: answer like
                // any other bad input and keep the session (never an escaping exception).
                st_.log->warn("sim {}: bad client event: {}", id_, e.what());
                send_error({"invalid_type", std::string("Invalid event: ") + e.what(), ""},
                           nullptr);
            }
        }
    }

    void handle(const std::string& msg) {
        json ev;
        try {
            ev = json::parse(msg);
        } catch (const json::exception&) {
            st_.write_raw_event("in", id_, "invalid_json", {{"bytes", msg.size()}});
            send_error({"invalid_json",
                        "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly. The OpenAI API "
                        "expects a JSON payload, but what was sent was not valid JSON.)",
                        ""},
                       nullptr);
            return;
        }
        st_.write_event("in", id_, ev);
        if (!ev.is_object()) {
            send_error({"invalid_type", "Expected an object for the event.", ""}, nullptr);
            return;
        }
        const json eid = ev.contains("event_id") ? ev["event_id"] : json(nullptr);
        if (!ev.contains("type") || !ev["type"].is_string()) {
            send_error(
                {"missing_required_parameter", "Missing required parameter: 'type'.", "type"}, eid);
            return;
        }
        const std::string type = ev["type"].get<std::string>();
        if (ended_ || closing_) return;
        if (type == "session.update")
            on_session_update(ev, eid);
        else if (type == "input_audio_buffer.append")
            on_append(ev, eid);
        else if (type == "input_audio_buffer.commit")
            on_commit(eid);
        else if (type == "input_audio_buffer.clear")
            on_clear();
        else if (type == "conversation.item.create")
            on_item_create(ev, eid);
        else if (type == "conversation.item.truncate")
            on_truncate(ev, eid);
        else if (type == "conversation.item.delete")
            on_item_delete(ev, eid);
        else if (type == "conversation.item.retrieve")
            on_item_retrieve(ev, eid);
        else if (type == "response.create")
            on_response_create(ev, eid);
        else if (type == "response.cancel")
            on_response_cancel(ev, eid);
        else if (type == "output_audio_buffer.clear")
            send_error({"invalid_value",
                        "output_audio_buffer.clear is only supported for WebRTC and SIP "
                        "sessions.",
                        "type"},
                       eid);
        else
            send_error({"invalid_value",
                        "Invalid value: '" + type +
                            "'. Supported values are: 'session.update', "
                            "'input_audio_buffer.append', 'input_audio_buffer.commit', "
                            "'input_audio_buffer.clear', 'conversation.item.create', "
                            "'conversation.item.truncate', 'conversation.item.delete', "
                            "'conversation.item.retrieve', 'response.create', "
                            "'response.cancel' and 'output_audio_buffer.clear'.",
                        "type"},
                       eid);
    }

    // ---- session.update ----------------------------------------------------------------------
    void on_session_update(const json& ev, const json& eid) {
        if (!ev.contains("session")) {
            send_error(
                {"missing_required_parameter", "Missing required parameter: 'session'.", "session"},
                eid);
            return;
        }
        const json& s = ev["session"];
        if (auto e = detail::validate_session_update(s, config_)) {
            send_error(*e, eid);
            return;
        }
        if (voice_locked_ && s.contains("audio") && s["audio"].contains("output") &&
            s["audio"]["output"].contains("voice") &&
            s["audio"]["output"]["voice"] != config_["audio"]["output"]["voice"]) {
            send_error({"cannot_update_voice",
                        "Cannot update a conversation's voice if assistant audio is present.",
                        "session.audio.output.voice"},
                       eid);
            return;
        }
        detail::merge_session(config_, s);
        configure_vad();
        send({{"type", "session.updated"}, {"session", config_}});
    }

    const json& turn_detection() const { return config_["audio"]["input"]["turn_detection"]; }

    void configure_vad() {
        const json& td = turn_detection();
        if (td.is_null()) return;
        detail::energy_vad::config c;
        if (td["type"] == "semantic_vad") {
            // Semantic VAD is approximated by the energy VAD; eagerness sets the end-of-turn wait.
            const std::string eager = td.value("eagerness", "auto");
            c.silence_duration_ms = eager == "high" ? 300 : eager == "low" ? 900 : 500;
        } else {
            c.threshold = td.value("threshold", 0.5);
            c.prefix_padding_ms = td.value("prefix_padding_ms", 300);
            c.silence_duration_ms = td.value("silence_duration_ms", 500);
        }
        vad_.configure(c);
    }

    std::string input_format() const {
        return config_["audio"]["input"]["format"].value("type", "audio/pcm");
    }

    // ---- input audio -------------------------------------------------------------------------
    void on_append(const json& ev, const json& eid) {
        if (!ev.contains("audio") || !ev["audio"].is_string()) {
            send_error(
                {"missing_required_parameter", "Missing required parameter: 'audio'.", "audio"},
                eid);
            return;
        }
        const std::string& b64 = ev["audio"].get_ref<const std::string&>();
        if (static_cast<std::size_t>(b64_decoded_size(b64)) > max_append_bytes) {
            send_error({"string_above_max_length",
                        "Invalid 'audio': string too long. Expected at most 15 MiB of audio per "
                        "input_audio_buffer.append event.",
                        "audio"},
                       eid);
            return;
        }
        auto bytes = core::base64_decode(b64);
        if (!bytes) {
            send_error(
                {"invalid_value", "Invalid 'audio'. Expected base64-encoded audio data.", "audio"},
                eid);
            return;
        }
        std::vector<std::int16_t> pcm;
        const std::string fmt = input_format();
        if (fmt == "audio/pcm") {
            // Keep an odd trailing byte for the next append: clients may split anywhere.
            std::vector<std::uint8_t>& b = *bytes;
            if (odd_byte_) b.insert(b.begin(), *odd_byte_), odd_byte_.reset();
            if (b.size() % 2 == 1) odd_byte_ = b.back(), b.pop_back();
            pcm.resize(b.size() / 2);
            for (std::size_t i = 0; i < pcm.size(); ++i)
                pcm[i] = static_cast<std::int16_t>(b[2 * i] | (b[2 * i + 1] << 8));
        } else {
            pcm = detail::g711_to_pcm24k(*bytes, fmt == "audio/pcmu");
        }
        record(pcm);
        in_buf_.insert(in_buf_.end(), pcm.begin(), pcm.end());
        in_total_ += static_cast<std::int64_t>(pcm.size());
        run_vad();
    }

    void record(const std::vector<std::int16_t>& pcm) {
        st_.update(index_, [&](summary&, session_summary& ss) {
            ss.input_audio_ms =
                (in_total_ + static_cast<std::int64_t>(pcm.size())) / samples_per_ms;
        });
        if (st_.opts.record_dir.empty() || pcm.empty()) return;
        if (wav_ == nullptr && !wav_failed_) {
            SF_INFO info{};
            info.samplerate = 24000;
            info.channels = 1;
            info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
            const std::string path = st_.opts.record_dir + "/" + id_ + "-input.wav";
            wav_ = sf_open(path.c_str(), SFM_WRITE, &info);
            if (wav_ == nullptr) {
                wav_failed_ = true;
                st_.log->warn("sim {}: cannot write {}: {}", id_, path, sf_strerror(nullptr));
                return;
            }
        }
        if (wav_ != nullptr) {
            sf_write_short(wav_, pcm.data(), static_cast<sf_count_t>(pcm.size()));
            sf_write_sync(wav_);
        }
    }

    std::int64_t buf_start() const { return in_total_ - static_cast<std::int64_t>(in_buf_.size()); }

    void run_vad() {
        if (turn_detection().is_null()) {
            vad_pos_ = in_total_;
            return;
        }
        vad_pos_ = std::max(vad_pos_, buf_start());
        while (in_total_ - vad_pos_ >= 240) {
            const auto offset = static_cast<std::size_t>(vad_pos_ - buf_start());
            const auto ev = vad_.feed_block(in_buf_.data() + offset, 240, vad_pos_ + 240);
            vad_pos_ += 240;
            if (ev == detail::energy_vad::event::started)
                on_speech_started();
            else if (ev == detail::energy_vad::event::stopped)
                on_speech_stopped();
            if (closing_ || ended_) return;
        }
    }

    void on_speech_started() {
        speech_item_id_ = random_id("item_");
        send({{"type", "input_audio_buffer.speech_started"},
              {"audio_start_ms", vad_.start_sample() / samples_per_ms},
              {"item_id", speech_item_id_}});
        if (resp_ && turn_detection().value("interrupt_response", true))
            cancel_response("turn_detected");
    }

    void on_speech_stopped() {
        const std::int64_t end = vad_pos_;
        send({{"type", "input_audio_buffer.speech_stopped"},
              {"audio_end_ms", end / samples_per_ms},
              {"item_id", speech_item_id_}});
        commit_audio(vad_.start_sample(), end, speech_item_id_);
        if (turn_detection().value("create_response", true)) {
            if (resp_) {
                st_.log->debug("sim {}: speech ended during a response; no new response", id_);
            } else {
                start_response(json::object());
            }
        }
    }

    void on_commit(const json& eid) {
        const std::int64_t ms = static_cast<std::int64_t>(in_buf_.size()) / samples_per_ms;
        if (ms < 100) {
            std::ostringstream m;
            m.setf(std::ios::fixed);
            m.precision(2);
            m << "Error committing input audio buffer: buffer too small. Expected at least "
                 "100ms of audio, but buffer only has "
              << static_cast<double>(in_buf_.size()) / 24.0 << "ms of audio.";
            send_error({"input_audio_buffer_commit_empty", m.str(), ""}, eid);
            return;
        }
        const std::string item_id =
            vad_.in_speech() && !speech_item_id_.empty() ? speech_item_id_ : random_id("item_");
        vad_.reset();
        commit_audio(buf_start(), in_total_, item_id);
    }

    void on_clear() {
        in_buf_.clear();
        vad_.reset();
        vad_pos_ = in_total_;
        send({{"type", "input_audio_buffer.cleared"}});
    }

    std::string last_item_id() const {
        return conv_.empty() ? "" : conv_.back()->item["id"].get<std::string>();
    }
    static json id_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

    void commit_audio(std::int64_t from, std::int64_t to, const std::string& item_id) {
        from = std::max(from, buf_start());
        to = std::min(to, in_total_);
        auto item = std::make_shared<conv_item>();
        if (to > from) {
            const auto a = static_cast<std::size_t>(from - buf_start());
            const auto b = static_cast<std::size_t>(to - buf_start());
            item->audio.assign(in_buf_.begin() + static_cast<std::ptrdiff_t>(a),
                               in_buf_.begin() + static_cast<std::ptrdiff_t>(b));
            in_buf_.erase(in_buf_.begin(), in_buf_.begin() + static_cast<std::ptrdiff_t>(b));
        } else {
            in_buf_.clear();
        }
        item->item = {
            {"id", item_id},
            {"object", "realtime.item"},
            {"type", "message"},
            {"status", "completed"},
            {"role", "user"},
            {"content", json::array({{{"type", "input_audio"}, {"transcript", nullptr}}})}};
        const std::string prev = last_item_id();
        conv_.push_back(item);
        send({{"type", "input_audio_buffer.committed"},
              {"previous_item_id", id_or_null(prev)},
              {"item_id", item_id}});
        send({{"type", "conversation.item.added"},
              {"previous_item_id", id_or_null(prev)},
              {"item", item->item}});
        send({{"type", "conversation.item.done"},
              {"previous_item_id", id_or_null(prev)},
              {"item", item->item}});
        if (!config_["audio"]["input"]["transcription"].is_null()) {
            item->expected_user = expected_user_text();  // the turn that will answer it
            pending_transcripts_.push_back(item);
            arm_transcript_fallback();
        }
    }

    // ---- late input transcription -------------------------------------------------------------
    std::string expected_user_text() const {
        if (!pending_calls_.empty()) return {};
        const auto& turns = st_.scen.turns;
        std::size_t i = turn_index_;
        if (i >= turns.size()) {
            if (!st_.scen.loop || turns.empty()) return {};
            i %= turns.size();
        }
        return turns[i].user;
    }

    void arm_transcript_fallback() {
        // Transcripts arrive after the reply started (flush_transcripts() from the responder);
        // without a response (create_response off, manual turns) they come after ~1.5 s.
        transcript_timer_.expires_after(std::chrono::milliseconds(1500));
        transcript_timer_.async_wait([w = weak_from_this()](error_code ec) {
            if (ec) return;
            if (auto self = w.lock(); self && !self->resp_) self->flush_transcripts();
        });
    }

    void flush_transcripts() {
        for (const item_ptr& it : pending_transcripts_) {
            const double seconds = static_cast<double>(it->audio.size()) / 24000.0;
            std::string text = it->expected_user;
            if (text.empty()) {
                std::ostringstream t;
                t.setf(std::ios::fixed);
                t.precision(1);
                t << "[" << seconds << " s of speech]";
                text = t.str();
            }
            it->item["content"][0]["transcript"] = text;
            send({{"type", "conversation.item.input_audio_transcription.completed"},
                  {"item_id", it->item["id"]},
                  {"content_index", 0},
                  {"transcript", text},
                  {"usage", {{"type", "duration"}, {"seconds", std::ceil(seconds * 10) / 10}}}});
        }
        pending_transcripts_.clear();
    }

    // ---- conversation.item.* ---------------------------------------------------------------
    std::ptrdiff_t find_item(const std::string& id) const {
        for (std::size_t i = 0; i < conv_.size(); ++i)
            if (conv_[i]->item["id"] == id) return static_cast<std::ptrdiff_t>(i);
        return -1;
    }

    void item_not_found(const std::string& id, const json& eid) {
        send_error({"item_not_found", "Item with item_id '" + id + "' not found.", "item_id"}, eid);
    }

    std::optional<api_error> check_item(json& item, item_ptr& out) {
        if (!item.is_object())
            return api_error{"invalid_type", "'item' must be an object.", "item"};
        const std::string type = item.value("type", "");
        static const char* allowed_message[] = {"id",     "type", "object",
                                                "status", "role", "content"};
        auto only = [&](std::initializer_list<const char*> keys) -> std::optional<api_error> {
            for (const auto& [k, v] : item.items()) {
                bool ok = false;
                for (const char* a : keys) ok = ok || k == a;
                if (!ok)
                    return api_error{"unknown_parameter", "Unknown parameter: 'item." + k + "'.",
                                     "item." + k};
            }
            return std::nullopt;
        };
        (void)allowed_message;
        if (type == "message") {
            if (auto e = only({"id", "type", "object", "status", "role", "content"})) return e;
            const std::string role = item.value("role", "");
            if (role != "user" && role != "system" && role != "assistant")
                return api_error{"invalid_value",
                                 "Invalid value: '" + role +
                                     "'. Supported values are: 'user', 'system' and 'assistant'.",
                                 "item.role"};
            if (!item.contains("content") || !item["content"].is_array())
                return api_error{"missing_required_parameter",
                                 "Missing required parameter: 'item.content'.", "item.content"};
            for (std::size_t i = 0; i < item["content"].size(); ++i) {
                json& part = item["content"][i];
                const std::string p = "item.content[" + std::to_string(i) + "]";
                const std::string pt = part.is_object() ? part.value("type", "") : "";
                const bool ok = (role == "user" && (pt == "input_text" || pt == "input_audio" ||
                                                    pt == "input_image")) ||
                                (role == "system" && pt == "input_text") ||
                                (role == "assistant" && pt == "output_text");
                if (!ok) {
                    if (role == "assistant" && pt == "output_audio")
                        return api_error{"invalid_value",
                                         "Assistant audio messages cannot be created.",
                                         p + ".type"};
                    return api_error{"invalid_value",
                                     "Invalid value: '" + pt + "' for a " + role + " message.",
                                     p + ".type"};
                }
                if ((pt == "input_text" || pt == "output_text") &&
                    !(part.contains("text") && part["text"].is_string()))
                    return api_error{"missing_required_parameter",
                                     "Missing required parameter: '" + p + ".text'.", p + ".text"};
                if (pt == "input_audio") {
                    if (!part.contains("audio") || !part["audio"].is_string())
                        return api_error{"missing_required_parameter",
                                         "Missing required parameter: '" + p + ".audio'.",
                                         p + ".audio"};
                    auto bytes = core::base64_decode(part["audio"].get<std::string>());
                    if (!bytes)
                        return api_error{
                            "invalid_value",
                            "Invalid '" + p + ".audio'. Expected base64-encoded audio data.",
                            p + ".audio"};
                    for (std::size_t k = 0; k + 1 < bytes->size(); k += 2)
                        out->audio.push_back(
                            static_cast<std::int16_t>((*bytes)[k] | ((*bytes)[k + 1] << 8)));
                    part.erase("audio");
                    if (!part.contains("transcript")) part["transcript"] = nullptr;
                }
            }
        } else if (type == "function_call_output") {
            if (auto e = only({"id", "type", "object", "status", "call_id", "output"})) return e;
            if (!item.contains("call_id") || !item["call_id"].is_string())
                return api_error{"missing_required_parameter",
                                 "Missing required parameter: 'item.call_id'.", "item.call_id"};
            if (!item.contains("output") || !item["output"].is_string())
                return api_error{"missing_required_parameter",
                                 "Missing required parameter: 'item.output'.", "item.output"};
        } else if (type == "function_call") {
            if (auto e = only({"id", "type", "object", "status", "call_id", "name", "arguments"}))
                return e;
            if (!item.contains("name") || !item["name"].is_string())
                return api_error{"missing_required_parameter",
                                 "Missing required parameter: 'item.name'.", "item.name"};
            if (!item.contains("call_id")) item["call_id"] = random_id("call_");
            if (!item.contains("arguments")) item["arguments"] = "{}";
        } else if (!item.contains("type")) {
            return api_error{"missing_required_parameter",
                             "Missing required parameter: 'item.type'.", "item.type"};
        } else {
            return api_error{"invalid_value",
                             "Invalid value: '" + type +
                                 "'. Supported values are: 'message', 'function_call' and "
                                 "'function_call_output'.",
                             "item.type"};
        }
        if (item.contains("id")) {
            if (!item["id"].is_string())
                return api_error{"invalid_type", "'item.id' must be a string.", "item.id"};
            if (find_item(item["id"].get<std::string>()) >= 0)
                return api_error{
                    "invalid_value",
                    "Item with id '" + item["id"].get<std::string>() + "' already exists.",
                    "item.id"};
        } else {
            item["id"] = random_id("item_");
        }
        item["object"] = "realtime.item";
        item["status"] = "completed";
        return std::nullopt;
    }

    void on_item_create(const json& ev, const json& eid) {
        if (!ev.contains("item")) {
            send_error(
                {"missing_required_parameter", "Missing required parameter: 'item'.", "item"}, eid);
            return;
        }
        json item = ev["item"];
        auto ci = std::make_shared<conv_item>();
        if (auto e = check_item(item, ci)) {
            send_error(*e, eid);
            return;
        }
        std::ptrdiff_t pos = static_cast<std::ptrdiff_t>(conv_.size());
        if (ev.contains("previous_item_id") && !ev["previous_item_id"].is_null()) {
            const json& p = ev["previous_item_id"];
            if (!p.is_string()) {
                send_error(
                    {"invalid_type", "'previous_item_id' must be a string.", "previous_item_id"},
                    eid);
                return;
            }
            if (p == "root") {
                pos = 0;
            } else {
                const auto at = find_item(p.get<std::string>());
                if (at < 0) {
                    send_error({"invalid_value",
                                "Previous item with id '" + p.get<std::string>() + "' not found.",
                                "previous_item_id"},
                               eid);
                    return;
                }
                pos = at + 1;
            }
        }
        ci->item = item;
        if (item["type"] == "function_call_output") {
            const std::string call_id = item["call_id"].get<std::string>();
            for (const auto& [cid, name] : pending_calls_)
                if (cid == call_id) outputs_.emplace_back(name, item["output"].get<std::string>());
        }
        if (item["type"] == "message" && item["role"] == "user") {
            for (const json& part : item["content"]) {
                if (part["type"] != "input_text") continue;
                const std::string expected = expected_user_text();
                if (!expected.empty() &&
                    normalise(expected) != normalise(part["text"].get<std::string>())) {
                    const std::string what = "expected '" + expected + "', got '" +
                                             part["text"].get<std::string>() + "'";
                    st_.log->warn("sim {}: user text differs from the scenario: {}", id_, what);
                    st_.update(index_, [&](summary&, session_summary& ss) {
                        ss.expectation_mismatches.push_back(what);
                    });
                }
            }
        }
        const std::string prev =
            pos == 0 ? "" : conv_[static_cast<std::size_t>(pos - 1)]->item["id"].get<std::string>();
        conv_.insert(conv_.begin() + pos, ci);
        send({{"type", "conversation.item.added"},
              {"previous_item_id", id_or_null(prev)},
              {"item", item}});
        send({{"type", "conversation.item.done"},
              {"previous_item_id", id_or_null(prev)},
              {"item", item}});
    }

    void on_item_delete(const json& ev, const json& eid) {
        const std::string id = ev.value("item_id", "");
        const auto at = find_item(id);
        if (at < 0) return item_not_found(id, eid);
        conv_.erase(conv_.begin() + at);
        send({{"type", "conversation.item.deleted"}, {"item_id", id}});
    }

    void on_item_retrieve(const json& ev, const json& eid) {
        const std::string id = ev.value("item_id", "");
        const auto at = find_item(id);
        if (at < 0) return item_not_found(id, eid);
        const conv_item& ci = *conv_[static_cast<std::size_t>(at)];
        json item = ci.item;
        if (!ci.audio.empty() && item.contains("content") && !item["content"].empty()) {
            item["content"][0]["audio"] = core::base64_encode(std::as_bytes(std::span(ci.audio)));
        }
        send({{"type", "conversation.item.retrieved"}, {"item", item}});
    }

    void on_truncate(const json& ev, const json& eid) {
        const std::string id = ev.value("item_id", "");
        if (!ev.contains("audio_end_ms") || !ev["audio_end_ms"].is_number_integer()) {
            send_error({"missing_required_parameter", "Missing required parameter: 'audio_end_ms'.",
                        "audio_end_ms"},
                       eid);
            return;
        }
        const auto end_ms = ev["audio_end_ms"].get<std::int64_t>();
        if (end_ms < 0) {
            send_error({"integer_below_min_value",
                        "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= "
                        "0, but got " +
                            std::to_string(end_ms) + " instead.",
                        "audio_end_ms"},
                       eid);
            return;
        }
        if (ev.value("content_index", 0) != 0) {
            send_error(
                {"invalid_value", "Invalid 'content_index': only content index 0 can be truncated.",
                 "content_index"},
                eid);
            return;
        }
        const auto at = find_item(id);
        if (at < 0) return item_not_found(id, eid);
        conv_item& ci = *conv_[static_cast<std::size_t>(at)];
        const std::int64_t generated_ms =
            static_cast<std::int64_t>(ci.audio.size()) / samples_per_ms;
        truncation_record rec{
            .session_id = id_, .item_id = id, .audio_end_ms = end_ms, .generated_ms = generated_ms};
        auto reject = [&](const std::string& message) {
            st_.update(index_, [&](summary& s, session_summary&) { s.truncations.push_back(rec); });
            send_error({"invalid_value", message, "audio_end_ms"}, eid);
        };
        if (!ci.assistant_audio || ci.audio.empty() || end_ms == 0)
            return reject("Only model output audio messages can be truncated");
        if (end_ms > generated_ms)
            return reject("Audio content of " + std::to_string(generated_ms) +
                          "ms is already shorter than " + std::to_string(end_ms) + "ms");
        // Cut the audio, and the transcript in proportion (at a word boundary), like the service.
        const double frac = static_cast<double>(end_ms) /
                            static_cast<double>(std::max<std::int64_t>(generated_ms, 1));
        ci.audio.resize(static_cast<std::size_t>(end_ms * samples_per_ms));
        auto keep =
            static_cast<std::size_t>(std::floor(frac * static_cast<double>(ci.transcript.size())));
        keep = std::min(keep, ci.transcript.size());
        if (keep < ci.transcript.size()) {
            while (keep > 0 && ci.transcript[keep] != ' ' && ci.transcript[keep - 1] != ' ') --keep;
        }
        ci.transcript.resize(keep);
        while (!ci.transcript.empty() && ci.transcript.back() == ' ') ci.transcript.pop_back();
        ci.truncated = true;
        ci.item["content"][0]["transcript"] = ci.transcript;
        rec.accepted = true;
        st_.update(index_, [&](summary& s, session_summary&) { s.truncations.push_back(rec); });
        send({{"type", "conversation.item.truncated"},
              {"item_id", id},
              {"content_index", 0},
              {"audio_end_ms", end_ms}});
    }

    // ---- responses ---------------------------------------------------------------------------
    void on_response_create(const json& ev, const json& eid) {
        if (resp_) {
            send_error({"conversation_already_has_active_response",
                        "Conversation already has an active response in progress: " + resp_->id +
                            ". Wait until the response is finished before creating a new one.",
                        ""},
                       eid);
            return;
        }
        json overrides = ev.contains("response") ? ev["response"] : json::object();
        if (auto e = detail::validate_response_overrides(overrides)) {
            send_error(*e, eid);
            return;
        }
        start_response(overrides);
    }

    void on_response_cancel(const json& ev, const json& eid) {
        const bool id_matches =
            !ev.contains("response_id") || (resp_ && ev["response_id"] == resp_->id);
        if (!resp_ || !id_matches) {
            send_error(
                {"response_cancel_not_active", "Cancellation failed: no active response found", ""},
                eid);
            return;
        }
        cancel_response("client_cancelled");
    }

    void cancel_response(const std::string& reason) {
        if (!resp_ || !resp_->cancel_reason.empty()) return;
        resp_->cancel_reason = reason;
        resp_->timer.cancel();
    }

    const detail::scenario_turn& next_turn() {
        const auto& turns = st_.scen.turns;
        if (turn_index_ >= turns.size() && st_.scen.loop && !turns.empty()) turn_index_ = 0;
        if (turn_index_ < turns.size()) return turns[turn_index_++];
        generic_turn_.reply = st_.scen.generic_reply;
        return generic_turn_;
    }

    void start_response(const json& overrides) {
        auto r = std::make_shared<response_state>(ex_);
        r->id = random_id("resp_");
        // Content: the follow-up of a tool round trip, or the next scenario turn.
        if (!pending_calls_.empty() && !outputs_.empty()) {
            r->text = detail::substitute_outputs(followup_, outputs_);
            pending_calls_.clear();
            outputs_.clear();
        } else {
            pending_calls_.clear();
            outputs_.clear();
            const detail::scenario_turn& t = next_turn();
            ++turn_number_;
            turn_event_counts_.clear();
            turn_faults_ = t.faults;
            r->text = t.reply;
            r->calls = t.calls;
            followup_ = t.followup;
            st_.update(index_, [&](summary& s, session_summary& ss) {
                s.turns++;
                ss.turns++;
            });
        }
        const json& mods = overrides.contains("output_modalities") ? overrides["output_modalities"]
                                                                   : config_["output_modalities"];
        r->text_mode = mods[0] == "text";
        const json& out = config_["audio"]["output"];
        json voice = out["voice"];
        json fmt = out["format"];
        if (overrides.contains("audio") && overrides["audio"].contains("output")) {
            const json& o = overrides["audio"]["output"];
            if (o.contains("voice")) voice = o["voice"];
            if (o.contains("format")) fmt = o["format"];
        }
        r->voice = voice.is_string() ? voice.get<std::string>() : voice.value("id", "marin");
        r->format = fmt.value("type", "audio/pcm");
        r->speed = out.value("speed", 1.0);
        r->metadata = overrides.value("metadata", json(nullptr));
        r->max_output_tokens = overrides.contains("max_output_tokens")
                                   ? overrides["max_output_tokens"]
                                   : config_["max_output_tokens"];
        r->in_conversation = overrides.value("conversation", "auto") != "none";
        // Input usage: the whole history, re-billed on every response (protocol ref section 8).
        const std::string instr =
            overrides.value("instructions", config_.value("instructions", ""));
        r->in_text_tokens = text_tokens(instr.size());
        for (const item_ptr& it : conv_) {
            if (it->item["role"] == "user")
                r->in_audio_tokens += static_cast<std::int64_t>(it->audio.size()) / 2400;  // 10/s
            else
                r->in_audio_tokens += static_cast<std::int64_t>(it->audio.size()) / 1200;  // 20/s
            r->in_text_tokens += text_tokens(it->transcript.size());
            if (it->item.contains("content"))
                for (const json& p : it->item["content"])
                    if (p.contains("text") && p["text"].is_string())
                        r->in_text_tokens +=
                            text_tokens(p["text"].get_ref<const std::string&>().size());
            if (it->item.contains("arguments"))
                r->in_text_tokens += text_tokens(it->item["arguments"].dump().size());
            if (it->item.contains("output"))
                r->in_text_tokens += text_tokens(it->item["output"].dump().size());
        }
        resp_ = r;
        asio::co_spawn(ex_, run_response(shared_from_this(), r), asio::detached);
    }

    json response_object(const response_state& r, const std::string& status, const json& details,
                         const json& usage) const {
        return {
            {"object", "realtime.response"},
            {"id", r.id},
            {"status", status},
            {"status_details", details},
            {"output", r.output},
            {"conversation_id", r.in_conversation ? json("conv_" + id_.substr(5)) : json(nullptr)},
            {"output_modalities", json::array({r.text_mode ? "text" : "audio"})},
            {"max_output_tokens", r.max_output_tokens},
            {"audio",
             {{"output",
               {{"format", r.format == "audio/pcm" ? json{{"type", "audio/pcm"}, {"rate", 24000}}
                                                   : json{{"type", r.format}}},
                {"voice", r.voice}}}}},
            {"usage", usage},
            {"metadata", r.metadata}};
    }

    /// When audio (or text) at `media_ms` into a reply is due at the session's pace.
    clock::time_point due_at(clock::time_point t0, double media_ms) const {
        if (st_.opts.pace <= 0) return t0;  // unpaced: pace_until() only yields
        return t0 + std::chrono::microseconds(
                        static_cast<std::int64_t>(media_ms * 1000.0 / st_.opts.pace));
    }

    /// Waits until `deadline` unless the response is cancelled; false = stop now.
    asio::awaitable<bool> pace_until(response_state& r, clock::time_point deadline) {
        if (!r.cancel_reason.empty() || ended_ || closing_) co_return false;
        error_code ec;
        if (st_.opts.pace > 0) {
            r.timer.expires_at(deadline);
            co_await r.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        } else {
            co_await asio::post(ex_, asio::use_awaitable);  // let the reader run between deltas
        }
        co_return r.cancel_reason.empty() && !ended_ && !closing_;
    }

    void after_first_delta(response_state& r) {
        if (r.first_delta_sent) return;
        r.first_delta_sent = true;
        flush_transcripts();  // user transcripts land after the reply has started
    }

    item_ptr add_output_item(response_state& r, json item) {
        auto ci = std::make_shared<conv_item>();
        ci->item = std::move(item);
        const std::string prev = last_item_id();
        if (r.in_conversation) conv_.push_back(ci);
        const auto index = r.output.size();
        r.output.push_back(ci->item);
        send({{"type", "response.output_item.added"},
              {"response_id", r.id},
              {"output_index", index},
              {"item", ci->item}});
        if (r.in_conversation)
            send({{"type", "conversation.item.added"},
                  {"previous_item_id", id_or_null(prev)},
                  {"item", ci->item}});
        return ci;
    }

    void finish_output_item(response_state& r, const item_ptr& ci, std::size_t index) {
        r.output[index] = ci->item;
        send({{"type", "response.output_item.done"},
              {"response_id", r.id},
              {"output_index", index},
              {"item", ci->item}});
        if (r.in_conversation) {
            const auto at = find_item(ci->item["id"].get<std::string>());
            const std::string prev =
                at > 0 ? conv_[static_cast<std::size_t>(at - 1)]->item["id"].get<std::string>()
                       : "";
            send({{"type", "conversation.item.done"},
                  {"previous_item_id", id_or_null(prev)},
                  {"item", ci->item}});
        }
    }

    asio::awaitable<void> stream_message(response_state& r) {
        const std::size_t index = r.output.size();
        item_ptr ci = add_output_item(r, {{"id", random_id("item_")},
                                          {"object", "realtime.item"},
                                          {"type", "message"},
                                          {"status", "in_progress"},
                                          {"role", "assistant"},
                                          {"content", json::array()}});
        const json item_id = ci->item["id"];
        const std::vector<std::string> words = split_words(r.text);
        const json base = {{"response_id", r.id},
                           {"item_id", item_id},
                           {"output_index", index},
                           {"content_index", 0}};
        auto with = [&](const char* type, json extra) {
            json ev = base;
            ev["type"] = type;
            for (auto& [k, v] : extra.items()) ev[k] = v;
            return ev;
        };
        const auto t0 = clock::now();
        std::size_t words_sent = 0;
        std::string said;
        auto next_word = [&] {
            std::string d = words_sent == 0 ? "" : " ";
            d += words[words_sent];
            ++words_sent;
            said += d;
            return d;
        };
        if (r.text_mode) {
            send(with("response.content_part.added", {{"part", {{"type", "text"}, {"text", ""}}}}));
            const double word_ms = 150.0 / std::max(r.speed, 0.25);
            while (words_sent < words.size()) {
                const auto due = due_at(t0, static_cast<double>(words_sent) * word_ms);
                if (!co_await pace_until(r, due)) break;
                send(with("response.output_text.delta", {{"delta", next_word()}}));
                after_first_delta(r);
            }
            r.out_text_chars += said.size();
            ci->transcript = said;
            send(with("response.output_text.done", {{"text", said}}));
            send(
                with("response.content_part.done", {{"part", {{"type", "text"}, {"text", said}}}}));
            ci->item["content"] = json::array({{{"type", "output_text"}, {"text", said}}});
        } else {
            send(with("response.content_part.added",
                      {{"part", {{"type", "audio"}, {"transcript", ""}}}}));
            auto pcm = detail::synthesize(r.text, r.voice, r.speed, st_.opts.synth);
            ci->assistant_audio = true;
            ci->full_text = r.text;
            const auto chunk = static_cast<std::size_t>(std::max(st_.opts.delta_ms, 10)) * 24;
            const std::size_t chunks = (pcm->size() + chunk - 1) / chunk;
            const bool g711 = r.format != "audio/pcm";
            for (std::size_t k = 0; k < chunks; ++k) {
                const double at_ms = static_cast<double>(k * chunk) / 24.0;
                const auto due = due_at(t0, at_ms);
                if (!co_await pace_until(r, due)) break;
                if (ci->truncated) break;  // the client cut this item: generate no more of it
                // The transcript runs a little ahead of the audio, as from the real service.
                const std::size_t want = std::min(
                    words.size(), (k + 2) * words.size() / std::max<std::size_t>(chunks, 1));
                while (words_sent < want)
                    send(with("response.output_audio_transcript.delta", {{"delta", next_word()}}));
                const std::size_t n = std::min(chunk, pcm->size() - k * chunk);
                const std::int16_t* p = pcm->data() + k * chunk;
                std::string b64;
                if (g711) {
                    auto enc = detail::pcm24k_to_g711(p, n, r.format == "audio/pcmu");
                    b64 = core::base64_encode(std::as_bytes(std::span(enc)));
                } else {
                    b64 = core::base64_encode(std::as_bytes(std::span(p, n)));
                }
                ci->audio.insert(ci->audio.end(), p, p + n);
                ci->transcript = said;
                r.out_audio_samples += static_cast<std::int64_t>(n);
                voice_locked_ = true;
                send(with("response.output_audio.delta", {{"delta", std::move(b64)}}));
                after_first_delta(r);
            }
            const bool complete =
                r.cancel_reason.empty() && !ci->truncated && ci->audio.size() == pcm->size();
            if (complete) {
                while (words_sent < words.size())
                    send(with("response.output_audio_transcript.delta", {{"delta", next_word()}}));
            }
            if (!ci->truncated) ci->transcript = said;
            r.out_text_chars += said.size();
            st_.update(index_, [&](summary&, session_summary& ss) {
                ss.output_audio_ms += static_cast<std::int64_t>(ci->audio.size()) / samples_per_ms;
            });
            send(with("response.output_audio.done", json::object()));
            send(with("response.output_audio_transcript.done", {{"transcript", ci->transcript}}));
            send(with("response.content_part.done",
                      {{"part", {{"type", "audio"}, {"transcript", ci->transcript}}}}));
            ci->item["content"] =
                json::array({{{"type", "output_audio"}, {"transcript", ci->transcript}}});
        }
        ci->item["status"] = r.cancel_reason.empty() ? "completed" : "incomplete";
        finish_output_item(r, ci, index);
    }

    void emit_function_call(response_state& r, const detail::scenario_call& call) {
        const std::size_t index = r.output.size();
        const std::string call_id = random_id("call_");
        item_ptr ci = add_output_item(r, {{"id", random_id("item_")},
                                          {"object", "realtime.item"},
                                          {"type", "function_call"},
                                          {"status", "in_progress"},
                                          {"name", call.name},
                                          {"call_id", call_id},
                                          {"arguments", ""}});
        const json base = {{"response_id", r.id},
                           {"item_id", ci->item["id"]},
                           {"output_index", index},
                           {"call_id", call_id}};
        // Arguments stream in two deltas, as a model's would.
        const std::size_t half = call.arguments.size() / 2;
        for (const std::string& part :
             {call.arguments.substr(0, half), call.arguments.substr(half)}) {
            json ev = base;
            ev["type"] = "response.function_call_arguments.delta";
            ev["delta"] = part;
            send(ev);
            after_first_delta(r);
        }
        json done = base;
        done["type"] = "response.function_call_arguments.done";
        done["name"] = call.name;
        done["arguments"] = call.arguments;
        send(done);
        r.out_text_chars += call.arguments.size();
        ci->item["status"] = "completed";
        ci->item["arguments"] = call.arguments;
        pending_calls_.emplace_back(call_id, call.name);
        finish_output_item(r, ci, index);
    }

    asio::awaitable<void> run_response(std::shared_ptr<session> self,
                                       std::shared_ptr<response_state> r) {
        send({{"type", "response.created"},
              {"response", response_object(*r, "in_progress", nullptr, nullptr)}});
        const std::int64_t est = r->in_text_tokens + r->in_audio_tokens + 600;
        send({{"type", "rate_limits.updated"},
              {"rate_limits", json::array({{{"name", "requests"},
                                            {"limit", 5000},
                                            {"remaining", 4999},
                                            {"reset_seconds", 0.012}},
                                           {{"name", "tokens"},
                                            {"limit", 800000},
                                            {"remaining", 800000 - est},
                                            {"reset_seconds", 0.045}}})}});
        if (!r->text.empty()) co_await stream_message(*r);
        for (const auto& call : r->calls) {
            if (!r->cancel_reason.empty() || ended_ || closing_) break;
            emit_function_call(*r, call);
        }
        if (ended_) co_return;
        after_first_delta(*r);
        const std::int64_t out_audio = r->out_audio_samples / 1200;  // 20 tokens per second
        const std::int64_t out_text = text_tokens(r->out_text_chars);
        const std::int64_t in_total = r->in_text_tokens + r->in_audio_tokens;
        json usage = {
            {"total_tokens", in_total + out_audio + out_text},
            {"input_tokens", in_total},
            {"output_tokens", out_audio + out_text},
            {"input_token_details",
             {{"text_tokens", r->in_text_tokens},
              {"audio_tokens", r->in_audio_tokens},
              {"image_tokens", 0},
              {"cached_tokens", 0},
              {"cached_tokens_details",
               {{"text_tokens", 0}, {"audio_tokens", 0}, {"image_tokens", 0}}}}},
            {"output_token_details", {{"text_tokens", out_text}, {"audio_tokens", out_audio}}}};
        const bool cancelled = !r->cancel_reason.empty();
        const json details =
            cancelled ? json{{"type", "cancelled"}, {"reason", r->cancel_reason}} : json(nullptr);
        if (cancelled) pending_calls_.clear();
        resp_.reset();
        st_.update(index_, [&](summary& s, session_summary& ss) {
            s.responses++;
            ss.responses++;
            if (cancelled) ss.responses_cancelled++;
        });
        send({{"type", "response.done"},
              {"response",
               response_object(*r, cancelled ? "cancelled" : "completed", details, usage)}});
        (void)self;
    }

    // ---- session cap and end -------------------------------------------------------------------
    asio::awaitable<void> cap_watch(std::shared_ptr<session> self) {
        cap_timer_.expires_after(
            std::chrono::microseconds(static_cast<std::int64_t>(st_.opts.session_cap_s * 1e6)));
        error_code ec;
        co_await cap_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (ec || ended_ || closing_) co_return;
        std::ostringstream m;
        const double minutes = st_.opts.session_cap_s / 60.0;
        m << "Your session hit the maximum duration of "
          << (minutes >= 1 ? std::to_string(static_cast<int>(std::lround(minutes))) + " minutes."
                           : std::to_string(static_cast<int>(std::lround(st_.opts.session_cap_s))) +
                                 " seconds.");
        cancel_response("session_expired");
        send_error({"session_expired", m.str(), ""}, nullptr);
        request_close(1001, "session_expired");
        summary_reason_ = "session_expired";
        (void)self;
    }

    void finish(const std::string& fallback) {
        ended_ = true;
        cancel_response("client_cancelled");
        error_code ignored;
        cap_timer_.cancel();
        transcript_timer_.cancel();
        write_wake_.cancel();
        if (wav_ != nullptr) {
            sf_close(wav_);
            wav_ = nullptr;
        }
        const std::string reason = summary_reason_.empty() ? fallback : summary_reason_;
        st_.write_raw_event("conn", id_, "connection.closed", {{"reason", reason}});
        st_.update(index_, [&](summary&, session_summary& ss) {
            ss.close_reason = reason;
            ss.ended = true;
        });
    }

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
    SNDFILE* wav_ = nullptr;
    bool wav_failed_ = false;

    std::vector<item_ptr> conv_;
    std::vector<item_ptr> pending_transcripts_;
    std::shared_ptr<response_state> resp_;
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

// ---- HTTP upgrade --------------------------------------------------------------------------

struct upgrade_decision {
    http::status status = http::status::switching_protocols;
    json body;
    upgrade_info info;
    std::string subprotocol;
};

json http_error(const std::string& message, const std::string& type, const json& code,
                const json& param = nullptr) {
    return {{"error", {{"message", message}, {"type", type}, {"param", param}, {"code", code}}}};
}

upgrade_decision decide(const shared_state& st, const http::request<http::string_body>& req) {
    upgrade_decision d;
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    std::map<std::string, std::string> query;
    if (q != std::string::npos) {
        std::istringstream qs(target.substr(q + 1));
        for (std::string kv; std::getline(qs, kv, '&');) {
            const auto eq = kv.find('=');
            query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        }
    }
    auto fail = [&](http::status s, json body) {
        d.status = s;
        d.body = std::move(body);
        return d;
    };
    d.info.azure = path == "/openai/v1/realtime";
    if (path != "/v1/realtime" && !d.info.azure)
        return fail(http::status::not_found,
                    http_error("Invalid URL (GET " + path + ")", "invalid_request_error", nullptr));
    // Credentials: Bearer everywhere; api-key on the Azure path; the browser subprotocol too.
    std::string key;
    bool have_key = false;
    if (auto it = req.find(http::field::authorization); it != req.end()) {
        const std::string v(it->value());
        if (v.rfind("Bearer ", 0) == 0) {
            key = v.substr(7);
            have_key = true;
        }
    }
    if (!have_key && d.info.azure) {
        if (auto it = req.find("api-key"); it != req.end()) {
            key = std::string(it->value());
            have_key = true;
        }
    }
    if (auto it = req.find(http::field::sec_websocket_protocol); it != req.end()) {
        std::istringstream ps{std::string(it->value())};
        for (std::string p; std::getline(ps, p, ',');) {
            p.erase(0, p.find_first_not_of(' '));
            p.erase(p.find_last_not_of(' ') + 1);
            if (p == "realtime") d.subprotocol = "realtime";
            if (p.rfind("openai-insecure-api-key.", 0) == 0 && !have_key) {
                key = p.substr(24);
                have_key = true;
            }
        }
    }
    if (st.opts.reject_upgrade_status != 0) {
        const int s = st.opts.reject_upgrade_status;
        const char* code = s == 401   ? "invalid_api_key"
                           : s == 403 ? "unsupported_country_region_territory"
                           : s == 404 ? "model_not_found"
                           : s == 429 ? "rate_limit_exceeded"
                                      : "server_error";
        return fail(static_cast<http::status>(s),
                    http_error("Injected by the simulator: HTTP " + std::to_string(s) + ".",
                               s >= 500 ? "server_error" : "invalid_request_error", code));
    }
    if (!have_key || key.empty())
        return fail(
            http::status::unauthorized,
            http_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", nullptr));
    if (!st.opts.api_key.empty() && key != st.opts.api_key)
        return fail(http::status::unauthorized,
                    http_error("Incorrect API key provided. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.",
                               "invalid_request_error", "invalid_api_key"));
    if (!websocket::is_upgrade(req))
        return fail(http::status::bad_request,
                    http_error("This endpoint only accepts WebSocket upgrades.",
                               "invalid_request_error", nullptr));
    d.info.model = query.count("model") ? query["model"]
                                        : (query.count("deployment") ? query["deployment"] : "");
    if (d.info.model.empty())
        return fail(http::status::bad_request,
                    http_error("Missing required parameter: 'model'.", "invalid_request_error",
                               "missing_required_parameter", "model"));
    if (auto it = req.find("OpenAI-Beta");
        it != req.end() && std::string(it->value()).find("realtime") != std::string::npos)
        d.info.beta = true;
    return d;
}

template <class Stream>
asio::awaitable<void> serve(shared_state& st, Stream stream) {
    beast::flat_buffer buf;
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
    co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    http::request<http::string_body> req = parser.release();
    upgrade_decision d = decide(st, req);
    if (d.status != http::status::switching_protocols) {
        {
            std::lock_guard lock(st.sum_mutex);
            st.sum.rejected_upgrades++;
        }
        st.write_raw_event(
            "conn", "", "connection.rejected",
            {{"status", static_cast<int>(d.status)}, {"target", std::string(req.target())}});
        http::response<http::string_body> res{d.status, req.version()};
        res.set(http::field::server, "ava-realtime-sim");
        res.set(http::field::content_type, "application/json");
        res.keep_alive(false);
        res.body() = d.body.dump();
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<Stream> ws(std::move(stream));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(32u * 1024 * 1024);  // read a too-big append and answer it with an error
    const std::string sub = d.subprotocol;
    ws.set_option(websocket::stream_base::decorator([sub](websocket::response_type& res) {
        res.set(http::field::server, "ava-realtime-sim");
        if (!sub.empty()) res.set(http::field::sec_websocket_protocol, sub);
    }));
    co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto ex = co_await asio::this_coro::executor;
    auto sess = std::make_shared<session>(
        st, std::make_unique<ws_transport<websocket::stream<Stream>>>(std::move(ws)), ex, d.info);
    co_await sess->run();
}

asio::awaitable<void> serve_connection(shared_state& st, tcp::socket socket) {
    beast::tcp_stream tcp_stream(std::move(socket));
    if (st.tls) {
        beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *st.tls);
        error_code ec;
        beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(15));
        co_await tls_stream.async_handshake(ssl::stream_base::server,
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        co_await serve(st, std::move(tls_stream));
    } else {
        co_await serve(st, std::move(tcp_stream));
    }
}

}  // namespace

// ---- server ------------------------------------------------------------------------------------

struct server::impl {
    shared_state st;
    std::vector<std::thread> threads;
    bool started = false;
    bool stopped = false;
    unsigned short bound_port = 0;
    // Declared last: destroyed first, so no session outlives the state above it refers to.
    std::unique_ptr<asio::io_context> ioc;
    std::unique_ptr<tcp::acceptor> acceptor;
};

server::server(options opts) : impl_(std::make_unique<impl>()) {
    shared_state& st = impl_->st;
    st.opts = std::move(opts);
    st.log = ava::log::get("sim");
    if (!st.opts.api_key.empty()) ava::log::add_secret(st.opts.api_key);
    st.scen = st.opts.scenario_file.empty() ? detail::default_scenario()
                                            : detail::load_scenario(st.opts.scenario_file);
    if (st.opts.tls_cert_file.empty() != st.opts.tls_key_file.empty())
        throw std::runtime_error("sim: TLS needs both a certificate and a key file");
    if (!st.opts.tls_cert_file.empty()) {
        st.tls.emplace(ssl::context::tls_server);
        st.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
        error_code ec;
        st.tls->use_certificate_chain_file(st.opts.tls_cert_file, ec);
        if (ec)
            throw std::runtime_error("sim: cannot load TLS certificate " + st.opts.tls_cert_file +
                                     ": " + ec.message());
        st.tls->use_private_key_file(st.opts.tls_key_file, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("sim: cannot load TLS key " + st.opts.tls_key_file + ": " +
                                     ec.message());
    }
    if (st.opts.synth != "auto" && st.opts.synth != "espeak" && st.opts.synth != "tone")
        throw std::runtime_error("sim: synth must be auto, espeak or tone");
    for (const fault& f : st.opts.faults)
        if (f.kind.empty()) throw std::runtime_error("sim: a fault without a kind");
    if (!st.opts.events_file.empty()) {
        st.events.open(st.opts.events_file, std::ios::out | std::ios::trunc);
        if (!st.events)
            throw std::runtime_error("sim: cannot write the event log " + st.opts.events_file);
    }
}

server::~server() {
    stop();
}

void server::start() {
    if (impl_->started) throw std::runtime_error("sim: start() called twice");
    impl_->started = true;
    shared_state& st = impl_->st;
    impl_->ioc = std::make_unique<asio::io_context>(std::max(1, st.opts.threads));
    error_code ec;
    const auto address = asio::ip::make_address(st.opts.host, ec);
    if (ec) throw std::runtime_error("sim: bad host address '" + st.opts.host + "'");
    tcp::endpoint ep(address, st.opts.port);
    auto acc = std::make_unique<tcp::acceptor>(*impl_->ioc);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("sim: cannot listen on " + st.opts.host + ":" +
                                 std::to_string(st.opts.port) + ": " + ec.message());
    impl_->bound_port = acc->local_endpoint().port();
    impl_->acceptor = std::move(acc);
    tcp::acceptor& acceptor = *impl_->acceptor;
    asio::io_context& ioc = *impl_->ioc;
    asio::co_spawn(
        ioc,
        [&st, &acceptor, &ioc]() -> asio::awaitable<void> {
            for (;;) {
                error_code aec;
                tcp::socket socket(asio::make_strand(ioc));
                co_await acceptor.async_accept(socket,
                                               asio::redirect_error(asio::use_awaitable, aec));
                if (aec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
                if (aec) continue;
                // Like the real service: no Nagle delay. Without it a reply's burst of small
                // events (created, item added, part added, first delta) waits for the client's
                // delayed ACK, which showed up as ~20 ms in the client's delta latency figure.
                error_code nd;
                socket.set_option(tcp::no_delay(true), nd);
                auto ex = socket.get_executor();
                asio::co_spawn(ex, serve_connection(st, std::move(socket)),
                               [&st](std::exception_ptr e) {
                                   if (!e) return;
                                   try {
                                       std::rethrow_exception(e);
                                   } catch (const std::exception& x) {
                                       st.log->error("sim: connection failed: {}", x.what());
                                   }
                               });
            }
        },
        asio::detached);
    for (int i = 0; i < std::max(1, st.opts.threads); ++i)
        impl_->threads.emplace_back([&ioc] { ioc.run(); });
    if (!st.opts.quiet) st.log->info("sim: listening on {}", url());
}

unsigned short server::port() const {
    return impl_->bound_port;
}

std::string server::base_url() const {
    const auto& o = impl_->st.opts;
    const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    return std::string(impl_->st.tls ? "wss://" : "ws://") + host + ":" + std::to_string(port()) +
           "/v1";
}

std::string server::url() const {
    return base_url() + "/realtime?model=gpt-realtime";
}

void server::stop() {
    if (!impl_ || !impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    shared_state& st = impl_->st;
    st.stopping = true;
    asio::post(*impl_->ioc, [acc = impl_->acceptor.get()] {
        error_code ignored;
        acc->close(ignored);
    });
    {
        std::lock_guard lock(st.registry_mutex);
        for (auto& w : st.sessions)
            if (auto s = w.lock()) s->post_close(1001, "server stopping");
    }
    // Give sessions a moment to send their close frames, then stop the loop.
    const auto deadline = clock::now() + std::chrono::milliseconds(1500);
    while (st.live > 0 && clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    {
        std::lock_guard lock(st.registry_mutex);
        st.sessions.clear();
    }
    impl_->acceptor.reset();
    impl_->ioc.reset();  // destroys pending coroutines (and their sessions) while st is alive
    std::lock_guard lock(st.events_mutex);
    if (st.events.is_open()) st.events.flush();
}

summary server::get_summary() const {
    std::lock_guard lock(impl_->st.sum_mutex);
    return impl_->st.sum;
}

std::string format_summary(const summary& s) {
    std::ostringstream out;
    out << "sessions: " << s.sessions << ", rejected upgrades: " << s.rejected_upgrades << "\n"
        << "turns: " << s.turns << ", responses: " << s.responses << "\n"
        << "errors sent: " << s.errors_sent << ", faults injected: " << s.faults_injected << "\n"
        << "truncations: " << s.truncations.size() << "\n";
    for (const auto& t : s.truncations)
        out << "  " << t.item_id << ": audio_end_ms " << t.audio_end_ms << " of " << t.generated_ms
            << " ms generated" << (t.accepted ? "" : " (rejected)") << "\n";
    for (const auto& ss : s.per_session) {
        out << "session " << ss.id << ": turns " << ss.turns << ", responses " << ss.responses
            << " (" << ss.responses_cancelled << " cancelled), input " << ss.input_audio_ms
            << " ms, output " << ss.output_audio_ms << " ms, errors " << ss.errors_sent;
        if (!ss.error_codes.empty()) {
            out << " [";
            for (std::size_t i = 0; i < ss.error_codes.size(); ++i)
                out << (i ? " " : "") << ss.error_codes[i];
            out << "]";
        }
        out << ", faults " << ss.faults_injected
            << ", end: " << (ss.ended ? ss.close_reason : "open") << "\n";
    }
    return out.str();
}

fault parse_fault(const std::string& spec) {
    fault f;
    std::istringstream in(spec);
    for (std::string kv; std::getline(in, kv, ',');) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos)
            throw std::invalid_argument("fault: '" + kv + "' is not key=value");
        const std::string k = kv.substr(0, eq);
        const std::string v = kv.substr(eq + 1);
        auto number = [&]() -> long long {
            long long n = 0;
            const auto [ptr, err] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (err != std::errc() || ptr != v.data() + v.size())
                throw std::invalid_argument("fault: '" + k + "' needs a number, not '" + v + "'");
            return n;
        };
        if (k == "kind")
            f.kind = v;
        else if (k == "turn")
            f.turn = static_cast<int>(number());
        else if (k == "at")
            f.at = v;
        else if (k == "nth")
            f.nth = static_cast<int>(number());
        else if (k == "code")
            f.code = static_cast<int>(number());
        else if (k == "reason")
            f.reason = v;
        else if (k == "abrupt")
            f.abrupt = v == "1" || v == "true" || v == "yes";
        else if (k == "ms")
            f.ms = static_cast<int>(number());
        else if (k == "bytes")
            f.bytes = static_cast<std::size_t>(number());
        else
            throw std::invalid_argument("fault: unknown key '" + k + "'");
    }
    static const char* kinds[] = {"close",           "malformed_json", "unknown_event",
                                  "oversized_frame", "stall",          "server_error"};
    bool ok = false;
    for (const char* k : kinds) ok = ok || f.kind == k;
    if (!ok)
        throw std::invalid_argument(
            "fault: kind must be one of close, malformed_json, unknown_event, oversized_frame, "
            "stall, server_error");
    if (f.nth < 1) throw std::invalid_argument("fault: nth must be >= 1");
    return f;
}

}  // namespace ava::sim
