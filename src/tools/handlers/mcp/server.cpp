// One MCP server's supervisor: start, handshake, tools/list, watch, restart with backoff.
#include "mcp/server.hpp"

#include <algorithm>
#include <set>

#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "mcp/remote_tool.hpp"

namespace ava::tools::mcp {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr int k_max_pages = 100;  // tools/list pages followed before giving up on the rest
// The runner's backstop comes a little after the call's own time limit, so the model hears
// "did not answer within N s" from the bridge (as for command tools).
constexpr milliseconds k_runner_backstop{500};
// A run that lasted this long ends the failure streak: the next backoff starts small again.
constexpr auto k_stable_run = std::chrono::seconds(60);

// A problem a restart cannot fix (no common protocol version).
class fatal_problem : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

milliseconds remaining(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    return std::max(left, milliseconds(1));
}

// Rounded up to a tenth: "restarting in 0.4 s", "restarting in 2 s".
std::string seconds(milliseconds ms) {
    return duration_text(milliseconds((ms.count() + 99) / 100 * 100));
}

// What went wrong with `method`, as the text after "MCP server 'x' ".
std::string failure_text(const rpc_failure& e, const std::string& method,
                         const std::string& close_reason) {
    switch (e.why()) {
        case rpc_failure::kind::error:
            return "refused " + method + ": " + e.what() + " (error " + std::to_string(e.code()) +
                   ")";
        case rpc_failure::kind::timeout:
            return e.what();  // "did not answer <method> within N s"
        case rpc_failure::kind::closed:
            return close_reason.empty() ? std::string(e.what()) : close_reason;
        case rpc_failure::kind::cancelled:
            break;
    }
    return "was stopped";
}

json with_meta(json params, era e) {
    if (e == era::modern) params["_meta"] = modern_meta();
    return params;
}

}  // namespace

server::server(registry& reg, mcp_server_settings settings, const mcp_options& opts)
    : reg_(reg), settings_(std::move(settings)), opts_(opts), log_(ava::log::get("mcp")) {
    if (!settings_.enabled) state_ = mcp_state::disabled;
}

server::~server() {
    request_stop();
    join();
}

void server::start() {
    if (state_ == mcp_state::disabled) {
        log_->info("MCP server '{}' is disabled in config", settings_.name);
        return;
    }
    thread_ = std::jthread([this](std::stop_token st) { supervise(std::move(st)); });
}

void server::request_stop() {
    thread_.request_stop();
    cv_.notify_all();
}

void server::join() {
    if (thread_.joinable()) thread_.join();
}

void server::wait_first_try(clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline,
                   [&] { return first_try_done_ || state_ == mcp_state::disabled; });
}

mcp_server_status server::status() const {
    const std::lock_guard lock(mutex_);
    mcp_server_status s;
    s.name = settings_.name;
    s.state = state_;
    s.tools = tool_count_;
    s.protocol_version = version_;
    s.last_error = last_error_;
    s.starts = starts_;
    if (state_ == mcp_state::restarting) {
        s.restart_in = std::max(
            milliseconds(0), std::chrono::duration_cast<milliseconds>(next_start_ - clock::now()));
    }
    return s;
}

std::string server::down_message() const {
    const std::string who = "MCP server '" + settings_.name + "'";
    switch (state_) {
        case mcp_state::starting:
            return who + " is still starting";
        case mcp_state::disabled:
            return who + " is disabled in config";
        case mcp_state::failed:
            return who + " failed and is not restarted: " + last_error_;
        case mcp_state::restarting: {
            const auto left = std::chrono::duration_cast<milliseconds>(next_start_ - clock::now());
            return who + " is not running (restarting " +
                   (left > milliseconds(0) ? "in " + seconds(left) : std::string("now")) +
                   "): " + last_error_;
        }
        case mcp_state::running:
            break;
    }
    // It has just gone; the supervisor has not noticed yet.
    return who + " is not running (restarting now)" +
           (channel_ ? ": " + channel_->close_reason() : std::string());
}

