// ava::realtime::connection against real loopback servers (test_server.hpp): TLS with the
// test CA, upgrade failures, close codes, the single writer, keepalive, watchdog, size limit,
// timeouts and the CONNECT proxy.
#include "ava/realtime/connection.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/net/asio.hpp"
#include "test_certs.hpp"
#include "test_server.hpp"

namespace ava::realtime {
namespace {

using namespace std::chrono_literals;
namespace net = ava::net;

const test::test_certs& certs() {
    static const test::test_certs c = test::make_test_certs(test::make_temp_dir("ava-conn-"));
    return c;
}

// Drives the client side: one io_context on the test thread, like the app's io thread.
struct client {
    net::asio::io_context ioc;
    bool opened = false;
    std::optional<close_info> closed;
    std::vector<std::string> received;
    std::unique_ptr<connection> conn;

    explicit client(connection_options opts) {
        opts.env = [](std::string_view) { return std::optional<std::string>(); };  // no env proxy
        make(std::move(opts));
    }
    client(connection_options opts, bool keep_env) {
        (void)keep_env;
        make(std::move(opts));
    }
    void make(connection_options opts) {
        connection::handlers h;
        h.on_open = [this] { opened = true; };
        h.on_message = [this](std::string_view m) { received.emplace_back(m); };
        h.on_close = [this](const close_info& info) { closed = info; };
        conn = std::make_unique<connection>(ioc, std::move(opts), std::move(h));
    }
    template <typename Pred>
    bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (!pred() && std::chrono::steady_clock::now() < end) {
            ioc.run_one_for(10ms);
        }
        return pred();
    }
    bool run_until_closed(std::chrono::milliseconds limit = 5s) {
        return run_until([this] { return closed.has_value(); }, limit);
    }
};

connection_options wss_options(std::uint16_t port, const std::string& host = "127.0.0.1") {
    connection_options o;
    o.target.url = parse_url("wss://" + host + ":" + std::to_string(port) + "/v1/realtime?model=m");
    o.target.headers = {{"Authorization", "Bearer sk-conn-test-key-0123456789"}};
    o.ca_file = certs().ca_cert;
    o.connect_timeout = 2s;
    o.handshake_timeout = 2s;
    return o;
}

test::ws_server_options tls_server() {
    test::ws_server_options s;
    s.cert_file = certs().server_cert;
    s.key_file = certs().server_key;
    return s;
}

TEST(Connection, WssSendReceiveBothWaysWithVerification) {
    test::ws_test_server server(tls_server());
    client c(wss_options(server.port()));
    c.conn->start();
    ASSERT_TRUE(c.run_until([&] { return c.opened; })) << (c.closed ? c.closed->message : "");
    EXPECT_TRUE(c.conn->is_open());
    c.conn->send(R"({"type":"session.update"})");
    c.conn->send("second");
    ASSERT_TRUE(c.run_until([&] { return c.received.size() == 2; }));
    EXPECT_EQ(c.received[0], R"({"type":"session.update"})");
    EXPECT_EQ(c.received[1], "second");
    EXPECT_EQ(server.messages(),
              (std::vector<std::string>{R"({"type":"session.update"})", "second"}));
    // The configured headers and the target reached the server.
    const auto headers = server.last_headers();
    EXPECT_EQ(headers.at("authorization"), "Bearer sk-conn-test-key-0123456789");
    EXPECT_EQ(headers.at("user-agent"), "ava-voice/0.1");
    EXPECT_EQ(server.last_target(), "/v1/realtime?model=m");
    const connect_timings t = c.conn->timings();
    std::printf(
        "timings us: setup %ld resolve %ld connect %ld tls %ld upgrade %ld total %ld\n",
        static_cast<long>(t.setup.count() / 1000), static_cast<long>(t.resolve.count() / 1000),
        static_cast<long>(t.connect.count() / 1000), static_cast<long>(t.tls.count() / 1000),
        static_cast<long>(t.upgrade.count() / 1000), static_cast<long>(t.total.count() / 1000));
    EXPECT_GT(t.connect.count(), 0);
    EXPECT_GT(t.tls.count(), 0);
    EXPECT_GT(t.upgrade.count(), 0);
    EXPECT_GE(t.total, t.setup + t.resolve + t.connect + t.tls + t.upgrade);
    const connection_stats st = c.conn->stats();
    EXPECT_EQ(st.messages_sent, 2u);
    EXPECT_EQ(st.messages_received, 2u);

    c.conn->close();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::normal);
    EXPECT_TRUE(c.closed->local);
    EXPECT_TRUE(c.closed->was_open);
    EXPECT_EQ(c.closed->ws_code, 1000);
}

