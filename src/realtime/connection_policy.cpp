// The connection's pure proxy policy (connection.hpp): which proxy (if any) a target goes
// through. (How a close is treated is close_policy.hpp.) No sockets; unit-tested on its own.
#include <arpa/inet.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "ava/realtime/connection.hpp"

namespace ava::realtime {
namespace {

// "10.0.0.0/8" matches an IPv4 host inside it.
bool cidr_matches(std::string_view entry, const std::string& host) {
    const auto slash = entry.find('/');
    if (slash == std::string_view::npos) return false;
    in_addr net{};
    in_addr addr{};
    if (inet_pton(AF_INET, std::string(entry.substr(0, slash)).c_str(), &net) != 1) return false;
    if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
    int bits = 0;
    for (char c : entry.substr(slash + 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        bits = bits * 10 + (c - '0');
        if (bits > 32) return false;
    }
    const std::uint32_t mask = bits == 0 ? 0u : ~0u << (32 - bits);
    return (ntohl(net.s_addr) & mask) == (ntohl(addr.s_addr) & mask);
}

}  // namespace

// ---- proxy selection (pure) --------------------------------------------------------------------

bool no_proxy_matches(std::string_view list, std::string_view host_in, std::uint16_t port) {
    const std::string host = core::ascii_lower(host_in);
    while (!list.empty()) {
        const auto comma = list.find_first_of(", ");
        std::string entry = core::ascii_lower(core::trim(list.substr(0, comma)));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (entry.empty()) continue;
        if (entry == "*") return true;
        if (cidr_matches(entry, host)) return true;
        // Optional ":port" (not for a bare IPv6 literal, which has several colons).
        if (entry.front() == '[') {
            const auto close = entry.find(']');
            if (close == std::string::npos) continue;
            std::string p = entry.substr(close + 1);
            entry = entry.substr(1, close - 1);
            if (p.size() > 1 && p.front() == ':' && std::to_string(port) != p.substr(1)) continue;
        } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
            const auto colon = entry.find(':');
            if (entry.substr(colon + 1) != std::to_string(port)) continue;
            entry.resize(colon);
        }
        if (entry.starts_with("*.")) entry.erase(0, 1);
        const bool suffix_only = entry.front() == '.';
        const std::string domain = suffix_only ? entry.substr(1) : entry;
        if (domain.empty()) continue;
        if (!suffix_only && host == domain) return true;
        if (host.size() > domain.size() && host.ends_with(domain) &&
            host[host.size() - domain.size() - 1] == '.') {
            return true;
        }
        if (suffix_only && host == domain) return true;  // curl: ".example.com" matches it too
    }
    return false;
}

std::optional<url_parts> select_proxy(const url_parts& target, const connection_options& opts) {
    const auto env = [&](std::initializer_list<std::string_view> names) -> std::string {
        if (!opts.env) return {};
        for (auto n : names) {
            if (auto v = opts.env(n); v && !v->empty()) return *v;
        }
        return {};
    };
    std::string proxy;
    if (opts.proxy) {
        proxy = *opts.proxy;
    } else if (target.tls()) {
        proxy = env({"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"});
    } else {
        proxy = env({"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"});
    }
    proxy = std::string(core::trim(proxy));
    if (proxy.empty()) return std::nullopt;
    const std::string no_proxy = opts.no_proxy ? *opts.no_proxy : env({"no_proxy", "NO_PROXY"});
    if (no_proxy_matches(no_proxy, target.host, target.port)) return std::nullopt;
    if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
    url_parts p;
    try {
        p = parse_url(proxy);
    } catch (const config_error& e) {
        throw config_error(std::string("proxy: ") + e.what());
    }
    if (p.scheme != "http") {
        throw config_error("proxy: only http:// proxies (HTTP CONNECT) are supported, not " +
                           p.scheme + "://");
    }
    if (!p.password.empty()) log::add_secret(p.password);
    return p;
}

}  // namespace ava::realtime
