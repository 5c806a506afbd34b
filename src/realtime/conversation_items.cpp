// The conversation: items and transcript lines in conversation order (rule 4).
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

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
    prune_due_ = true;
    return items_.emplace(id, std::move(rec)).first->second;
}

conversation::item_rec* conversation::find_item(std::string_view id) {
    auto it = items_.find(id);
    return it == items_.end() ? nullptr : &it->second;
}

std::size_t conversation::position_of(std::string_view id) const {
    auto it = std::find(order_.begin(), order_.end(), id);
    return order_base_ + static_cast<std::size_t>(std::distance(order_.begin(), it));
}

void conversation::forget_settled() {
    const std::size_t keep = std::max(settled_records_kept, opts_.reseed_max_items * 4);
    std::size_t drop = 0;
    while (order_.size() - drop > keep) {
        const item_rec& rec = items_.at(order_[drop]);
        const bool line_settled = !rec.is_message || rec.released;
        const bool audio_settled =
            !rec.has_audio || rec.played_out || rec.flushed || rec.stale || rec.audio_done;
        const bool tools_settled = rec.response_id.empty() || !batches_.contains(rec.response_id);
        if (!line_settled || !audio_settled || rec.flush_pending || !tools_settled ||
            rec.id == current_audio_item_) {
            break;  // the oldest still matters: keep it and everything after it
        }
        items_.erase(order_[drop]);  // (not rec.id: that key lives in the erased node)
        ++drop;
    }
    if (drop == 0) return;
    order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(drop));
    order_base_ += drop;
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

void conversation::on_end(steady_time now) {
    if (stopped_) return;
    for (const std::string& id : order_) {
        item_rec& rec = items_.at(id);
        if (!rec.is_message || rec.released) continue;
        if (rec.role == speaker::assistant) {
            rec.text_done = true;  // what has arrived is all there will be
            if (rec.has_audio && !rec.played_out) cut_item_text(rec);
        } else if (!line_ready(rec)) {
            rec.is_message = false;  // no transcript will come: nothing to show
        }
    }
    release_finals(now);
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
            prune_due_ = true;
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
    forget_settled();
}

void conversation::mark_played_out(item_rec& rec) {
    rec.played_out = true;
    prune_due_ = true;
    rec.heard = rec.received;
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

void conversation::prune_context() {
    if (opts_.keep_turns == 0 || !prune_due_ || !online()) return;
    prune_due_ = false;
    // The user turns the server still holds; keep_from is where the newest keep_turns begin.
    const auto held_turn = [this](const std::string& id) {
        const item_rec& rec = items_.at(id);
        return !rec.stale && !rec.deleted && rec.is_message && rec.role == speaker::user;
    };
    const auto held =
        static_cast<std::size_t>(std::count_if(order_.begin(), order_.end(), held_turn));
    if (held <= opts_.keep_turns + opts_.prune_batch) return;
    std::size_t keep_from = order_.size();
    for (std::size_t seen = 0; seen < opts_.keep_turns;) {
        if (held_turn(order_[--keep_from])) ++seen;
    }
    // Old items go even while a reply is under way (a back-to-back talk has no quiet moment);
    // what a barge-in or a tool batch may still need stays until it is done with.
    for (std::size_t i = 0; i < keep_from; ++i) {
        item_rec& rec = items_.at(order_[i]);
        if (rec.stale || rec.deleted || rec.flush_pending) continue;
        // Only once its line is out (in the transcript, and so in the history).
        if (rec.is_message && !rec.released) continue;
        // Still playing: a barge-in would truncate it.
        if (rec.has_audio && !rec.played_out && !rec.flushed) continue;
        // A function call or its output while a batch runs.
        if (!rec.is_message && !batches_.empty()) continue;
        if (std::find(unsent_user_texts_.begin(), unsent_user_texts_.end(), rec.id) !=
            unsent_user_texts_.end()) {
            continue;
        }
        send(client::conversation_item_delete{.event_id = {}, .item_id = rec.id});
        rec.deleted = true;
        ++sum_.context_items_deleted;
    }
}

}  // namespace ava::realtime
