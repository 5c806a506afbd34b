// ava::session's io tick: mic frames out, playback reports in (session_impl.hpp).
#include "session_impl.hpp"

#include <algorithm>
#include <string_view>

#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"

namespace ava {

// The tick phase-locks onto the capture cadence: it wakes ~1 ms after the device is due to
// complete the next 20 ms mic frame, so a frame waits ~1 ms for its append instead of up to
// a whole tick, and the io thread wakes 50 times a second rather than 100 (wake-ups were
// most of ava-voice's CPU: see docs/benchmarks.md). Without frames (no capture, a stalled
// device) it falls back to the plain `tick` cadence.
void session::impl::schedule_tick() {
    arm_tick(clock::now() + tick_period());
}

clock::duration session::impl::tick_period() const {
    return opts_.tick.count() > 0 ? clock::duration(opts_.tick) : clock::duration(20ms);
}

void session::impl::arm_tick(clock::time_point at) {
    tick_at_ = at;
    tick_timer_.expires_at(at);  // cancels a pending wait (its handler sees the abort)
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || ending_) return;
        const auto now = clock::now();
        // A device without a clock of its own (WAV files) runs its due periods here, on
        // this thread, and the next tick is its next period: one wake-up does both.
        const auto device_next =
            device_running_ ? device_->drive(now) : std::optional<clock::time_point>{};
        driven_ = device_next.has_value();
        on_tick(now);
        if (!ending_) arm_tick(device_next ? std::max(*device_next, now + 100us) : next_tick(now));
    });
}

/// Brings the next tick forward to `at` when it is later (a flush to confirm, say).
void session::impl::hurry_tick(clock::time_point at) {
    if (!ending_ && !driven_ && at < tick_at_) arm_tick(at);
}

clock::time_point session::impl::next_tick(clock::time_point now) {
    constexpr auto frame = std::chrono::milliseconds(core::frame_ms);
    clock::time_point next = now + tick_period();
    if (frames_last_tick_ >= 8) return now + 1ms;  // a fast device is ahead: keep draining
    if (last_captured_ != clock::time_point{}) {
        const clock::time_point due = last_captured_ + frame + 1ms;
        if (due > now) {
            next = std::min(next, due);
        } else if (late_looks_ < 2 && now - due < frame) {
            ++late_looks_;  // the frame is late (a bursty device): look again soon, twice
            next = std::min(next, now + 3ms);
        }
    }
    // A flush the device performs within one period: confirm it promptly (truncate).
    if (player_->flush_pending()) next = std::min(next, now + 2ms);
    return std::max(next, now + 1ms);
}

void session::impl::on_tick(clock::time_point now) {
    // Microphone: every complete 20 ms frame the engine has, in order.
    audio::capture_frame f;
    frames_last_tick_ = 0;
    while (engine_->read(f)) {
        ++frames_last_tick_;
        last_captured_ = f.captured;
        late_looks_ = 0;
        if (embedder_audio_) continue;  // the null device's silence; send_audio feeds the mic
        if (events_) {
            record(clock::now(), "local", "mic.frame",
                   core::json_object()
                       .field("captured_us", mono_us(f.captured))
                       .field("samples", f.pcm.size())
                       .str());
        }
        conv_->on_mic_frame(f.pcm, now);
        drain();  // act::send_audio views `f`: send it before the next read() reuses it
    }
    local_barge_in(now);
    engine_->service();
    player_->poll(now, device_running_);
    forward_playback(now);
    if (now >= next_counter_log_) {
        log_audio_counters();
        next_counter_log_ = now + 1s;
    }
    if (now >= next_conv_tick_) {
        conv_->on_tick(now);
        // The event log reaches the disk at this pace too: on the tick, not on a timer of its
        // own (a separate 4 Hz wake-up cost more than the write).
        if (events_) events_->flush();
        next_conv_tick_ = now + 250ms;
    }
    check_held_flush(now);
    drain();
    check_input_done(now);
}

