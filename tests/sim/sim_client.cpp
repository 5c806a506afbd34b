#include "sim_client.hpp"

#include <cmath>
#include <cstring>
#include <functional>
#include <numbers>
#include <optional>
#include <stdexcept>

#include "ava/net/asio.hpp"

#include <boost/beast/core/detail/base64.hpp>

namespace ava::sim::test {
namespace {

using namespace ava::net;
using error_code = boost::system::error_code;

// Runs the io_context until `done` or the timeout; the caller cancels on timeout.
bool run_until(asio::io_context& ioc, const bool& done, std::chrono::milliseconds timeout) {
    ioc.restart();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        ioc.run_one_for(deadline - std::chrono::steady_clock::now());
    }
    return done;
}

class connection {
  public:
    virtual ~connection() = default;
    virtual void async_read(beast::flat_buffer& b, std::function<void(error_code)> h) = 0;
    virtual void write(const std::string& s, error_code& ec) = 0;
    virtual void close(error_code& ec) = 0;
    virtual int close_code() = 0;
    virtual void drop() = 0;
    virtual void read_limit(std::size_t n) = 0;
    virtual bool got_text() = 0;
};

template <class Ws>
class ws_connection final : public connection {
  public:
    explicit ws_connection(Ws ws) : ws_(std::move(ws)) {}
    void async_read(beast::flat_buffer& b, std::function<void(error_code)> h) override {
        ws_.async_read(b, [h = std::move(h)](error_code ec, std::size_t) { h(ec); });
    }
    void write(const std::string& s, error_code& ec) override {
        ws_.text(true);
        ws_.write(asio::buffer(s), ec);
    }
    void close(error_code& ec) override { ws_.close(websocket::close_code::normal, ec); }
    int close_code() override { return ws_.reason().code; }
    void drop() override {
        error_code ignored;
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }
    void read_limit(std::size_t n) override { ws_.read_message_max(n); }
    bool got_text() override { return ws_.got_text(); }
    Ws ws_;
};

template <class Stream>
void prepare_request(http::request<http::empty_body>& req, const client_options& o) {
    req.method(http::verb::get);
    req.target(o.target);
    req.version(11);
    req.set(http::field::host, o.host);
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    req.set(http::field::sec_websocket_version, "13");
    if (!o.key.empty()) req.set(http::field::authorization, "Bearer " + o.key);
    for (const auto& [k, v] : o.headers) req.set(k, v);
}

// SNI. OpenSSL's SSL_set_tlsext_host_name is a macro with a C cast inside.
void set_sni(SSL* ssl, const std::string& host) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
    SSL_set_tlsext_host_name(ssl, host.c_str());
#pragma GCC diagnostic pop
}

std::unique_ptr<ssl::context> make_tls(const client_options& o) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_verify_mode(ssl::verify_peer);
    if (!o.ca_file.empty()) ctx->load_verify_file(o.ca_file);
    return ctx;
}

}  // namespace

struct sim_client::impl {
    asio::io_context ioc;
    std::unique_ptr<ssl::context> tls;
    std::unique_ptr<connection> conn;
    beast::flat_buffer buf;
    bool closed = false;
    int code = 0;
};

http_result probe_upgrade(const client_options& o) {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    auto eps = resolver.resolve(o.host, std::to_string(o.port));
    http::request<http::empty_body> req;
    prepare_request<int>(req, o);
    http::response<http::string_body> res;
    beast::flat_buffer buf;
    beast::tcp_stream tcp_stream(ioc);
    tcp_stream.connect(eps);
    tcp_stream.expires_after(std::chrono::seconds(5));
    if (o.tls) {
        auto ctx = make_tls(o);
        beast::ssl_stream<beast::tcp_stream> s(std::move(tcp_stream), *ctx);
        set_sni(s.native_handle(), o.host);
        s.handshake(ssl::stream_base::client);
        http::write(s, req);
        http::response_parser<http::string_body> p;
        p.skip(false);
        http::read(s, buf, p);
        res = p.release();
    } else {
        http::write(tcp_stream, req);
        http::response_parser<http::string_body> p;
        http::read(tcp_stream, buf, p);
        res = p.release();
    }
    return {static_cast<int>(res.result_int()), res.body()};
}

sim_client::sim_client(const client_options& o) : impl_(std::make_unique<impl>()) {
    tcp::resolver resolver(impl_->ioc);
    auto eps = resolver.resolve(o.host, std::to_string(o.port));
    auto decorate = [o](websocket::request_type& req) {
        if (!o.key.empty()) req.set(http::field::authorization, "Bearer " + o.key);
        for (const auto& [k, v] : o.headers) req.set(k, v);
    };
    const std::string host = o.host + ":" + std::to_string(o.port);
    if (o.tls) {
        impl_->tls = make_tls(o);
        websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(impl_->ioc, *impl_->tls);
        beast::get_lowest_layer(ws).connect(eps);
        // SNI and host-name verification, as a real client does.
        set_sni(ws.next_layer().native_handle(), o.host);
        ws.next_layer().set_verify_callback(ssl::host_name_verification(o.host));
        ws.next_layer().handshake(ssl::stream_base::client);
        ws.set_option(websocket::stream_base::decorator(decorate));
        ws.handshake(host, o.target);
        impl_->conn = std::make_unique<ws_connection<decltype(ws)>>(std::move(ws));
    } else {
        websocket::stream<beast::tcp_stream> ws(impl_->ioc);
        beast::get_lowest_layer(ws).connect(eps);
        ws.set_option(websocket::stream_base::decorator(decorate));
        ws.handshake(host, o.target);
        impl_->conn = std::make_unique<ws_connection<decltype(ws)>>(std::move(ws));
    }
    impl_->conn->read_limit(64u << 20);
}