TEST(Connection, UnknownCaIsFatalVerificationError) {
    test::ws_test_server server(tls_server());
    connection_options o = wss_options(server.port());
    o.ca_file.clear();  // the system store does not know the test CA
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::fatal);
    EXPECT_EQ(c.closed->stage, "tls");
    EXPECT_FALSE(c.closed->was_open);
    EXPECT_NE(c.closed->message.find("certificate verification failed"), std::string::npos)
        << c.closed->message;
    EXPECT_TRUE(server.messages().empty());
}

TEST(Connection, InsecureOptionSkipsVerification) {
    test::ws_test_server server(tls_server());
    connection_options o = wss_options(server.port());
    o.ca_file.clear();
    o.insecure_skip_verify = true;
    client c(o);
    c.conn->start();
    EXPECT_TRUE(c.run_until([&] { return c.opened; })) << (c.closed ? c.closed->message : "");
}

TEST(Connection, HostNameMismatchIsRejected) {
    // A certificate signed by the trusted CA, but for another name.
    const auto other =
        test::make_test_certs(test::make_temp_dir("ava-conn-other-"), {"api.example.invalid"});
    test::ws_server_options s;
    s.cert_file = other.server_cert;
    s.key_file = other.server_key;
    test::ws_test_server server(s);
    connection_options o = wss_options(server.port());
    o.ca_file = other.ca_cert;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::fatal);
    EXPECT_NE(c.closed->message.find("mismatch"), std::string::npos) << c.closed->message;
}

TEST(Connection, BadCaFileIsFatalConfigError) {
    connection_options o = wss_options(1);
    o.ca_file = "/nonexistent/ca.pem";
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::fatal);
    EXPECT_EQ(c.closed->error, make_error_code(errc::bad_config));
}

class UpgradeStatus : public ::testing::TestWithParam<std::pair<int, close_class>> {};

TEST_P(UpgradeStatus, IsReportedAndClassified) {
    const auto [status, kind] = GetParam();
    test::ws_server_options s = tls_server();
    s.reject_status = status;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->http_status, status);
    EXPECT_EQ(c.closed->kind, kind);
    EXPECT_EQ(c.closed->stage, "upgrade");
    EXPECT_FALSE(c.opened);
    EXPECT_NE(c.closed->message.find("HTTP " + std::to_string(status)), std::string::npos);
    EXPECT_NE(c.closed->message.find("rejected by the test server"), std::string::npos)
        << c.closed->message;
}

INSTANTIATE_TEST_SUITE_P(Connection, UpgradeStatus,
                         ::testing::Values(std::pair{401, close_class::fatal},
                                           std::pair{403, close_class::fatal},
                                           std::pair{404, close_class::fatal},
                                           std::pair{503, close_class::recoverable}));

class ServerClose : public ::testing::TestWithParam<std::pair<int, close_class>> {};

TEST_P(ServerClose, CodeIsReportedAndClassified) {
    const auto [code, kind] = GetParam();
    test::ws_server_options s = tls_server();
    s.close_after_first = code;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    c.conn->start();
    c.conn->send("hello");
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_TRUE(c.closed->was_open);
    EXPECT_FALSE(c.closed->local);
    EXPECT_EQ(c.closed->ws_code, code);
    EXPECT_EQ(c.closed->reason, "test close");
    EXPECT_EQ(c.closed->kind, kind);
}

INSTANTIATE_TEST_SUITE_P(Connection, ServerClose,
                         ::testing::Values(std::pair{1000, close_class::normal},
                                           std::pair{1001, close_class::recoverable},
                                           std::pair{1011, close_class::recoverable},
                                           std::pair{1013, close_class::recoverable},
                                           std::pair{1008, close_class::fatal}));

TEST(Connection, AbruptTcpCloseIs1006Recoverable) {
    test::ws_server_options s = tls_server();
    s.drop_after_first = true;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    c.conn->start();
    c.conn->send("hello");
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->ws_code, 1006);
    EXPECT_EQ(c.closed->kind, close_class::recoverable);
    EXPECT_TRUE(c.closed->was_open);
}

