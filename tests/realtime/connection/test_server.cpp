#include "test_server.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <deque>

#include "ava/net/asio.hpp"

namespace ava::test {
namespace {

using namespace ava::net;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string base64(std::string_view in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
        for (int k = 3; k >= 0; --k) out.push_back(table[(n >> (6 * k)) & 63]);
    }
    if (i < in.size()) {
        unsigned n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size())
            n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
        out.push_back(table[(n >> 18) & 63]);
        out.push_back(table[(n >> 12) & 63]);
        out.push_back(i + 1 < in.size() ? table[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

tcp::acceptor make_acceptor(asio::io_context& ioc) {
    tcp::acceptor a(ioc);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    a.open(ep.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    a.bind(ep);
    a.listen();
    return a;
}

// Removes a socket from the owner's shutdown list before the socket closes, so the destructor
// never shuts down a descriptor number that the process has since reused.
template <typename Owner>
struct fd_guard {
    Owner& owner;
    int fd;
    fd_guard(Owner& o, int f) : owner(o), fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { owner(fd); }
};

void erase_fd(std::mutex& m, std::vector<int>& fds, int fd) {
    const std::lock_guard lock(m);
    fds.erase(std::remove(fds.begin(), fds.end(), fd), fds.end());
}

}  // namespace

// ---- WebSocket server ----------------------------------------------------------------------

struct ws_test_server::state {
    asio::io_context ioc;
    ssl::context ctx{ssl::context::tls_server};
    tcp::acceptor acceptor{ioc};
    std::deque<tcp::socket> sockets;  // guarded by the owner's mutex_
};

ws_test_server::ws_test_server(ws_server_options opts)
    : opts_(std::move(opts)), st_(std::make_shared<state>()) {
    if (opts_.tls) {
        st_->ctx.use_certificate_chain_file(opts_.cert_file);
        st_->ctx.use_private_key_file(opts_.key_file, ssl::context::pem);
    }
    st_->acceptor = make_acceptor(st_->ioc);
    port_ = st_->acceptor.local_endpoint().port();
    acceptor_thread_ = std::thread([this] { accept_loop(); });
}

ws_test_server::~ws_test_server() {
    stopping_ = true;
    ::shutdown(st_->acceptor.native_handle(), SHUT_RDWR);
    acceptor_thread_.join();
    {
        const std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
}

std::vector<std::string> ws_test_server::messages() const {
    const std::lock_guard lock(mutex_);
    return messages_;
}
std::map<std::string, std::string> ws_test_server::last_headers() const {
    const std::lock_guard lock(mutex_);
    return headers_;
}
std::string ws_test_server::last_target() const {
    const std::lock_guard lock(mutex_);
    return target_;
}

void ws_test_server::record_socket(int fd) {
    const std::lock_guard lock(mutex_);
    fds_.push_back(fd);
}

void ws_test_server::accept_loop() {
    while (!stopping_) {
        beast::error_code ec;
        tcp::socket s = st_->acceptor.accept(ec);
        if (ec || stopping_) return;
        s.set_option(tcp::no_delay(true), ec);  // like a real server: no Nagle delay on replies
        ++accepted_;
        int index = 0;
        {
            const std::lock_guard lock(mutex_);
            fds_.push_back(s.native_handle());
            st_->sockets.push_back(std::move(s));
            index = static_cast<int>(st_->sockets.size()) - 1;
        }
        // Joined in the destructor; only the accept thread touches threads_.
        threads_.emplace_back([this, index] { serve(index); });
    }
}

void ws_test_server::serve(int index) {
    tcp::socket s(st_->ioc);
    {
        const std::lock_guard lock(mutex_);
        s = std::move(st_->sockets[static_cast<std::size_t>(index)]);
    }
    const auto unregister = [this](int fd) { erase_fd(mutex_, fds_, fd); };
    const int fd = s.native_handle();
    if (opts_.silent) {
        const fd_guard<decltype(unregister)> guard(unregister, fd);
        // Hold the socket open and say nothing until the client or the destructor ends it.
        char byte = 0;
        beast::error_code ec;
        while (!ec && !stopping_) s.read_some(asio::buffer(&byte, 1), ec);
        return;
    }
    beast::error_code ec;
    if (opts_.tls) {
        websocket::stream<beast::ssl_stream<tcp::socket>> ws(std::move(s), st_->ctx);
        const fd_guard<decltype(unregister)> guard(unregister, fd);
        ws.next_layer().handshake(ssl::stream_base::server, ec);
        if (ec) return;
        handle(ws);
    } else {
        websocket::stream<tcp::socket> ws(std::move(s));
        const fd_guard<decltype(unregister)> guard(unregister, fd);
        handle(ws);
    }
}

template <typename WS>
void ws_test_server::handle(WS& ws) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(ws.next_layer(), buffer, req, ec);
    if (ec) return;
    {
        const std::lock_guard lock(mutex_);
        headers_.clear();
        for (const auto& field : req) {
            headers_[lower(std::string(field.name_string()))] = std::string(field.value());
        }
        target_ = std::string(req.target());
    }
    if (opts_.reject_status != 0) {
        http::response<http::string_body> res{static_cast<http::status>(opts_.reject_status), 11};
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"error":{"message":"rejected by the test server","code":"test"}})";
        res.prepare_payload();
        http::write(ws.next_layer(), res, ec);
        return;
    }
    ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::ping) ++pings_;
    });
    ws.read_message_max(64u << 20);
    ws.accept(req, ec);
    if (ec) return;
    if (opts_.send_big_on_open > 0) {
        ws.text(true);
        ws.write(asio::buffer(std::string(opts_.send_big_on_open, 'x')), ec);
    }
    if (opts_.never_read) {
        while (!stopping_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return;
    }
    bool first = true;
    for (;;) {
        beast::flat_buffer msg;
        ws.read(msg, ec);
        if (ec) return;  // closed (Beast answered the close frame), dropped, or shut down
        std::string text = beast::buffers_to_string(msg.data());
        {
            const std::lock_guard lock(mutex_);
            messages_.push_back(text);
        }
        if (first && opts_.drop_after_first) {
            beast::get_lowest_layer(ws).close(ec);  // no close frame, no TLS close_notify
            return;
        }
        if (first && opts_.close_after_first != 0) {
            ws.close(websocket::close_reason(
                         static_cast<websocket::close_code>(opts_.close_after_first), "test close"),
                     ec);
            // Read until the client's close answer arrives (Beast reports `closed`).
            beast::flat_buffer drain;
            while (!ec) ws.read(drain, ec);
            return;
        }
        first = false;
        if (opts_.echo) {
            ws.text(ws.got_text());
            ws.write(asio::buffer(text), ec);
            if (ec) return;
        }
    }
}

