// How to open a Realtime connection (ava/realtime/connection.hpp): the endpoint, TLS, timeouts,
// keepalive and proxy settings. A value type the facade (ava/session.hpp) takes as it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "ava/realtime/provider.hpp"

namespace ava::realtime {

struct connection_options {
    endpoint target;  ///< URL and auth headers (see provider.hpp)

    std::string ca_file;  ///< extra CA certificates (PEM) trusted besides the system store
    bool insecure_skip_verify = false;  ///< no certificate/host-name check; warns at each connect
    bool allow_plain_ws = false;        ///< allow ws:// to a non-loopback host (otherwise fatal)

    std::chrono::milliseconds connect_timeout{10'000};    ///< resolve + TCP connect + CONNECT
    std::chrono::milliseconds handshake_timeout{10'000};  ///< TLS, the upgrade, and close
    std::chrono::milliseconds ping_interval{30'000};      ///< keepalive pings; 0 = none
    /// No frame at all (message, ping, pong) for this long -> dropped (1006, recoverable).
    /// 0 = no watchdog. Keep it above ping_interval plus a round trip.
    std::chrono::milliseconds idle_timeout{75'000};
    std::size_t max_message_bytes = 32u << 20;  ///< larger server messages close with 1009
    /// Bytes waiting to be written (a server that stopped reading, or a stalled network): over
    /// this the connection is dropped as recoverable (a reconnect) instead of queueing without
    /// bound. 16 MiB is about four minutes of base64 audio.
    std::size_t max_send_queue_bytes = 16u << 20;

    /// Proxy URL ("http://[user:pass@]host:port"). nullopt: from `env`
    /// (https_proxy/HTTPS_PROXY for wss, http_proxy/HTTP_PROXY for ws, then all_proxy/ALL_PROXY);
    /// "" = never use a proxy.
    std::optional<std::string> proxy;
    /// Comma-separated hosts that bypass the proxy ("*", "example.com" also matches its
    /// subdomains, ".example.com", "*.example.com", "10.0.0.0/8", "host:port").
    /// nullopt: from no_proxy/NO_PROXY in `env`.
    std::optional<std::string> no_proxy;
    /// Where the proxy variables above are looked up; empty: nowhere (ava-voice passes what its
    /// config loader read from the environment).
    env_lookup env;

    std::string user_agent = "ava-voice/0.1";
};

}  // namespace ava::realtime