sim_client::~sim_client() {
    if (impl_ && impl_->conn && !impl_->closed) impl_->conn->drop();
}

void sim_client::set_read_limit(std::size_t bytes) {
    impl_->conn->read_limit(bytes);
}

void sim_client::send(const json& ev) {
    send_raw(ev.dump());
}

void sim_client::send_raw(const std::string& text) {
    error_code ec;
    impl_->conn->write(text, ec);
    if (ec) throw std::runtime_error("sim_client: write failed: " + ec.message());
}

std::string sim_client::recv_raw(std::chrono::milliseconds timeout) {
    if (impl_->closed) throw std::runtime_error("sim_client: connection closed");
    bool done = false;
    error_code result;
    impl_->conn->async_read(impl_->buf, [&](error_code ec) {
        result = ec;
        done = true;
    });
    if (!run_until(impl_->ioc, done, timeout)) {
        impl_->conn->drop();
        run_until(impl_->ioc, done, 1s);
        impl_->closed = true;
        throw std::runtime_error("sim_client: timeout waiting for an event");
    }
    if (result) {
        impl_->closed = true;
        impl_->code = result == websocket::error::closed ? impl_->conn->close_code() : 1006;
        throw std::runtime_error("sim_client: closed (" + result.message() + ", code " +
                                 std::to_string(impl_->code) + ")");
    }
    std::string text = beast::buffers_to_string(impl_->buf.data());
    impl_->buf.consume(impl_->buf.size());
    return text;
}

json sim_client::recv(std::chrono::milliseconds timeout) {
    std::string text = recv_raw(timeout);
    json ev = json::parse(text);  // throws on bad JSON
    history_.push_back(ev);
    return ev;
}

json sim_client::wait_for(const std::string& type, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error("sim_client: timeout waiting for " + type);
        json ev = recv(left);
        if (ev.value("type", "") == type) return ev;
    }
}

int sim_client::wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!impl_->closed) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) throw std::runtime_error("sim_client: still open");
        try {
            std::string text = recv_raw(left);
            try {
                history_.push_back(json::parse(text));
            } catch (const json::exception&) {
                history_.push_back(json{{"type", "<not json>"}});
            }
        } catch (const std::runtime_error&) {
            if (!impl_->closed) throw;
        }
    }
    return impl_->code;
}

bool sim_client::silent_for(std::chrono::milliseconds quiet) {
    bool done = false;
    error_code result;
    impl_->conn->async_read(impl_->buf, [&](error_code ec) {
        result = ec;
        done = true;
    });
    if (run_until(impl_->ioc, done, quiet)) {
        if (!result) {
            history_.push_back(json::parse(beast::buffers_to_string(impl_->buf.data())));
            impl_->buf.consume(impl_->buf.size());
        } else {
            impl_->closed = true;
        }
        return false;
    }
    // Nothing came: abandon the connection (Beast cannot cancel a read and keep the stream).
    impl_->conn->drop();
    run_until(impl_->ioc, done, 1s);
    impl_->closed = true;
    return true;
}

void sim_client::close() {
    if (impl_->closed) return;
    error_code ec;
    impl_->conn->close(ec);
    impl_->closed = true;
}

std::vector<std::int16_t> silence_ms(int ms) {
    return std::vector<std::int16_t>(static_cast<std::size_t>(ms) * 24, 0);
}

std::vector<std::int16_t> speech_ms(int ms, double amplitude) {
    std::vector<std::int16_t> out(static_cast<std::size_t>(ms) * 24);
    for (std::size_t n = 0; n < out.size(); ++n) {
        const double t = static_cast<double>(n) / 24000.0;
        const double v = 0.6 * std::sin(2 * std::numbers::pi * 220 * t) +
                         0.3 * std::sin(2 * std::numbers::pi * 440 * t) +
                         0.1 * std::sin(2 * std::numbers::pi * 660 * t);
        out[n] = static_cast<std::int16_t>(std::lround(v * amplitude * 32767.0));
    }
    return out;
}

std::string to_base64(const std::vector<std::int16_t>& pcm) {
    std::string out;
    const std::size_t n = pcm.size() * 2;
    out.resize(beast::detail::base64::encoded_size(n));
    out.resize(beast::detail::base64::encode(out.data(), pcm.data(), n));
    return out;
}

std::vector<std::int16_t> from_base64(const std::string& b64) {
    std::string bytes(beast::detail::base64::decoded_size(b64.size()), '\0');
    const auto r = beast::detail::base64::decode(bytes.data(), b64.data(), b64.size());
    bytes.resize(r.first);
    std::vector<std::int16_t> pcm(bytes.size() / 2);
    std::memcpy(pcm.data(), bytes.data(), pcm.size() * 2);
    return pcm;
}

}  // namespace ava::sim::test
