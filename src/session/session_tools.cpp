// ava::session: which tools the model is offered, and the user's yes before a risky call runs
// (session_impl.hpp). Terminal approval asks through on_approval and waits for approve() with a
// time limit; voice approval has the model read the call back and call again with
// user_approved=true, and only a call that was read back first may run. Every decision goes in
// the events file as a local `tool.approval` record saying who made it.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "ava/core/json_string.hpp"
#include "session_impl.hpp"

namespace ava {
namespace {

using json = nlohmann::json;

constexpr std::string_view approved_field = "user_approved";

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// The schema and description a voice-approved tool is offered with: one more boolean.
void add_voice_approval(realtime::tool_def& def) {
    json schema = json::parse(def.parameters_json, nullptr, false);
    if (!schema.is_object()) return;  // the registry only offers valid schemas
    if (!schema.contains("properties") || !schema["properties"].is_object()) {
        schema["properties"] = json::object();
    }
    schema["properties"][std::string(approved_field)] = {
        {"type", "boolean"},
        {"description",
         "true only after you told the user exactly what this call will do and they clearly "
         "said yes"}};
    def.parameters_json = dump(schema);
    def.description +=
        " NEEDS THE USER'S YES: call it first without user_approved; you will be asked to "
        "read the call back. Call again with the same arguments and user_approved: true only "
        "after the user clearly says yes.";
}

}  // namespace

bool session::impl::terminal_approval() const {
    switch (opts_.approval) {
        case tools::approval_mode::terminal:
            return static_cast<bool>(cbs_.on_approval);
        case tools::approval_mode::voice:
            return false;
        case tools::approval_mode::automatic:
            break;
    }
    return static_cast<bool>(cbs_.on_approval);
}

bool session::impl::needs_approval(const std::string& name) const {
    if (std::find(opts_.require_approval.begin(), opts_.require_approval.end(), name) !=
        opts_.require_approval.end()) {
        return true;
    }
    const auto entry = registry_.find(name);
    return entry != nullptr && entry->require_approval;
}

std::vector<realtime::tool_def> session::impl::offered_tools() const {
    std::vector<realtime::tool_def> defs;
    const bool voice = !terminal_approval();
    for (const tools::tool_spec& s : registry_.specs()) {
        realtime::tool_def d{
            .name = s.name, .description = s.description, .parameters_json = s.parameters_json};
        if (voice && needs_approval(s.name)) add_voice_approval(d);
        defs.push_back(std::move(d));
    }
    return defs;
}

void session::impl::record_approval(const std::string& call_id, const std::string& name,
                                    std::string_view decision, std::string_view by) {
    local("tool.approval", core::json_object()
                               .field("call_id", call_id)
                               .field("name", name)
                               .field("decision", decision)
                               .field("by", by)
                               .str());
    log_->info("tool {} (call {}): {} by {}", name, call_id, decision, by);
}

void session::impl::begin_tool_call(const realtime::act::call_tool& a) {
    if (!needs_approval(a.name)) {
        submit_tool(a.call_id, a.name, a.arguments_json);
        return;
    }
    if (!terminal_approval()) {
        // Voice: the first call is read back to the user; only the same call with
        // user_approved=true, after that read-back, runs.
        json args = a.arguments_json.empty() ? json::object()
                                             : json::parse(a.arguments_json, nullptr, false);
        bool approved = false;
        if (args.is_object()) {
            if (auto it = args.find(approved_field); it != args.end()) {
                approved = it->is_boolean() && it->get<bool>();
                args.erase(it);
            }
        }
        const std::string rest = args.is_discarded() ? a.arguments_json : dump(args);
        const std::string key = a.name + "\n" + rest;
        if (approved && voice_drafts_.erase(key) > 0) {
            record_approval(a.call_id, a.name, "approved", "user (voice)");
            submit_tool(a.call_id, a.name, rest);
            return;
        }
        if (voice_drafts_.size() >= 64) voice_drafts_.clear();  // bounded; stale drafts go
        voice_drafts_.insert(key);
        record_approval(a.call_id, a.name, "asked", "model (voice read-back)");
        json out = {
            {"status", "needs_approval"},
            {"message",
             std::string(approved ? "This exact call was not read back to the user yet. " : "") +
                 "This action needs the user's yes and has NOT run. Tell the user in "
                 "a short sentence what you are about to do (" +
                 a.name + " with " + rest +
                 ") and ask them to confirm. Only if they clearly say yes, call " + a.name +
                 " again with exactly the same arguments and user_approved: true. If "
                 "they say no or hesitate, do not call it."}};
        answer_tool_now(a.call_id, a.name, dump(out), true);
        return;
    }
    // Terminal: ask, and wait at most approval_timeout.
    pending_approval p;
    p.req = {.call_id = a.call_id,
             .name = a.name,
             .arguments_json = a.arguments_json,
             .timeout = opts_.approval_timeout,
             .st = approval_request::state::pending};
    p.seq = ++approval_seq_;
    p.timer = std::make_unique<asio::steady_timer>(ioc_);
    p.timer->expires_after(opts_.approval_timeout);
    p.timer->async_wait([this, id = a.call_id](const boost::system::error_code& ec) {
        if (ec || ending_) return;
        settle_approval(id, approval_request::state::timed_out, "timeout");
        drain();
    });
    const approval_request req = p.req;
    approvals_.emplace(a.call_id, std::move(p));
    record_approval(a.call_id, a.name, "asked", "user (terminal)");
    conv_->on_tool_waiting(a.call_id, "waiting for the user to approve it on screen (Y or N)",
                           clock::now());
    call(cbs_.on_approval, req);
}

void session::impl::settle_approval(const std::string& call_id, approval_request::state st,
                                    std::string_view by) {
    auto it = approvals_.find(call_id);
    if (it == approvals_.end()) return;
    pending_approval p = std::move(it->second);
    approvals_.erase(it);
    p.timer->cancel();
    p.req.st = st;
    conv_->on_tool_waiting(call_id, "", clock::now());
    const std::string& name = p.req.name;
    switch (st) {
        case approval_request::state::approved:
            record_approval(call_id, name, "approved", by);
            submit_tool(call_id, name, p.req.arguments_json);
            break;
        case approval_request::state::denied:
            record_approval(call_id, name, "denied", by);
            answer_tool_now(call_id, name,
                            dump({{"error", "the user declined: " + name +
                                                " was not run. Say so and ask what they want "
                                                "instead."}}),
                            false);
            break;
        case approval_request::state::timed_out:
            record_approval(call_id, name, "timed out", by);
            answer_tool_now(
                call_id, name,
                dump({{"error", "no answer from the user within " +
                                    std::to_string(opts_.approval_timeout.count() / 1000) +
                                    " s, so " + name +
                                    " was not run. Tell the user and offer to try again."}}),
                false);
            break;
        case approval_request::state::cancelled:
            record_approval(call_id, name, "cancelled", by);
            answer_tool_now(call_id, name,
                            dump({{"error", "the user cancelled " + name + " before it ran"}}),
                            false);
            break;
        case approval_request::state::pending:
            break;
    }
    call(cbs_.on_approval, p.req);
}

void session::impl::submit_tool(const std::string& call_id, const std::string& name,
                                const std::string& arguments_json) {
    runner_->submit({call_id, name, arguments_json}, [this](tools::tool_result r) {
        // A runner thread: hand the result to the io thread.
        asio::post(ioc_, [this, r = std::move(r)]() mutable { on_tool_done(std::move(r)); });
    });
}

void session::impl::answer_tool_now(const std::string& call_id, const std::string& name,
                                    std::string output, bool ok) {
    tools::tool_result r{
        .call_id = call_id, .name = name, .output_json = std::move(output), .ok = ok};
    // Posted, like a runner's answer: the conversation hears it after this drain.
    asio::post(ioc_, [this, r = std::move(r)]() mutable { on_tool_done(std::move(r)); });
}

void session::impl::approve(std::string call_id, bool yes) {
    post([this, call_id = std::move(call_id), yes] {
        std::string id = call_id;
        if (id.empty()) {
            const auto oldest = std::min_element(
                approvals_.begin(), approvals_.end(),
                [](const auto& a, const auto& b) { return a.second.seq < b.second.seq; });
            if (oldest == approvals_.end()) return;
            id = oldest->first;
        }
        settle_approval(id,
                        yes ? approval_request::state::approved : approval_request::state::denied,
                        "user (terminal)");
        drain();
    });
}

void session::impl::cancel_tools() {
    post([this] {
        std::vector<std::string> ids;
        for (const auto& [id, p] : approvals_) ids.push_back(id);
        for (const auto& id : ids) {
            settle_approval(id, approval_request::state::cancelled, "user (cancel key)");
        }
        const std::size_t running = runner_->cancel_all("was cancelled by the user");
        if (running + ids.size() > 0) {
            local("tool.cancel", core::json_object()
                                     .field("running", static_cast<std::int64_t>(running))
                                     .field("approvals", static_cast<std::int64_t>(ids.size()))
                                     .str());
        }
        drain();
    });
}

}  // namespace ava
