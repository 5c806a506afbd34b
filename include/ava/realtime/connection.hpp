// The Realtime WebSocket connection: TLS (or loopback ws://), optional HTTP CONNECT proxy,
// a single-writer send queue, ping keepalive, an idle watchdog and classified close reasons.
//
// Threads: everything runs on the caller's io_context (the app's one io thread), which must be
// run by exactly one thread (there is no strand). send(), close() and start() may be called from
// any thread: they post to that io_context (from the io thread itself, send() writes at once).
// Callbacks run on the io thread. Asio/Beast stay inside src/realtime/connection.cpp (pimpl).
//
// Follows Beast's websocket_client_async_ssl example for the connect steps (STYLE habit 6) and
// Beast's chat-multi / Asio's chat_server for the one-writer queue (habit 5).
// Close codes and what is fatal: ../shared/reference/realtime-protocol.md section 7.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "ava/realtime/close_policy.hpp"
#include "ava/realtime/connection_options.hpp"
#include "ava/realtime/provider.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ava::realtime {

/// Why a connection ended (or never opened). Passed to on_close exactly once.
struct close_info {
    close_class kind = close_class::recoverable;
    /// WebSocket close code: the server's (1000, 1001, 1011…), 1005 when its close frame had no
    /// code, 1006 when the connection dropped without a close frame, 1009 when a server message
    /// exceeded the size limit; 0 when the connection never opened.
    int ws_code = 0;
    std::string reason;     ///< the close frame's reason text (may be empty)
    int http_status = 0;    ///< set when the upgrade (or the proxy CONNECT) got a non-101/200
    std::error_code error;  ///< the underlying error, if any
    std::string message;    ///< one clear line for the user (never contains secrets)
    std::string stage;      ///< "config", "resolve", "connect", "proxy", "tls", "upgrade", "open"
    bool was_open = false;  ///< on_open had been called
    bool local = false;     ///< we asked for it (close() or the destructor)

    [[nodiscard]] bool fatal() const noexcept { return kind == close_class::fatal; }
    [[nodiscard]] bool recoverable() const noexcept { return kind == close_class::recoverable; }
};

/// The proxy to use for `target` under `opts`, or nullopt for a direct connection.
/// Throws ava::config_error for a malformed or unsupported (https://) proxy URL.
/// Registers the proxy password with ava::log::add_secret.
std::optional<url_parts> select_proxy(const url_parts& target, const connection_options& opts);

/// True when `host` (and `port`) is excluded from proxying by the NO_PROXY-style `list`.
bool no_proxy_matches(std::string_view list, std::string_view host, std::uint16_t port);

/// Durations of each connect step (zero when skipped), for the start-to-session benchmark.
struct connect_timings {
    std::chrono::nanoseconds setup{0};  ///< checks and the TLS context (CA store, first time)
    std::chrono::nanoseconds resolve{0};
    std::chrono::nanoseconds connect{0};  ///< TCP connect (to the proxy when there is one)
    std::chrono::nanoseconds proxy{0};    ///< CONNECT request to "200"
    std::chrono::nanoseconds tls{0};
    std::chrono::nanoseconds upgrade{0};  ///< WebSocket HTTP upgrade
    std::chrono::nanoseconds total{0};    ///< start() to on_open
};

/// Counters, read on the io thread.
struct connection_stats {
    std::uint64_t messages_sent = 0;
    std::uint64_t messages_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t pings_sent = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t dropped_sends = 0;  ///< send() after the connection ended
    std::size_t max_queue_depth = 0;  ///< most messages ever waiting for the writer
    int max_writes_in_flight = 0;     ///< always 1 (the single-writer rule), 0 before any send
};

/// One WebSocket connection (one attempt: reconnecting means a new object).
class connection {
  public:
    struct handlers {
        std::function<void()> on_open;
        /// One whole message (text or binary frame). The view is valid during the call only.
        std::function<void(std::string_view message)> on_message;
        /// Exactly once, whatever ended the connection (also a failed connect).
        std::function<void(const close_info& info)> on_close;
    };

    /// Nothing happens until start(). `ioc` must outlive this object's pending operations
    /// (it does when the io_context is destroyed after this object or stops running).
    connection(boost::asio::io_context& ioc, connection_options opts, handlers h);
    /// Safe with operations pending: no handler is called afterwards, and the socket is closed
    /// on the io thread. Destroy it on the io thread (e.g. in a handler) or while the io_context
    /// is not running, so it cannot race a handler that is being called.
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Begins resolve -> connect -> (proxy) -> TLS -> upgrade. Call once. Any thread.
    void start();
    /// Queues one text message. Any thread (posts to the io thread when called elsewhere).
    /// Messages go out in call order, one write at a time. Before on_open they wait in the
    /// queue; after the connection ended they are dropped (stats().dropped_sends).
    void send(std::string text);
    /// Graceful close: queued messages are sent first, then a close frame with `code`.
    /// on_close then reports close_class::normal and local = true. Any thread.
    void close(std::uint16_t code = 1000, std::string reason = {});

    /// Io thread only: true between on_open and the end.
    [[nodiscard]] bool is_open() const;
    /// Io thread only.
    [[nodiscard]] connect_timings timings() const;
    /// Io thread only.
    [[nodiscard]] connection_stats stats() const;

  private:
    class impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace ava::realtime
