// ava-realtime-sim: the server. See include/ava/sim/server.hpp and docs/simulator.md.
//
// This file accepts connections, answers the HTTP upgrade (path, credentials, injected
// rejections) and runs one session per WebSocket; the session itself is session.hpp.
//
// Deliberately independent of the client: the wire JSON is built and parsed here with
// nlohmann/json, never through ava/realtime/codec.hpp, so a mistake in the client's codec shows
// up as a protocol error instead of being mirrored by a simulator that shares it.
//
// Threads: an io_context run by `options::threads` workers. Each connection (HTTP upgrade, then
// the session) runs on its own strand; every coroutine of a session (reader, writer, responder,
// timers) is spawned on that strand, so session state needs no locks. The only state shared
// between sessions (event log, summary, session registry) sits in `shared_state` behind mutexes.
// Voice synthesis runs inline on the session strand (espeak-ng is much faster than real time and
// its result is cached); it blocks only that worker thread.
#include "ava/sim/server.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "ava/core/log.hpp"
#include "session.hpp"

namespace ava::sim {
namespace detail {
namespace {

template <class Ws>
class ws_transport final : public transport {
  public:
    explicit ws_transport(Ws ws) : ws_(std::move(ws)) {}
    asio::awaitable<void> read(beast::flat_buffer& buf, bool& text, error_code& ec) override {
        co_await ws_.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
        text = ws_.got_text();
    }
    asio::awaitable<void> write(const std::string& text, error_code& ec) override {
        ws_.text(true);
        co_await ws_.async_write(asio::buffer(text), asio::redirect_error(asio::use_awaitable, ec));
    }
    asio::awaitable<void> close(std::uint16_t code, const std::string& reason,
                                error_code& ec) override {
        websocket::close_reason cr(code);
        cr.reason = reason.substr(0, 120);
        co_await ws_.async_close(cr, asio::redirect_error(asio::use_awaitable, ec));
    }
    void abort() override {
        error_code ignored;
        beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
        beast::get_lowest_layer(ws_).socket().close(ignored);
    }

