// MCP over stdio: each `[[tools.mcp]]` entry's server runs as a child process, and its tools are
// offered through the registry as function tools named `<server>__<tool>` (docs/mcp.md).
//
// The bridge starts every enabled server in parallel, negotiates the protocol (the 2026-07-28
// server/discover probe, falling back to the initialize handshake of 2025-11-25 and older), lists
// its tools and registers them as one registry group per server (registry::replace_group). A
// server's notifications/tools/list_changed re-lists and replaces its group. A server that fails
// to start, crashes or hangs is reported once (a warning), restarted with backoff (1 s doubling
// to 60 s), and its tools stay registered meanwhile: calls fail at once with a tool_error saying
// it is down. Nothing the servers do throws out of the bridge.
//
// Threads: one supervisor thread and one I/O thread per running server. Tools are called on
// the runner's worker threads. status() is safe from any thread; construct, start() and destroy
// from one thread. `reg` must outlive the bridge.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ava/tools/registry.hpp"
#include "ava/tools/settings.hpp"

namespace ava::tools {

namespace mcp {
class server;
}

enum class mcp_state {
    starting,    ///< first start, handshake or first tools/list in progress
    running,     ///< its tools are registered and callable
    restarting,  ///< it failed; the next start is due (see restart_in)
    failed,      ///< it cannot work (no common protocol version, no command); not restarted
    disabled,    ///< `enabled = false` in config
};
std::string_view to_string(mcp_state s);

struct mcp_server_status {
    std::string name;
    mcp_state state = mcp_state::starting;
    std::size_t tools = 0;                    ///< tools it has registered (offered or not)
    std::string protocol_version;             ///< negotiated; empty before the first handshake
    std::string last_error;                   ///< the latest failure; empty when none yet
    std::chrono::milliseconds restart_in{0};  ///< when restarting: time left before the next try
    unsigned starts = 0;                      ///< processes started so far
};

/// Tuning, mostly for tests; the defaults are what ava-voice uses.
struct mcp_options {
    std::chrono::milliseconds restart_delay{1000};       ///< first backoff; doubles each failure
    std::chrono::milliseconds max_restart_delay{60000};  ///< backoff ceiling
    std::chrono::milliseconds discover_timeout{2000};    ///< the server/discover probe's share
    std::chrono::milliseconds stop_grace{1000};     ///< after closing stdin; again after SIGTERM
    std::size_t max_line_bytes = 16 * 1024 * 1024;  ///< a longer stdout line is discarded
    std::size_t max_result_bytes = 64 * 1024;       ///< function output cut beyond this
};

class mcp_bridge {
  public:
    /// Registers nothing yet. Values of `env` entries whose name contains KEY, TOKEN, SECRET or
    /// PASSWORD are registered as secrets with ava::log.
    mcp_bridge(registry& reg, std::vector<mcp_server_settings> servers, mcp_options opts = {});
    mcp_bridge(const mcp_bridge&) = delete;
    mcp_bridge& operator=(const mcp_bridge&) = delete;
    /// Stops every server (close stdin, stop_grace, SIGTERM, stop_grace, SIGKILL; in parallel).
    /// Their tools stay in the registry and then fail with "... has stopped".
    ~mcp_bridge();

    /// Starts every enabled server in parallel and waits at most `wait` until each has either
    /// registered its first tools or failed its first try. Servers still starting then register
    /// their tools later (the registry's change listener says so). Call once.
    void start(std::chrono::milliseconds wait);

    /// One entry per configured server, in config order.
    [[nodiscard]] std::vector<mcp_server_status> status() const;

  private:
    std::vector<std::shared_ptr<mcp::server>> servers_;
};

}  // namespace ava::tools
