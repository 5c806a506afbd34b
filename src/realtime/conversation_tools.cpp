// The conversation: tool calls, their batches and outputs (rule 3).
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

// ---- tools (rule 3) --------------------------------------------------------------------------

void conversation::add_tool_call(const std::string& response_id, const std::string& call_id,
                                 const std::string& name, const std::string& args,
                                 steady_time now) {
    if (call_id.empty() || call_to_response_.contains(call_id)) return;  // seen already
    tool_batch& batch = batches_[response_id];
    if (batch.call_ids.empty()) batch.started = now;
    batch.call_ids.push_back(call_id);
    batch.names[call_id] = name;
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

void conversation::set_tools(std::vector<tool_def> tools, steady_time now) {
    if (stopped_) return;
    if (opts_.session.tools.has_value() && *opts_.session.tools == tools) return;
    opts_.session.tools = std::move(tools);
    if (online()) {
        session_config only_tools;
        only_tools.type = opts_.session.type;
        only_tools.tools = opts_.session.tools;
        send(client::session_update{.event_id = {}, .session = std::move(only_tools)});
    }
    after_input(now);
}

void conversation::update_session(session_config patch, steady_time now) {
    if (stopped_) return;
    session_config out;
    out.type = opts_.session.type;
    const auto take = [](auto& from, auto& into, auto& sent) {
        if (from.has_value()) {
            into = from;
            sent = from;
        }
    };
    take(patch.voice, opts_.session.voice, out.voice);
    take(patch.speed, opts_.session.speed, out.speed);
    take(patch.turn, opts_.session.turn, out.turn);
    take(patch.instructions, opts_.session.instructions, out.instructions);
    take(patch.output_modalities, opts_.session.output_modalities, out.output_modalities);
    if (online()) send(client::session_update{.event_id = {}, .session = std::move(out)});
    after_input(now);
}

void conversation::on_tool_waiting(std::string_view call_id, std::string_view why,
                                   steady_time now) {
    if (stopped_) return;
    auto it = call_to_response_.find(call_id);
    if (it == call_to_response_.end()) return;
    auto b = batches_.find(it->second);
    if (b == batches_.end()) return;
    if (why.empty()) {
        b->second.waiting.erase(std::string(call_id));
    } else {
        b->second.waiting[std::string(call_id)] = std::string(why);
    }
    after_input(now);
}

void conversation::check_slow_tools(steady_time now) {
    if (opts_.tool_filler_after <= std::chrono::milliseconds::zero()) return;
    // One response at a time: a filler only goes out when nothing is in flight or queued, the
    // user is not speaking, and nothing is playing.
    if (!online() || response_ != response_state::none || pending_create_ || user_speaking_ ||
        talking_ || playback_active_) {
        return;
    }
    for (auto& [response_id, batch] : batches_) {
        if (!batch.response_done || batch.cancelled || batch.filler_sent) continue;
        if (now - batch.started < opts_.tool_filler_after) continue;
        std::string running;
        std::string waiting;
        for (const auto& [id, out] : batch.outputs) {
            if (out.has_value()) continue;
            if (auto w = batch.waiting.find(id); w != batch.waiting.end()) {
                waiting += (waiting.empty() ? "" : "; ") + w->second;
            } else {
                running += (running.empty() ? "" : ", ") + batch.names[id];
            }
        }
        if (running.empty() && waiting.empty()) continue;
        batch.filler_sent = true;
        ++sum_.tool_fillers;
        std::string text =
            "A tool you called is taking a while. In the user's language and in one short "
            "sentence, tell the user you are on it";
        if (!waiting.empty()) {
            text += " and that it is " + waiting;
        } else {
            text += " (for example: \"One moment, let me check that.\")";
        }
        text +=
            ". Do not call any tool, do not guess or invent the result, and do not repeat what "
            "you already said; the result will follow.";
        response_overrides o;
        o.instructions = std::move(text);
        o.tool_choice = "none";
        o.metadata["ava_purpose"] = "tool_filler";
        send_response_create(std::move(o));
        return;  // one at a time
    }
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
    prune_due_ = true;
    if (!cancelled) request_response(now);
}

}  // namespace ava::realtime