TEST(Connection, BurstOf1000SendsKeepsOrderWithOneWriter) {
    test::ws_server_options s = tls_server();
    s.echo = false;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    // Half queued before the connection opens, half from the open handler in one burst.
    c.conn->start();
    for (int i = 0; i < 500; ++i) c.conn->send("m" + std::to_string(i));
    ASSERT_TRUE(c.run_until([&] { return c.opened; }));
    for (int i = 500; i < 1000; ++i) c.conn->send("m" + std::to_string(i) + std::string(200, '.'));
    ASSERT_TRUE(c.run_until([&] { return server.messages().size() == 1000; }, 10s))
        << server.messages().size();
    ASSERT_TRUE(c.run_until([&] { return c.conn->stats().messages_sent == 1000; }));
    const auto got = server.messages();
    for (int i = 0; i < 1000; ++i) {
        const std::string want = "m" + std::to_string(i) + (i >= 500 ? std::string(200, '.') : "");
        ASSERT_EQ(got[static_cast<std::size_t>(i)], want) << "at " << i;
    }
    const connection_stats st = c.conn->stats();
    EXPECT_EQ(st.messages_sent, 1000u);
    EXPECT_EQ(st.max_writes_in_flight, 1);
    EXPECT_GE(st.max_queue_depth, 500u);
}

TEST(Connection, SendFromAnotherThreadIsPosted) {
    test::ws_server_options s = tls_server();
    s.echo = false;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    c.conn->start();
    ASSERT_TRUE(c.run_until([&] { return c.opened; }));
    std::thread other([&] {
        for (int i = 0; i < 100; ++i) c.conn->send("t" + std::to_string(i));
    });
    other.join();
    ASSERT_TRUE(c.run_until([&] { return server.messages().size() == 100; }));
    EXPECT_EQ(server.messages().front(), "t0");
    EXPECT_EQ(server.messages().back(), "t99");
}

TEST(Connection, PingKeepaliveIsSentAndAnswered) {
    test::ws_server_options s = tls_server();
    test::ws_test_server server(s);
    connection_options o = wss_options(server.port());
    o.ping_interval = 40ms;
    o.idle_timeout = 400ms;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until([&] { return server.pings() >= 3; }));
    ASSERT_TRUE(c.run_until([&] { return c.conn->stats().pongs_received >= 3; }));
    EXPECT_GE(c.conn->stats().pings_sent, 3u);
    // Pongs alone keep the idle watchdog quiet: still open well past idle_timeout.
    c.run_until([] { return false; }, 800ms);
    EXPECT_FALSE(c.closed.has_value()) << c.closed->message;
}

TEST(Connection, IdleWatchdogDropsASilentServer) {
    test::ws_server_options s = tls_server();
    s.echo = false;
    test::ws_test_server server(s);
    connection_options o = wss_options(server.port());
    o.ping_interval = 0ms;  // nothing provokes a frame from the server
    o.idle_timeout = 200ms;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_TRUE(c.closed->was_open);
    EXPECT_EQ(c.closed->kind, close_class::recoverable);
    EXPECT_EQ(c.closed->ws_code, 1006);
    EXPECT_EQ(c.closed->error, make_error_code(errc::timed_out));
}

TEST(Connection, OversizedServerMessageIsACleanClose) {
    test::ws_server_options s = tls_server();
    s.send_big_on_open = 64 * 1024;
    test::ws_test_server server(s);
    connection_options o = wss_options(server.port());
    o.max_message_bytes = 16 * 1024;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->ws_code, 1009);
    EXPECT_EQ(c.closed->kind, close_class::recoverable);
    EXPECT_NE(c.closed->message.find("16384-byte limit"), std::string::npos) << c.closed->message;
    EXPECT_TRUE(c.received.empty());
}

TEST(Connection, ConnectTimeoutWhenTheListenerNeverAnswers) {
    // A listener with a full accept queue: Linux drops further SYNs, so a connect hangs.
    net::asio::io_context ioc;
    net::tcp::acceptor acceptor(ioc);
    const net::tcp::endpoint ep(net::asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(ep.protocol());
    acceptor.bind(ep);
    acceptor.listen(0);
    const auto port = acceptor.local_endpoint().port();
    std::vector<net::tcp::socket> fillers;
    for (int i = 0; i < 4; ++i) {
        fillers.emplace_back(ioc);
        fillers.back().async_connect({ep.address(), port}, [](net::beast::error_code) {});
    }
    ioc.run_for(100ms);
    connection_options o = wss_options(port);
    o.connect_timeout = 300ms;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->stage, "connect");
    EXPECT_EQ(c.closed->error, make_error_code(errc::timed_out)) << c.closed->message;
    EXPECT_EQ(c.closed->kind, close_class::recoverable);
}

