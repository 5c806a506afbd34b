// The public face of the MCP client (include/ava/tools/mcp.hpp): one supervisor per server.
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "ava/tools/mcp.hpp"
#include "mcp/server.hpp"

namespace ava::tools {
namespace {

// Env entries that may hold credentials (GITHUB_TOKEN, API_KEY, DB_PASSWORD...).
bool secret_name(std::string_view name) {
    const std::string lower = core::ascii_lower(name);
    for (const char* word : {"key", "token", "secret", "password"}) {
        if (lower.find(word) != std::string::npos) return true;
    }
    return false;
}

}  // namespace

std::string_view to_string(mcp_state s) {
    switch (s) {
        case mcp_state::starting:
            return "starting";
        case mcp_state::running:
            return "running";
        case mcp_state::restarting:
            return "restarting";
        case mcp_state::failed:
            return "failed";
        case mcp_state::disabled:
            return "disabled";
    }
    return "unknown";
}

mcp_bridge::mcp_bridge(registry& reg, std::vector<mcp_server_settings> servers, mcp_options opts) {
    for (auto& s : servers) {
        for (const auto& [name, value] : s.env) {
            if (secret_name(name)) ava::log::add_secret(value);
        }
        servers_.push_back(std::make_shared<mcp::server>(reg, std::move(s), opts));
    }
}

mcp_bridge::~mcp_bridge() {
    // All at once: each stop may take up to twice stop_grace.
    for (const auto& s : servers_) s->request_stop();
    for (const auto& s : servers_) s->join();
}

void mcp_bridge::start(std::chrono::milliseconds wait) {
    for (const auto& s : servers_) s->start();
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (const auto& s : servers_) s->wait_first_try(deadline);
}

std::vector<mcp_server_status> mcp_bridge::status() const {
    std::vector<mcp_server_status> out;
    out.reserve(servers_.size());
    for (const auto& s : servers_) out.push_back(s->status());
    return out;
}

}  // namespace ava::tools