std::string server::call(const std::string& tool, std::string_view args_json,
                         std::stop_token stop) {
    std::shared_ptr<channel> ch;
    era e = era::unknown;
    {
        const std::lock_guard lock(mutex_);
        if (state_ != mcp_state::running || !channel_ || closed_ || channel_->closed()) {
            throw tool_error(down_message());
        }
        ch = channel_;
        e = era_;
    }
    json args =
        core::trim(args_json).empty() ? json::object() : json::parse(args_json, nullptr, false);
    if (!args.is_object()) throw tool_error("the arguments must be a JSON object");
    const std::string who = "MCP server '" + settings_.name + "'";
    try {
        const json result = ch->request(
            "tools/call", with_meta({{"name", tool}, {"arguments", std::move(args)}}, e),
            settings_.timeout, std::move(stop));
        return call_output(result, opts_.max_result_bytes);
    } catch (const rpc_failure& f) {
        switch (f.why()) {
            case rpc_failure::kind::error:
                throw tool_error(settings_.name + " error " + std::to_string(f.code()) + ": " +
                                 f.what());
            case rpc_failure::kind::timeout: {
                {
                    const std::lock_guard lock(mutex_);
                    check_alive_ = true;
                }
                cv_.notify_all();
                throw tool_error(who + " did not answer " + tool + " within " +
                                 duration_text(settings_.timeout));
            }
            case rpc_failure::kind::cancelled:
                throw tool_error(tool + " was cancelled");
            case rpc_failure::kind::closed:
                break;
        }
        throw tool_error(who + " " + f.what() + " during the call");
    }
}

std::shared_ptr<channel> server::launch() {
    std::uint64_t attempt = 0;
    {
        const std::lock_guard lock(mutex_);
        attempt = ++attempt_;
        closed_ = relist_ = check_alive_ = false;
        ++starts_;
    }
    channel::handlers h;
    h.on_notification = [this, attempt](const std::string& method, const json& params) {
        if (method == "notifications/tools/list_changed") {
            {
                const std::lock_guard lock(mutex_);
                if (attempt == attempt_) relist_ = true;
            }
            cv_.notify_all();
        } else if (method == "notifications/message" && params.is_object()) {
            log_->debug("[{}] {}: {}", settings_.name, params.value("level", std::string("log")),
                        core::clip(params.value("data", json())
                                       .dump(-1, ' ', false, json::error_handler_t::replace),
                                   2000));
        } else {
            log_->trace("MCP server '{}' sent {}", settings_.name, core::clip(method, 100));
        }
    };
    h.on_closed = [this, attempt](const std::string& why) {
        {
            const std::lock_guard lock(mutex_);
            if (attempt != attempt_) return;
            closed_ = true;
            // Down from now on, in status() too; record_failure() sets when it comes back.
            if (state_ == mcp_state::running) {
                state_ = mcp_state::restarting;
                last_error_ = why;
                next_start_ = clock::now();
            }
        }
        cv_.notify_all();
    };
    channel::options o{.server = settings_.name,
                       .process = {settings_.command, settings_.env, settings_.cwd},
                       .max_line_bytes = opts_.max_line_bytes,
                       .stop_grace = opts_.stop_grace};
    return std::make_shared<channel>(std::move(o), std::move(h));
}

bool server::probe(channel& ch, std::stop_token st, clock::time_point deadline) {
    // The 2026-07-28 stdio backward-compatibility rule: a DiscoverResult or a recognised modern
    // error means modern; any other error, or no answer, means legacy. Not cancelled on timeout:
    // a legacy server would not know what we cancel.
    const milliseconds budget = std::min(opts_.discover_timeout, remaining(deadline) / 2);
    era_choice choice;
    try {
        const json r = ch.request("server/discover", {{"_meta", modern_meta()}},
                                  std::max(budget, milliseconds(1)), st, false);
        choice = era_from_discover(r);
    } catch (const rpc_failure& e) {
        if (e.why() == rpc_failure::kind::timeout) return false;
        if (e.why() == rpc_failure::kind::error) {
            choice = era_from_discover_error(e.code(), e.data());
        } else if (e.why() == rpc_failure::kind::cancelled) {
            throw;
        } else {
            // It died at the probe: the next start goes straight to initialize.
            const std::lock_guard lock(mutex_);
            era_hint_ = era::legacy;
            throw std::runtime_error(failure_text(e, "server/discover", ch.close_reason()));
        }
    }
    if (!choice.problem.empty()) throw fatal_problem(choice.problem);
    if (choice.chosen != era::modern) return false;
    const std::lock_guard lock(mutex_);
    era_ = era_hint_ = era::modern;
    version_ = std::string(modern_version);
    return true;
}

