// ava-realtime-sim: one session's lifecycle (session.hpp). The output queue with its single
// writer, the reader and the dispatch of client events, session.update, the session cap and the
// end of the session; plus the small helpers every part of the session uses.
#include "session.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace ava::sim::detail {

// ---- small helpers ----------------------------------------------------------------------------

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

// ---- the session ------------------------------------------------------------------------------

session::session(shared_state& st, std::unique_ptr<transport> tr, asio::any_io_executor ex,
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

session::~session() {
    if (wav_ != nullptr) sf_close(wav_);
}

asio::awaitable<void> session::run() {
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

void session::post_close(std::uint16_t code, std::string reason) {
    asio::post(ex_, [self = shared_from_this(), code, r = std::move(reason)] {
        self->request_close(code, r);
    });
}

void session::enqueue(out_msg m) {
    if (closing_ || ended_) return;
    if (m.k == out_msg::kind::close || m.k == out_msg::kind::abort) closing_ = true;
    outq_.push_back(std::move(m));
    write_wake_.cancel();
}

asio::awaitable<void> session::writer(std::shared_ptr<session> self) {
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

void session::request_close(std::uint16_t code, const std::string& reason) {
    if (summary_reason_.empty()) summary_reason_ = reason;
    enqueue({.k = out_msg::kind::close, .code = code, .reason = reason});
}

void session::send(json ev) {
    if (closing_ || ended_) return;
    const std::string type = ev["type"].get<std::string>();
    run_faults(type);
    if (closing_) return;  // a close fault fired before this event
    ev["event_id"] = random_id("event_");
    st_.write_event("out", id_, ev);
    enqueue({.text = ev.dump(-1, ' ', false, json::error_handler_t::replace)});
}

void session::send_error(const api_error& e, const json& client_event_id) {
    json err = {{"type", e.type},
                {"code", e.code.empty() ? json(nullptr) : json(e.code)},
                {"message", e.message},
                {"param", e.param.empty() ? json(nullptr) : json(e.param)},
                {"event_id", client_event_id}};
    const std::string code = e.code.empty() ? e.type : e.code;
    st_.update(index_, [&](summary& s, session_summary& ss) {
        s.errors_sent++;
        ss.errors_sent++;
        // The first 1,000 (each error is also counted in errors_sent): a client that sends
        // bad events forever must not grow the summary without bound.
        if (ss.error_codes.size() < 1000) ss.error_codes.push_back(code);
    });
    send({{"type", "error"}, {"error", err}});
}

asio::awaitable<void> session::reader() {
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
            send_error({"invalid_value", "Binary frames are not supported; send JSON text.", ""},
                       nullptr);
            continue;
        }
        try {
            handle(msg);
        } catch (const std::exception& e) {
            // A field of an unexpected JSON type that a check did not catch: answer like
            // any other bad input and keep the session (never an escaping exception).
            st_.log->warn("sim {}: bad client event: {}", id_, e.what());
            send_error({"invalid_type", std::string("Invalid event: ") + e.what(), ""}, nullptr);
        }
    }
}

void session::handle(const std::string& msg) {
    json ev;
    if (nesting_depth(msg) > max_event_depth) {
        st_.write_raw_event("in", id_, "invalid_json", {{"bytes", msg.size()}});
        send_error({"invalid_json",
                    "We could not parse the JSON body of your request: it nests deeper than " +
                        std::to_string(max_event_depth) + " levels.",
                    ""},
                   nullptr);
        return;
    }
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
        send_error({"missing_required_parameter", "Missing required parameter: 'type'.", "type"},
                   eid);
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

void session::on_session_update(const json& ev, const json& eid) {
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

void session::configure_vad() {
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

std::string session::input_format() const {
    return config_["audio"]["input"]["format"].value("type", "audio/pcm");
}

asio::awaitable<void> session::cap_watch(std::shared_ptr<session> self) {
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

void session::finish(const std::string& fallback) {
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

}  // namespace ava::sim::detail
