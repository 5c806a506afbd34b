// A small synchronous WebSocket client for the simulator's tests: real sockets, real TLS, no
// mocks. Beast stays inside sim_client.cpp so the test files compile quickly.
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ava::sim::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

struct client_options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    bool tls = true;
    std::string ca_file;  ///< trust this CA (TLS); the host name is verified against the cert
    std::string target = "/v1/realtime?model=gpt-realtime";
    /// Extra request headers; an Authorization header is added unless `key` is empty.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string key = "sk-test-key";
};

/// An HTTP response to an upgrade attempt (for refused upgrades).
struct http_result {
    int status = 0;
    std::string body;
};

/// Sends a WebSocket upgrade request and returns the HTTP status and body without upgrading
/// further (101 has an empty body).
http_result probe_upgrade(const client_options& o);

class sim_client {
  public:
    /// Connects and upgrades; throws std::runtime_error on failure.
    explicit sim_client(const client_options& o);
    ~sim_client();
    sim_client(const sim_client&) = delete;
    sim_client& operator=(const sim_client&) = delete;

    void send(const json& ev);
    void send_raw(const std::string& text);
    /// The next event; throws std::runtime_error on timeout, close or bad JSON.
    json recv(std::chrono::milliseconds timeout = 5s);
    /// The next raw text frame (no parsing); throws on timeout or close.
    std::string recv_raw(std::chrono::milliseconds timeout = 5s);
    /// Reads events until one of `type` arrives (others are kept in history()).
    json wait_for(const std::string& type, std::chrono::milliseconds timeout = 5s);
    /// Reads until the connection closes; returns the close code (1006 for an abrupt drop).
    /// Events read meanwhile go to history().
    int wait_closed(std::chrono::milliseconds timeout = 5s);
    /// True if nothing arrives within `quiet` (used to check that the server stays silent).
    bool silent_for(std::chrono::milliseconds quiet);
    /// Every event received so far, in order.
    const std::vector<json>& history() const { return history_; }
    /// Clean close from our side.
    void close();
    /// Maximum message size the client accepts (default 64 MiB).
    void set_read_limit(std::size_t bytes);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::vector<json> history_;
};

/// 24 kHz PCM16 helpers for test input.
std::vector<std::int16_t> silence_ms(int ms);
/// A voiced-like tone burst (220 Hz + harmonics) at about -12 dBFS RMS.
std::vector<std::int16_t> speech_ms(int ms, double amplitude = 0.35);
std::string to_base64(const std::vector<std::int16_t>& pcm);
std::vector<std::int16_t> from_base64(const std::string& b64);

}  // namespace ava::sim::test
