// ava::session carrying out the conversation's actions (session_impl.hpp).
#include "session_impl.hpp"

#include "ava/core/json_string.hpp"
#include "ava/realtime/codec.hpp"

namespace ava {

void session::impl::drain() {
    // The buffer keeps its capacity from drain to drain (a nested drain, which nothing does
    // today, would simply start with an empty one).
    std::vector<realtime::action> acts = std::move(actions_);
    for (;;) {
        conv_->drain(acts);
        if (acts.empty()) break;
        for (realtime::action& a : acts) {
            std::visit([this](auto& x) { apply(x); }, a);
        }
    }
    actions_ = std::move(acts);
}

void session::impl::apply(realtime::act::send& a) {
    std::string text;
    if (auto* app = std::get_if<realtime::client::input_audio_buffer_append>(&a.event)) {
        text = realtime::encode_append(app->audio, app->event_id);
    } else {
        text = realtime::encode(a.event);
    }
    if (recording_events()) {
        record(clock::now(), "send", realtime::type_of(a.event), realtime::elide_audio(text));
    }
    if (conn_) conn_->send(std::move(text));
}

// The straight mic path: the frame is encoded from the capture buffer into the message
// the connection queues (one allocation, no intermediate copy of the samples).
void session::impl::apply(realtime::act::send_audio& a) {
    std::string text = realtime::encode_append(a.pcm, a.event_id);
    if (recording_events()) {
        record(clock::now(), "send", "input_audio_buffer.append", realtime::elide_audio(text));
    }
    if (conn_) conn_->send(std::move(text));
}

void session::impl::apply(realtime::act::play& a) {
    if (a.item_id != audio_item_) {
        audio_item_ = a.item_id;
        audio_item_samples_ = 0;
    }
    audio_item_samples_ += static_cast<std::int64_t>(a.pcm.size());
    call(cbs_.on_audio, std::string_view(a.item_id), core::pcm_view(a.pcm));
    const audio::item_player::play_result r = player_->play(a.item_id, a.pcm);
    if (r.first) {
        local("playback.item_queued",
              core::json_object().field("item_id", a.item_id).field("tag", r.tag).str());
    }
}

void session::impl::apply(realtime::act::end_playback& a) {
    player_->end_item(a.item_id);
    call(cbs_.on_audio_done, std::string_view(a.item_id),
         a.item_id == audio_item_ ? audio_item_samples_ : std::int64_t{0});
}

void session::impl::apply(realtime::act::flush_playback& a) {
    const audio::item_player::flush_request f = player_->flush(a.item_id);
    local("playback.flush_requested", core::json_object()
                                          .field("item_id", a.item_id)
                                          .field("tag", f.tag)
                                          .field("generation", f.generation)
                                          .str());
    call(cbs_.on_interrupted);
    call(cbs_.on_stop_audio, std::string_view(a.item_id));
    if (!device_running_) {
        player_->poll_flushes(clock::now(), false);
        forward_playback(clock::now());
    } else {
        hurry_tick(clock::now() + 2ms);  // the device fades out within one period
    }
}

void session::impl::apply(realtime::act::call_tool& a) {
    ++tools_pending_;
    tool_args_[a.call_id] = a.arguments_json;
    local("tool.start",
          core::json_object().field("call_id", a.call_id).field("name", a.name).str());
    tool_event ev;
    ev.call_id = a.call_id;
    ev.name = a.name;
    ev.arguments_json = a.arguments_json;
    call(cbs_.on_tool, ev);
    begin_tool_call(a);
}

void session::impl::apply(realtime::act::transcript& a) {
    transcript_line l;
    l.item_id = std::move(a.item_id);
    l.role = a.role;
    l.text = std::move(a.text);
    l.unheard = std::move(a.unheard);
    l.final = a.final;
    l.failed = a.failed;
    l.unheard_estimated = a.unheard_estimated;
    l.position = a.position;
    call(cbs_.on_transcript, l);
}

void session::impl::apply(realtime::act::status& a) {
    call(cbs_.on_status, a.value);
}

void session::impl::apply(realtime::act::notice& a) {
    const bool warning = a.lvl == realtime::act::notice::level::warning;
    if (cbs_.on_notice) {
        // The callback's owner shows it (ava-voice's terminal): logging it at warning level too
        // printed every warning twice on stderr. The debug log keeps the record.
        log_->debug("notice: {}", a.text);
    } else if (warning) {
        log_->warn("{}", a.text);
    } else {
        log_->info("{}", a.text);
    }
    call(cbs_.on_notice, std::string_view(a.text), warning);
}

void session::impl::apply(realtime::act::fatal& a) {
    log_->error("session: {}", a.message);
    begin_end({session_result::end::fatal, a.message, a.code});
}

void session::impl::apply(realtime::act::reconnect& a) {
    if (ending_) return;
    local("connection.reconnect", core::json_object()
                                      .field("delay_ms", a.delay.count())
                                      .field("attempt", a.attempt)
                                      .field("rollover", a.rollover)
                                      .field("reason", a.reason)
                                      .str());
    log_->info("session: {} (new connection in {} ms)", a.reason, a.delay.count());
    // A rollover closes the still-open socket itself, without an on_disconnected report.
    retire_connection(a.rollover);
    reconnect_timer_.expires_after(a.delay);
    reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || ending_) return;
        connect();
    });
}

void session::impl::apply(realtime::act::turn_metrics& a) {
    local("turn.latency",
          core::json_object().field("turn", a.turn).field("latency_ms", a.latency.count()).str());
    call(cbs_.on_turn, a);
}

void session::impl::apply(realtime::act::usage_metrics& a) {
    call(cbs_.on_usage, a);
}

void session::impl::on_tool_done(tools::tool_result r) {
    if (ending_) return;
    --tools_pending_;
    local("tool.done", core::json_object()
                           .field("call_id", r.call_id)
                           .field("ok", r.ok)
                           .field("elapsed_ms", r.elapsed.count())
                           .str());
    tool_event ev;
    ev.call_id = r.call_id;
    ev.name = r.name;
    if (auto it = tool_args_.find(r.call_id); it != tool_args_.end()) {
        ev.arguments_json = std::move(it->second);
        tool_args_.erase(it);
    }
    ev.finished = true;
    ev.ok = r.ok;
    ev.output_json = r.output_json;
    ev.elapsed = r.elapsed;
    call(cbs_.on_tool, ev);
    conv_->on_tool_result(r.call_id, r.output_json, !r.ok, clock::now());
    drain();
}

}  // namespace ava
