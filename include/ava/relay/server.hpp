// ava::relay: `ava-voice serve`, the assistant as a server (docs/relay.md). A Boost.Beast HTTP
// and WebSocket listener on one io thread of its own: `POST /realtime/session/start`, the
// stream `GET /realtime/stream` (binary PCM16 24 kHz both ways, JSON control and events), the
// browser console's files at `/`, `/healthz` and Prometheus `/metrics`. Each stream gets its own
// ava::session from the embedder's factory (so its own conversation and upstream connection);
// the session's callbacks post to the relay's io thread, which owns every socket.
//
// Security by default: loopback unless told otherwise; a token (server-wide, or a one-time
// stream token from session/start) on every stream and session/start when one is set; Origin
// checked against the server's own origin and an allowlist; the Host of a loopback server must
// name the loopback (DNS rebinding); frame, message, queue and session limits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/session.hpp"

namespace ava::relay {

/// Settings a client asked for in the stream URL (`?voice=&speed=&vad=`), already validated.
struct stream_settings {
    std::optional<std::string> voice;
    std::optional<double> speed;
    std::optional<realtime::vad_type> vad;
    bool events = false;  ///< `?events=1`: the event stream from the first event on
};

/// The session options for one stream (connection, conversation options, approval). The relay
/// sets client_playback and leaves the device empty (the client plays). Runs on the relay's io
/// thread: keep it quick. Throwing refuses the stream (the message is logged, redacted).
using session_factory = std::function<session_options(const stream_settings&)>;
/// Registers the tools of a new session (before it starts).
using tools_setup = std::function<void(session&)>;

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 8000;  ///< 0: any free port (read it back with server::port())
    /// Required on session/start and the upgrade when non-empty. A server that listens beyond
    /// the loopback must have one (server::start() refuses otherwise).
    std::string token;
    /// Origins (scheme://host[:port]) besides the server's own allowed to open the stream.
    std::vector<std::string> allowed_origins;
    int max_sessions = 64;
    std::string tls_cert_file;  ///< PEM; with tls_key_file: HTTPS and WSS
    std::string tls_key_file;
    std::string console_dir;  ///< the console's files; empty: GET / says where they should be
    std::size_t max_message = 64 * 1024;             ///< a frame or message, either way
    std::size_t max_send_queue = 2u * 1024u * 1024;  ///< bytes waiting for one slow client
    /// The kernel's send buffer per client (SO_SNDBUF). Bounded, so a client that stops reading
    /// is noticed (loopback's autotuned buffers hold megabytes) and memory per client is known.
    int socket_send_buffer = 256 * 1024;
    std::string provider = "sim";  ///< for session/start and /healthz
    std::string voice = "marin";
    session_factory make_session;
    tools_setup add_tools;
};

/// The counters behind /metrics.
struct metrics_snapshot {
    std::int64_t uptime_s = 0;
    int sessions_active = 0;
    std::uint64_t sessions_total = 0;
    std::uint64_t messages_in = 0;   ///< frames from clients (audio and control)
    std::uint64_t messages_out = 0;  ///< frames to clients
    std::uint64_t audio_frames_in = 0;
    std::uint64_t audio_frames_out = 0;
    std::uint64_t errors = 0;   ///< bad messages, failed sessions, clients closed for a limit
    std::uint64_t refused = 0;  ///< upgrades and session/starts refused (origin, token, limit)
    std::uint64_t reconnects = 0;
    std::uint64_t tool_calls = 0;
    std::uint64_t turns = 0;
    double turn_latency_sum_s = 0;  ///< end of speech to first audio, summed over `turns`
};

class server {
  public:
    /// Checks the options (throws std::system_error with errc::bad_config) and loads TLS.
    explicit server(options opts);
    ~server();  ///< stop()
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds and starts the io thread; throws std::system_error when it cannot listen.
    void start();
    /// Closes every stream (their sessions end), then the listener. Idempotent.
    void stop();
    [[nodiscard]] unsigned short port() const;
    /// "http://127.0.0.1:8000/" (https with TLS).
    [[nodiscard]] std::string url() const;
    [[nodiscard]] metrics_snapshot metrics() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// A random token: `bytes` bytes from OpenSSL's RAND_bytes, as hex. Throws std::runtime_error
/// when no random bytes can be had.
std::string random_token(std::size_t bytes = 24);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

}  // namespace ava::relay
