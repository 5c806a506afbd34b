// The conversation: responses (rule 2), barge-in (rule 1), mic and turns, playback reports.
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

// ---- responses (rule 2) ----------------------------------------------------------------------

void conversation::request_response(steady_time /*now*/) {
    if (!online()) return;  // nothing to answer on a dead socket; typed text waits separately
    if (response_ != response_state::none) {
        pending_create_ = true;  // one pending is enough: a later create covers earlier wishes
        return;
    }
    send_response_create();
}

void conversation::send_response_create(std::optional<response_overrides> overrides) {
    pending_create_ = false;
    response_ = response_state::requested;
    response_activity_ = {};  // the stall clock starts at the next tick (no `now` here)
    create_event_id_ =
        send(client::response_create{.event_id = {}, .response = std::move(overrides)});
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

void conversation::hold_barge_in(bool on, steady_time now) {
    if (stopped_ || barge_in_held_ == on) return;
    barge_in_held_ = on;
    if (!on && barge_in_deferred_) confirm_barge_in(now);
}

void conversation::confirm_barge_in(steady_time now) {
    if (stopped_ || !barge_in_deferred_) return;
    barge_in_deferred_ = withdraw_on_stop_ = false;
    deferred_response_id_.clear();
    barge_in(interrupt_source::server_vad, now);
    after_input(now);
}

void conversation::withdraw_barge_in_when_speech_stops(steady_time now) {
    if (stopped_ || !barge_in_deferred_) return;
    if (!user_speaking_) {
        withdraw_barge_in(now);
        return;
    }
    withdraw_on_stop_ = true;
}

void conversation::withdraw_barge_in(steady_time now) {
    if (stopped_ || !barge_in_deferred_) return;
    barge_in_deferred_ = withdraw_on_stop_ = false;
    // The server answers what it committed as a user turn: unless that answer is already on
    // its way (created after the deferred speech_started), cancel it the moment it is created.
    if (response_ == response_state::active && active_response_id_ != deferred_response_id_) {
        dropped_responses_.insert(active_response_id_);
        send(client::response_cancel{.event_id = {}, .response_id = active_response_id_});
    } else {
        skip_backchannel_answer_ = true;
    }
    deferred_response_id_.clear();
    after_input(now);
}

void conversation::on_interrupt(steady_time now) {
    if (stopped_) return;
    barge_in(interrupt_source::manual, now);
    after_input(now);
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

void conversation::on_mic_frame(core::pcm_view frame, steady_time now) {
    // A partial frame waiting from on_mic_audio() must go first: keep the samples in order.
    if (frame.size() != opts_.frame_samples || !mic_accum_.empty()) {
        on_mic_audio(frame, now);
        return;
    }
    if (stopped_ || muted_) return;
    if (manual_turns() && !talking_) return;  // push to talk: only while the key is held
    if (talking_) talk_samples_ += static_cast<std::int64_t>(frame.size());
    if (online()) {
        emit(act::send_audio{register_event(event_type_name<client::input_audio_buffer_append>()),
                             frame});
    } else {
        buffer_offline(std::vector<core::sample>(frame.begin(), frame.end()));
    }
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
            rec->deleted = true;
        }
    }
    cut_item_text(*rec);
    prune_due_ = true;  // no longer flush_pending
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

}  // namespace ava::realtime
