// Tool runner: one worker thread per call, one watchdog thread for timeouts. See runner.hpp for
// the contract, including what happens to a handler that ignores its stop token.
#include "ava/tools/runner.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/core/log.hpp"
#include "ava/tools/registry.hpp"

namespace ava::tools {
namespace {

using clock = std::chrono::steady_clock;
using json = nlohmann::json;

std::string error_json(const std::string& message) {
    // `replace`: an exception text with broken UTF-8 must not throw here.
    return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string seconds_text(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
    return std::to_string(ms.count()) + " ms";
}

struct call_state {
    tool_call call;
    result_callback on_done;
    std::shared_ptr<const registered_tool> entry;  // null: unknown tool
    std::stop_source stop;
    clock::time_point start;
    clock::time_point deadline;
    std::chrono::milliseconds timeout{0};
    std::atomic<bool> delivered{false};
};

}  // namespace

struct runner::state {
    std::mutex m;  // guards running, threads, stopping
    std::condition_variable cv;
    std::vector<std::shared_ptr<call_state>> running;
    std::size_t threads = 0;
    bool stopping = false;
    std::thread watchdog;

    std::mutex deliver_m;  // held while a callback runs, so shutdown() can fence them
    bool closed = false;

    // Hands `r` to the call's callback unless a result was already delivered (the timeout and
    // the late handler race; the first one wins) or shutdown() has closed delivery.
    void deliver(call_state& cs, tool_result r) {
        if (cs.delivered.exchange(true)) return;
        r.call_id = cs.call.call_id;
        r.name = cs.call.name;
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - cs.start);
        std::lock_guard lk(deliver_m);
        if (closed) return;  // after shutdown() nothing is delivered, or logged as such
        auto log = ava::log::get("tools");
        if (r.ok) {
            log->info("tool {} (call {}) done in {} ms", r.name, r.call_id, r.elapsed.count());
        } else {
            log->warn("tool {} (call {}) failed in {} ms: {}", r.name, r.call_id, r.elapsed.count(),
                      r.output_json);
        }
        try {
            cs.on_done(std::move(r));
        } catch (const std::exception& e) {
            log->error("tool result callback threw: {}", e.what());
        } catch (...) {
            log->error("tool result callback threw");
        }
    }