void server::handshake(channel& ch, std::stop_token st, clock::time_point deadline) {
    era hint = era::unknown;
    {
        const std::lock_guard lock(mutex_);
        hint = era_hint_;
    }
    if (hint != era::legacy && probe(ch, st, deadline)) return;

    const json init = {{"protocolVersion", legacy_versions[0]},
                       {"capabilities", json::object()},
                       {"clientInfo", client_info()}};
    json r;
    try {
        // Never cancelled (the spec forbids cancelling initialize).
        r = ch.request("initialize", init, remaining(deadline), st, false);
    } catch (const rpc_failure& e) {
        if (e.why() == rpc_failure::kind::error) {
            const std::lock_guard lock(mutex_);
            era_hint_ = era::unknown;  // probe again next time
        }
        throw std::runtime_error(failure_text(e, "initialize", ch.close_reason()));
    }
    const std::string version = r.is_object() ? r.value("protocolVersion", std::string()) : "";
    if (!legacy_version_ok(version)) {
        std::string known = std::string(modern_version);
        for (auto v : legacy_versions) known += ", " + std::string(v);
        throw fatal_problem("answered protocol version '" + core::clip(version, 40) +
                            "', which ava-voice does not speak (it speaks " + known + ")");
    }
    {
        const std::lock_guard lock(mutex_);
        era_ = era_hint_ = era::legacy;
        version_ = version;
    }
    ch.notify("notifications/initialized", json());
}

std::vector<tool_info> server::list_tools(channel& ch, std::stop_token st,
                                          clock::time_point deadline) {
    era e = era::unknown;
    {
        // A list_changed that came before this list is answered by it.
        const std::lock_guard lock(mutex_);
        relist_ = false;
        e = era_;
    }
    std::vector<tool_info> out;
    std::set<std::string> cursors;
    std::string cursor;
    for (int page = 0; page < k_max_pages; ++page) {
        json p = json::object();
        if (!cursor.empty()) p["cursor"] = cursor;
        tools_page pg;
        try {
            pg = parse_tools_page(
                ch.request("tools/list", with_meta(std::move(p), e), remaining(deadline), st));
        } catch (const rpc_failure& f) {
            if (f.why() == rpc_failure::kind::timeout) throw;  // the caller decides: a hang
            throw std::runtime_error(failure_text(f, "tools/list", ch.close_reason()));
        }
        for (const auto& problem : pg.problems) {
            log_->warn("MCP server '{}' tools/list: {}", settings_.name, problem);
        }
        std::move(pg.tools.begin(), pg.tools.end(), std::back_inserter(out));
        if (pg.next_cursor.empty()) return out;
        if (!cursors.insert(pg.next_cursor).second) {
            log_->warn("MCP server '{}' repeated a tools/list cursor; listing stopped there",
                       settings_.name);
            return out;
        }
        cursor = std::move(pg.next_cursor);
    }
    log_->warn("MCP server '{}' has more than {} pages of tools; the rest are not offered",
               settings_.name, k_max_pages);
    return out;
}

void server::publish(const std::vector<tool_info>& tools) {
    std::vector<std::pair<std::shared_ptr<tool>, tool_options>> entries;
    std::set<std::string> names;
    std::string fingerprint;
    for (const auto& t : tools) {
        if (!allowed(settings_, t.name)) continue;
        std::string fn = function_name(settings_.name, t.name);
        if (!names.insert(fn).second) {
            fn = hashed_function_name(settings_.name, t.name);
            names.insert(fn);
        }
        const bool approval = settings_.require_approval.value_or(default_approval(t));
        fingerprint += fn + '\n' + t.name + '\n' + t.description + '\n' + t.input_schema + '\n' +
                       (approval ? "1" : "0") + '\n';
        tool_options o;
        o.timeout = settings_.timeout + k_runner_backstop;
        o.require_approval = approval;
        entries.emplace_back(
            std::make_shared<remote_tool>(weak_from_this(), settings_.name, t.name,
                                          tool_spec{fn, t.description, t.input_schema}),
            std::move(o));
    }
    const std::size_t count = entries.size();
    {
        const std::lock_guard lock(mutex_);
        tool_count_ = count;
        // The same tools again (a restart, a list_changed that changed nothing): leave the
        // registry alone, so the model's tool list does not flap.
        if (published_ == fingerprint) return;
        published_ = fingerprint;
    }
    reg_.replace_group(settings_.name, std::move(entries));
    log_->info("MCP server '{}': {} tool{} registered", settings_.name, count,
               count == 1 ? "" : "s");
}

