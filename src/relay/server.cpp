// The relay's listener, its io thread, TLS, the reaper, stop, and the metrics (relay_detail.hpp).
#include <openssl/rand.h>

#include <cstdio>
#include <future>
#include <system_error>

#include "ava/core/error.hpp"
#include "relay_detail.hpp"

namespace ava::relay {

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    boost::system::error_code ec;
    const auto a = net::asio::ip::make_address(std::string(host), ec);
    return !ec && a.is_loopback();
}

namespace detail {

// ---- reaper ------------------------------------------------------------------------------------

reaper::reaper() : thread_([this] { run(); }) {}

reaper::~reaper() {
    finish();
}

void reaper::put(std::unique_ptr<session> s) {
    if (!s) return;
    {
        std::lock_guard lk(mu_);
        if (!done_) {
            queue_.push_back(std::move(s));
            cv_.notify_one();
            return;
        }
    }
    s.reset();  // after finish(): on the caller's thread
}

void reaper::finish() {
    {
        std::lock_guard lk(mu_);
        if (done_) return;
        done_ = true;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

void reaper::run() {
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;  // done, and everything ended
        std::unique_ptr<session> s = std::move(queue_.front());
        queue_.pop_front();
        lk.unlock();
        s.reset();  // stop() was called; this waits for its io thread
        lk.lock();
    }
}

// ---- metrics -----------------------------------------------------------------------------------

metrics_snapshot shared::snapshot() const {
    metrics_snapshot s;
    s.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(clock::now() - started).count();
    s.sessions_active = active.load();
    s.sessions_total = m.sessions_total.load();
    s.audio_frames_in = m.audio_in.load();
    s.audio_frames_out = m.audio_out.load();
    s.messages_in = s.audio_frames_in + m.control_in.load();
    s.messages_out = s.audio_frames_out + m.control_out.load();
    s.errors = m.errors.load();
    s.refused = m.refused.load();
    s.reconnects = m.reconnects.load();
    s.tool_calls = m.tool_calls.load();
    s.turns = m.turns.load();
    s.turn_latency_sum_s = static_cast<double>(m.latency_sum_us.load()) / 1e6;
    return s;
}

std::string metrics_text(const shared& sh) {
    const metrics_snapshot s = sh.snapshot();
    std::string out;
    char line[256];
    const auto metric = [&](const char* name, const char* type, const char* help) {
        std::snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        out += line;
    };
    const auto value = [&](const char* name, const char* labels, double v) {
        std::snprintf(line, sizeof line, "%s%s %.17g\n", name, labels, v);
        out += line;
    };
    const auto d = [](auto v) { return static_cast<double>(v); };
    metric("ava_relay_uptime_seconds", "gauge", "Seconds since the relay started.");
    value("ava_relay_uptime_seconds", "", d(s.uptime_s));
    metric("ava_relay_sessions_active", "gauge", "Streams open now.");
    value("ava_relay_sessions_active", "", d(s.sessions_active));
    metric("ava_relay_sessions_total", "counter", "Streams opened.");
    value("ava_relay_sessions_total", "", d(s.sessions_total));
    metric("ava_relay_messages_received_total", "counter", "Frames received from clients.");
    value("ava_relay_messages_received_total", "{kind=\"audio\"}", d(s.audio_frames_in));
    value("ava_relay_messages_received_total", "{kind=\"control\"}",
          d(s.messages_in - s.audio_frames_in));
    metric("ava_relay_messages_sent_total", "counter", "Frames sent to clients.");
    value("ava_relay_messages_sent_total", "{kind=\"audio\"}", d(s.audio_frames_out));
    value("ava_relay_messages_sent_total", "{kind=\"control\"}",
          d(s.messages_out - s.audio_frames_out));
    metric("ava_relay_errors_total", "counter",
           "Bad client messages, failed sessions and clients closed for a limit.");
    value("ava_relay_errors_total", "", d(s.errors));
    metric("ava_relay_refused_total", "counter",
           "Requests refused for their origin, host, token or the session limit.");
    value("ava_relay_refused_total", "", d(s.refused));
    metric("ava_relay_reconnects_total", "counter", "Upstream reconnects.");
    value("ava_relay_reconnects_total", "", d(s.reconnects));
    metric("ava_relay_tool_calls_total", "counter", "Tool calls made.");
    value("ava_relay_tool_calls_total", "", d(s.tool_calls));
    metric("ava_relay_turn_latency_seconds", "histogram",
           "End of the user's speech to the first audio of the reply.");
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
        char labels[48];
        std::snprintf(labels, sizeof labels, "{le=\"%g\"}", latency_buckets[i]);
        value("ava_relay_turn_latency_seconds_bucket", labels, d(sh.m.latency_le[i].load()));
    }
    value("ava_relay_turn_latency_seconds_bucket", "{le=\"+Inf\"}", d(s.turns));
    value("ava_relay_turn_latency_seconds_sum", "", s.turn_latency_sum_s);
    value("ava_relay_turn_latency_seconds_count", "", d(s.turns));
    return out;
}

}  // namespace detail

std::string random_token(std::size_t bytes) {
    std::vector<unsigned char> b(bytes);
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
        throw std::runtime_error("relay: no random bytes for a token");
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : b) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

// ---- server ------------------------------------------------------------------------------------

