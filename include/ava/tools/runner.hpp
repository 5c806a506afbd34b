// The tool runner: runs the model's function calls on worker threads, several at once, each with
// a timeout, and hands every result (including failures) to a callback the caller gives.
//
// It knows nothing of Asio: the app's callback posts the result onto its io_context, where it
// becomes conversation.item.create{function_call_output} and, once all calls of a response are
// answered, response.create.
//
// Threads: submit() may be called from any thread and never runs the handler on the caller's
// thread. Each call gets its own worker thread (tool calls are rare and short, and a hung
// handler must not hold up the next one); one watchdog thread enforces the timeouts.
//
// A handler that overruns its timeout is asked to stop through its std::stop_token, and the
// model gets {"error":"<name> timed out after N s"} at once. If the handler ignores the stop
// request its thread keeps running (C++ cannot kill a thread safely): the thread is detached,
// keeps its tool object alive (shared_ptr), and its late result is discarded. It still counts
// towards max_in_flight until it returns. shutdown() waits at most `shutdown_grace` for such
// threads and then leaves them; process exit ends them.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ava::tools {

class registry;

/// One function call from the model (response.output_item of type function_call).
struct tool_call {
    std::string call_id;         ///< echoed in the result; the model matches on it
    std::string name;            ///< the tool's name
    std::string arguments_json;  ///< the model's arguments (JSON text; may be empty)
};

/// The answer for the model. `output_json` is always a JSON object or array text: the handler's
/// result, or {"error":"..."} when the call failed, was invalid, timed out or threw.
struct tool_result {
    std::string call_id;
    std::string name;
    std::string output_json;
    bool ok = false;
    std::chrono::milliseconds elapsed{0};
};

/// Called exactly once per submitted call, on a runner thread (never the submitter's thread),
/// unless shutdown() has begun. Must be quick and must not call runner::shutdown().
using result_callback = std::function<void(tool_result)>;

struct runner_options {
    std::size_t max_in_flight = 16;                 ///< handler threads at once, hung ones included
    std::chrono::milliseconds shutdown_grace{500};  ///< shutdown() waits this long for threads
};

class runner {
  public:
    /// `tools` must stay alive while calls are being submitted; running calls keep what they
    /// need alive themselves.
    explicit runner(const registry& tools, runner_options opts = {});
    runner(const runner&) = delete;
    runner& operator=(const runner&) = delete;
    ~runner();  ///< shutdown()

    /// Starts `call`. Unknown tool, tool not offered, arguments that fail the schema, too many
    /// calls in flight: all become error results through `on_done`, like handler failures.
    void submit(tool_call call, result_callback on_done);

    /// Ends the running call `call_id` now: its callback gets {"error": "<name> <reason>"} at once
    /// and the handler is asked to stop (its late answer is dropped). Returns false when no such
    /// call is running. Any thread but a callback.
    bool cancel(std::string_view call_id, std::string_view reason);
    /// cancel() for every running call; returns how many were cancelled.
    std::size_t cancel_all(std::string_view reason);

    /// Requests stop on every running call, suppresses all further callbacks, and waits up to
    /// `shutdown_grace` for handler threads to return. Idempotent; any thread but a callback.
    void shutdown();

    /// Handler threads still running (including timed-out ones that ignore their stop token).
    [[nodiscard]] std::size_t threads_running() const;

  private:
    struct state;
    const registry& tools_;
    runner_options opts_;
    std::shared_ptr<state> state_;
};

}  // namespace ava::tools
