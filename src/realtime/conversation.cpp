// The conversation state machine. See conversation.hpp for the contract; these files explain the
// choices inside. Runs on one thread (the io_context thread); no I/O, no clocks, no locks.
// The rules are split by concern:
//   conversation.cpp         free functions, plumbing, the timer tick and the summary
//   conversation_items.cpp   items and transcript lines in conversation order (rule 4)
//   conversation_link.cpp    connect, disconnect, reconnect with re-seeding, rollover (rule 5)
//   conversation_events.cpp  the server events
//   conversation_turns.cpp   responses (rule 2), barge-in (rule 1), mic and turns, playback
//   conversation_tools.cpp   tool calls (rule 3)
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "ava/core/text.hpp"
#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

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

void conversation::drain(std::vector<action>& out) {
    out.clear();
    std::swap(out, out_);
}

std::string conversation::next_event_id() {
    return "ava_ev_" + std::to_string(++event_seq_);
}

std::string conversation::register_event(std::string_view type) {
    std::string id = next_event_id();
    sent_ids_.emplace_back(id, type);
    if (sent_ids_.size() > max_remembered_ids) sent_ids_.pop_front();
    return id;
}

std::string conversation::send(client_event ev) {
    std::string_view type;
    std::visit([&](auto& e) { type = event_type_name<std::decay_t<decltype(e)>>(); }, ev);
    std::string id = register_event(type);
    std::visit(
        [&](auto& e) {
            if constexpr (requires { e.event_id; }) e.event_id = id;
        },
        ev);
    emit(act::send{std::move(ev)});
    return id;
}

void conversation::notice(std::string text, bool warning) {
    // A server's message can be any size (1 MiB was seen): a notice is one readable line.
    constexpr std::size_t max_notice_bytes = 2048;
    emit(act::notice{warning ? act::notice::level::warning : act::notice::level::info,
                     core::clip(text, max_notice_bytes)});
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
    prune_context();
    check_rollover(now);
    update_status();
}

void conversation::on_tick(steady_time now) {
    if (stopped_) return;
    report_held_bad_events(now, false);
    check_response_stall(now);
    check_slow_tools(now);
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
