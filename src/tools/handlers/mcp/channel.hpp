// JSON-RPC 2.0 over a child's stdin/stdout, one message per line (the MCP stdio transport).
//
// One I/O thread per channel polls the child's stdout, stderr and (when there is something to
// send) stdin, all non-blocking, so a child that stops reading cannot block a caller and one
// that floods stderr cannot stall. Lines on stdout that are not JSON-RPC are logged
// (rate-limited, clipped) and dropped, and so is JSON nested deeper than 128 levels
// (parse_line() in protocol.hpp); a line longer than `max_line_bytes` is discarded with a
// warning. stderr goes to the log line by line
// ("mcp" logger, the server's name first), never to the terminal directly. The child's death (EOF
// on its stdout, or its exit) fails every waiting request at once and is reported through
// `on_closed`, once.
//
// Threads: request(), notify(), kill() and the accessors may be called from any thread. The
// handlers run on the I/O thread: they must be quick and must not destroy the channel.
// Requests from the server are answered on the I/O thread: `ping` with {}, anything else with
// -32601 (we declare no client capabilities, so a well-behaved server sends none).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "mcp/child.hpp"

namespace ava::tools::mcp {

/// Why a request got no result.
class rpc_failure : public std::runtime_error {
  public:
    enum class kind {
        error,      ///< the server answered with a JSON-RPC error (code, data)
        timeout,    ///< no answer in time (notifications/cancelled was sent if asked for)
        closed,     ///< the server went away (or was never running)
        cancelled,  ///< the caller's stop token (notifications/cancelled was sent if asked for)
    };
    rpc_failure(kind k, const std::string& what, int code = 0, nlohmann::json data = {})
        : std::runtime_error(what), kind_(k), code_(code), data_(std::move(data)) {}
    [[nodiscard]] kind why() const { return kind_; }
    [[nodiscard]] int code() const { return code_; }
    [[nodiscard]] const nlohmann::json& data() const { return data_; }

  private:
    kind kind_;
    int code_;
    nlohmann::json data_;
};

class channel {
  public:
    struct options {
        std::string server;  ///< the server's name, for log lines
        child_options process;
        std::size_t max_line_bytes = 16 * 1024 * 1024;
        std::chrono::milliseconds stop_grace{1000};  ///< after closing stdin; again after SIGTERM
    };
    struct handlers {
        /// A notification from the server (method, params or null).
        std::function<void(const std::string&, const nlohmann::json&)> on_notification;
        /// The server went away; the reason reads "exited with status 1", "closed its stdout"...
        std::function<void(const std::string&)> on_closed;
    };

    /// Starts the child and the I/O thread. Throws std::runtime_error when it cannot start.
    channel(options opts, handlers h);
    channel(const channel&) = delete;
    channel& operator=(const channel&) = delete;
    /// shutdown().
    ~channel();

    /// Stops the child: closes its stdin, waits `stop_grace`, SIGTERM to its process group,
    /// waits `stop_grace` again, SIGKILL (at once after kill()). Then joins the I/O thread.
    /// Waiting requests fail as `closed`. Idempotent; not from a handler.
    void shutdown();

    /// Sends a request and waits for its answer: returns `result`, or throws rpc_failure. With
    /// `cancel_on_abort`, a timeout or a stop request sends notifications/cancelled{requestId,
    /// reason} first (never for `initialize`, which the spec says must not be cancelled).
    nlohmann::json request(const std::string& method, nlohmann::json params,
                           std::chrono::milliseconds timeout, std::stop_token stop = {},
                           bool cancel_on_abort = true);

    /// Sends a notification (no answer). Silently dropped when the channel is closed.
    void notify(const std::string& method, nlohmann::json params);

    /// Ends the child now (SIGKILL to its group), e.g. because it stopped answering; `why` is the
    /// reason waiting requests and on_closed get.
    void kill(const std::string& why);

    [[nodiscard]] bool closed() const;
    [[nodiscard]] std::string close_reason() const;
    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    struct pending {
        bool done = false;
        nlohmann::json response;  // the whole message
    };

    void run();  // the I/O thread
    void send_line(std::string line);
    void split_stdout();
    void read_stderr();  // what is there now, line by line; closes it at EOF
    void warn_too_long();
    void handle_line(std::string_view line);
    void handle_message(const nlohmann::json& msg);
    void handle_stderr_line(std::string_view line);
    void fail_all(const std::string& why);
    void garbage(std::string_view what, std::string_view line);
    void mark_closed(const std::string& why);

    const options opts_;
    const handlers handlers_;
    child child_;
    const pid_t pid_;
    unique_fd wake_r_, wake_w_;  // a self-pipe: wakes the I/O thread for output or stop

    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    std::int64_t next_id_ = 1;                                  // guarded by mutex_
    std::map<std::int64_t, std::shared_ptr<pending>> waiting_;  // guarded by mutex_
    std::string outbox_;                                        // guarded by mutex_
    bool closed_ = false;                                       // guarded by mutex_
    std::string close_reason_;                                  // guarded by mutex_
    std::string last_stderr_;  // guarded by mutex_: the server's last complaint, for the warning
    bool kill_now_ = false;    // guarded by mutex_
    std::shared_ptr<spdlog::logger> log_;
    std::atomic<bool> stopping_{false};
    std::mutex join_mutex_;

    // At most `per_window` log lines per 10 s; the next line allowed says how many were not.
    struct log_budget {
        unsigned per_window;
        std::chrono::steady_clock::time_point window{};
        unsigned logged = 0;
        unsigned suppressed = 0;
        /// Whether to log now; `skipped` gets the number suppressed since the last one logged.
        bool allow(unsigned& skipped);
    };

    // I/O thread only.
    std::string out_buf_, err_buf_;
    std::size_t out_scanned_ = 0;  // out_buf_[0, out_scanned_) holds no newline
    bool discarding_ = false;      // inside an over-long stdout line
    log_budget garbage_budget_{5};
    log_budget stderr_budget_{200};

    std::thread thread_;  // last: started after everything above exists
};

}  // namespace ava::tools::mcp
