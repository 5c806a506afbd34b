// The conversation: connect, disconnect, reconnect with re-seeding, rollover (rule 5).
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

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

    // The seeds of earlier connections can no longer be echoed: forget them (they would pile up
    // with every rollover of a long conversation).
    seed_ids_.clear();
    send(client::session_update{.event_id = {}, .session = opts_.session});
    send_memory();
    prune_due_ = true;
    const bool unanswered = reconnected && reseed();

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
    if (!texts.empty()) {
        request_response(now);
    } else if (unanswered) {
        // The old connection dropped after the user's turn and before any of its answer was
        // heard: without this the question would sit in the new session's history unanswered.
        notice("asking again for the answer the lost connection did not give", false);
        request_response(now);
    }

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
    answer_due_.reset();
    // That server's turns are over.
    barge_in_deferred_ = skip_backchannel_answer_ = withdraw_on_stop_ = false;
    deferred_response_id_.clear();
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
            // No more audio will come: what arrived plays out, and the player is told so that
            // it reports the end (a drop before output_audio.done left it waiting for more,
            // and the line was held until something else happened).
            if (rec.has_audio && !rec.audio_done && !rec.flushed) {
                emit(act::end_playback{rec.id});
            }
            rec.audio_done = true;
            if (rec.has_audio && !rec.flushed && rec.heard >= rec.received) mark_played_out(rec);
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
    // One rule decides (close_policy.hpp); this only words the verdict for the user.
    const close_class kind =
        info.kind.value_or(classify_disconnect(info.http_status, info.close_code));
    if (kind == close_class::fatal) {
        if (info.http_status == 401 || info.http_status == 403) {
            fatal("the server refused the credentials (HTTP " + std::to_string(info.http_status) +
                      "): check the API key and its access to the model",
                  make_error_code(errc::auth_failed));
        } else if (info.http_status == 404) {
            fatal(
                "the server does not know this model or endpoint (HTTP 404): check the model "
                "name and the base URL",
                make_error_code(errc::not_found));
        } else if (info.http_status == 0 && info.close_code != 0) {
            // A close code that means our client broke the protocol: retrying does it again.
            const std::string code = std::to_string(info.close_code);
            fatal(info.reason.empty() ? "the server closed the connection (code " + code + ")"
                  : info.reason.find(code) == std::string::npos
                      ? "the server closed the connection (code " + code + "): " + info.reason
                      : info.reason,
                  info.error ? info.error : make_error_code(errc::protocol));
        } else {
            // TLS verification, a bad URL, proxy authentication, another 4xx: the same again.
            fatal(info.reason.empty() ? std::string("the connection failed") : info.reason,
                  info.error ? info.error : make_error_code(errc::closed));
        }
        return;
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

bool conversation::reseed() {
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
    return !lines.empty() && lines.back().role == speaker::user;
}

void conversation::send_memory() {
    // Earlier sessions: the same text items as a re-seed, ahead of this session's own lines.
    std::size_t k = 0;
    for (const memory_line& l : opts_.memory) {
        if (trim(l.text).empty()) continue;
        item it;
        it.id = "ava_m" + std::to_string(generation_) + "_" + std::to_string(++k);
        it.type = "message";
        const bool user = l.role == speaker::user;
        it.role = user ? "user" : "assistant";
        it.content.push_back(
            content_part{.type = user ? "input_text" : "output_text", .text = l.text});
        seed_ids_.insert(it.id);
        send(client::conversation_item_create{.event_id = {}, .item = std::move(it)});
    }
}

void conversation::check_rollover(steady_time now) {
    if (!online() || !rollover_at_.has_value() || now < *rollover_at_) return;
    const bool flushing = std::any_of(items_.begin(), items_.end(),
                                      [](const auto& kv) { return kv.second.flush_pending; });
    // A turn the server has heard end but not yet answered would be lost with the socket; a
    // server that never answers holds the rollover back for answer_wait at most.
    const bool answer_pending = answer_due_.has_value() && now - *answer_due_ < answer_wait;
    // Likewise a user transcript still on its way (it would never come on a new socket).
    const bool transcript_pending = std::any_of(items_.begin(), items_.end(), [&](const auto& kv) {
        const item_rec& r = kv.second;
        return r.role == speaker::user && r.is_message && !r.stale && !r.text_done && !r.failed &&
               now - r.added_at < opts_.transcript_wait;
    });
    const bool quiet = response_ == response_state::none && !pending_create_ && batches_.empty() &&
                       !user_speaking_ && !talking_ && !playback_active_ && !flushing &&
                       !answer_pending && !transcript_pending;
    if (!quiet) return;
    leave_connection(now);
    link_ = link_state::reconnecting;
    emit(act::reconnect{std::chrono::milliseconds{0}, 0, true,
                        "rolling over to a new session before the time cap"});
}

}  // namespace ava::realtime
