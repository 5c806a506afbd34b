// The one client translation unit that instantiates Beast's TLS WebSocket. See the header for
// the contract. Every member of `impl` is touched on the io thread only, except `detached_`,
// which the destructor of `connection` may set from any thread. There is no strand: the
// io_context has one thread (the header's contract), and a strand put an extra trip through the
// scheduler (and an epoll_wait) on every completion, 50 frames a second.
#include "ava/realtime/connection.hpp"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <map>
#include <mutex>

#include "ava/core/base64.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "ava/net/asio.hpp"

namespace ava::realtime {
namespace {

using namespace ava::net;
using clock_type = std::chrono::steady_clock;
using ws_tls = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
using ws_plain = websocket::stream<beast::tcp_stream>;

bool is_ip_literal(const std::string& host) {
    in_addr a4{};
    in6_addr a6{};
    return inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
           inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Short, single-line, redacted excerpt of an HTTP error body for the user.
std::string body_excerpt(std::string_view body) {
    std::string s(body.substr(0, 300));
    for (char& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return log::redact(core::trim(s));
}

}  // namespace

// ---- the connection ----------------------------------------------------------------------------

class connection::impl : public std::enable_shared_from_this<impl> {
  public:
    impl(asio::io_context& ioc, connection_options opts, handlers h)
        : exec_(ioc.get_executor()),
          opts_(std::move(opts)),
          h_(std::move(h)),
          resolver_(exec_),
          deadline_(exec_),
          ping_timer_(exec_),
          watchdog_(exec_),
          log_(log::get("rt")) {
        for (const auto& [name, value] : opts_.target.headers) log::add_secret(value);
    }

    void start() {
        if (started_.exchange(true)) return;
        asio::co_spawn(
            exec_, run(shared_from_this()), [self = shared_from_this()](std::exception_ptr e) {
                if (!e) return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    self->finish(self->make_info(close_class::fatal, 0, {},
                                                 std::string("internal error: ") + ex.what()));
                }
            });
    }

    void send(std::string text) {
        asio::dispatch(exec_, [self = shared_from_this(), t = std::move(text)]() mutable {
            self->enqueue(out_item{out_kind::text, std::move(t), 0});
        });
    }

    // Posted (not dispatched) so that on_close never runs inside a close() call.
    void close(std::uint16_t code, std::string reason) {
        asio::post(exec_, [self = shared_from_this(), code, r = std::move(reason)]() mutable {
            self->begin_close(code, std::move(r));
        });
    }

    // From ~connection, any thread: no handler after this; tear down on the io thread.
    void detach() {
        detached_.store(true, std::memory_order_release);
        asio::dispatch(exec_, [self = shared_from_this()] {
            close_info info = self->make_info(close_class::normal, 0, {}, "connection destroyed");
            info.local = true;
            self->finish(std::move(info));
        });
    }

    bool is_open() const { return open_ && !finished_; }
    connect_timings timings() const { return timings_; }
    connection_stats stats() const { return stats_; }

  private:
    enum class out_kind { text, ping, close };
    struct out_item {
        out_kind kind;
        std::string data;
        std::uint16_t code;
    };

    // ---- helpers --------------------------------------------------------------------------

    close_info make_info(close_class kind, int ws_code, std::error_code ec, std::string message) {
        close_info info;
        info.kind = kind;
        info.ws_code = ws_code;
        info.error = ec;
        info.message = log::redact(message);
        info.stage = stage_;
        info.was_open = open_;
        return info;
    }

    bool detached() const { return detached_.load(std::memory_order_acquire); }

    beast::tcp_stream& lowest() {
        return tls_ ? beast::get_lowest_layer(*tls_) : beast::get_lowest_layer(*plain_);
    }

    void enqueue(out_item item) {
        if (finished_ || closing_) {
            ++stats_.dropped_sends;
            return;
        }
        queued_bytes_ += item.data.size();
        queue_.push_back(std::move(item));
        stats_.max_queue_depth = std::max(stats_.max_queue_depth, queue_.size());
        if (open_ && queued_bytes_ > opts_.max_send_queue_bytes) {
            // The server stopped reading (or the network stalled): what waits only grows.
            finish(make_info(close_class::recoverable, 1006, make_error_code(errc::timed_out),
                             "the server stopped reading: " + std::to_string(queued_bytes_ >> 10) +
                                 " KiB waiting to be sent"));
            return;
        }
        pump();
    }

    void begin_close(std::uint16_t code, std::string reason) {
        if (finished_ || closing_) return;
        local_close_ = true;
        if (!open_) {
            // Still connecting: abandon the attempt.
            close_info info = make_info(close_class::normal, 0, {}, "closed before it opened");
            info.local = true;
            finish(std::move(info));
            return;
        }
        queue_.push_back(out_item{out_kind::close, std::move(reason), code});
        closing_ = true;
        pump();
    }

    // Ends the connection once: cancels every timer, closes the socket (aborting pending
    // operations) and calls on_close unless the owner is gone.
    void finish(close_info info) {
        if (finished_) return;
        finished_ = true;
        beast::error_code ignored;
        resolver_.cancel();
        deadline_.cancel();
        ping_timer_.cancel();
        watchdog_.cancel();
        if (tls_ || plain_) lowest().socket().close(ignored);
        queue_.clear();
        if (info.kind == close_class::normal) {
            log_->info("realtime: connection closed ({}{})", info.message,
                       info.ws_code ? ", code " + std::to_string(info.ws_code) : std::string());
        } else {
            log_->warn("realtime: connection {} at {}: {}",
                       info.fatal() ? "failed (fatal)" : "dropped (recoverable)", info.stage,
                       info.message);
        }
        if (!detached() && h_.on_close) {
            try {
                h_.on_close(info);
            } catch (const std::exception& e) {
                log_->error("realtime: on_close handler threw: {}", e.what());
            }
        }
    }

    void step_done(std::chrono::nanoseconds connect_timings::*field, clock_type::time_point& t) {
        const auto now = clock_type::now();
        timings_.*field = now - t;
        t = now;
    }

    // ---- the connect steps -----------------------------------------------------------------

    static asio::awaitable<void> run(std::shared_ptr<impl> self) {
        co_await self->connect_and_run();
    }

    asio::awaitable<void> connect_and_run() {
        const auto t0 = clock_type::now();
        auto t = t0;
        const url_parts& url = opts_.target.url;

        // Configuration checks first: they are fatal and need no network.
        stage_ = "config";
        if (!url.tls() && !is_loopback_host(url.host) && !opts_.allow_plain_ws) {
            finish(make_info(close_class::fatal, 0, make_error_code(errc::bad_config),
                             "refusing unencrypted ws:// to " + url.host +
                                 " (not loopback): use wss:// or allow plain ws explicitly"));
            co_return;
        }
        std::optional<url_parts> proxy;
        try {
            proxy = select_proxy(url, opts_);
        } catch (const config_error& e) {
            finish(make_info(close_class::fatal, 0, make_error_code(errc::bad_config), e.what()));
            co_return;
        }
        if (url.tls()) {
            if (!setup_tls_context()) co_return;
            tls_ = std::make_unique<ws_tls>(exec_, *ssl_ctx_);
        } else {
            plain_ = std::make_unique<ws_plain>(exec_);
        }
        if (finished_) co_return;  // close() or the destructor came first
        step_done(&connect_timings::setup, t);

        // Resolve, under the connect budget (the resolver has no timeout of its own).
        stage_ = "resolve";
        const std::string& host = proxy ? proxy->host : url.host;
        const std::uint16_t port = proxy ? proxy->port : url.port;
        deadline_.expires_after(opts_.connect_timeout);
        deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) {
                self->deadline_hit_ = true;
                self->resolver_.cancel();
            }
        });
        beast::error_code ec;
        tcp::resolver::results_type results;
        if (const auto literal = asio::ip::make_address(host, ec); !ec) {
            // An IP literal needs no lookup: getaddrinfo on the resolver's helper thread cost
            // ~100 ms on the first call here, the bulk of a loopback connect.
            results = tcp::resolver::results_type::create(tcp::endpoint(literal, port), host,
                                                          std::to_string(port));
        } else {
            ec = {};
            results = co_await resolver_.async_resolve(
                host, std::to_string(port), asio::redirect_error(asio::use_awaitable, ec));
        }
        if (finished_) co_return;
        if (ec) {
            const bool timeout = deadline_hit_;
            finish(make_info(close_class::recoverable, 0,
                             timeout ? make_error_code(errc::timed_out) : std::error_code(ec),
                             timeout ? "resolving " + host + " timed out"
                                     : "cannot resolve " + host + ": " + ec.message()));
            co_return;
        }
        step_done(&connect_timings::resolve, t);