// ---- CONNECT proxy -------------------------------------------------------------------------

struct connect_proxy::state {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc};
    std::deque<tcp::socket> sockets;  // guarded by the owner's mutex_
};

connect_proxy::connect_proxy(std::string user_pass)
    : user_pass_(std::move(user_pass)), st_(std::make_shared<state>()) {
    st_->acceptor = make_acceptor(st_->ioc);
    port_ = st_->acceptor.local_endpoint().port();
    acceptor_thread_ = std::thread([this] { accept_loop(); });
}

connect_proxy::~connect_proxy() {
    stopping_ = true;
    ::shutdown(st_->acceptor.native_handle(), SHUT_RDWR);
    acceptor_thread_.join();
    {
        const std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
}

std::string connect_proxy::last_target() const {
    const std::lock_guard lock(mutex_);
    return target_;
}
std::string connect_proxy::last_auth() const {
    const std::lock_guard lock(mutex_);
    return auth_;
}

void connect_proxy::record_socket(int fd) {
    const std::lock_guard lock(mutex_);
    fds_.push_back(fd);
}

void connect_proxy::accept_loop() {
    while (!stopping_) {
        beast::error_code ec;
        tcp::socket s = st_->acceptor.accept(ec);
        if (ec || stopping_) return;
        int index = 0;
        {
            const std::lock_guard lock(mutex_);
            fds_.push_back(s.native_handle());
            st_->sockets.push_back(std::move(s));
            index = static_cast<int>(st_->sockets.size()) - 1;
        }
        threads_.emplace_back([this, index] { serve(index); });
    }
}

void connect_proxy::serve(int index) {
    tcp::socket client(st_->ioc);
    {
        const std::lock_guard lock(mutex_);
        client = std::move(st_->sockets[static_cast<std::size_t>(index)]);
    }
    const auto unregister = [this](int fd) { erase_fd(mutex_, fds_, fd); };
    const fd_guard<decltype(unregister)> client_guard(unregister, client.native_handle());
    beast::error_code ec;
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    http::read(client, buffer, req, ec);
    if (ec) return;
    ++requests_;
    const std::string auth(req[http::field::proxy_authorization]);
    {
        const std::lock_guard lock(mutex_);
        target_ = std::string(req.target());
        auth_ = auth;
    }
    const auto reply = [&](http::status status) {
        http::response<http::string_body> res{status, 11};
        if (status == http::status::proxy_authentication_required) {
            res.set(http::field::proxy_authenticate, "Basic realm=\"test\"");
        }
        res.body() = "test proxy";
        res.prepare_payload();
        http::write(client, res, ec);
    };
    if (req.method() != http::verb::connect) return reply(http::status::method_not_allowed);
    if (!user_pass_.empty() && auth != "Basic " + base64(user_pass_)) {
        return reply(http::status::proxy_authentication_required);
    }
    const std::string target(req.target());
    const auto colon = target.rfind(':');
    tcp::socket upstream(st_->ioc);
    tcp::resolver resolver(st_->ioc);
    auto results = resolver.resolve(target.substr(0, colon), target.substr(colon + 1), ec);
    if (!ec) asio::connect(upstream, results, ec);
    if (ec) return reply(http::status::bad_gateway);
    record_socket(upstream.native_handle());
    const fd_guard<decltype(unregister)> upstream_guard(unregister, upstream.native_handle());
    // A CONNECT tunnel answer has no body.
    const std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    asio::write(client, asio::buffer(ok), ec);
    if (ec) return;
    ++tunnels_;
    if (buffer.size() > 0) asio::write(upstream, buffer.data(), ec);
    // Relay both ways until either side ends; shutting both down wakes the other pump.
    std::thread back([&] {
        char data[16384];
        beast::error_code e;
        for (;;) {
            const std::size_t n = upstream.read_some(asio::buffer(data), e);
            if (e) break;
            asio::write(client, asio::buffer(data, n), e);
            if (e) break;
        }
        ::shutdown(client.native_handle(), SHUT_RDWR);
    });
    char data[16384];
    for (;;) {
        const std::size_t n = client.read_some(asio::buffer(data), ec);
        if (ec) break;
        asio::write(upstream, asio::buffer(data, n), ec);
        if (ec) break;
    }
    ::shutdown(upstream.native_handle(), SHUT_RDWR);
    back.join();
}

}  // namespace ava::test
