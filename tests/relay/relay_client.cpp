// The relay tests' client (relay_client.hpp).
#include "relay_client.hpp"

#include <stdexcept>

#include "ava/net/asio.hpp"

namespace ava::relay::test {
namespace {

namespace asio = net::asio;
namespace beast = net::beast;
namespace http = net::http;
namespace websocket = net::websocket;
using tcp = net::tcp;

bool run_until(asio::io_context& ioc, const bool& done, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    ioc.restart();
    while (!done && std::chrono::steady_clock::now() < until) {
        ioc.run_for(std::chrono::milliseconds(5));
        if (ioc.stopped()) ioc.restart();
    }
    return done;
}

}  // namespace

http_reply http_request(unsigned short port, const std::string& method, const std::string& target,
                        const headers& h, const std::string& body) {
    asio::io_context ioc;
    beast::tcp_stream s(ioc);
    s.expires_after(std::chrono::seconds(10));
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    bool host = false;
    for (const auto& [k, v] : h) {
        req.set(k, v);
        if (k == "Host") host = true;
    }
    if (!host) req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.body() = body;
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    http_reply r;
    r.status = static_cast<int>(res.result_int());
    r.body = res.body();
    if (auto it = res.find(http::field::content_type); it != res.end()) {
        r.content_type = std::string(it->value());
    }
    beast::error_code ec;
    s.socket().shutdown(tcp::socket::shutdown_both, ec);
    return r;
}

struct stream_client::impl {
    asio::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    beast::flat_buffer buf;
    bool closed = false;
    int code = 0;
};

stream_client::stream_client(unsigned short port, const std::string& target, const headers& h,
                             int rcvbuf)
    : impl_(std::make_unique<impl>()) {
    auto& ws = impl_->ws;
    if (rcvbuf > 0) {
        auto& sock = beast::get_lowest_layer(ws).socket();
        sock.open(tcp::v4());
        sock.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    }
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws.set_option(websocket::stream_base::decorator([h](websocket::request_type& r) {
        for (const auto& [k, v] : h) r.set(k, v);
    }));
    ws.read_message_max(64u << 20);
    websocket::response_type res;
    beast::error_code ec;
    ws.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
        throw std::runtime_error("upgrade refused: HTTP " + std::to_string(res.result_int()) + " " +
                                 res.body());
    }
    beast::get_lowest_layer(ws).expires_never();
}

stream_client::~stream_client() {
    try {
        close();
    } catch (...) {
    }
}

void stream_client::send_text(const std::string& t) {
    impl_->ws.text(true);
    impl_->ws.write(asio::buffer(t));
}
void stream_client::send_json(const json& j) {
    send_text(j.dump());
}
void stream_client::send_binary(const std::string& bytes) {
    impl_->ws.binary(true);
    impl_->ws.write(asio::buffer(bytes));
}
void stream_client::send_pcm(const std::vector<std::int16_t>& pcm) {
    send_binary(std::string(reinterpret_cast<const char*>(pcm.data()), pcm.size() * 2));
}

std::optional<frame> stream_client::next(std::chrono::milliseconds timeout) {
    if (impl_->closed)
        throw std::runtime_error("stream closed (code " + std::to_string(impl_->code) + ")");
    bool done = false;
    beast::error_code result;
    impl_->ws.async_read(impl_->buf, [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
    });
    if (!run_until(impl_->ioc, done, timeout)) {
        // Cancel the read so the next call starts clean.
        beast::get_lowest_layer(impl_->ws).cancel();
        run_until(impl_->ioc, done, 1s);
        if (result && result != asio::error::operation_aborted) {
            impl_->closed = true;
            impl_->code = 1006;
        }
        return std::nullopt;
    }
    if (result) {
        impl_->closed = true;
        impl_->code = result == websocket::error::closed ? impl_->ws.reason().code : 1006;
        throw std::runtime_error("stream closed (" + result.message() + ", code " +
                                 std::to_string(impl_->code) + ")");
    }
    frame f;
    f.binary = impl_->ws.got_binary();
    f.data = beast::buffers_to_string(impl_->buf.data());
    impl_->buf.consume(impl_->buf.size());
    keep(f);
    return f;
}

void stream_client::keep(const frame& f) {
    if (f.binary) {
        if (audio_.empty() || audio_.back().first != current_item_) {
            audio_.emplace_back(current_item_, 0);
        }
        audio_.back().second += static_cast<std::int64_t>(f.data.size() / 2);
        return;
    }
    json j = json::parse(f.data, nullptr, false);
    if (j.is_object() && j.value("type", "") == "audio_start")
        current_item_ = j.value("item_id", "");
    messages_.push_back(std::move(j));
}

std::int64_t stream_client::audio_samples(const std::string& item) const {
    std::int64_t n = 0;
    for (const auto& [id, s] : audio_) {
        if (id == item) n += s;
    }
    return n;
}

json stream_client::wait_for(const std::string& type, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        auto f = next(std::max(left, std::chrono::milliseconds(1)));
        if (!f) break;
        if (f->binary) continue;
        json j = json::parse(f->data, nullptr, false);
        if (j.is_object() && j.value("type", "") == type) return j;
    }
    throw std::runtime_error("no '" + type + "' message within the timeout");
}

int stream_client::wait_closed(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    try {
        while (std::chrono::steady_clock::now() < until) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (!next(std::max(left, std::chrono::milliseconds(1)))) break;
        }
    } catch (const std::runtime_error&) {
        return impl_->code;
    }
    return impl_->closed ? impl_->code : 0;
}

void stream_client::close() {
    if (impl_->closed) return;
    impl_->closed = true;
    beast::error_code ec;
    bool done = false;
    impl_->ws.async_close(websocket::close_code::normal, [&](beast::error_code e) {
        ec = e;
        done = true;
    });
    run_until(impl_->ioc, done, 2s);
}

}  // namespace ava::relay::test