void session::impl::local_barge_in(clock::time_point now) {
    if (!opts_.local_barge_in) return;
    const bool voice = engine_->local_voice();
    if (backchannel_pending_) {
        if (!conv_->barge_in_deferred()) {  // withdrawn at the service's speech_stopped
            backchannel_pending_ = false;
            conv_->hold_barge_in(false, now);
            return;
        }
        if (now - pause_since_ > 5s) {  // a service that never says its speech stopped
            backchannel_pending_ = false;
            conv_->withdraw_barge_in(now);
            drain();
            conv_->hold_barge_in(false, now);
            return;
        }
        if (!voice) return;
        // The user went on ("Stop, ... wait a moment"): one turn with what came before, which
        // the service hears as one speech; paused again, and what is said now adds to the
        // burst before (the words, not the pause between them, nor the reply's echo).
        backchannel_pending_ = false;
        conv_->keep_barge_in();
        engine_->hold(true);
        pause_since_ = pause_voice_until_ = now;
        log_->debug("local barge-in: the user went on speaking; playback paused again");
        return;
    }
    if (!engine_->holding()) {
        if (!voice || engine_->state() != audio::playback_state::playing) return;
        const audio::dsp_report r = engine_->processing();
        if (std::string_view(r.echo) != "aec" || !(r.converged || r.echo_absent)) {
            return;  // no trustworthy VAD yet
        }
        engine_->hold(true);
        conv_->hold_barge_in(true, now);
        pause_confirmed_ = false;
        pause_since_ = pause_voice_until_ = now;
        spoken_before_ = {};
        pause_flushes_ = engine_->stats().flushes;
        log_->debug("local barge-in: the user spoke over the assistant; playback paused");
        return;
    }
    if (engine_->stats().flushes > pause_flushes_) {
        // Confirmed: the flush and the truncation ran as usual, silently while paused. Nothing
        // is left to resume.
        engine_->hold(false);
        conv_->hold_barge_in(false, now);
        return;
    }
    if (pause_confirmed_) {
        // Confirmed with nothing left to flush (the reply had played out): let go once the
        // flush would have run.
        if (now - pause_confirmed_at_ > 300ms) {
            engine_->hold(false);
            conv_->hold_barge_in(false, now);
        }
        return;
    }
    // How long the user spoke: to the last voiced block, not to the end of the VAD's hangover
    // (200 ms of quiet would make every 0.3 s "uh-huh" a turn of half a second).
    if (engine_->local_voice_heard()) pause_voice_until_ = now;
    const auto spoken = spoken_before_ + (pause_voice_until_ - pause_since_);
    const bool short_and_over =
        !voice && now - pause_voice_until_ > 150ms && spoken < opts_.barge_in_min_speech;
    if (conv_->barge_in_deferred()) {
        // The service heard speech too. Long enough: the user takes the turn (flush and
        // truncate at the paused position; the flush report ends the hold above). A short
        // burst: a backchannel, the reply goes on and nothing is truncated.
        if (spoken >= opts_.barge_in_min_speech) {
            conv_->confirm_barge_in(now);
            drain();
            pause_confirmed_ = true;
            pause_confirmed_at_ = now;
        } else if (short_and_over) {
            // The reply goes on at once; the service's turn is withdrawn when its speech ends
            // (the hold stays on in the conversation until then).
            engine_->hold(false);
            backchannel_pending_ = true;
            spoken_before_ = spoken;
            conv_->withdraw_barge_in_when_speech_stops(now);
            drain();
            log_->info("local barge-in: a short backchannel; the reply goes on, nothing cut");
        }
        return;
    }
    if (now - pause_since_ >= opts_.barge_in_window || short_and_over) {
        engine_->hold(false);
        conv_->hold_barge_in(false, now);
        log_->info("local barge-in: not confirmed by the service ({}); resuming the reply",
                   short_and_over ? "a short backchannel" : "no speech started in time");
    }
}

/// The audio counters (stats.hpp) at debug level, once a second when any has changed, so a
/// lost mic period or a gap in the reply can be matched with what the user noticed.
void session::impl::log_audio_counters() {
    const audio::engine_stats st = audio_stats();
    if (st.overruns == logged_stats_.overruns && st.underruns == logged_stats_.underruns &&
        st.host_xruns == logged_stats_.host_xruns) {
        return;
    }
    log_->debug(
        "audio: {} capture overruns ({} ms of mic audio lost), {} playback underruns, "
        "{} host xruns",
        st.overruns,
        st.dropped_capture_samples * 1000 /
            static_cast<std::uint64_t>(std::max(1, engine_->device_rate())),
        st.underruns, st.host_xruns);
    logged_stats_ = st;
}