TEST(Connection, TlsHandshakeTimeoutAgainstASilentServer) {
    test::ws_server_options s = tls_server();
    s.silent = true;
    test::ws_test_server server(s);
    connection_options o = wss_options(server.port());
    o.handshake_timeout = 200ms;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->stage, "tls");
    EXPECT_EQ(c.closed->error, make_error_code(errc::timed_out)) << c.closed->message;
    EXPECT_EQ(c.closed->kind, close_class::recoverable);
}

TEST(Connection, UpgradeTimeoutIsRecoverableNotARejection) {
    // #20 probe 11: an upgrade that timed out was "rejected: HTTP 200 OK" and fatal (Beast's
    // response object is default-constructed as 200 when nothing was read).
    test::ws_server_options s;
    s.tls = false;
    s.silent = true;  // TCP accepted, the upgrade request never answered
    test::ws_test_server server(s);
    connection_options o;
    o.target.url = parse_url("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    o.handshake_timeout = 200ms;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->stage, "upgrade");
    EXPECT_EQ(c.closed->http_status, 0);
    EXPECT_EQ(c.closed->kind, close_class::recoverable) << c.closed->message;
    EXPECT_EQ(c.closed->message.find("HTTP 200"), std::string::npos) << c.closed->message;
    EXPECT_NE(c.closed->message.find("timed out"), std::string::npos) << c.closed->message;
}

TEST(Connection, AServerThatStopsReadingIsDroppedNotQueuedWithoutBound) {
    // #20 probe 13: 46 MB queued for a server that had stopped reading.
    test::ws_server_options s;
    s.tls = false;
    s.never_read = true;
    test::ws_test_server server(s);
    connection_options o;
    o.target.url = parse_url("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    o.max_send_queue_bytes = 1u << 20;
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until([&] { return c.opened; }));
    const std::string chunk(64 * 1024, 'a');
    for (int i = 0; i < 400 && !c.closed; ++i) {  // 25 MB offered, far past the socket buffers
        c.conn->send(chunk);
        c.ioc.poll();
    }
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::recoverable) << c.closed->message;
    EXPECT_NE(c.closed->message.find("stopped reading"), std::string::npos) << c.closed->message;
}

TEST(Connection, PlainWsOnLoopbackWorksElsewhereRefused) {
    test::ws_server_options s;
    s.tls = false;
    test::ws_test_server server(s);
    connection_options o;
    o.target.url = parse_url("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
    client c(o);
    c.conn->start();
    c.conn->send("plain");
    ASSERT_TRUE(c.run_until([&] { return c.received.size() == 1; }));
    EXPECT_EQ(c.received[0], "plain");

    connection_options far;
    far.target.url = parse_url("ws://example.com/");
    client refused(far);
    refused.conn->start();
    ASSERT_TRUE(refused.run_until_closed());
    EXPECT_EQ(refused.closed->kind, close_class::fatal);
    EXPECT_EQ(refused.closed->stage, "config");
    EXPECT_EQ(refused.closed->error, make_error_code(errc::bad_config));
}

TEST(Connection, ProxyTunnelFromEnvironmentAndNoProxyBypass) {
    test::ws_test_server server(tls_server());
    test::connect_proxy proxy("alice:pw-0123456789");
    const std::string proxy_url =
        "http://alice:pw-0123456789@127.0.0.1:" + std::to_string(proxy.port());
    {
        connection_options o = wss_options(server.port());
        o.env = [&](std::string_view name) -> std::optional<std::string> {
            if (name == "HTTPS_PROXY") return proxy_url;
            return std::nullopt;
        };
        client c(o, true);
        c.conn->start();
        c.conn->send("through the tunnel");
        ASSERT_TRUE(c.run_until([&] { return c.received.size() == 1; }))
            << (c.closed ? c.closed->message : "");
        EXPECT_EQ(c.received[0], "through the tunnel");
        EXPECT_EQ(proxy.tunnels(), 1);
        EXPECT_EQ(proxy.last_target(), "127.0.0.1:" + std::to_string(server.port()));
        EXPECT_EQ(proxy.last_auth(), "Basic YWxpY2U6cHctMDEyMzQ1Njc4OQ==");
        EXPECT_GT(c.conn->timings().proxy.count(), 0);
    }
    {
        connection_options o = wss_options(server.port());
        o.env = [&](std::string_view name) -> std::optional<std::string> {
            if (name == "HTTPS_PROXY") return proxy_url;
            if (name == "NO_PROXY") return std::string("localhost,127.0.0.1");
            return std::nullopt;
        };
        client c(o, true);
        c.conn->start();
        ASSERT_TRUE(c.run_until([&] { return c.opened; })) << (c.closed ? c.closed->message : "");
        EXPECT_EQ(proxy.requests(), 1);  // still only the first connection's
        EXPECT_EQ(c.conn->timings().proxy.count(), 0);
    }
}

TEST(Connection, ProxyAuthenticationRequiredIsAClearFatalError) {
    test::ws_test_server server(tls_server());
    test::connect_proxy proxy("alice:right-password");
    connection_options o = wss_options(server.port());
    o.proxy = "http://alice:wrong-password@127.0.0.1:" + std::to_string(proxy.port());
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->stage, "proxy");
    EXPECT_EQ(c.closed->http_status, 407);
    EXPECT_EQ(c.closed->kind, close_class::fatal);
    EXPECT_NE(c.closed->message.find("407"), std::string::npos);
    EXPECT_NE(c.closed->message.find("rejected the credentials"), std::string::npos)
        << c.closed->message;
    EXPECT_EQ(c.closed->message.find("wrong-password"), std::string::npos);
    EXPECT_EQ(server.accepted(), 0);
}