    void watch() {
        std::unique_lock lk(m);
        while (!stopping) {
            const auto now = clock::now();
            auto next = clock::time_point::max();
            std::vector<std::shared_ptr<call_state>> expired;
            for (const auto& cs : running) {
                if (cs->delivered.load()) continue;
                if (cs->deadline <= now) {
                    expired.push_back(cs);
                } else {
                    next = std::min(next, cs->deadline);
                }
            }
            if (!expired.empty()) {
                lk.unlock();
                for (const auto& cs : expired) {
                    // Deliver before requesting stop: a handler that honours the stop token
                    // returns at once, and its result must not win over the timeout.
                    deliver(*cs, {.output_json = error_json(cs->call.name + " timed out after " +
                                                            seconds_text(cs->timeout) +
                                                            "; it did not answer")});
                    cs->stop.request_stop();
                }
                lk.lock();
                continue;
            }
            if (next == clock::time_point::max()) {
                cv.wait(lk);
            } else {
                cv.wait_until(lk, next);
            }
        }
    }
};

namespace {

tool_result execute(call_state& cs) {
    const auto& name = cs.call.name;
    if (!cs.entry) return {.output_json = error_json("unknown tool '" + name + "'")};
    if (!cs.entry->offered) {
        return {.output_json =
                    error_json("tool " + name + " is not available: " + cs.entry->reason)};
    }
    if (auto problem = cs.entry->schema->validate(cs.call.arguments_json)) {
        return {.output_json = error_json("invalid arguments for " + name + ": " + *problem)};
    }
    std::string out;
    try {
        out = cs.entry->handler->call(cs.call.arguments_json, cs.stop.get_token());
    } catch (const tool_error& e) {
        return {.output_json = error_json(e.what())};
    } catch (const std::exception& e) {
        return {.output_json = error_json(name + " failed: " + e.what())};
    } catch (...) {
        return {.output_json = error_json(name + " failed with an unknown error")};
    }
    // The model is promised a JSON object or array; wrap anything else.
    const json parsed = json::parse(out, nullptr, false);
    if (parsed.is_discarded() || !(parsed.is_object() || parsed.is_array())) {
        return {.output_json =
                    json{{"result", out}}.dump(-1, ' ', false, json::error_handler_t::replace),
                .ok = true};
    }
    return {.output_json = std::move(out), .ok = true};
}

}  // namespace

runner::runner(const registry& tools, runner_options opts)
    : tools_(tools), opts_(opts), state_(std::make_shared<state>()) {
    state_->watchdog = std::thread([s = state_] { s->watch(); });
}

runner::~runner() {
    shutdown();
}

void runner::submit(tool_call call, result_callback on_done) {
    auto cs = std::make_shared<call_state>();
    cs->entry = tools_.find(call.name);
    cs->call = std::move(call);
    cs->on_done = std::move(on_done);
    cs->start = clock::now();
    cs->timeout = cs->entry ? cs->entry->timeout : tools_.default_timeout();
    cs->deadline = cs->start + cs->timeout;

    bool refuse = false;
    {
        std::lock_guard lk(state_->m);
        if (state_->stopping) return;  // callbacks are already closed
        if (state_->threads >= opts_.max_in_flight) {
            refuse = true;
        } else {
            ++state_->threads;
            state_->running.push_back(cs);
        }
    }
    if (refuse) {
        // Still answered off the caller's thread, as promised; not counted, it only delivers.
        std::thread([s = state_, cs, max = opts_.max_in_flight] {
            s->deliver(*cs,
                       {.output_json = error_json("too many tool calls in progress (" +
                                                  std::to_string(max) + "); try again later")});
        }).detach();
        return;
    }
    state_->cv.notify_all();  // the watchdog re-computes its next deadline
    try {
        std::thread([s = state_, cs] {
            tool_result r = execute(*cs);
            s->deliver(*cs, std::move(r));
            {
                std::lock_guard lk(s->m);
                std::erase(s->running, cs);
                --s->threads;
            }
            s->cv.notify_all();
        }).detach();
    } catch (const std::system_error& e) {
        // No thread could be started: answer here rather than lose the call.
        {
            std::lock_guard lk(state_->m);
            std::erase(state_->running, cs);
            --state_->threads;
        }
        state_->deliver(
            *cs, {.output_json = error_json(cs->call.name + " could not start: " + e.what())});
    }
}

bool runner::cancel(std::string_view call_id, std::string_view reason) {
    std::shared_ptr<call_state> target;
    {
        std::lock_guard lk(state_->m);
        for (const auto& cs : state_->running) {
            if (cs->call.call_id == call_id && !cs->delivered.load()) {
                target = cs;
                break;
            }
        }
    }
    if (!target) return false;
    // As for a timeout: the answer first, then the stop request, so a handler that honours the
    // token cannot win with a half-done result.
    state_->deliver(*target,
                    {.output_json = error_json(target->call.name + " " + std::string(reason))});
    target->stop.request_stop();
    return true;
}

std::size_t runner::cancel_all(std::string_view reason) {
    std::vector<std::string> ids;
    {
        std::lock_guard lk(state_->m);
        for (const auto& cs : state_->running) {
            if (!cs->delivered.load()) ids.push_back(cs->call.call_id);
        }
    }
    std::size_t n = 0;
    for (const auto& id : ids) {
        if (cancel(id, reason)) ++n;
    }
    return n;
}

void runner::shutdown() {
    {
        std::lock_guard lk(state_->m);
        if (state_->stopping) return;
        state_->stopping = true;
        for (const auto& cs : state_->running) cs->stop.request_stop();
    }
    {
        std::lock_guard lk(state_->deliver_m);  // waits for a callback in progress
        state_->closed = true;
    }
    state_->cv.notify_all();
    if (state_->watchdog.joinable()) state_->watchdog.join();
    std::unique_lock lk(state_->m);
    if (!state_->cv.wait_for(lk, opts_.shutdown_grace, [&] { return state_->threads == 0; })) {
        ava::log::get("tools")->warn(
            "{} tool handler(s) ignored the stop request; leaving them to finish in the "
            "background",
            state_->threads);
    }
}

std::size_t runner::threads_running() const {
    std::lock_guard lk(state_->m);
    return state_->threads;
}

}  // namespace ava::tools