        // TCP connect with what is left of the budget (beast::tcp_stream's timeout).
        stage_ = "connect";
        const auto left = deadline_.expiry() - clock_type::now();
        deadline_.cancel();
        lowest().expires_after(std::max<clock_type::duration>(left, std::chrono::milliseconds(1)));
        co_await lowest().async_connect(results, asio::redirect_error(asio::use_awaitable, ec));
        if (finished_) co_return;
        if (ec) {
            const bool timeout = ec == beast::error::timeout;
            finish(make_info(
                close_class::recoverable, 0,
                timeout ? make_error_code(errc::timed_out) : std::error_code(ec),
                (timeout ? "connect to " + host + ":" + std::to_string(port) + " timed out"
                         : "cannot connect to " + host + ":" + std::to_string(port) + ": " +
                               ec.message()) +
                    (proxy ? " (the proxy)" : "")));
            co_return;
        }
        lowest().socket().set_option(tcp::no_delay(true), ec);  // small events go out at once
        step_done(&connect_timings::connect, t);

        if (proxy) {
            stage_ = "proxy";
            if (!co_await proxy_connect(*proxy)) co_return;
            step_done(&connect_timings::proxy, t);
        }

        if (tls_) {
            stage_ = "tls";
            if (!co_await tls_handshake()) co_return;
            step_done(&connect_timings::tls, t);
            stage_ = "upgrade";
            if (!co_await upgrade(*tls_)) co_return;
        } else {
            stage_ = "upgrade";
            if (!co_await upgrade(*plain_)) co_return;
        }
        step_done(&connect_timings::upgrade, t);
        timings_.total = clock_type::now() - t0;

