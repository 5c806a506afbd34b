// The conversation: what each server event does.
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

// ---- server events ---------------------------------------------------------------------------

void conversation::on_server_event(server_event ev, steady_time now) {
    // Not online: stragglers of a socket we are rolling away from; that session is over.
    if (stopped_ || !online()) return;
    response_activity_ = now;
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
    skip_backchannel_answer_ = false;  // a new turn: whatever it is, it is answered
    if (barge_in_held_) {
        // Playback is already paused locally: cut nothing until the session knows whether this
        // is the user taking the turn or a backchannel (confirm_barge_in / withdraw_barge_in).
        barge_in_deferred_ = true;
        deferred_response_id_ = response_ == response_state::active ? active_response_id_ : "";
        return;
    }
    barge_in(interrupt_source::server_vad, now);
}

void conversation::handle(server::speech_stopped& /*e*/, steady_time now) {
    user_speaking_ = false;
    turn_end_at_ = now;  // latency is measured from here (arrival of speech_stopped)
    // The server commits this turn and answers it itself: not a moment to roll over.
    const bool server_answers = !turn_.has_value() || (turn_->type != vad_type::none &&
                                                       turn_->create_response.value_or(true));
    if (server_answers) answer_due_ = now;
    // Before the answer to it is created: it is skipped, never started.
    if (withdraw_on_stop_) withdraw_barge_in(now);
}

void conversation::handle(server::input_audio_committed& e, steady_time now) {
    user_speaking_ = false;
    if (withdraw_on_stop_) withdraw_barge_in(now);
    if (e.item_id.empty()) return;
    const bool known = items_.contains(e.item_id);
    item_rec& rec = ensure_item(e.item_id, e.previous_item_id, speaker::user, now);
    if (!known) rec.is_message = transcribing_;
    ++sum_.user_turns;
}

void conversation::handle(server::response_created& e, steady_time /*now*/) {
    answer_due_.reset();
    const bool ours = response_ == response_state::requested;
    response_ = response_state::active;
    active_response_id_ = e.response.id;
    create_event_id_.clear();
    if (skip_backchannel_answer_ && !ours) {
        // The server's answer to a withdrawn backchannel ("mm-hm"): the reply it interrupted
        // goes on playing instead.
        skip_backchannel_answer_ = false;
        drop_when_created_ = cancel_when_created_ = true;
    }
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
            add_tool_call(r.id, it.call_id, it.name, it.arguments, now);
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

void conversation::handle(server::output_item_done& e, steady_time now) {
    if (e.item.type == "function_call" && !e.item.call_id.empty() &&
        e.item.status != "incomplete") {
        add_tool_call(e.response_id, e.item.call_id, e.item.name, e.item.arguments, now);
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
    emit(act::end_playback{rec->id});
    rec->audio_done = true;
    if (rec->heard >= rec->received) mark_played_out(*rec);
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

void conversation::handle(server::function_call_arguments_done& e, steady_time now) {
    add_tool_call(e.response_id, e.call_id, e.name, e.arguments, now);
}

void conversation::handle(server::conversation_item_truncated& /*e*/, steady_time /*now*/) {}
void conversation::handle(server::conversation_item_deleted& /*e*/, steady_time /*now*/) {}

void conversation::handle(unknown_event& /*e*/, steady_time /*now*/) {
    // New server events appear over time; ignoring them is the protocol's expectation.
}

void conversation::handle(decode_error& e, steady_time now) {
    constexpr int shown_per_window = 3;
    if (e.event_type == "response.done" && response_ != response_state::none) {
        // Its usage or output list could not be read, but the response is over all the same:
        // end it, or the conversation (and a tool batch waiting for it) would wait forever.
        response_info r;
        r.id = active_response_id_;
        r.status = "completed";
        response_finished(r, now);
    }
    report_held_bad_events(now, false);
    // The event and the field with its JSON path: "missing required field" alone told the
    // user nothing about what the server sent.
    std::string what = "could not read a server event" +
                       (e.event_type.empty() ? std::string() : " (" + e.event_type + ")") + ": " +
                       (e.field.empty() ? std::string() : e.field + ": ") + e.message;
    if (bad_events_.shown == 0 && bad_events_.held == 0) bad_events_.start = now;
    if (bad_events_.shown < shown_per_window) {
        ++bad_events_.shown;
        notice(what + "; ignored", true);
        return;
    }
    ++bad_events_.held;
    bad_events_.last = std::move(what);
}

/// The count of unreadable events held back, once their 10 s window is over (or at once when
/// `window_over`), in one line with the last of them.
void conversation::report_held_bad_events(steady_time now, bool window_over) {
    constexpr auto window = std::chrono::seconds(10);
    if (bad_events_.shown == 0 && bad_events_.held == 0) return;
    if (!window_over && now - bad_events_.start < window) return;
    if (bad_events_.held > 0) {
        notice(std::to_string(bad_events_.held) +
                   " more unreadable server events in the last 10 s, ignored (the last: " +
                   bad_events_.last + ")",
               true);
    }
    bad_events_ = {};
}

/// A response with no server event for response_stall (a server that stopped mid-response, a
/// response.created never followed, a response.done that never came) is ended here, as if its
/// response.done had arrived, so its tool calls still run and the next turn can start.
void conversation::check_response_stall(steady_time now) {
    if (response_ == response_state::none || !online() || opts_.response_stall.count() <= 0) {
        return;
    }
    if (response_activity_ == steady_time{}) {
        response_activity_ = now;
        return;
    }
    if (now - response_activity_ < opts_.response_stall) return;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(opts_.response_stall);
    notice("the service sent nothing for the current reply in " + std::to_string(secs.count()) +
               " s; ending it here and going on",
           true);
    if (response_ == response_state::active) {
        client::response_cancel c;
        if (!active_response_id_.empty()) c.response_id = active_response_id_;
        send(std::move(c));
    }
    response_activity_ = now;
    if (response_ == response_state::requested) {  // never created: nothing to finish
        response_ = response_state::none;
        create_event_id_.clear();
        if (pending_create_) send_response_create();
        return;
    }
    response_info r;
    r.id = active_response_id_;
    r.status = "completed";  // what it did deliver (a tool call) still counts
    response_finished(r, now);
}

}  // namespace ava::realtime