std::string server::watch(channel& ch, std::stop_token st) {
    std::unique_lock lock(mutex_);
    while (!st.stop_requested()) {
        cv_.wait(lock, st, [&] { return closed_ || relist_ || check_alive_; });
        if (st.stop_requested()) break;
        if (closed_) return ch.close_reason();
        const era e = era_;
        if (relist_) {
            lock.unlock();
            try {
                publish(list_tools(ch, st, clock::now() + settings_.timeout));
            } catch (const rpc_failure& f) {
                if (f.why() == rpc_failure::kind::timeout) {
                    ch.kill("stopped answering (tools/list got no answer)");
                    return "stopped answering (tools/list got no answer within " +
                           duration_text(settings_.timeout) + ")";
                }
            } catch (const std::exception& ex) {
                // Stopping (the bridge is going away) interrupts a re-list: not a failure.
                if (!st.stop_requested()) {
                    log_->warn("MCP server '{}': re-listing its tools failed: {}", settings_.name,
                               ex.what());
                }
            }
            lock.lock();
            continue;
        }
        check_alive_ = false;
        lock.unlock();
        // A call timed out. A slow tool is not a hung server: only if a ping (modern:
        // server/discover) gets no answer either is the server restarted.
        try {
            if (e == era::modern) {
                ch.request("server/discover", {{"_meta", modern_meta()}}, opts_.discover_timeout,
                           st, false);
            } else {
                ch.request("ping", json(), opts_.discover_timeout, st, false);
            }
        } catch (const rpc_failure& f) {
            if (f.why() == rpc_failure::kind::timeout) {
                ch.kill("stopped answering");
                return "stopped answering (a call timed out, and so did ping)";
            }
        }
        lock.lock();
    }
    return {};
}

void server::record_failure(const std::string& error, bool fatal, milliseconds backoff) {
    bool first = false;
    {
        const std::lock_guard lock(mutex_);
        last_error_ = error;
        first_try_done_ = true;
        state_ = fatal ? mcp_state::failed : mcp_state::restarting;
        next_start_ = clock::now() + backoff;
        first = !reported_;
        reported_ = true;
    }
    cv_.notify_all();
    const std::string next = fatal ? "it is not restarted; fix its [[tools.mcp]] entry"
                                   : "restarting in " + seconds(backoff);
    if (first) {
        log_->warn(
            "MCP server '{}' {}; {} (its stderr is in the log; further failures are logged "
            "at debug level until it runs again)",
            settings_.name, error, next);
    } else {
        log_->debug("MCP server '{}' {}; {}", settings_.name, error, next);
    }
}

void server::supervise(std::stop_token st) {
    milliseconds backoff = opts_.restart_delay;
    while (!st.stop_requested()) {
        const auto started = clock::now();
        std::shared_ptr<channel> ch;
        std::string error;
        bool fatal = false;
        bool ran = false;
        try {
            try {
                ch = launch();
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string("could not start: ") + e.what());
            }
            const auto deadline = started + settings_.start_timeout;
            handshake(*ch, st, deadline);
            publish(list_tools(*ch, st, deadline));
            bool again = false;
            {
                const std::lock_guard lock(mutex_);
                channel_ = ch;
                state_ = mcp_state::running;
                first_try_done_ = true;
                again = reported_;
                reported_ = false;
            }
            cv_.notify_all();
            if (again) {
                log_->warn("MCP server '{}' is running again", settings_.name);
            } else {
                log_->info("MCP server '{}' running (protocol {})", settings_.name, [&] {
                    const std::lock_guard lock(mutex_);
                    return version_;
                }());
            }
            ran = true;
            error = watch(*ch, st);
        } catch (const fatal_problem& e) {
            error = e.what();
            fatal = true;
        } catch (const rpc_failure& e) {
            error = failure_text(e, "a request", ch ? ch->close_reason() : std::string());
        } catch (const std::exception& e) {
            error = e.what();
        }
        {
            const std::lock_guard lock(mutex_);
            channel_.reset();
        }
        if (ch) {
            if (!st.stop_requested()) ch->kill(error.empty() ? "stopped" : error);
            ch->shutdown();  // here, not on a worker thread that may hold the last reference
        }
        if (st.stop_requested()) break;
        if (ran && clock::now() - started >= k_stable_run) backoff = opts_.restart_delay;
        record_failure(error.empty() ? "stopped" : error, fatal, backoff);
        std::unique_lock lock(mutex_);
        if (fatal) {
            cv_.wait(lock, st, [] { return false; });
            break;
        }
        cv_.wait_until(lock, st, next_start_, [] { return false; });
        backoff = std::min(backoff * 2, opts_.max_restart_delay);
    }
}

}  // namespace ava::tools::mcp