  private:
    Ws ws_;
};
// ---- HTTP upgrade --------------------------------------------------------------------------

struct upgrade_decision {
    http::status status = http::status::switching_protocols;
    json body;
    upgrade_info info;
    std::string subprotocol;
};

json http_error(const std::string& message, const std::string& type, const json& code,
                const json& param = nullptr) {
    return {{"error", {{"message", message}, {"type", type}, {"param", param}, {"code", code}}}};
}

upgrade_decision decide(const shared_state& st, const http::request<http::string_body>& req) {
    upgrade_decision d;
    const std::string target(req.target());
    const auto q = target.find('?');
    const std::string path = target.substr(0, q);
    std::map<std::string, std::string> query;
    if (q != std::string::npos) {
        std::istringstream qs(target.substr(q + 1));
        for (std::string kv; std::getline(qs, kv, '&');) {
            const auto eq = kv.find('=');
            query[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
        }
    }
    auto fail = [&](http::status s, json body) {
        d.status = s;
        d.body = std::move(body);
        return d;
    };
    d.info.azure = path == "/openai/v1/realtime";
    if (path != "/v1/realtime" && !d.info.azure)
        return fail(http::status::not_found,
                    http_error("Invalid URL (GET " + path + ")", "invalid_request_error", nullptr));
    // Credentials: Bearer everywhere; api-key on the Azure path; the browser subprotocol too.
    std::string key;
    bool have_key = false;
    if (auto it = req.find(http::field::authorization); it != req.end()) {
        const std::string v(it->value());
        if (v.rfind("Bearer ", 0) == 0) {
            key = v.substr(7);
            have_key = true;
        }
    }
    if (!have_key && d.info.azure) {
        if (auto it = req.find("api-key"); it != req.end()) {
            key = std::string(it->value());
            have_key = true;
        }
    }
    if (auto it = req.find(http::field::sec_websocket_protocol); it != req.end()) {
        std::istringstream ps{std::string(it->value())};
        for (std::string p; std::getline(ps, p, ',');) {
            p.erase(0, p.find_first_not_of(' '));
            p.erase(p.find_last_not_of(' ') + 1);
            if (p == "realtime") d.subprotocol = "realtime";
            if (p.rfind("openai-insecure-api-key.", 0) == 0 && !have_key) {
                key = p.substr(24);
                have_key = true;
            }
        }
    }
    if (st.opts.reject_upgrade_status != 0) {
        const int s = st.opts.reject_upgrade_status;
        const char* code = s == 401   ? "invalid_api_key"
                           : s == 403 ? "unsupported_country_region_territory"
                           : s == 404 ? "model_not_found"
                           : s == 429 ? "rate_limit_exceeded"
                                      : "server_error";
        return fail(static_cast<http::status>(s),
                    http_error("Injected by the simulator: HTTP " + std::to_string(s) + ".",
                               s >= 500 ? "server_error" : "invalid_request_error", code));
    }
    if (!have_key || key.empty())
        return fail(
            http::status::unauthorized,
            http_error(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error", nullptr));
    if (!st.opts.api_key.empty() && key != st.opts.api_key)
        return fail(http::status::unauthorized,
                    http_error("Incorrect API key provided. You can find your API key at "
                               "https://platform.openai.com/account/api-keys.",
                               "invalid_request_error", "invalid_api_key"));
    if (!websocket::is_upgrade(req))
        return fail(http::status::bad_request,
                    http_error("This endpoint only accepts WebSocket upgrades.",
                               "invalid_request_error", nullptr));
    d.info.model = query.count("model") ? query["model"]
                                        : (query.count("deployment") ? query["deployment"] : "");
    if (d.info.model.empty())
        return fail(http::status::bad_request,
                    http_error("Missing required parameter: 'model'.", "invalid_request_error",
                               "missing_required_parameter", "model"));
    if (auto it = req.find("OpenAI-Beta");
        it != req.end() && std::string(it->value()).find("realtime") != std::string::npos)
        d.info.beta = true;
    return d;
}

template <class Stream>
asio::awaitable<void> serve(shared_state& st, Stream stream) {
    beast::flat_buffer buf;
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(15));
    co_await http::async_read(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    http::request<http::string_body> req = parser.release();
    upgrade_decision d = decide(st, req);
    if (d.status != http::status::switching_protocols) {
        {
            std::lock_guard lock(st.sum_mutex);
            st.sum.rejected_upgrades++;
        }
        st.write_raw_event(
            "conn", "", "connection.rejected",
            {{"status", static_cast<int>(d.status)}, {"target", std::string(req.target())}});
        http::response<http::string_body> res{d.status, req.version()};
        res.set(http::field::server, "ava-realtime-sim");
        res.set(http::field::content_type, "application/json");
        res.keep_alive(false);
        res.body() = d.body.dump();
        res.prepare_payload();
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        error_code ignored;
        beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
    }
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<Stream> ws(std::move(stream));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(32u * 1024 * 1024);  // read a too-big append and answer it with an error
    const std::string sub = d.subprotocol;
    ws.set_option(websocket::stream_base::decorator([sub](websocket::response_type& res) {
        res.set(http::field::server, "ava-realtime-sim");
        if (!sub.empty()) res.set(http::field::sec_websocket_protocol, sub);
    }));
    co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto ex = co_await asio::this_coro::executor;
    auto sess = std::make_shared<session>(
        st, std::make_unique<ws_transport<websocket::stream<Stream>>>(std::move(ws)), ex, d.info);
    co_await sess->run();
}

asio::awaitable<void> serve_connection(shared_state& st, tcp::socket socket) {
    beast::tcp_stream tcp_stream(std::move(socket));
    if (st.tls) {
        beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *st.tls);
        error_code ec;
        beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(15));
        co_await tls_stream.async_handshake(ssl::stream_base::server,
                                            asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        co_await serve(st, std::move(tls_stream));
    } else {
        co_await serve(st, std::move(tcp_stream));
    }
}
}  // namespace
}  // namespace detail

using namespace detail;

// ---- server ------------------------------------------------------------------------------------

struct server::impl {
    shared_state st;
    std::vector<std::thread> threads;
    bool started = false;
    bool stopped = false;
    unsigned short bound_port = 0;
    // Declared last: destroyed first, so no session outlives the state above it refers to.
    std::unique_ptr<asio::io_context> ioc;
    std::unique_ptr<tcp::acceptor> acceptor;
};

server::server(options opts) : impl_(std::make_unique<impl>()) {
    shared_state& st = impl_->st;
    st.opts = std::move(opts);
    st.log = ava::log::get("sim");
    if (!st.opts.api_key.empty()) ava::log::add_secret(st.opts.api_key);
    st.scen = st.opts.scenario_file.empty() ? detail::default_scenario()
                                            : detail::load_scenario(st.opts.scenario_file);
    if (st.opts.tls_cert_file.empty() != st.opts.tls_key_file.empty())
        throw std::runtime_error("sim: TLS needs both a certificate and a key file");
    if (!st.opts.tls_cert_file.empty()) {
        st.tls.emplace(ssl::context::tls_server);
        st.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1);
        error_code ec;
        st.tls->use_certificate_chain_file(st.opts.tls_cert_file, ec);
        if (ec)
            throw std::runtime_error("sim: cannot load TLS certificate " + st.opts.tls_cert_file +
                                     ": " + ec.message());
        st.tls->use_private_key_file(st.opts.tls_key_file, ssl::context::pem, ec);
        if (ec)
            throw std::runtime_error("sim: cannot load TLS key " + st.opts.tls_key_file + ": " +
                                     ec.message());
    }
    if (st.opts.synth != "auto" && st.opts.synth != "espeak" && st.opts.synth != "tone")
        throw std::runtime_error("sim: synth must be auto, espeak or tone");
    for (const fault& f : st.opts.faults)
        if (f.kind.empty()) throw std::runtime_error("sim: a fault without a kind");
    if (!st.opts.events_file.empty()) {
        st.events.open(st.opts.events_file, std::ios::out | std::ios::trunc);
        if (!st.events)
            throw std::runtime_error("sim: cannot write the event log " + st.opts.events_file);
    }
}

server::~server() {
    stop();
}

void server::start() {
    if (impl_->started) throw std::runtime_error("sim: start() called twice");
    impl_->started = true;
    shared_state& st = impl_->st;
    impl_->ioc = std::make_unique<asio::io_context>(std::max(1, st.opts.threads));
    error_code ec;
    const auto address = asio::ip::make_address(st.opts.host, ec);
    if (ec) throw std::runtime_error("sim: bad host address '" + st.opts.host + "'");
    tcp::endpoint ep(address, st.opts.port);
    auto acc = std::make_unique<tcp::acceptor>(*impl_->ioc);
    acc->open(ep.protocol(), ec);
    if (!ec) acc->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acc->bind(ep, ec);
    if (!ec) acc->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error("sim: cannot listen on " + st.opts.host + ":" +
                                 std::to_string(st.opts.port) + ": " + ec.message());
    impl_->bound_port = acc->local_endpoint().port();
    impl_->acceptor = std::move(acc);
    tcp::acceptor& acceptor = *impl_->acceptor;
    asio::io_context& ioc = *impl_->ioc;
    asio::co_spawn(
        ioc,
        [&st, &acceptor, &ioc]() -> asio::awaitable<void> {
            bool accept_failing = false;
            for (;;) {
                error_code aec;
                tcp::socket socket(asio::make_strand(ioc));
                co_await acceptor.async_accept(socket,
                                               asio::redirect_error(asio::use_awaitable, aec));
                if (aec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
                if (aec) {
                    // Out of file descriptors (EMFILE/ENFILE), or any other accept failure:
                    // the next accept fails the same way at once, so wait a little instead of
                    // spinning a core (88 % was seen), and say so once per episode.
                    if (!accept_failing) {
                        st.log->warn("sim: accept failed: {}; retrying every 100 ms",
                                     aec.message());
                    }
                    accept_failing = true;
                    asio::steady_timer pause(ioc, std::chrono::milliseconds(100));
                    error_code pec;
                    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, pec));
                    continue;
                }
                accept_failing = false;
                // Like the real service: no Nagle delay. Without it a reply's burst of small
                // events (created, item added, part added, first delta) waits for the client's
                // delayed ACK, which showed up as ~20 ms in the client's delta latency figure.
                error_code nd;
                socket.set_option(tcp::no_delay(true), nd);
                auto ex = socket.get_executor();
                asio::co_spawn(ex, serve_connection(st, std::move(socket)),
                               [&st](std::exception_ptr e) {
                                   if (!e) return;
                                   try {
                                       std::rethrow_exception(e);
                                   } catch (const std::exception& x) {
                                       st.log->error("sim: connection failed: {}", x.what());
                                   }
                               });
            }
        },
        asio::detached);
    for (int i = 0; i < std::max(1, st.opts.threads); ++i)
        impl_->threads.emplace_back([&ioc] { ioc.run(); });
    if (!st.opts.quiet) st.log->info("sim: listening on {}", url());
}

unsigned short server::port() const {
    return impl_->bound_port;
}

std::string server::base_url() const {
    const auto& o = impl_->st.opts;
    const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
    return std::string(impl_->st.tls ? "wss://" : "ws://") + host + ":" + std::to_string(port()) +
           "/v1";
}

std::string server::url() const {
    return base_url() + "/realtime?model=gpt-realtime";
}

void server::stop() {
    if (!impl_ || !impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    shared_state& st = impl_->st;
    st.stopping = true;
    asio::post(*impl_->ioc, [acc = impl_->acceptor.get()] {
        error_code ignored;
        acc->close(ignored);
    });
    {
        std::lock_guard lock(st.registry_mutex);
        for (auto& w : st.sessions)
            if (auto s = w.lock()) s->post_close(1001, "server stopping");
    }
    // Give sessions a moment to send their close frames, then stop the loop.
    const auto deadline = clock::now() + std::chrono::milliseconds(1500);
    while (st.live > 0 && clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    {
        std::lock_guard lock(st.registry_mutex);
        st.sessions.clear();
    }
    impl_->acceptor.reset();
    impl_->ioc.reset();  // destroys pending coroutines (and their sessions) while st is alive
    std::lock_guard lock(st.events_mutex);
    if (st.events.is_open()) st.events.flush();
}

summary server::get_summary() const {
    std::lock_guard lock(impl_->st.sum_mutex);
    return impl_->st.sum;
}

std::string format_summary(const summary& s) {
    std::ostringstream out;
    out << "sessions: " << s.sessions << ", rejected upgrades: " << s.rejected_upgrades << "\n"
        << "turns: " << s.turns << ", responses: " << s.responses << "\n"
        << "errors sent: " << s.errors_sent << ", faults injected: " << s.faults_injected << "\n"
        << "truncations: " << s.truncations.size() << "\n";
    for (const auto& t : s.truncations)
        out << "  " << t.item_id << ": audio_end_ms " << t.audio_end_ms << " of " << t.generated_ms
            << " ms generated" << (t.accepted ? "" : " (rejected)") << "\n";
    for (const auto& ss : s.per_session) {
        out << "session " << ss.id << ": turns " << ss.turns << ", responses " << ss.responses
            << " (" << ss.responses_cancelled << " cancelled), input " << ss.input_audio_ms
            << " ms, output " << ss.output_audio_ms << " ms, errors " << ss.errors_sent;
        if (!ss.error_codes.empty()) {
            // One entry per distinct code, with a count: 50,000 bad events made a 2.5 MB line.
            std::vector<std::pair<std::string, int>> counts;
            for (const auto& code : ss.error_codes) {
                auto it = std::find_if(counts.begin(), counts.end(),
                                       [&](const auto& c) { return c.first == code; });
                if (it == counts.end()) {
                    counts.emplace_back(code, 1);
                } else {
                    ++it->second;
                }
            }
            out << " [";
            for (std::size_t i = 0; i < counts.size(); ++i) {
                out << (i ? " " : "") << counts[i].first;
                if (counts[i].second > 1) out << " x" << counts[i].second;
            }
            out << "]";
        }
        out << ", faults " << ss.faults_injected
            << ", end: " << (ss.ended ? ss.close_reason : "open") << "\n";
    }
    return out.str();
}

}  // namespace ava::sim