TEST(Connection, CloseFlushesQueuedMessagesFirst) {
    test::ws_server_options s = tls_server();
    s.echo = false;
    test::ws_test_server server(s);
    client c(wss_options(server.port()));
    c.conn->start();
    ASSERT_TRUE(c.run_until([&] { return c.opened; }));
    for (int i = 0; i < 50; ++i) c.conn->send("q" + std::to_string(i));
    c.conn->close(1000, "bye");
    c.conn->send("after close");  // dropped
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->kind, close_class::normal);
    ASSERT_TRUE(c.run_until([&] { return server.messages().size() == 50; }));
    EXPECT_EQ(server.messages().back(), "q49");
    EXPECT_EQ(c.conn->stats().dropped_sends, 1u);
}

TEST(Connection, DestructorWithOperationsPendingCallsNothing) {
    test::ws_server_options s = tls_server();
    s.silent = true;  // the TLS handshake stays pending
    test::ws_test_server server(s);
    net::asio::io_context ioc;
    int calls = 0;
    {
        connection::handlers h;
        h.on_open = [&] { ++calls; };
        h.on_close = [&](const close_info&) { ++calls; };
        connection conn(ioc, wss_options(server.port()), h);
        conn.start();
        ioc.run_for(100ms);
    }
    ioc.run_for(100ms);
    EXPECT_EQ(calls, 0);
    // And destroying from inside a handler is fine too.
    test::ws_test_server echo(tls_server());
    std::unique_ptr<connection> conn;
    connection::handlers h;
    h.on_open = [&] { conn.reset(); };
    conn = std::make_unique<connection>(ioc, wss_options(echo.port()), h);
    conn->start();
    ioc.restart();
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (conn && std::chrono::steady_clock::now() < end) ioc.run_one_for(10ms);
    EXPECT_FALSE(conn);
    ioc.run_for(100ms);
}

TEST(Connection, SecretsNeverReachTheLog) {
    const std::string dir = test::make_temp_dir("ava-conn-log-");
    const std::string file = dir + "/log.txt";
    log::init({.level = "trace", .file = file, .to_stderr = false});
    test::ws_server_options s = tls_server();
    s.reject_status = 401;
    test::ws_test_server server(s);
    test::connect_proxy proxy("carol:proxy-pass-987654");
    connection_options o = wss_options(server.port());
    o.target.headers = {{"Authorization", "Bearer zz-unshaped-secret-key"}};
    o.proxy = "http://carol:proxy-pass-987654@127.0.0.1:" + std::to_string(proxy.port());
    client c(o);
    c.conn->start();
    ASSERT_TRUE(c.run_until_closed());
    EXPECT_EQ(c.closed->http_status, 401);
    log::get("rt")->info("header was Authorization: Bearer zz-unshaped-secret-key");
    log::get("rt")->flush();
    log::init({});
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("401"), std::string::npos) << text.str();
    EXPECT_EQ(text.str().find("zz-unshaped-secret-key"), std::string::npos) << text.str();
    EXPECT_EQ(text.str().find("proxy-pass-987654"), std::string::npos) << text.str();
    EXPECT_EQ(c.closed->message.find("zz-unshaped-secret-key"), std::string::npos);
}

}  // namespace
}  // namespace ava::realtime