struct server::impl {
    explicit impl(options o) : sh(std::move(o), ioc), acceptor(ioc) {}
    net::asio::io_context ioc;  // first: destroyed last
    detail::shared sh;
    net::tcp::acceptor acceptor;
    std::thread thread;
    unsigned short port = 0;
    bool started = false;
    bool stopped = false;

    void accept() {
        acceptor.async_accept(
            net::asio::make_strand(ioc), [this](boost::system::error_code ec, net::tcp::socket s) {
                if (ec) {
                    if (ec != net::asio::error::operation_aborted) {
                        sh.log->warn("relay: accept failed: {}", ec.message());
                        accept();
                    }
                    return;
                }
                s.set_option(net::tcp::no_delay(true), ec);
                if (sh.opts.socket_send_buffer > 0) {
                    s.set_option(
                        net::asio::socket_base::send_buffer_size(sh.opts.socket_send_buffer), ec);
                }
                if (sh.tls) {
                    auto st = std::make_shared<detail::tls_stream>(std::move(s), *sh.tls);
                    net::beast::get_lowest_layer(*st).expires_after(std::chrono::seconds(10));
                    st->async_handshake(net::ssl::stream_base::server,
                                        [this, st](boost::system::error_code hec) {
                                            if (hec) return;
                                            detail::serve_http(sh, std::move(*st));
                                        });
                } else {
                    detail::serve_http(sh, detail::plain_stream(std::move(s)));
                }
                accept();
            });
    }
};

server::server(options opts) : impl_(std::make_unique<impl>(std::move(opts))) {
    auto& o = impl_->sh.opts;
    const auto bad = [](const std::string& m) {
        throw std::system_error(make_error_code(errc::bad_config), m);
    };
    if (!o.make_session) bad("relay: no session factory");
    if (o.max_sessions < 1) bad("serve.max_sessions: must be at least 1");
    impl_->sh.loopback = is_loopback_host(o.host);
    if (!impl_->sh.loopback && o.token.empty()) {
        bad("serve: listening on " + o.host +
            " (beyond this machine) needs a token: --token or serve.token");
    }
    if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
        bad("serve: TLS needs both --tls-cert and --tls-key");
    }
    if (!o.tls_cert_file.empty()) {
        auto& ctx = impl_->sh.tls.emplace(net::ssl::context::tls_server);
        ctx.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                        net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                        net::ssl::context::no_tlsv1_1);
        boost::system::error_code ec;
        ctx.use_certificate_chain_file(o.tls_cert_file, ec);
        if (ec) bad("serve.tls_cert: cannot load '" + o.tls_cert_file + "': " + ec.message());
        ctx.use_private_key_file(o.tls_key_file, net::ssl::context::pem, ec);
        if (ec) bad("serve.tls_key: cannot load '" + o.tls_key_file + "': " + ec.message());
    }
}

server::~server() {
    stop();
}

void server::start() {
    auto& i = *impl_;
    if (i.started) return;
    boost::system::error_code ec;
    const auto addr = net::asio::ip::make_address(i.sh.opts.host, ec);
    if (ec) {
        throw std::system_error(make_error_code(errc::bad_config),
                                "serve.listen: '" + i.sh.opts.host + "' is not an IP address");
    }
    const net::tcp::endpoint ep(addr, i.sh.opts.port);
    const auto fail = [&](const char* what) {
        throw std::system_error(make_error_code(errc::no_device),
                                std::string("serve: cannot ") + what + " " + i.sh.opts.host + ":" +
                                    std::to_string(i.sh.opts.port) + ": " + ec.message());
    };
    i.acceptor.open(ep.protocol(), ec);
    if (ec) fail("open");
    i.acceptor.set_option(net::asio::socket_base::reuse_address(true), ec);
    i.acceptor.bind(ep, ec);
    if (ec) fail("listen on");
    i.acceptor.listen(net::asio::socket_base::max_listen_connections, ec);
    if (ec) fail("listen on");
    i.port = i.acceptor.local_endpoint().port();
    i.started = true;
    i.accept();
    i.thread = std::thread([&i] {
        for (;;) {
            try {
                i.ioc.run();
                return;
            } catch (const std::exception& e) {
                i.sh.log->error("relay: unexpected error on the io thread: {}", e.what());
            }
        }
    });
}

void server::stop() {
    auto& i = *impl_;
    if (!i.started || i.stopped) return;
    i.stopped = true;
    std::promise<void> closed;
    net::asio::post(i.ioc, [&i, &closed] {
        i.sh.stopping = true;
        boost::system::error_code ec;
        i.acceptor.close(ec);
        auto streams = i.sh.streams;
        for (auto& [id, w] : streams) {
            if (auto s = w.lock()) s->shutdown();
        }
        closed.set_value();
    });
    closed.get_future().wait();
    i.sh.reap.finish();  // every session has ended
    // The closing frames get a moment to go out, then the loop ends.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    i.ioc.stop();
    if (i.thread.joinable()) i.thread.join();
}

unsigned short server::port() const {
    return impl_->port;
}

std::string server::url() const {
    const std::string& h = impl_->sh.opts.host;
    const bool v6 = h.find(':') != std::string::npos;
    return std::string(impl_->sh.tls ? "https://" : "http://") + (v6 ? "[" + h + "]" : h) + ":" +
           std::to_string(impl_->port) + "/";
}

metrics_snapshot server::metrics() const {
    return impl_->sh.snapshot();
}

}  // namespace ava::relay
