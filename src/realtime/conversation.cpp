// The conversation state machine. See conversation.hpp for the contract; this file explains the
// choices inside. Runs on one thread (the io_context thread); no I/O, no clocks, no locks.
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include <utility>

#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"

namespace ava::realtime {

namespace {

/// Client event ids remembered to name the event an error refers to (error.event_id).
constexpr std::size_t max_remembered_ids = 128;

bool is_space(char c) noexcept {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::int64_t count_words(std::string_view s) noexcept {
    std::int64_t n = 0;
    bool in_word = false;
    for (char c : s) {
        if (is_space(c)) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            ++n;
        }
    }
    return n;
}

/// The output the model gets for a failed tool: a JSON object it can read. A handler that
/// already produced an object (e.g. {"error":"...","hint":"..."}) is passed through.
std::string error_output(std::string_view output) {
    const std::string_view t = trim(output);
    if (!t.empty() && t.front() == '{' && t.back() == '}') return std::string(t);
    return "{\"error\":" + core::json_string(t.empty() ? "the tool failed" : t) + "}";
}

/// Error codes after which the session cannot go on; retrying would fail the same way.
std::optional<errc> fatal_code(std::string_view code) noexcept {
    if (code == "invalid_api_key") return errc::auth_failed;
    if (code == "insufficient_quota") return errc::quota;
    if (code == "beta_api_shape_disabled") return errc::protocol;
    if (code == "model_not_found") return errc::not_found;
    return std::nullopt;
}

/// Splits an assistant line into what was heard and the unheard tail. The server gives no
/// word timings for output audio, so this is an ESTIMATE: the heard fraction of the item's
/// received audio applied to the transcript's length, snapped back to a word boundary (a word
/// cut in the middle counts as unheard). The transcript runs ahead of the audio, so the
/// estimate leans towards "heard"; it is marked as estimated in the transcript action.
std::pair<std::string, std::string> split_heard(const std::string& text, std::int64_t heard,
                                                std::int64_t received) {
    if (received <= 0 || heard >= received) return {text, {}};
    if (heard <= 0) return {{}, std::string(trim(text))};
    const double fraction = static_cast<double>(heard) / static_cast<double>(received);
    auto cut = static_cast<std::size_t>(fraction * static_cast<double>(text.size()));
    cut = std::min(cut, text.size());
    if (cut < text.size() && cut > 0 && !is_space(text[cut]) && !is_space(text[cut - 1])) {
        while (cut > 0 && !is_space(text[cut - 1])) --cut;  // back to the word's start
    }
    return {std::string(trim(std::string_view(text).substr(0, cut))),
            std::string(trim(std::string_view(text).substr(cut)))};
}

template <class T>
std::string_view event_type_name() noexcept {
    // unknown_event and decode_error carry `type` as a data member, not the static wire name.
    if constexpr (std::is_same_v<T, unknown_event> || std::is_same_v<T, decode_error>) {
        return "unknown";
    } else {
        return T::type;
    }
}

std::string ms_text(std::chrono::milliseconds ms) {
    return std::to_string(ms.count()) + " ms";
}

}  // namespace

// ---- free functions --------------------------------------------------------------------------

double cost_usd(const usage& u, const token_prices& p) noexcept {
    const input_token_details& in = u.input_details;
    const token_details& cached = in.cached_tokens_details;
    auto part = [](std::int64_t all, std::int64_t cached_part, double full, double cheap) {
        const std::int64_t c =
            std::clamp<std::int64_t>(cached_part, 0, std::max<std::int64_t>(all, 0));
        return static_cast<double>(all - c) * full + static_cast<double>(c) * cheap;
    };
    const double total = part(in.text_tokens, cached.text_tokens, p.text_in, p.text_cached) +
                         part(in.audio_tokens, cached.audio_tokens, p.audio_in, p.audio_cached) +
                         part(in.image_tokens, cached.image_tokens, p.image_in, p.image_cached) +
                         static_cast<double>(u.output_details.text_tokens) * p.text_out +
                         static_cast<double>(u.output_details.audio_tokens) * p.audio_out;
    return total / 1e6;
}

std::string_view to_string(conv_status s) noexcept {
    switch (s) {
        case conv_status::connecting:
            return "connecting";
        case conv_status::listening:
            return "listening";
        case conv_status::user_speaking:
            return "user speaking";
        case conv_status::thinking:
            return "thinking";
        case conv_status::assistant_speaking:
            return "assistant speaking";
        case conv_status::calling_tool:
            return "calling tool";
        case conv_status::reconnecting:
            return "reconnecting";
    }
    return "unknown";
}

// ---- construction and plumbing ---------------------------------------------------------------

conversation::conversation(conversation_options opts)
    : opts_(std::move(opts)), backoff_(opts_.reconnect, opts_.jitter), turn_(opts_.session.turn) {
    if (opts_.frame_samples == 0) opts_.frame_samples = core::frame_samples;
    transcribing_ = opts_.session.input_transcription.has_value() &&
                    !opts_.session.input_transcription->model.empty();
    update_status();
}

std::vector<action> conversation::drain() {
    return std::exchange(out_, {});
}

std::string conversation::next_event_id() {
    return "ava_ev_" + std::to_string(++event_seq_);
}

std::string conversation::send(client_event ev) {
    std::string id = next_event_id();
    std::string_view type;
    std::visit(
        [&](auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (requires { e.event_id; }) e.event_id = id;
            type = event_type_name<T>();
        },
        ev);
    sent_ids_.emplace_back(id, type);
    if (sent_ids_.size() > max_remembered_ids) sent_ids_.pop_front();
    emit(act::send{std::move(ev)});
    return id;
}

void conversation::notice(std::string text, bool warning) {
    emit(act::notice{warning ? act::notice::level::warning : act::notice::level::info,
                     std::move(text)});
}

void conversation::fatal(std::string message, std::error_code code) {
    if (stopped_) return;
    stopped_ = true;
    emit(act::fatal{std::move(message), code});
}

bool conversation::manual_turns() const noexcept {
    return turn_.has_value() && turn_->type == vad_type::none;
}

bool conversation::server_interrupts() const noexcept {
    // The GA default (no turn_detection sent) is server_vad with interrupt_response true.
    if (!turn_.has_value()) return true;
    if (turn_->type == vad_type::none) return false;
    return turn_->interrupt_response.value_or(true);
}

void conversation::update_status() {
    if (stopped_) return;
    conv_status s = conv_status::listening;
    const bool tools_running = std::any_of(batches_.begin(), batches_.end(), [](const auto& b) {
        return std::any_of(b.second.outputs.begin(), b.second.outputs.end(),
                           [](const auto& o) { return !o.second.has_value(); });
    });
    if (link_ == link_state::never_connected) {
        s = conv_status::connecting;
    } else if (link_ == link_state::reconnecting) {
        s = conv_status::reconnecting;
    } else if (user_speaking_ || talking_) {
        s = conv_status::user_speaking;
    } else if (playback_active_) {
        s = conv_status::assistant_speaking;
    } else if (tools_running) {
        s = conv_status::calling_tool;
    } else if (response_ != response_state::none || pending_create_) {
        s = conv_status::thinking;
    }
    if (!status_emitted_ || s != status_) {
        status_emitted_ = true;
        status_ = s;
        emit(act::status{s});
    }
}

void conversation::after_input(steady_time now) {
    if (stopped_) return;
    release_finals(now);
    check_rollover(now);
    update_status();
}

// ---- items and transcripts -------------------------------------------------------------------

conversation::item_rec& conversation::ensure_item(const std::string& id,
                                                  const std::optional<std::string>& prev,
                                                  speaker role, steady_time now) {
    if (auto it = items_.find(id); it != items_.end()) return it->second;
    item_rec rec;
    rec.id = id;
    rec.role = role;
    rec.added_at = now;
    // Conversation order comes from previous_item_id, not arrival: insert after the previous
    // item when we know it; otherwise (first item, a re-seeded predecessor, or no hint) append.
    auto pos = order_.end();
    if (prev.has_value() && !prev->empty()) {
        auto p = std::find(order_.begin(), order_.end(), *prev);
        if (p != order_.end()) pos = std::next(p);
    }
    order_.insert(pos, id);
    return items_.emplace(id, std::move(rec)).first->second;
}

conversation::item_rec* conversation::find_item(std::string_view id) {
    auto it = items_.find(id);
    return it == items_.end() ? nullptr : &it->second;
}

std::size_t conversation::position_of(std::string_view id) const {
    auto it = std::find(order_.begin(), order_.end(), id);
    return static_cast<std::size_t>(std::distance(order_.begin(), it));
}

void conversation::emit_line(item_rec& rec, bool final) {
    if (!rec.is_message) return;
    act::transcript t;
    t.item_id = rec.id;
    t.role = rec.role;
    t.final = final;
    t.failed = rec.failed;
    t.position = position_of(rec.id);
    if (final && rec.role == speaker::assistant) {
        t.text = rec.heard_text;
        t.unheard = rec.unheard_text;
        t.unheard_estimated = rec.estimated;
    } else {
        t.text = rec.text;
    }
    emit(std::move(t));
}

bool conversation::line_ready(const item_rec& rec) const {
    if (rec.role == speaker::user) return rec.text_done || rec.failed;
    if (rec.cut) return true;  // flushed and reported: the heard part is known
    if (!rec.text_done) return false;
    return !rec.has_audio || rec.played_out;
}

void conversation::cut_item_text(item_rec& rec) {
    if (rec.cut) return;
    rec.cut = true;
    auto [heard, unheard] = split_heard(rec.text, rec.heard, rec.received);
    rec.estimated = !unheard.empty() && !heard.empty();
    rec.heard_text = std::move(heard);
    rec.unheard_text = std::move(unheard);
}

void conversation::release_finals(steady_time now) {
    // A final line goes out only when every line before it has gone out. A user line whose
    // transcript is late blocks for at most transcript_wait; after that it no longer blocks
    // and is released on its own (with its position) when its transcript completes.
    bool blocked = false;
    for (const std::string& id : order_) {
        item_rec& rec = items_.at(id);
        if (!rec.is_message || rec.released) continue;
        if (line_ready(rec)) {
            if (blocked) continue;
            if (rec.role == speaker::assistant && !rec.cut) {
                rec.heard_text = rec.text;
                rec.unheard_text.clear();
            }
            rec.released = true;
            if (rec.role == speaker::assistant && trim(rec.heard_text).empty() &&
                rec.unheard_text.empty()) {
                continue;  // e.g. an item of an interrupted response: nothing to show
            }
            emit_line(rec, true);
            if (rec.role == speaker::user) {
                sum_.user_words += count_words(rec.text);
            } else {
                sum_.assistant_words += count_words(rec.heard_text);
            }
        } else if (rec.role == speaker::user && now - rec.added_at >= opts_.transcript_wait) {
            continue;
        } else {
            blocked = true;
        }
    }
}

void conversation::mark_played_out(item_rec& rec) {
    rec.played_out = true;
    rec.heard = rec.received;
}

// ---- connection ------------------------------------------------------------------------------

// When to roll over, counted from the connect, for a session cap of `cap`: `rollover_margin`
// before it, but never in the first three quarters of the session. A server whose cap is shorter
// than the margin would otherwise make every new connection roll over at once (a storm).
std::chrono::milliseconds conversation::rollover_after(std::chrono::milliseconds cap) const {
    return std::max(cap - opts_.rollover_margin, cap * 3 / 4);
}

void conversation::on_connected(steady_time now, std::optional<std::int64_t> unix_now_s) {
    if (stopped_) return;
    const bool reconnected = generation_ > 0;
    ++generation_;
    if (reconnected) ++sum_.reconnects;
    link_ = link_state::online;
    expired_ = false;
    connected_at_ = now;
    unix_at_connect_ = unix_now_s;
    rollover_at_ = now + rollover_after(opts_.max_session);
    response_ = response_state::none;
    active_response_id_.clear();
    create_event_id_.clear();
    pending_create_ = false;
    cancel_when_created_ = false;
    drop_when_created_ = false;
    user_speaking_ = false;
    turn_ = opts_.session.turn;

    send(client::session_update{.event_id = {}, .session = opts_.session});
    if (reconnected) reseed();

    // Typed lines that waited for the connection: their items, then one response.
    std::vector<std::string> texts = std::exchange(unsent_user_texts_, {});
    for (const std::string& id : texts) {
        const item_rec* rec = find_item(id);
        if (rec == nullptr) continue;
        item it;
        it.id = rec->id;
        it.type = "message";
        it.role = "user";
        it.content.push_back(content_part{.type = "input_text", .text = rec->text});
        send(client::conversation_item_create{.event_id = {}, .item = std::move(it)});
    }
    if (!texts.empty()) request_response(now);

    // Then the mic audio buffered while offline, oldest first.
    while (!offline_frames_.empty()) {
        send(client::input_audio_buffer_append{.event_id = {},
                                               .audio = std::move(offline_frames_.front())});
        offline_frames_.pop_front();
    }
    offline_samples_ = 0;
    if (dropped_since_report_ > 0) {
        notice("lost " + std::to_string(core::samples_to_ms(dropped_since_report_)) +
                   " ms of microphone audio while disconnected (buffer full)",
               true);
        dropped_since_report_ = 0;
    }
    after_input(now);
}

void conversation::leave_connection(steady_time now) {
    // Everything tied to the old server conversation ends here. Items stay for transcripts and
    // re-seeding but are never truncated or deleted (the new session does not know them).
    for (auto& [id, rec] : items_) {
        rec.stale = true;
        if (rec.role == speaker::user && !rec.text_done && !rec.failed) {
            rec.text_done = true;  // its transcript will not come
            rec.failed = rec.text.empty();
        }
        if (rec.role == speaker::assistant) {
            rec.text_done = true;
            rec.audio_done = true;  // no more audio will come: the rest plays out, then idle
        }
    }
    std::size_t discarded = 0;
    for (auto& [rid, batch] : batches_) {
        for (auto& [call_id, out] : batch.outputs) {
            if (!out.has_value()) ++discarded;
            abandoned_calls_.insert(call_id);
        }
    }
    batches_.clear();
    call_to_response_.clear();
    if (discarded > 0) {
        notice(std::to_string(discarded) +
                   " tool call(s) were still running when the connection was lost; their "
                   "results will be discarded",
               true);
    }
    response_ = response_state::none;
    active_response_id_.clear();
    create_event_id_.clear();
    pending_create_ = false;
    cancel_when_created_ = false;
    drop_when_created_ = false;
    dropped_responses_.clear();
    user_speaking_ = false;
    rollover_at_.reset();
    release_finals(now);
}

void conversation::on_disconnected(const disconnect_info& info, steady_time now) {
    if (stopped_) return;
    const std::string why = info.reason.empty() ? std::string("connection closed") : info.reason;
    if (info.http_status == 401 || info.http_status == 403) {
        fatal("the server refused the credentials (HTTP " + std::to_string(info.http_status) +
                  "): check the API key and its access to the model",
              make_error_code(errc::auth_failed));
        return;
    }
    if (info.http_status == 404) {
        fatal(
            "the server does not know this model or endpoint (HTTP 404): check the model "
            "name and the base URL",
            make_error_code(errc::not_found));
        return;
    }
    // Close codes that mean our client broke the protocol: retrying would do the same again.
    // Not 1009: our connection closes with it when the SERVER sends an oversized message, which
    // is the server's fault and may not happen again (the connection also calls it recoverable).
    switch (info.close_code) {
        case 1002:
        case 1003:
        case 1007:
        case 1008:
        case 1010:
            fatal("the server closed the connection (code " + std::to_string(info.close_code) +
                      "): " + why,
                  make_error_code(errc::protocol));
            return;
        default:
            break;
    }

    const bool was_online = link_ == link_state::online;
    if (was_online) leave_connection(now);
    link_ = link_state::reconnecting;
    // The session cap (session_expired, then close 1001) is not a fault: reconnect at once.
    if (was_online && (expired_ || info.close_code == 1001)) {
        expired_ = false;
        emit(act::reconnect{std::chrono::milliseconds{0}, 0, false,
                            "the session reached its time cap"});
        after_input(now);
        return;
    }
    const std::optional<std::chrono::milliseconds> delay = backoff_.next();
    if (!delay.has_value()) {
        fatal("could not reconnect after " + std::to_string(backoff_.attempts()) +
                  " tries (last: " + why + ")",
              make_error_code(errc::closed));
        return;
    }
    notice("connection lost (" + why + "); reconnecting in " + ms_text(*delay), true);
    emit(act::reconnect{*delay, backoff_.attempts(), false, why});
    after_input(now);
}

void conversation::reseed() {
    // The new server conversation is empty: give the model the history as text items (user
    // lines as input_text, assistant lines as output_text with only the HEARD part). Function
    // calls and audio are left out (as livekit does). Bounded to the newest lines.
    struct line {
        speaker role;
        std::string text;
    };
    std::vector<line> lines;
    for (const std::string& id : order_) {
        const item_rec& rec = items_.at(id);
        if (!rec.is_message || rec.seeded) continue;
        if (std::find(unsent_user_texts_.begin(), unsent_user_texts_.end(), id) !=
            unsent_user_texts_.end()) {
            continue;
        }
        std::string text;
        if (rec.role == speaker::user) {
            text = std::string(trim(rec.text));
        } else if (rec.cut || rec.released) {
            text = rec.heard_text.empty() && !rec.cut ? rec.text : rec.heard_text;
        } else {
            text = split_heard(rec.text, rec.heard, rec.received).first;
        }
        if (!trim(text).empty()) lines.push_back({rec.role, std::move(text)});
    }
    std::size_t first = lines.size();
    std::size_t chars = 0;
    while (first > 0 && lines.size() - first < opts_.reseed_max_items) {
        const std::size_t len = lines[first - 1].text.size();
        if (chars + len > opts_.reseed_max_chars) break;
        chars += len;
        --first;
    }
    std::size_t k = 0;
    for (std::size_t i = first; i < lines.size(); ++i) {
        item it;
        it.id = "ava_s" + std::to_string(generation_) + "_" + std::to_string(++k);
        it.type = "message";
        const bool user = lines[i].role == speaker::user;
        it.role = user ? "user" : "assistant";
        it.content.push_back(
            content_part{.type = user ? "input_text" : "output_text", .text = lines[i].text});
        seed_ids_.insert(it.id);
        send(client::conversation_item_create{.event_id = {}, .item = std::move(it)});
    }
    if (first > 0) {
        notice("history re-seeded with the last " + std::to_string(lines.size() - first) + " of " +
                   std::to_string(lines.size()) + " lines",
               false);
    }
}

void conversation::check_rollover(steady_time now) {
    if (!online() || !rollover_at_.has_value() || now < *rollover_at_) return;
    const bool flushing = std::any_of(items_.begin(), items_.end(),
                                      [](const auto& kv) { return kv.second.flush_pending; });
    const bool quiet = response_ == response_state::none && !pending_create_ && batches_.empty() &&
                       !user_speaking_ && !talking_ && !playback_active_ && !flushing;
    if (!quiet) return;
    leave_connection(now);
    link_ = link_state::reconnecting;
    emit(act::reconnect{std::chrono::milliseconds{0}, 0, true,
                        "rolling over to a new session before the time cap"});
}

// ---- server events ---------------------------------------------------------------------------

void conversation::on_server_event(server_event ev, steady_time now) {
    // Not online: stragglers of a socket we are rolling away from; that session is over.
    if (stopped_ || !online()) return;
    std::visit([&](auto& e) { handle(e, now); }, ev);
    after_input(now);
}

void conversation::handle(server::error& e, steady_time now) {
    handle_error(e.error, now);
}

void conversation::handle_error(const error_info& err, steady_time /*now*/) {
    std::string_view about;
    if (!err.event_id.empty()) {
        for (const auto& [id, type] : sent_ids_) {
            if (id == err.event_id) about = type;
        }
    }
    const bool ours_create = response_ == response_state::requested && !err.event_id.empty() &&
                             err.event_id == create_event_id_;
    if (err.code == "conversation_already_has_active_response") {
        // Benign (DESIGN rule 2): a response we have not seen created is running (server VAD
        // raced us). It sees the same conversation, so the request is not repeated.
        if (ours_create) {
            response_ = response_state::active;
            active_response_id_.clear();
            create_event_id_.clear();
        }
        notice("response.create skipped: a response is already active", false);
        return;
    }
    if (err.code == "response_cancel_not_active") {
        notice("response.cancel: nothing was active", false);
        return;
    }
    if (auto fc = fatal_code(err.code)) {
        fatal("the server refused the session: " + err.code +
                  (err.message.empty() ? std::string() : ": " + err.message),
              make_error_code(*fc));
        return;
    }
    if (err.code == "session_expired") {
        expired_ = true;
        notice("the session reached its time cap; reconnecting with the history", false);
        return;
    }
    if (ours_create) {
        // Our response.create was rejected for another reason: it will not start, so do not
        // wait for it (a queued request goes out now).
        response_ = response_state::none;
        create_event_id_.clear();
        if (pending_create_) send_response_create();
    }
    std::string text = err.type == "server_error" ? "server error (transient)" : "server error";
    if (!about.empty()) text += " for " + std::string(about);
    if (!err.code.empty()) text += ": " + err.code;
    if (!err.message.empty()) text += ": " + err.message;
    notice(std::move(text), true);
}

void conversation::handle(server::session_created& e, steady_time /*now*/) {
    if (unix_at_connect_.has_value() && e.session.expires_at.has_value()) {
        const std::int64_t left_s = *e.session.expires_at - *unix_at_connect_;
        if (left_s > 0) {
            const steady_time cap = connected_at_ + rollover_after(std::chrono::seconds{left_s});
            if (!rollover_at_.has_value() || cap < *rollover_at_) rollover_at_ = cap;
        }
    }
}

void conversation::handle(server::session_updated& e, steady_time /*now*/) {
    if (e.session.turn.has_value()) turn_ = e.session.turn;
    // The server accepted our configuration: the connection works, so a later drop starts the
    // backoff from its first delay again.
    backoff_.reset();
}

void conversation::handle(server::conversation_item_added& e, steady_time now) {
    const item& it = e.item;
    if (it.id.empty() || seed_ids_.contains(it.id)) return;
    const bool known = items_.contains(it.id);
    const bool message = it.type == "message" && (it.role == "user" || it.role == "assistant");
    item_rec& rec = ensure_item(it.id, e.previous_item_id,
                                it.role == "assistant" ? speaker::assistant : speaker::user, now);
    if (known) return;
    rec.is_message = message;
    if (!message) return;
    if (rec.role == speaker::user) {
        bool audio = false;
        std::string text;
        for (const content_part& c : it.content) {
            if (c.type == "input_audio") audio = true;
            if (c.type == "input_text") text += c.text;
        }
        if (audio) {
            rec.is_message = transcribing_;  // no transcription: no line to show or wait for
        } else {
            rec.text = std::move(text);
            rec.text_done = true;
        }
    }
}

void conversation::handle(server::conversation_item_done& e, steady_time /*now*/) {
    item_rec* rec = find_item(e.item.id);
    if (rec == nullptr || rec->role != speaker::assistant || rec->flushed || rec->text_done) {
        return;
    }
    for (const content_part& c : e.item.content) {
        const std::string& full = c.transcript.empty() ? c.text : c.transcript;
        if (!full.empty()) rec->text = full;
    }
    rec->text_done = true;
}

void conversation::handle(server::input_transcription_delta& e, steady_time now) {
    item_rec& rec = ensure_item(e.item_id, std::nullopt, speaker::user, now);
    if (rec.text_done) return;
    rec.is_message = true;
    rec.text += e.delta;
    emit_line(rec, false);
}

void conversation::handle(server::input_transcription_completed& e, steady_time now) {
    item_rec& rec = ensure_item(e.item_id, std::nullopt, speaker::user, now);
    rec.is_message = true;
    rec.text = e.transcript;
    rec.text_done = true;
}

void conversation::handle(server::input_transcription_failed& e, steady_time now) {
    item_rec& rec = ensure_item(e.item_id, std::nullopt, speaker::user, now);
    rec.is_message = true;
    rec.failed = true;
    rec.text_done = true;
    notice("the user's speech could not be transcribed" +
               (e.error.message.empty() ? std::string() : ": " + e.error.message),
           false);
}

void conversation::handle(server::speech_started& /*e*/, steady_time now) {
    user_speaking_ = true;
    barge_in(interrupt_source::server_vad, now);
}

void conversation::handle(server::speech_stopped& /*e*/, steady_time now) {
    user_speaking_ = false;
    turn_end_at_ = now;  // latency is measured from here (arrival of speech_stopped)
}

void conversation::handle(server::input_audio_committed& e, steady_time now) {
    user_speaking_ = false;
    if (e.item_id.empty()) return;
    const bool known = items_.contains(e.item_id);
    item_rec& rec = ensure_item(e.item_id, e.previous_item_id, speaker::user, now);
    if (!known) rec.is_message = transcribing_;
    ++sum_.user_turns;
}

void conversation::handle(server::response_created& e, steady_time /*now*/) {
    response_ = response_state::active;
    active_response_id_ = e.response.id;
    create_event_id_.clear();
    if (drop_when_created_) {
        dropped_responses_.insert(e.response.id);
        drop_when_created_ = false;
    }
    if (cancel_when_created_) {
        cancel_when_created_ = false;
        send(client::response_cancel{.event_id = {}, .response_id = e.response.id});
    }
}

void conversation::handle(server::response_done& e, steady_time now) {
    response_finished(e.response, now);
}

void conversation::response_finished(const response_info& r, steady_time now) {
    ++sum_.responses;
    if (r.usage.has_value()) {
        const usage& u = *r.usage;
        usage& t = sum_.tokens;
        t.total_tokens += u.total_tokens;
        t.input_tokens += u.input_tokens;
        t.output_tokens += u.output_tokens;
        t.input_details.text_tokens += u.input_details.text_tokens;
        t.input_details.audio_tokens += u.input_details.audio_tokens;
        t.input_details.image_tokens += u.input_details.image_tokens;
        t.input_details.cached_tokens += u.input_details.cached_tokens;
        t.input_details.cached_tokens_details.text_tokens +=
            u.input_details.cached_tokens_details.text_tokens;
        t.input_details.cached_tokens_details.audio_tokens +=
            u.input_details.cached_tokens_details.audio_tokens;
        t.input_details.cached_tokens_details.image_tokens +=
            u.input_details.cached_tokens_details.image_tokens;
        t.output_details.text_tokens += u.output_details.text_tokens;
        t.output_details.audio_tokens += u.output_details.audio_tokens;
        const double c = cost_usd(u, opts_.prices);
        sum_.cost_usd += c;
        emit(act::usage_metrics{r.id, u, c, sum_.cost_usd});
    }

    // A failed response must not be silent (rate limits and quota end up here).
    if (r.status == "failed") {
        std::string code;
        std::string type;
        std::string message;
        if (r.details.has_value() && r.details->error.has_value()) {
            code = r.details->error->code;
            type = r.details->error->type;
            message = r.details->error->message;
        }
        if (auto fc = fatal_code(code)) {
            fatal("the response failed: " + code + (message.empty() ? "" : ": " + message),
                  make_error_code(*fc));
            return;
        }
        if (code == "rate_limit_exceeded") {
            notice(
                "rate limited by the server: the reply was not generated; wait a moment "
                "and try again",
                true);
        } else {
            notice("the response failed" + (code.empty() ? type : ": " + code) +
                       (message.empty() ? "" : ": " + message),
                   true);
        }
    } else if (r.status == "incomplete") {
        const std::string reason = r.details.has_value() ? r.details->reason : std::string();
        notice("the response was cut short" + (reason.empty() ? "" : " (" + reason + ")"), false);
    }
    const bool cancelled = r.status == "cancelled" || dropped_responses_.contains(r.id);
    if (r.status == "cancelled") dropped_responses_.insert(r.id);

    if (response_ == response_state::active &&
        (active_response_id_.empty() || active_response_id_ == r.id)) {
        response_ = response_state::none;
        active_response_id_.clear();
    }

    // No more text for this response's items. Assistant items we never tied to a response
    // (no output_item.added and every delta dropped) are closed too, or their line would
    // block every later final line.
    for (auto& [id, rec] : items_) {
        if (rec.role != speaker::assistant) continue;
        const bool listed = std::any_of(r.output.begin(), r.output.end(),
                                        [&](const item& it) { return it.id == id; });
        if (rec.response_id == r.id || rec.response_id.empty() || listed) rec.text_done = true;
    }
    // Function calls only listed in the final output (a codec or provider that gives no
    // arguments.done): collect them too.
    for (const item& it : r.output) {
        if (it.type == "function_call" && !it.call_id.empty() && it.status != "incomplete") {
            add_tool_call(r.id, it.call_id, it.name, it.arguments);
        }
    }
    if (auto b = batches_.find(r.id); b != batches_.end()) {
        b->second.response_done = true;
        b->second.cancelled = cancelled;
        maybe_finish_batch(r.id, now);
    }
    if (response_ == response_state::none && pending_create_) send_response_create();
}

void conversation::handle(server::output_item_added& e, steady_time now) {
    const item& it = e.item;
    if (it.id.empty()) return;
    const bool known = items_.contains(it.id);
    item_rec& rec = ensure_item(it.id, std::nullopt, speaker::assistant, now);
    rec.response_id = e.response_id;
    if (known) return;
    rec.is_message = it.type == "message" && it.role == "assistant";
    if (dropped_responses_.contains(e.response_id)) {
        rec.is_message = false;  // an item of a response the user already interrupted
        rec.flushed = true;
    }
}

void conversation::handle(server::output_item_done& e, steady_time /*now*/) {
    if (e.item.type == "function_call" && !e.item.call_id.empty() &&
        e.item.status != "incomplete") {
        add_tool_call(e.response_id, e.item.call_id, e.item.name, e.item.arguments);
    }
}

void conversation::handle(server::output_audio_delta& e, steady_time now) {
    if (dropped_responses_.contains(e.response_id)) {
        ++sum_.late_deltas_dropped;  // a cancelled response: never played
        return;
    }
    item_rec& rec = ensure_item(e.item_id, std::nullopt, speaker::assistant, now);
    if (rec.response_id.empty()) rec.response_id = e.response_id;
    if (rec.flushed) {
        ++sum_.late_deltas_dropped;
        return;
    }
    if (e.audio.empty()) return;
    rec.has_audio = true;
    rec.played_out = false;
    rec.received += static_cast<std::int64_t>(e.audio.size());
    current_audio_item_ = rec.id;
    playback_active_ = true;
    emit(act::play{rec.id, std::move(e.audio)});
}

void conversation::handle(server::output_audio_done& e, steady_time /*now*/) {
    item_rec* rec = find_item(e.item_id);
    if (rec == nullptr || rec->flushed) return;
    rec->audio_done = true;
    if (rec->heard >= rec->received) mark_played_out(*rec);
}

void conversation::append_text(const std::string& response_id, const std::string& item_id,
                               std::string_view delta, steady_time now) {
    if (dropped_responses_.contains(response_id)) return;
    item_rec& rec = ensure_item(item_id, std::nullopt, speaker::assistant, now);
    // After a flush the text is frozen: the heard/unheard split is computed on what matched
    // the audio we had received when the listener was cut off.
    if (rec.flushed || rec.text_done) return;
    rec.text += delta;
    emit_line(rec, false);
}

void conversation::finish_text(const std::string& item_id, const std::string& text) {
    item_rec* rec = find_item(item_id);
    if (rec == nullptr || rec->flushed || rec->text_done) return;
    if (!text.empty()) rec->text = text;
    rec->text_done = true;
}

void conversation::handle(server::output_audio_transcript_delta& e, steady_time now) {
    append_text(e.response_id, e.item_id, e.delta, now);
}

void conversation::handle(server::output_audio_transcript_done& e, steady_time /*now*/) {
    finish_text(e.item_id, e.transcript);
}

void conversation::handle(server::output_text_delta& e, steady_time now) {
    append_text(e.response_id, e.item_id, e.delta, now);
}

void conversation::handle(server::output_text_done& e, steady_time /*now*/) {
    finish_text(e.item_id, e.text);
}

void conversation::handle(server::function_call_arguments_done& e, steady_time /*now*/) {
    add_tool_call(e.response_id, e.call_id, e.name, e.arguments);
}

void conversation::handle(server::conversation_item_truncated& /*e*/, steady_time /*now*/) {}
void conversation::handle(server::conversation_item_deleted& /*e*/, steady_time /*now*/) {}

void conversation::handle(unknown_event& /*e*/, steady_time /*now*/) {
    // New server events appear over time; ignoring them is the protocol's expectation.
}

void conversation::handle(decode_error& e, steady_time /*now*/) {
    notice("could not read a server event" +
               (e.event_type.empty() ? std::string() : " (" + e.event_type + ")") + ": " +
               e.message + "; ignored",
           true);
}

// ---- responses (rule 2) ----------------------------------------------------------------------

void conversation::request_response(steady_time /*now*/) {
    if (!online()) return;  // nothing to answer on a dead socket; typed text waits separately
    if (response_ != response_state::none) {
        pending_create_ = true;  // one pending is enough: a later create covers earlier wishes
        return;
    }
    send_response_create();
}

void conversation::send_response_create() {
    pending_create_ = false;
    response_ = response_state::requested;
    create_event_id_ = send(client::response_create{});
}

// ---- barge-in (rule 1) -----------------------------------------------------------------------

void conversation::barge_in(interrupt_source src, steady_time /*now*/) {
    bool cut = false;
    // 1. Silence what is playing. The truncate (or delete) waits for on_playback_flushed, which
    //    tells what the listener actually heard.
    if (item_rec* rec = find_item(current_audio_item_);
        rec != nullptr && !rec->flushed && !rec->played_out && rec->received > 0) {
        rec->flushed = true;
        rec->flush_pending = true;
        playback_active_ = false;
        emit(act::flush_playback{rec->id});
        cut = true;
    }
    // 2. Stop the response. With server VAD and interrupt_response the server cancels it
    //    itself; otherwise (manual interrupt, push to talk, interrupt_response false) we must.
    const bool client_cancel = src != interrupt_source::server_vad || !server_interrupts();
    if (response_ == response_state::active) {
        if (!active_response_id_.empty()) dropped_responses_.insert(active_response_id_);
        if (client_cancel) {
            client::response_cancel c;
            if (!active_response_id_.empty()) c.response_id = active_response_id_;
            send(std::move(c));
        }
        cut = true;
    } else if (response_ == response_state::requested && client_cancel) {
        // Not created yet: cancel it (and drop its audio) the moment it is.
        cancel_when_created_ = true;
        drop_when_created_ = true;
        cut = true;
    }
    if (cut) ++sum_.interruptions;
}

void conversation::on_interrupt(steady_time now) {
    if (stopped_) return;
    barge_in(interrupt_source::manual, now);
    after_input(now);
}

// ---- tools (rule 3) --------------------------------------------------------------------------

void conversation::add_tool_call(const std::string& response_id, const std::string& call_id,
                                 const std::string& name, const std::string& args) {
    if (call_id.empty() || call_to_response_.contains(call_id)) return;  // seen already
    tool_batch& batch = batches_[response_id];
    batch.call_ids.push_back(call_id);
    call_to_response_[call_id] = response_id;
    if (dropped_responses_.contains(response_id)) {
        // The user interrupted this response before the call was complete: do not run it
        // (it may have side effects nobody wants any more), but answer it so the conversation
        // has an output for every call.
        batch.outputs[call_id] = error_output("not run: the user interrupted");
        return;
    }
    batch.outputs[call_id] = std::nullopt;
    emit(act::call_tool{call_id, name, args});
}

void conversation::on_tool_result(std::string_view call_id, std::string_view output, bool is_error,
                                  steady_time now) {
    if (stopped_) return;
    auto it = call_to_response_.find(call_id);
    if (it == call_to_response_.end()) {
        if (abandoned_calls_.erase(std::string(call_id)) > 0) {
            is_error ? ++sum_.tool_calls_failed : ++sum_.tool_calls_ok;
            notice("tool result for call " + std::string(call_id) +
                       " discarded: the connection it belonged to was lost",
                   false);
        } else {
            notice("tool result for unknown call " + std::string(call_id) + " ignored", true);
        }
        after_input(now);
        return;
    }
    const std::string response_id = it->second;
    tool_batch& batch = batches_.at(response_id);
    auto& slot = batch.outputs[std::string(call_id)];
    if (slot.has_value()) {
        notice("second result for tool call " + std::string(call_id) + " ignored", true);
        after_input(now);
        return;
    }
    is_error ? ++sum_.tool_calls_failed : ++sum_.tool_calls_ok;
    slot = is_error ? error_output(output) : std::string(output);
    maybe_finish_batch(response_id, now);
    after_input(now);
}

void conversation::maybe_finish_batch(const std::string& response_id, steady_time now) {
    auto b = batches_.find(response_id);
    if (b == batches_.end()) return;
    tool_batch& batch = b->second;
    if (!batch.response_done) return;
    for (const auto& [id, out] : batch.outputs) {
        if (!out.has_value()) return;
    }
    // Every call of the response has its result: one output item per call (in call order),
    // then ONE response.create, unless the response was cancelled (the user has the floor).
    for (const std::string& call_id : batch.call_ids) {
        item it;
        it.type = "function_call_output";
        it.call_id = call_id;
        it.output = *batch.outputs.at(call_id);
        send(client::conversation_item_create{.event_id = {}, .item = std::move(it)});
        call_to_response_.erase(call_id);
    }
    const bool cancelled = batch.cancelled;
    batches_.erase(b);
    if (!cancelled) request_response(now);
}

// ---- mic and turns ---------------------------------------------------------------------------

void conversation::buffer_offline(std::vector<core::sample> frame) {
    const auto cap = core::ms_to_samples(opts_.offline_audio.count());
    offline_samples_ += static_cast<std::int64_t>(frame.size());
    offline_frames_.push_back(std::move(frame));
    bool dropped_now = false;
    while (offline_samples_ > cap && !offline_frames_.empty()) {
        const auto n = static_cast<std::int64_t>(offline_frames_.front().size());
        offline_frames_.pop_front();
        offline_samples_ -= n;
        sum_.mic_samples_dropped += n;
        if (dropped_since_report_ == 0) dropped_now = true;
        dropped_since_report_ += n;
    }
    if (dropped_now) {
        notice("microphone buffer full while disconnected: dropping the oldest audio", true);
    }
}

void conversation::on_mic_audio(core::pcm_view pcm, steady_time now) {
    if (stopped_ || muted_) return;
    if (manual_turns() && !talking_) return;  // push to talk: only while the key is held
    mic_accum_.insert(mic_accum_.end(), pcm.begin(), pcm.end());
    const std::size_t n = opts_.frame_samples;
    std::size_t at = 0;
    for (; mic_accum_.size() - at >= n; at += n) {
        std::vector<core::sample> frame(mic_accum_.begin() + static_cast<std::ptrdiff_t>(at),
                                        mic_accum_.begin() + static_cast<std::ptrdiff_t>(at + n));
        if (talking_) talk_samples_ += static_cast<std::int64_t>(n);
        if (online()) {
            send(client::input_audio_buffer_append{.event_id = {}, .audio = std::move(frame)});
        } else {
            buffer_offline(std::move(frame));
        }
    }
    mic_accum_.erase(mic_accum_.begin(), mic_accum_.begin() + static_cast<std::ptrdiff_t>(at));
    after_input(now);
}

void conversation::set_muted(bool muted, steady_time now) {
    if (stopped_) return;
    muted_ = muted;
    if (muted) mic_accum_.clear();
    after_input(now);
}

void conversation::on_user_text(std::string_view text, steady_time now) {
    if (stopped_) return;
    const std::string_view t = trim(text);
    if (t.empty()) {
        notice("empty message not sent", true);
        return;
    }
    const std::string id = "ava_u" + std::to_string(++item_seq_);
    item_rec& rec = ensure_item(id, std::nullopt, speaker::user, now);
    rec.text = std::string(t);
    rec.text_done = true;
    ++sum_.user_turns;
    turn_end_at_ = now;
    if (online()) {
        item it;
        it.id = id;
        it.type = "message";
        it.role = "user";
        it.content.push_back(content_part{.type = "input_text", .text = rec.text});
        send(client::conversation_item_create{.event_id = {}, .item = std::move(it)});
        request_response(now);
    } else {
        unsent_user_texts_.push_back(id);
        notice("not connected: the message will be sent once the connection is back", false);
    }
    after_input(now);
}

void conversation::on_talk_start(steady_time now) {
    if (stopped_) return;
    if (!manual_turns()) {
        notice("push to talk needs manual turns (turn_detection null); ignored", false);
        return;
    }
    barge_in(interrupt_source::push_to_talk, now);
    mic_accum_.clear();
    if (online()) send(client::input_audio_buffer_clear{});
    talking_ = true;
    talk_samples_ = 0;
    after_input(now);
}

void conversation::on_talk_end(steady_time now) {
    if (stopped_ || !talking_) return;
    talking_ = false;
    if (!mic_accum_.empty()) {  // the last partial frame belongs to this turn
        talk_samples_ += static_cast<std::int64_t>(mic_accum_.size());
        std::vector<core::sample> rest = std::exchange(mic_accum_, {});
        if (online()) {
            send(client::input_audio_buffer_append{.event_id = {}, .audio = std::move(rest)});
        } else {
            buffer_offline(std::move(rest));
        }
    }
    const std::int64_t needed = core::ms_to_samples(opts_.min_commit.count());
    if (!online()) {
        notice("not connected: this turn cannot be committed", true);
    } else if (talk_samples_ >= needed) {
        send(client::input_audio_buffer_commit{});
        turn_end_at_ = now;
        request_response(now);
    } else {
        // Below the server's 100 ms minimum a commit is an error: clear and do nothing.
        send(client::input_audio_buffer_clear{});
        notice("too short to send (" + std::to_string(core::samples_to_ms(talk_samples_)) + " ms)",
               false);
    }
    talk_samples_ = 0;
    after_input(now);
}

// ---- playback reports ------------------------------------------------------------------------

void conversation::on_playback_started(std::string_view item_id, steady_time now) {
    if (stopped_) return;
    item_rec* rec = find_item(item_id);
    if (rec != nullptr && !rec->flushed) playback_active_ = true;
    // Latency of the turn: end of user speech to the first sample of a reply item created
    // after that moment (an older item still playing is not the answer).
    if (rec != nullptr && turn_end_at_.has_value() && rec->added_at >= *turn_end_at_) {
        const auto latency =
            std::chrono::duration_cast<std::chrono::milliseconds>(now - *turn_end_at_);
        sum_.latencies.push_back(latency);
        emit(act::turn_metrics{sum_.user_turns, latency});
        turn_end_at_.reset();
    }
    after_input(now);
}

void conversation::on_playback_progress(std::string_view item_id, std::int64_t heard_samples,
                                        steady_time now) {
    if (stopped_) return;
    if (item_rec* rec = find_item(item_id); rec != nullptr && !rec->flushed) {
        rec->heard =
            std::max(rec->heard, std::clamp<std::int64_t>(heard_samples, 0, rec->received));
        if (rec->audio_done && rec->heard >= rec->received) mark_played_out(*rec);
    }
    after_input(now);
}

void conversation::on_playback_flushed(std::string_view item_id, std::int64_t heard_samples,
                                       steady_time now) {
    if (stopped_) return;
    item_rec* rec = find_item(item_id);
    if (rec == nullptr || !rec->flush_pending) {
        notice("playback flush report for an item not being flushed ignored", false);
        return;
    }
    rec->flush_pending = false;
    playback_active_ = false;
    // What the listener heard, never more than we received (the server rejects a truncate
    // beyond its audio: "already shorter than"), rounded down to whole ms.
    const std::int64_t heard = std::clamp<std::int64_t>(heard_samples, 0, rec->received);
    rec->heard = heard;
    const std::int64_t ms = core::samples_to_ms(heard);
    if (!rec->stale && online()) {
        if (rec->audio_done && heard >= rec->received) {
            // It had all been heard: nothing to cut.
        } else if (ms >= 1) {
            send(client::conversation_item_truncate{
                .event_id = {}, .item_id = rec->id, .content_index = 0, .audio_end_ms = ms});
        } else {
            // Nothing heard: a 0 ms truncate is rejected, so remove the item instead.
            send(client::conversation_item_delete{.event_id = {}, .item_id = rec->id});
        }
    }
    cut_item_text(*rec);
    after_input(now);
}

void conversation::on_playback_idle(steady_time now) {
    if (stopped_) return;
    playback_active_ = false;
    for (auto& [id, rec] : items_) {
        if (rec.has_audio && rec.audio_done && !rec.flushed) mark_played_out(rec);
    }
    after_input(now);
}

void conversation::on_tick(steady_time now) {
    if (stopped_) return;
    after_input(now);
}

// ---- summary ---------------------------------------------------------------------------------

session_summary conversation::summary() const {
    session_summary s = sum_;
    if (!s.latencies.empty()) {
        std::vector<std::chrono::milliseconds> v = s.latencies;
        std::sort(v.begin(), v.end());
        auto rank = [&](double p) {  // nearest rank: ceil(p * n), 1-based
            const auto n = static_cast<double>(v.size());
            auto r = static_cast<std::size_t>(std::ceil(p * n));
            r = std::clamp<std::size_t>(r, 1, v.size());
            return v[r - 1];
        };
        s.latency_p50 = rank(0.50);
        s.latency_p95 = rank(0.95);
    }
    return s;
}

}  // namespace ava::realtime
