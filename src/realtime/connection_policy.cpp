// The connection's pure policy (connection.hpp): how a close code or an HTTP status is treated,
// and which proxy (if any) a target goes through. No sockets; unit-tested on its own.
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

// ---- classification and proxy selection (pure) ----------------------------------------------

close_class classify_close_code(int ws_code) noexcept {
    switch (ws_code) {
        case 1000:
            return close_class::normal;
        case 1001:  // going away: the session cap
        case 1005:  // no status: a drop with a bare close frame
        case 1006:  // abnormal: no close frame at all
        case 1009:  // a message over our limit: the next session may not repeat it
        case 1011:  // server error
        case 1012:  // service restart
        case 1013:  // try again later
        case 1014:  // bad gateway
        case 1015:  // TLS failure on the server's side
            return close_class::recoverable;
        default:  // 1002 protocol, 1003, 1007, 1008 policy, 4xxx application codes
            return close_class::fatal;
    }
}

close_class classify_http_status(int status) noexcept {
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        return close_class::recoverable;
    }
    return close_class::fatal;
}

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