        stage_ = "open";
        open_ = true;
        last_rx_ = clock_type::now();
        log_->info("realtime: connected to {} in {:.1f} ms{}", url.str(),
                   std::chrono::duration<double, std::milli>(timings_.total).count(),
                   proxy ? " via proxy " + proxy->host_port() : std::string());
        if (!detached() && h_.on_open) {
            try {
                h_.on_open();
            } catch (const std::exception& e) {
                log_->error("realtime: on_open handler threw: {}", e.what());
            }
        }
        if (finished_) co_return;
        if (tls_) {
            co_await session(*tls_);
        } else {
            co_await session(*plain_);
        }
    }

    // Returns false (having failed the connection) when the context cannot be set up.
    bool setup_tls_context() {
        std::string error;
        ssl_ctx_ = client_context(opts_.insecure_skip_verify, opts_.ca_file, error);
        if (!ssl_ctx_) {
            finish(make_info(close_class::fatal, 0, make_error_code(errc::bad_config), error));
            return false;
        }
        return true;
    }

    // One TLS client context per (verification, CA file) for the whole process. Loading the
    // system CA bundle costs tens of milliseconds, so reconnects must not pay it again. An
    // SSL_CTX is safe to share between connections and threads once it is configured.
    std::shared_ptr<ssl::context> client_context(bool insecure, const std::string& ca_file,
                                                 std::string& error) {
        static std::mutex mutex;
        static std::map<std::pair<bool, std::string>, std::shared_ptr<ssl::context>> cache;
        const std::lock_guard lock(mutex);
        auto& slot = cache[{insecure, insecure ? std::string() : ca_file}];
        if (slot) return slot;
        auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
        if (insecure) {
            ctx->set_verify_mode(ssl::verify_none);
        } else {
            beast::error_code ec;
            ctx->set_verify_mode(ssl::verify_peer);
            ctx->set_default_verify_paths(ec);
            if (ec) log_->warn("realtime: cannot load the system CA store: {}", ec.message());
            if (!ca_file.empty()) {
                ctx->load_verify_file(ca_file, ec);
                if (ec) {
                    error = "cannot load CA file '" + ca_file + "': " + ec.message();
                    return nullptr;  // not cached: the file may appear later
                }
            }
        }
        slot = ctx;
        return ctx;
    }

    // HTTP CONNECT host:port through the proxy; on success the socket is a raw tunnel.
    asio::awaitable<bool> proxy_connect(const url_parts& proxy) {
        const url_parts& url = opts_.target.url;
        http::request<http::empty_body> req{http::verb::connect, url.host_port(), 11};
        req.set(http::field::host, url.host_port());
        req.set(http::field::user_agent, opts_.user_agent);
        if (!proxy.user.empty()) {
            const std::string token = core::base64_encode(proxy.user + ":" + proxy.password);
            log::add_secret(token);
            req.set(http::field::proxy_authorization, "Basic " + token);
        }
        lowest().expires_after(opts_.connect_timeout);
        beast::error_code ec;
        co_await http::async_write(lowest(), req, asio::redirect_error(asio::use_awaitable, ec));
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024);
        if (!ec && !finished_) {
            // A 2xx answer to CONNECT has no body whatever its headers say (RFC 9110 9.3.6).
            co_await http::async_read_header(lowest(), buffer, parser,
                                             asio::redirect_error(asio::use_awaitable, ec));
        }
        if (finished_) co_return false;
        if (ec) {
            const bool timeout = ec == beast::error::timeout;
            finish(make_info(close_class::recoverable, 0,
                             timeout ? make_error_code(errc::timed_out) : std::error_code(ec),
                             "proxy " + proxy.host_port() +
                                 (timeout ? " did not answer CONNECT in time"
                                          : " failed during CONNECT: " + ec.message())));
            co_return false;
        }
        const int status = static_cast<int>(parser.get().result_int());
        if (status / 100 != 2) {
            std::string why;
            if (status == 407) {
                why = proxy.user.empty() ? " (the proxy wants credentials: "
                                           "http://user:password@host:port)"
                                         : " (the proxy rejected the credentials)";
            }
            close_info info =
                make_info(status == 407 ? close_class::fatal : classify_http_status(status), 0,
                          make_error_code(status == 407 ? errc::auth_failed : errc::protocol),
                          "proxy " + proxy.host_port() + " refused CONNECT to " + url.host_port() +
                              ": HTTP " + std::to_string(status) + " " +
                              std::string(parser.get().reason()) + why);
            info.http_status = status;
            finish(std::move(info));
            co_return false;
        }
        if (buffer.size() != 0) {
            finish(make_info(close_class::recoverable, 0, make_error_code(errc::protocol),
                             "proxy " + proxy.host_port() + " sent data after 200 to CONNECT"));
            co_return false;
        }
        co_return true;
    }

    asio::awaitable<bool> tls_handshake() {
        const url_parts& url = opts_.target.url;
        SSL* ssl = tls_->next_layer().native_handle();
        // SNI: only for names; RFC 6066 forbids IP literals in server_name.
        // (SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.)
        if (!is_ip_literal(url.host)) {
            SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(url.host.c_str()));
        }
        if (opts_.insecure_skip_verify) {
            log_->warn(
                "realtime: TLS CERTIFICATE VERIFICATION IS OFF for {}: anyone on the path can "
                "read and change this session, API key included. Use --ca-file instead.",
                url.host);
        } else {
            // Host-name (or IP) check by OpenSSL itself, so a mismatch is reported as such.
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (is_ip_literal(url.host)) {
                X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
            } else {
                X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
            }
        }
        lowest().expires_after(opts_.handshake_timeout);
        beast::error_code ec;
        co_await tls_->next_layer().async_handshake(ssl::stream_base::client,
                                                    asio::redirect_error(asio::use_awaitable, ec));
        if (finished_) co_return false;
        if (ec) {
            const long verify = SSL_get_verify_result(ssl);
            if (verify != X509_V_OK) {
                finish(make_info(close_class::fatal, 0, ec,
                                 "TLS certificate verification failed for " + url.host + ": " +
                                     X509_verify_cert_error_string(verify) +
                                     " (trust a private CA with --ca-file)"));
            } else {
                const bool timeout = ec == beast::error::timeout;
                finish(make_info(
                    close_class::recoverable, 0,
                    timeout ? make_error_code(errc::timed_out) : std::error_code(ec),
                    timeout ? "TLS handshake with " + url.host + " timed out"
                            : "TLS handshake with " + url.host + " failed: " + ec.message()));
            }
            co_return false;
        }
        co_return true;
    }

    template <typename WS>
    asio::awaitable<bool> upgrade(WS& ws) {
        const url_parts& url = opts_.target.url;
        // The websocket stream has its own timeouts from here on.
        lowest().expires_never();
        websocket::stream_base::timeout to{};
        to.handshake_timeout = opts_.handshake_timeout;    // the upgrade and the close handshake
        to.idle_timeout = websocket::stream_base::none();  // our own watchdog does this
        to.keep_alive_pings = false;                       // our own pinger does this
        ws.set_option(to);
        ws.set_option(websocket::stream_base::decorator(
            [headers = opts_.target.headers, ua = opts_.user_agent](websocket::request_type& req) {
                req.set(http::field::user_agent, ua);
                for (const auto& [name, value] : headers) req.set(name, value);
            }));
        ws.read_message_max(0);   // no Beast limit: session() enforces max_message_bytes
        ws.auto_fragment(false);  // one frame per message: less framing for big audio events
        ws.control_callback([this](websocket::frame_type kind, beast::string_view) {
            last_rx_ = clock_type::now();
            if (kind == websocket::frame_type::pong) ++stats_.pongs_received;
        });
        const bool default_port = url.port == (url.tls() ? 443 : 80);
        const std::string host_header =
            default_port
                ? (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host)
                : url.host_port();
        websocket::response_type res;
        beast::error_code ec;
        co_await ws.async_handshake(res, host_header, url.target,
                                    asio::redirect_error(asio::use_awaitable, ec));
        if (finished_) co_return false;
        if (ec) {
            // `res` holds a status only when Beast read a whole response and declined it; after
            // a timeout, a drop or a garbled answer it is still default-constructed (200 OK),
            // which was reported as "rejected: HTTP 200 OK" and treated as fatal.
            const int status =
                ec == websocket::error::upgrade_declined ? static_cast<int>(res.result_int()) : 0;
            if (status != 0 && status != 101) {
                std::string msg = "upgrade to " + url.str() + " rejected: HTTP " +
                                  std::to_string(status) + " " + std::string(res.reason());
                if (status == 401 || status == 403) msg += " (check the API key)";
                if (status == 404) msg += " (check the model / deployment and the URL)";
                if (const auto excerpt = body_excerpt(res.body()); !excerpt.empty()) {
                    msg += ": " + excerpt;
                }
                const errc code = status == 401 || status == 403 ? errc::auth_failed
                                  : status == 404                ? errc::not_found
                                                                 : errc::protocol;
                close_info info =
                    make_info(classify_http_status(status), 0, make_error_code(code), msg);
                info.http_status = status;
                finish(std::move(info));
            } else {
                const bool timeout = ec == beast::error::timeout;
                finish(make_info(close_class::recoverable, 0,
                                 timeout ? make_error_code(errc::timed_out) : std::error_code(ec),
                                 timeout ? "WebSocket upgrade timed out"
                                         : "WebSocket upgrade failed: " + ec.message()));
            }
            co_return false;
        }
        co_return true;
    }

    // ---- the open session ------------------------------------------------------------------

    template <typename WS>
    asio::awaitable<void> session(WS& ws) {
        auto self = shared_from_this();
        writer_ready_ = true;
        pump();  // what was queued before the connection opened
        if (opts_.ping_interval.count() > 0) asio::co_spawn(exec_, pinger(self), asio::detached);
        if (opts_.idle_timeout.count() > 0) asio::co_spawn(exec_, watchdog(self), asio::detached);

        // Whole messages are assembled here, at most max_message_bytes (+ one chunk). Beast's
        // own read_message_max is off: when it trips, Beast 1.74 reports the TLS teardown error
        // instead of message_too_big, so the limit is enforced here to report it clearly.
        constexpr std::size_t chunk = 256 * 1024;
        beast::flat_buffer buffer;
        beast::error_code ec;
        bool discarding = false;  // failing with 1009: drain until the close answer
        for (;;) {
            co_await ws.async_read_some(buffer, chunk,
                                        asio::redirect_error(asio::use_awaitable, ec));
            if (ec || finished_) break;
            last_rx_ = clock_type::now();
            if (discarding) {
                buffer.consume(buffer.size());
                continue;
            }
            if (buffer.size() > opts_.max_message_bytes) {
                fail_oversized();
                discarding = true;
                buffer.consume(buffer.size());
                continue;
            }
            if (!ws.is_message_done()) continue;
            ++stats_.messages_received;
            stats_.bytes_received += buffer.size();
            if (!detached() && h_.on_message) {
                // flat_buffer is one contiguous block.
                const auto data = buffer.data();
                try {
                    h_.on_message(
                        std::string_view(static_cast<const char*>(data.data()), data.size()));
                } catch (const std::exception& e) {
                    log_->error("realtime: on_message handler threw: {}", e.what());
                }
            }
            buffer.consume(buffer.size());
            if (finished_) co_return;
        }
        if (finished_) co_return;
        // Once our close frame is on its way, the writer reports the end (it sees the close
        // handshake complete or time out); Beast aborts this read when it does.
        if (close_sent_) co_return;
        finish(read_failure(ws, ec));
    }

    // A server message over the limit: send close 1009 (after nothing else) and report it.
    void fail_oversized() {
        pending_info_ = make_info(close_class::recoverable, 1009,
                                  make_error_code(websocket::error::message_too_big),
                                  "the server sent a message over the " +
                                      std::to_string(opts_.max_message_bytes) + "-byte limit");
        local_close_ = true;
        closing_ = true;
        queue_.clear();
        queue_.push_back(out_item{out_kind::close, "message too big", 1009});
        pump();
    }

    // The end of a close we started (close(), or 1009 above), as the writer saw it.
    template <typename WS>
    void finish_local(WS& ws, const beast::error_code& ec, std::uint16_t sent_code) {
        if (pending_info_) {
            finish(*pending_info_);
            return;
        }
        const int answered = static_cast<int>(ws.reason().code);
        const bool clean = !ec && answered != static_cast<int>(websocket::close_code::none);
        close_info info =
            make_info(close_class::normal, ec ? 1006 : (clean ? answered : sent_code), ec,
                      ec ? "closed by us; the server did not answer cleanly: " + ec.message()
                         : "closed by us");
        info.local = true;
        finish(std::move(info));
    }

    template <typename WS>
    close_info read_failure(WS& ws, const beast::error_code& ec) {
        if (local_close_ && ec != websocket::error::closed) {
            close_info info = make_info(close_class::normal, 1006, ec,
                                        "closed by us; the server did not answer: " + ec.message());
            info.local = true;
            return info;
        }
        if (ec == websocket::error::closed) {
            const auto& r = ws.reason();
            int code = static_cast<int>(r.code);
            if (code == static_cast<int>(websocket::close_code::none)) code = 1005;
            const std::string reason(r.reason.data(), r.reason.size());
            close_class kind = local_close_ ? close_class::normal : classify_close_code(code);
            std::string msg = local_close_ ? "closed by us" : "server closed the connection";
            msg += " with " + std::to_string(code) + (reason.empty() ? "" : " (" + reason + ")");
            close_info info = make_info(kind, code, make_error_code(errc::closed), msg);
            info.reason = log::redact(reason);
            info.local = local_close_;
            return info;
        }
        if (ec == websocket::error::message_too_big) {
            return make_info(close_class::recoverable, 1009, ec,
                             "the server sent a message over the " +
                                 std::to_string(opts_.max_message_bytes) + "-byte limit");
        }
        // EOF, reset, stream_truncated (TLS without close_notify), timeouts: a drop.
        return make_info(close_class::recoverable, 1006, ec,
                         "connection lost without a close frame: " + ec.message());
    }

    // The one writer: exactly one write (message, ping or close) in flight at any time. A chain
    // of completion handlers rather than a coroutine waiting on a timer: a frame goes out from
    // inside send() (no scheduler trip, no timer to arm and cancel), and the completion starts
    // the next one.
    void pump() {
        // One write at a time, and nothing after the close frame.
        if (!writer_ready_ || writes_in_flight_ > 0 || close_sent_ || finished_ || queue_.empty())
            return;
        if (tls_) start_write(*tls_);
        if (plain_) start_write(*plain_);
    }

    template <typename WS>
    void start_write(WS& ws) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= std::min(queued_bytes_, current_.data.size());
        ++writes_in_flight_;
        stats_.max_writes_in_flight = std::max(stats_.max_writes_in_flight, writes_in_flight_);
        switch (current_.kind) {
            case out_kind::text:
                ws.text(true);
                ws.async_write(
                    asio::buffer(current_.data),
                    [self = shared_from_this(), &ws](const beast::error_code& ec, std::size_t) {
                        if (!ec) {
                            ++self->stats_.messages_sent;
                            self->stats_.bytes_sent += self->current_.data.size();
                        }
                        self->write_done(ws, ec);
                    });
                break;
            case out_kind::ping:
                ws.async_ping({}, [self = shared_from_this(), &ws](const beast::error_code& ec) {
                    if (!ec) ++self->stats_.pings_sent;
                    self->write_done(ws, ec);
                });
                break;
            case out_kind::close:
                close_sent_ = true;
                ws.async_close(
                    websocket::close_reason(static_cast<websocket::close_code>(current_.code),
                                            current_.data.substr(0, 123)),
                    [self = shared_from_this(), &ws,
                     code = current_.code](const beast::error_code& ec) {
                        --self->writes_in_flight_;
                        self->finish_local(ws, ec, code);
                    });
                break;
        }
    }

    template <typename WS>
    void write_done(WS& ws, const beast::error_code& ec) {
        --writes_in_flight_;
        if (finished_) return;
        if (ec) {
            if (local_close_) {
                finish_local(ws, ec, 1006);
            } else {
                finish(make_info(close_class::recoverable, 1006, ec,
                                 "connection lost while sending: " + ec.message()));
            }
            return;
        }
        pump();
    }

    static asio::awaitable<void> pinger(std::shared_ptr<impl> self) {
        beast::error_code ec;
        while (!self->finished_) {
            self->ping_timer_.expires_after(self->opts_.ping_interval);
            co_await self->ping_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (ec || self->finished_ || self->closing_) co_return;
            self->queue_.push_back(out_item{out_kind::ping, {}, 0});
            self->pump();
        }
    }

    static asio::awaitable<void> watchdog(std::shared_ptr<impl> self) {
        beast::error_code ec;
        while (!self->finished_) {
            self->watchdog_.expires_at(self->last_rx_ + self->opts_.idle_timeout);
            co_await self->watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (self->finished_ || (ec && ec != asio::error::operation_aborted)) co_return;
            if (ec) continue;
            if (clock_type::now() - self->last_rx_ >= self->opts_.idle_timeout) {
                const auto secs = std::chrono::duration<double>(self->opts_.idle_timeout).count();
                self->finish(self->make_info(
                    close_class::recoverable, 1006, make_error_code(errc::timed_out),
                    "no frames from the server for " + std::to_string(secs).substr(0, 5) +
                        " s: treating the connection as dropped"));
                co_return;
            }
        }
    }

    asio::io_context::executor_type exec_;
    connection_options opts_;
    handlers h_;
    std::shared_ptr<ssl::context> ssl_ctx_;  // shared, see client_context()
    tcp::resolver resolver_;
    asio::steady_timer deadline_;
    asio::steady_timer ping_timer_;
    asio::steady_timer watchdog_;
    std::unique_ptr<ws_tls> tls_;
    std::unique_ptr<ws_plain> plain_;
    std::deque<out_item> queue_;
    std::size_t queued_bytes_ = 0;             ///< text bytes in queue_ (not the write in flight)
    out_item current_{out_kind::text, {}, 0};  // the write in flight (its buffer must live)
    bool writer_ready_ = false;                // the connection is open: writes may start
    std::shared_ptr<spdlog::logger> log_;

    std::atomic<bool> detached_{false};
    std::atomic<bool> started_{false};
    std::string stage_ = "config";
    bool open_ = false;
    bool closing_ = false;
    bool local_close_ = false;
    bool close_sent_ = false;
    std::optional<close_info> pending_info_;
    bool finished_ = false;
    bool deadline_hit_ = false;
    int writes_in_flight_ = 0;
    clock_type::time_point last_rx_{};
    connect_timings timings_;
    connection_stats stats_;
};

connection::connection(asio::io_context& ioc, connection_options opts, handlers h)
    : impl_(std::make_shared<impl>(ioc, std::move(opts), std::move(h))) {}

connection::~connection() {
    if (impl_) impl_->detach();
}

void connection::start() {
    impl_->start();
}
void connection::send(std::string text) {
    impl_->send(std::move(text));
}
void connection::close(std::uint16_t code, std::string reason) {
    impl_->close(code, std::move(reason));
}
bool connection::is_open() const {
    return impl_->is_open();
}
connect_timings connection::timings() const {
    return impl_->timings();
}
connection_stats connection::stats() const {
    return impl_->stats();
}

}  // namespace ava::realtime
