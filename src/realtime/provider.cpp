// Realtime endpoints per provider; see the header for the contract.
#include "ava/realtime/provider.hpp"

#include <arpa/inet.h>
#include <algorithm>
#include <cctype>
#include <string>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"

namespace ava::realtime {
namespace {

constexpr std::string_view openai_default_base = "https://api.openai.com/v1";
constexpr std::string_view gemini_url =
    "wss://generativelanguage.googleapis.com/ws/"
    "google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            const int hi = hex_value(s[i + 1]);
            const int lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(s[i]);
    }
    return out;
}

std::optional<std::string> env_value(const env_lookup& env, std::string_view name) {
    if (!env) return std::nullopt;
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

std::string first_env(const env_lookup& env, std::initializer_list<std::string_view> names) {
    for (auto n : names) {
        if (auto v = env_value(env, n)) return *v;
    }
    return {};
}

bool is_ipv6_literal(std::string_view host) {
    in6_addr a{};
    return inet_pton(AF_INET6, std::string(host).c_str(), &a) == 1;
}

// "https://host/v1" -> "wss://host/v1"; keeps ws/wss; rejects anything else.
url_parts to_ws(url_parts u) {
    if (u.scheme == "https") u.scheme = "wss";
    if (u.scheme == "http") u.scheme = "ws";
    return u;
}

std::string strip_trailing_slashes(std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

std::string openai_url(const std::string& base, const std::string& model) {
    url_parts u = to_ws(parse_url(base));
    std::string path = u.target;
    std::string query;
    if (auto q = path.find('?'); q != std::string::npos) {
        query = path.substr(q + 1);
        path.resize(q);
    }
    path = strip_trailing_slashes(path);
    if (path == "/") path.clear();
    u.target =
        path + "/realtime?model=" + core::url_encode(model) + (query.empty() ? "" : "&" + query);
    return u.str();
}

std::string azure_host_url(std::string_view configured) {
    std::string e(configured);
    if (e.find("://") == std::string::npos) {
        // A bare resource name ("myres") or a host ("myres.openai.azure.com").
        if (e.find('.') == std::string::npos) e += ".openai.azure.com";
        e = "https://" + e;
    }
    return e;
}

std::string azure_url(const std::string& configured_endpoint, const std::string& deployment) {
    url_parts u = to_ws(parse_url(azure_host_url(configured_endpoint)));
    // The GA path is fixed; an endpoint given with a path ("…/openai/v1") means the same place.
    u.target = "/openai/v1/realtime?model=" + core::url_encode(deployment);
    return u.str();
}

}  // namespace

std::string url_parts::host_port() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string url_parts::str() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string s = scheme + "://" + (v6 ? "[" + host + "]" : host);
    const bool default_port = (tls() && port == 443) || (!tls() && port == 80);
    if (!default_port) s += ":" + std::to_string(port);
    return s + target;
}

url_parts parse_url(std::string_view text) {
    // Never echo the whole URL in errors: it may carry a password in its userinfo.
    const auto fail = [](const std::string& why) -> url_parts {
        throw config_error("bad URL: " + why);
    };
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    if (text.empty()) return fail("empty");
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) {
        return fail("missing scheme (expected wss://, ws://, https:// or http://)");
    }
    url_parts u;
    u.scheme = core::ascii_lower(text.substr(0, sep));
    if (u.scheme != "ws" && u.scheme != "wss" && u.scheme != "http" && u.scheme != "https") {
        return fail("unsupported scheme '" + u.scheme + "' (expected wss, ws, https or http)");
    }
    std::string_view rest = text.substr(sep + 3);
    if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    const auto path_at = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, path_at);
    std::string target =
        path_at == std::string_view::npos ? std::string("/") : std::string(rest.substr(path_at));
    if (target.front() == '?') target.insert(0, "/");
    for (char c : target) {
        if (std::isspace(static_cast<unsigned char>(c)) ||
            std::iscntrl(static_cast<unsigned char>(c))) {
            return fail("the path contains spaces or control characters (percent-encode them)");
        }
    }
    u.target = target;
    if (auto at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const auto colon = userinfo.find(':');
        u.user = percent_decode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos)
            u.password = percent_decode(userinfo.substr(colon + 1));
    }
    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return fail("unterminated '[' in the IPv6 host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return fail("unexpected text after the IPv6 host");
            port = after.substr(1);
        }
        if (!is_ipv6_literal(host))
            return fail("'" + std::string(host) + "' is not an IPv6 address");
    } else {
        const auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (host.empty()) return fail("empty host");
    for (char c : host) {
        const auto uc = static_cast<unsigned char>(c);
        if (!(std::isalnum(uc) || c == '-' || c == '.' || c == '_' || c == ':')) {
            return fail("invalid character '" + std::string(1, c) + "' in the host");
        }
    }
    u.host = core::ascii_lower(host);
    if (port.empty()) {
        u.port = u.tls() ? 443 : 80;
    } else {
        unsigned long value = 0;
        for (char c : port) {
            if (!std::isdigit(static_cast<unsigned char>(c)) || value > 65535) {
                return fail("bad port '" + std::string(port) + "'");
            }
            value = value * 10 + static_cast<unsigned long>(c - '0');
        }
        if (value == 0 || value > 65535) return fail("port out of range: " + std::string(port));
        u.port = static_cast<std::uint16_t>(value);
    }
    return u;
}

