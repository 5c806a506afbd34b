// The conversation: tool calls, their batches and outputs (rule 3).
#include "ava/realtime/conversation.hpp"

#include <algorithm>
#include <utility>

#include "conversation_detail.hpp"

namespace ava::realtime {

using namespace detail;

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

}  // namespace ava::realtime
