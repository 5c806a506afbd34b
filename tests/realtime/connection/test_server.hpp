// Loopback servers for the connection tests: a Beast WebSocket server (plain or TLS) with
// scripted behaviours, and an HTTP CONNECT proxy. Both are real sockets on 127.0.0.1:0 and run
// blocking Beast calls on their own threads, so the client under test (on the test's
// io_context) and the servers never share an event loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ava::test {

struct ws_server_options {
    bool tls = true;
    std::string cert_file;             ///< PEM server certificate (tls)
    std::string key_file;              ///< PEM server key (tls)
    bool silent = false;               ///< accept TCP, then never speak (handshake timeouts)
    int reject_status = 0;             ///< answer the upgrade with this HTTP status instead of 101
    bool echo = true;                  ///< send every message back
    int close_after_first = 0;         ///< close with this code after the first message
    bool drop_after_first = false;     ///< abrupt TCP close after the first message
    std::size_t send_big_on_open = 0;  ///< send one message of this many bytes after accept
    bool never_read = false;           ///< after the upgrade, never read (a stalled server)
};

class ws_test_server {
  public:
    explicit ws_test_server(ws_server_options opts);
    ~ws_test_server();
    ws_test_server(const ws_test_server&) = delete;
    ws_test_server& operator=(const ws_test_server&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }

    // Thread-safe observations.
    std::vector<std::string> messages() const;
    std::map<std::string, std::string> last_headers() const;  ///< lower-case names
    std::string last_target() const;
    int pings() const { return pings_.load(); }
    int accepted() const { return accepted_.load(); }

  private:
    struct state;
    void accept_loop();
    void serve(int index);
    template <typename WS>
    void handle(WS& ws);
    void record_socket(int fd);

    ws_server_options opts_;
    std::shared_ptr<state> st_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> pings_{0};
    std::atomic<int> accepted_{0};
    mutable std::mutex mutex_;
    std::vector<std::string> messages_;
    std::map<std::string, std::string> headers_;
    std::string target_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_thread_;
};

/// A minimal HTTP CONNECT proxy (no TLS to the proxy), optionally requiring Basic credentials.
class connect_proxy {
  public:
    /// `user_pass`: "user:password" to require, empty for none.
    explicit connect_proxy(std::string user_pass = {});
    ~connect_proxy();
    connect_proxy(const connect_proxy&) = delete;
    connect_proxy& operator=(const connect_proxy&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    int tunnels() const { return tunnels_.load(); }  ///< CONNECTs answered with 200
    int requests() const { return requests_.load(); }
    std::string last_target() const;
    std::string last_auth() const;

  private:
    struct state;
    void accept_loop();
    void serve(int index);
    void record_socket(int fd);

    std::string user_pass_;
    std::shared_ptr<state> st_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> tunnels_{0};
    std::atomic<int> requests_{0};
    mutable std::mutex mutex_;
    std::string target_;
    std::string auth_;
    std::vector<int> fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_thread_;
};

}  // namespace ava::test
