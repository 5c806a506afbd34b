// The relay's private parts (server.hpp): the state every connection shares, the reaper that
// ends sessions off the io thread, and the entry points of each file:
//   server.cpp   the listener, TLS, stop, and the metrics text
//   http.cpp     one HTTP connection: routes, the checks (host, origin, token, limits), files
//   stream.cpp   one WebSocket stream and its ava::session
//   protocol.cpp the control messages
// Threads: one io thread runs every socket; sessions run on their own and post back to it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "ava/relay/server.hpp"

namespace ava::relay::detail {

namespace asio = net::asio;
namespace beast = net::beast;
namespace http = net::http;
namespace websocket = net::websocket;
namespace ssl = net::ssl;
using tcp = net::tcp;
using clock = std::chrono::steady_clock;
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;
using request = http::request<http::string_body>;

/// End of speech to first audio, in seconds: the histogram's upper bounds.
inline constexpr std::array<double, 10> latency_buckets{0.1, 0.2, 0.3, 0.5, 0.75,
                                                        1.0, 1.5, 2.0, 3.0, 5.0};

struct counters {
    std::atomic<std::uint64_t> sessions_total{0};
    std::atomic<std::uint64_t> audio_in{0}, control_in{0}, audio_out{0}, control_out{0};
    std::atomic<std::uint64_t> errors{0}, refused{0}, reconnects{0}, tool_calls{0};
    std::atomic<std::uint64_t> turns{0};
    std::atomic<std::uint64_t> latency_sum_us{0};
    std::array<std::atomic<std::uint64_t>, latency_buckets.size()> latency_le{};
    void add_turn(std::chrono::milliseconds latency) {
        turns.fetch_add(1, std::memory_order_relaxed);
        latency_sum_us.fetch_add(static_cast<std::uint64_t>(latency.count()) * 1000,
                                 std::memory_order_relaxed);
        const double s = static_cast<double>(latency.count()) / 1000.0;
        for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
            if (s <= latency_buckets[i]) latency_le[i].fetch_add(1, std::memory_order_relaxed);
        }
    }
};

/// Ends sessions on a thread of its own: ~session waits for its io thread, which must never
/// block the relay's.
class reaper {
  public:
    reaper();
    ~reaper();
    reaper(const reaper&) = delete;
    reaper& operator=(const reaper&) = delete;
    void put(std::unique_ptr<session> s);
    /// Ends everything queued, then the thread. Idempotent.
    void finish();

  private:
    void run();
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<session>> queue_;
    bool done_ = false;
    std::thread thread_;
};

/// A stream as the server sees it, to close them all on stop.
class stream_base {
  public:
    virtual ~stream_base() = default;
    virtual void shutdown() = 0;
};

/// What every connection shares. Io thread only, except the atomics.
struct shared {
    shared(options o, asio::io_context& io) : opts(std::move(o)), ioc(io) {}
    options opts;
    asio::io_context& ioc;
    std::optional<ssl::context> tls;
    counters m;
    clock::time_point started = clock::now();
    std::atomic<int> active{0};
    bool loopback = true;
    bool stopping = false;
    std::map<std::string, clock::time_point> stream_tokens;  ///< one-time, until expiry
    std::map<std::uint64_t, std::weak_ptr<stream_base>> streams;
    std::uint64_t next_stream = 1;
    reaper reap;
    std::shared_ptr<spdlog::logger> log = ava::log::get("relay");

    [[nodiscard]] metrics_snapshot snapshot() const;
};

/// The Prometheus text of the counters.
std::string metrics_text(const shared& sh);

/// Serves one accepted connection (TLS handshake done).
template <class Stream>
void serve_http(shared& sh, Stream stream);

/// Runs one WebSocket stream: accepts the upgrade `req`, makes its session, relays.
template <class Stream>
void start_stream(shared& sh, Stream stream, request req, stream_settings settings);

}  // namespace ava::relay::detail