/// Hands the item player's reports to the conversation (and the event log), in order.
void session::impl::forward_playback(clock::time_point now) {
    player_->drain(reports_);
    for (const audio::playback_report& r : reports_) {
        switch (r.what) {
            case audio::playback_report::kind::started:
                // rendered_us: when the device period that took its first sample ran (this
                // tick may be up to a period later).
                local("playback.first_heard", core::json_object()
                                                  .field("item_id", r.item_id)
                                                  .field("tag", r.tag)
                                                  .field("rendered_us", mono_us(r.at))
                                                  .str());
                conv_->on_playback_started(r.item_id, now);
                break;
            case audio::playback_report::kind::progress:
                conv_->on_playback_progress(r.item_id, r.heard, now);
                break;
            case audio::playback_report::kind::flushed:
                local("playback.flushed", core::json_object()
                                              .field("item_id", r.item_id)
                                              .field("tag", r.tag)
                                              .field("heard_samples", r.heard)
                                              .field("done_us", mono_us(r.at))
                                              .field("received_samples", r.received)
                                              .str());
                if (opts_.client_playback && embedder_audio_) {
                    hold_flush(r.item_id, r.heard, now);
                } else {
                    conv_->on_playback_flushed(r.item_id, r.heard, now);
                }
                break;
            case audio::playback_report::kind::idle:
                local("playback.idle", "{}");
                conv_->on_playback_idle(now);
                break;
        }
    }
}

// client_playback: the real-time model says what a listener would have heard; the embedder
// knows what it played (a browser starts later, by its network and its jitter buffer). The
// flush is held until the embedder's final position arrives, or `playback_report_wait`.
void session::impl::hold_flush(const std::string& item_id, std::int64_t model_heard,
                               clock::time_point now) {
    if (held_flush_) release_flush(held_flush_->model_heard, false, now);
    if (item_id == stopped_item_) {
        // It stopped the item before the flush came (its own stop button): that is the position.
        held_flush_ = held_flush{item_id, model_heard, now};
        release_flush(stopped_at_, true, now);
        return;
    }
    held_flush_ = held_flush{item_id, model_heard, now + opts_.playback_report_wait};
    hurry_tick(held_flush_->deadline);
}

void session::impl::release_flush(std::int64_t heard, bool reported, clock::time_point now) {
    if (!held_flush_) return;
    held_flush h = std::move(*held_flush_);
    held_flush_.reset();
    local("playback.client_position", core::json_object()
                                          .field("item_id", h.item_id)
                                          .field("heard_samples", heard)
                                          .field("model_heard_samples", h.model_heard)
                                          .field("reported", reported)
                                          .str());
    if (!reported) {
        log_->debug(
            "session: no played position from the client for {} within {} ms; using the "
            "real-time estimate",
            h.item_id, opts_.playback_report_wait.count());
    }
    conv_->on_playback_flushed(h.item_id, heard, now);
    drain();
}

void session::impl::check_held_flush(clock::time_point now) {
    if (held_flush_ && now >= held_flush_->deadline) {
        release_flush(held_flush_->model_heard, false, now);
    }
}

void session::impl::check_input_done(clock::time_point now) {
    if (!opts_.stop_when_input_done && !input_ended_) return;
    const bool exhausted = input_ended_ || device_->input_exhausted();
    const bool quiet = exhausted && engine_->drained() && player_->settled() &&
                       tools_pending_ == 0 && !conv_->response_in_flight();
    if (!quiet) {
        quiet_since_.reset();
        return;
    }
    if (!quiet_since_) quiet_since_ = now;
    if (now - *quiet_since_ >= opts_.linger) {
        if (!ever_open_) {
            // #20 probe 11: a headless run that never reached the service exited 0, as if the
            // conversation had happened. The buffered input still goes out if a connection opens
            // soon (the conversation also gives up after its tries); past that, nothing was
            // sent: a failure, whatever the reconnect settings.
            constexpr auto connect_grace = std::chrono::seconds(10);
            if (now - *quiet_since_ < connect_grace) return;
            begin_end({session_result::end::fatal,
                       "the input ended before the service could be reached; nothing was sent" +
                           (last_close_message_.empty() ? std::string()
                                                        : " (last: " + last_close_message_ + ")"),
                       make_error_code(errc::closed)});
            return;
        }
        begin_end({session_result::end::input_done, {}, {}});
    }
}

}  // namespace ava
