// One MCP server's life: start, handshake, tools/list into its registry group, watch, restart.
//
// A supervisor thread runs the loop; the channel (mcp/channel.hpp) does the I/O. Failures are
// values inside the loop: a failure is logged as a warning once per episode (the episode ends
// when the server is running again; later failures within it are logged at debug), the state
// becomes `restarting`, and the next start waits the backoff (restart_delay, doubling up to
// max_restart_delay; reset once a run has lasted a minute). A server that cannot work at all
// (no protocol version in common, no command) is `failed` and not restarted.
//
// Threads: call() from the runner's worker threads; status() from any thread; start() and
// stop() from the bridge's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "ava/tools/mcp.hpp"
#include "mcp/channel.hpp"
#include "mcp/protocol.hpp"

namespace ava::tools::mcp {

class server : public std::enable_shared_from_this<server> {
  public:
    server(registry& reg, mcp_server_settings settings, const mcp_options& opts);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    void start();
    /// Asks the supervisor to stop (it stops the child); join() waits for it.
    void request_stop();
    void join();

    /// Waits until the first try is over (tools registered, or it failed) or `deadline` passes.
    void wait_first_try(std::chrono::steady_clock::time_point deadline);

    [[nodiscard]] mcp_server_status status() const;
    [[nodiscard]] const std::string& name() const { return settings_.name; }

    /// Calls the server's tool `tool` (its own name). Returns the function output; throws
    /// tool_error for everything else, at once when the server is down.
    std::string call(const std::string& tool, std::string_view args_json, std::stop_token stop);

  private:
    using clock = std::chrono::steady_clock;

    void supervise(std::stop_token st);
    std::shared_ptr<channel> launch();
    void handshake(channel& ch, std::stop_token st, clock::time_point deadline);
    bool probe(channel& ch, std::stop_token st, clock::time_point deadline);
    std::vector<tool_info> list_tools(channel& ch, std::stop_token st, clock::time_point deadline);
    void publish(const std::vector<tool_info>& tools);
    std::string watch(channel& ch, std::stop_token st);
    void record_failure(const std::string& error, bool fatal, std::chrono::milliseconds backoff);
    [[nodiscard]] nlohmann::json params(nlohmann::json p) const;
    [[nodiscard]] std::string down_message() const;  // mutex_ held

    registry& reg_;
    const mcp_server_settings settings_;
    const mcp_options opts_;
    std::shared_ptr<spdlog::logger> log_;

    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    mcp_state state_ = mcp_state::starting;  // guarded by mutex_, as is everything below
    std::shared_ptr<channel> channel_;       // set while running
    std::uint64_t attempt_ = 0;              // which channel the callbacks belong to
    bool closed_ = false;                    // the current channel has gone
    bool relist_ = false;                    // notifications/tools/list_changed came
    bool check_alive_ = false;               // a call timed out: is the server hung?
    bool first_try_done_ = false;
    bool reported_ = false;  // this failure episode has had its warning
    era era_ = era::unknown;
    era era_hint_ = era::unknown;  // what the last process was; skips the probe for legacy
    std::string version_;
    std::string last_error_;
    clock::time_point next_start_{};
    unsigned starts_ = 0;
    std::size_t tool_count_ = 0;
    std::string published_;  // a fingerprint of what was last given to the registry

    std::jthread thread_;  // last
};

}  // namespace ava::tools::mcp