bool is_loopback_host(std::string_view host_in) {
    const std::string host = core::ascii_lower(host_in);
    if (host == "localhost" || host.ends_with(".localhost")) return true;
    if (host == "::1") return true;
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    return false;
}

endpoint build_endpoint(const provider_settings& s, const env_lookup& env) {
    endpoint ep;
    ep.provider = s.endpoint_url.empty() ? core::ascii_lower(s.provider) : "custom";
    const auto require_key = [&](std::initializer_list<std::string_view> vars) {
        std::string key = s.api_key.empty() ? first_env(env, vars) : s.api_key;
        if (key.empty()) {
            throw config_error("no API key for provider '" + ep.provider + "': set " +
                               std::string(*vars.begin()) + " (or api_key in the config)");
        }
        log::add_secret(key);
        return key;
    };
    if (ep.provider == "openai") {
        std::string base = s.base_url.empty() ? first_env(env, {"OPENAI_BASE_URL"}) : s.base_url;
        if (base.empty()) base = openai_default_base;
        ep.url = parse_url(openai_url(base, s.model));
        ep.headers.emplace_back("Authorization", "Bearer " + require_key({"OPENAI_API_KEY"}));
    } else if (ep.provider == "azure") {
        const std::string where =
            s.azure_endpoint.empty() ? first_env(env, {"AZURE_OPENAI_ENDPOINT"}) : s.azure_endpoint;
        if (where.empty()) {
            throw config_error(
                "no Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT "
                "(https://<resource>.openai.azure.com) or azure_endpoint in the config");
        }
        std::string deployment =
            s.deployment.empty()
                ? first_env(env, {"AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT_NAME"})
                : s.deployment;
        if (deployment.empty()) deployment = s.model;
        ep.url = parse_url(azure_url(where, deployment));
        ep.headers.emplace_back("api-key", require_key({"AZURE_OPENAI_API_KEY"}));
    } else if (ep.provider == "gemini") {
        ep.protocol = wire_protocol::gemini;
        ep.url = parse_url(gemini_url);
        ep.headers.emplace_back("x-goog-api-key",
                                require_key({"GEMINI_API_KEY", "GOOGLE_API_KEY"}));
    } else if (ep.provider == "custom") {
        if (s.endpoint_url.empty()) {
            throw config_error("provider 'custom' needs an endpoint URL (--endpoint wss://…)");
        }
        ep.url = to_ws(parse_url(s.endpoint_url));
        // A compatible server usually wants the OpenAI header; a local one may want none.
        std::string key = s.api_key.empty() ? first_env(env, {"OPENAI_API_KEY"}) : s.api_key;
        if (!key.empty()) {
            log::add_secret(key);
            ep.headers.emplace_back("Authorization", "Bearer " + key);
        }
    } else {
        throw config_error("unknown provider '" + s.provider +
                           "' (use openai, azure, gemini or custom)");
    }
    return ep;
}

std::vector<provider_info> list_providers(const env_lookup& env) {
    std::vector<provider_info> out;
    {
        provider_info p{"openai", "OpenAI Realtime (GA)", "OPENAI_API_KEY"};
        p.configured = env_value(env, "OPENAI_API_KEY").has_value();
        std::string base = first_env(env, {"OPENAI_BASE_URL"});
        if (base.empty()) base = openai_default_base;
        try {
            p.url = openai_url(base, "gpt-realtime");
        } catch (const config_error& e) {
            p.configured = false;
            p.url = std::string("OPENAI_BASE_URL: ") + e.what();
        }
        out.push_back(std::move(p));
    }
    {
        provider_info p{"azure", "Azure OpenAI Realtime (GA, /openai/v1)", "AZURE_OPENAI_API_KEY"};
        const std::string where = first_env(env, {"AZURE_OPENAI_ENDPOINT"});
        std::string deployment =
            first_env(env, {"AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT_NAME"});
        if (deployment.empty()) deployment = "gpt-realtime";
        p.configured = env_value(env, "AZURE_OPENAI_API_KEY").has_value() && !where.empty();
        if (where.empty()) {
            p.url = "(set AZURE_OPENAI_ENDPOINT)";
        } else {
            try {
                p.url = azure_url(where, deployment);
            } catch (const config_error& e) {
                p.configured = false;
                p.url = std::string("AZURE_OPENAI_ENDPOINT: ") + e.what();
            }
        }
        out.push_back(std::move(p));
    }
    {
        provider_info p{"gemini", "Google Gemini Live", "GEMINI_API_KEY"};
        p.configured = env_value(env, "GEMINI_API_KEY").has_value() ||
                       env_value(env, "GOOGLE_API_KEY").has_value();
        p.url = std::string(gemini_url);
        out.push_back(std::move(p));
    }
    out.push_back(provider_info{"custom", "any OpenAI-compatible endpoint (--endpoint URL)",
                                "OPENAI_API_KEY", false, "(set with --endpoint)"});
    return out;
}

}  // namespace ava::realtime
