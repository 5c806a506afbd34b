// Realtime endpoints: URL parsing and the per-provider URL + auth headers.
//
// Pure functions, no I/O, no Asio: the app builds an `endpoint` once at start-up and hands it to
// ava::realtime::connection. Errors in settings (bad URL, missing key) throw ava::config_error,
// which main() maps to exit code 2 (STYLE habit 8: exceptions only at start-up).
// Source: ../shared/reference/realtime-protocol.md sections 1 (OpenAI, Azure) and 9 (Gemini).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ava::realtime {

/// A parsed absolute URL (ws, wss, http, https).
struct url_parts {
    std::string scheme;        ///< lower case: "ws", "wss", "http" or "https"
    std::string host;          ///< lower case; IPv6 without brackets
    std::uint16_t port = 0;    ///< the explicit port, or the scheme's default (80/443)
    std::string target = "/";  ///< path and query, always starting with '/'; no fragment
    std::string user;          ///< userinfo, percent-decoded (proxy URLs only)
    std::string password;      ///< userinfo, percent-decoded; a secret

    /// True for wss and https.
    [[nodiscard]] bool tls() const noexcept { return scheme == "wss" || scheme == "https"; }
    /// "host:port" with IPv6 in brackets, as in an HTTP Host header or a CONNECT target.
    [[nodiscard]] std::string host_port() const;
    /// The URL without userinfo (safe to log).
    [[nodiscard]] std::string str() const;
};

/// Parses `text` (ws://, wss://, http:// or https://). Throws ava::config_error with a message
/// naming what is wrong (missing scheme, unknown scheme, empty host, bad port...). The error
/// text never contains the userinfo of the URL.
url_parts parse_url(std::string_view text);

/// True for "localhost", "*.localhost", 127.0.0.0/8 and ::1 (where plain ws:// is acceptable).
bool is_loopback_host(std::string_view host);

/// Looks up an environment variable in values the caller passes in (the app's config loader is
/// the one reader of the process environment; tests pass their own map). An empty function
/// means no environment at all; an empty value counts as unset.
using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

/// Which wire dialect an endpoint speaks.
enum class wire_protocol {
    openai_ga,  ///< OpenAI Realtime GA events (OpenAI, Azure OpenAI GA, compatible servers)
    gemini,     ///< Gemini Live (setup / serverContent)
};

/// Where to connect and how to authenticate: what connection needs.
struct endpoint {
    std::string provider;  ///< "openai", "azure", "gemini" or "custom"
    wire_protocol protocol = wire_protocol::openai_ga;
    url_parts url;
    /// Extra upgrade request headers, e.g. {"Authorization", "Bearer sk-…"} or {"api-key", …}.
    /// Values are secrets: never log them (build_endpoint registers them with ava::log).
    std::vector<std::pair<std::string, std::string>> headers;
};

/// What the config / CLI says about the provider. Empty fields fall back to the `env` given to
/// build_endpoint.
struct provider_settings {
    std::string provider = "openai";  ///< openai | azure | gemini | custom
    std::string model = "gpt-realtime";
    std::string api_key;         ///< empty: OPENAI_API_KEY / AZURE_OPENAI_API_KEY / GEMINI_API_KEY
    std::string base_url;        ///< openai: "https://host/v1" (empty: OPENAI_BASE_URL, then
                                 ///< https://api.openai.com/v1)
    std::string azure_endpoint;  ///< azure: "https://<res>.openai.azure.com" or just "<res>"
                                 ///< (empty: AZURE_OPENAI_ENDPOINT)
    std::string deployment;      ///< azure: deployment name (empty: AZURE_OPENAI_DEPLOYMENT,
                                 ///< then the model)
    std::string endpoint_url;    ///< custom (`--endpoint`): the URL, used verbatim; http(s) is
                                 ///< mapped to ws(s). Setting it selects "custom".
};

/// Builds the endpoint for `settings`. Registers the key with ava::log::add_secret.
/// Throws ava::config_error for an unknown provider, a bad URL or a missing key (the message
/// names the variable to set). A custom endpoint may have no key (e.g. a local simulator).
endpoint build_endpoint(const provider_settings& settings, const env_lookup& env = {});

/// One built-in provider, for `--list-providers`. Never contains a key.
struct provider_info {
    std::string name;         ///< "openai", "azure", "gemini", "custom"
    std::string description;  ///< one line
    std::string key_env;      ///< the environment variable that holds its key
    bool configured = false;  ///< everything it needs is present (key, and endpoint for Azure)
    std::string url;          ///< the URL it would use (or what is missing), without secrets
};

/// The built-in providers, in display order, with whether each is configured in `env`.
std::vector<provider_info> list_providers(const env_lookup& env = {});

}  // namespace ava::realtime
