// send_email against a real SMTP server on loopback (aiosmtpd): STARTTLS with AUTH, implicit
// TLS, the confirmation round trip, the allowlist, address-book names, and error paths.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "email/email_tool.hpp"
#include "server_process.hpp"
#include "test_certs.hpp"

namespace {

using json = nlohmann::json;
using ava::tools::email_tool;
namespace t = ava::tools::test;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class email : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!t::have_aiosmtpd()) GTEST_SKIP() << "python3 aiosmtpd not installed";
        dir_ = ava::test::make_temp_dir();
        certs_ = ava::test::make_test_certs(dir_ + "/certs");
        out_ = dir_ + "/mail";
        std::filesystem::create_directories(out_);
    }

    std::unique_ptr<t::server_process> start(const std::vector<std::string>& extra) {
        std::vector<std::string> argv{t::python3(), t::test_dir() + "/smtp_server.py", "--outdir",
                                      out_};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<t::server_process>(argv);
    }

    ava::tools::email_settings settings(const std::string& url) {
        return {.enabled = true,
                .smtp_url = url,
                .username = "ava",
                .password = "s3cret-pass",
                .from = "Ava User <ava@example.com>",
                .address_book = {{"John Smith", "john@example.com"},
                                 {"Jane Doe", "Jane Doe <jane@example.org>"},
                                 {"Eve", "eve@evil.test"}},
                .allowed_domains = {"example.com", "Example.org"}};
    }
    email_tool make(const ava::tools::email_settings& s) {
        return email_tool(s, {.timeout = std::chrono::seconds(5), .ca_file = certs_.ca_cert},
                          [] { return std::time_t{1711357200}; });
    }
    std::string error_of(email_tool& e, const std::string& args) {
        try {
            e.call(args, {});
        } catch (const ava::tools::tool_error& ex) {
            return ex.what();
        }
        return "<no error>";
    }
    std::size_t received() const {
        std::size_t n = 0;
        for (const auto& f : std::filesystem::directory_iterator(out_)) {
            if (f.path().extension() == ".eml") ++n;
        }
        return n;
    }

    std::string dir_, out_;
    ava::test::test_certs certs_;
};

TEST_F(email, confirms_then_sends_over_starttls_with_auth) {
    auto server =
        start({"--starttls", certs_.server_cert, certs_.server_key, "--auth", "ava:s3cret-pass"});
    auto tool = make(settings("smtp://127.0.0.1:" + std::to_string(server->port())));
    const std::string args =
        R"({"to":["john smith","bob@example.com"],"subject":"Grüße aus Berlin","body":"Hi John,\nsee you at 5.\n.\nAva"})";

    json r = json::parse(tool.call(args, {}));
    EXPECT_EQ(r["status"], "needs_confirmation");
    EXPECT_EQ(r["to"], json({"John Smith <john@example.com>", "bob@example.com"}));
    EXPECT_EQ(r["subject"], "Grüße aus Berlin");
    EXPECT_NE(r["instruction"].get<std::string>().find("confirmed: true"), std::string::npos);
    EXPECT_EQ(received(), 0u);

    // A changed draft is not the confirmed one.
    std::string changed = args;
    changed.replace(changed.find("5."), 2, "6.");
    changed.insert(changed.size() - 1, R"(,"confirmed":true)");
    EXPECT_EQ(json::parse(tool.call(changed, {}))["status"], "needs_confirmation");
    EXPECT_EQ(received(), 0u);

    std::string yes = args;
    yes.insert(yes.size() - 1, R"(,"confirmed":true)");
    r = json::parse(tool.call(yes, {}));
    EXPECT_EQ(r["status"], "sent");
    ASSERT_EQ(received(), 1u);
    const json env = json::parse(slurp(out_ + "/1.json"));
    EXPECT_EQ(env["mail_from"], "ava@example.com");
    EXPECT_EQ(env["rcpt_tos"], json({"john@example.com", "bob@example.com"}));
    const std::string msg = slurp(out_ + "/1.eml");
    EXPECT_NE(msg.find("From: Ava User <ava@example.com>\r\n"), std::string::npos) << msg;
    EXPECT_NE(msg.find("To: John Smith <john@example.com>,\r\n bob@example.com\r\n"),
              std::string::npos);
    EXPECT_NE(msg.find("Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgQmVybGlu?=\r\n"), std::string::npos);
    EXPECT_NE(msg.find("Message-ID: <"), std::string::npos);
    EXPECT_NE(msg.find("@example.com>\r\n"), std::string::npos);
    EXPECT_NE(msg.find("Date: "), std::string::npos);
    EXPECT_NE(msg.find("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"),
              std::string::npos);
    // The lone "." line arrives intact: curl dot-stuffed it and the server un-stuffed it.
    EXPECT_NE(msg.find("\r\n\r\nHi John,\r\nsee you at 5.\r\n.\r\nAva"), std::string::npos) << msg;

    // The same confirmation cannot be replayed to send twice.
    EXPECT_EQ(json::parse(tool.call(yes, {}))["status"], "needs_confirmation");
    EXPECT_EQ(received(), 1u);
}

TEST_F(email, sends_over_implicit_tls_without_confirmation_when_configured) {
    auto server =
        start({"--implicit", certs_.server_cert, certs_.server_key, "--auth", "ava:s3cret-pass"});
    auto s = settings("smtps://127.0.0.1:" + std::to_string(server->port()));
    s.confirm = false;
    auto tool = make(s);
    const json r = json::parse(tool.call(R"({"to":["jane"],"subject":"Hello","body":"x"})", {}));
    EXPECT_EQ(r["status"], "sent");
    ASSERT_EQ(received(), 1u);
    EXPECT_NE(slurp(out_ + "/1.eml").find("To: Jane Doe <jane@example.org>"), std::string::npos);
}

TEST_F(email, the_allowlist_is_never_bypassed) {
    auto server = start({"--starttls", certs_.server_cert, certs_.server_key});
    auto s = settings("smtp://127.0.0.1:" + std::to_string(server->port()));
    s.confirm = false;
    auto tool = make(s);
    EXPECT_EQ(error_of(tool, R"({"to":["eve"],"subject":"s","body":"b"})"),
              "sending to evil.test is not allowed; allowed domains: example.com, example.org");
    EXPECT_EQ(error_of(tool, R"({"to":["x@other.net"],"subject":"s","body":"b","confirmed":true})"),
              "sending to other.net is not allowed; allowed domains: example.com, example.org");
    EXPECT_EQ(received(), 0u);
}

TEST_F(email, errors_are_clear_and_nothing_is_sent) {
    // A server without STARTTLS: refused, not sent in clear text.
    auto plain = start({});
    auto s = settings("smtp://127.0.0.1:" + std::to_string(plain->port()));
    s.confirm = false;
    s.username.clear();
    s.password.clear();
    auto tool = make(s);
    EXPECT_EQ(error_of(tool, R"({"to":["john smith"],"subject":"s","body":"b"})"),
              "the mail server at smtp://127.0.0.1:" + std::to_string(plain->port()) +
                  " does not offer TLS (STARTTLS); not sending in clear text");
    EXPECT_EQ(received(), 0u);

    auto tls = start({"--starttls", certs_.server_cert, certs_.server_key, "--auth", "ava:other"});
    auto wrong = make([&] {
        auto w = settings("smtp://127.0.0.1:" + std::to_string(tls->port()));
        w.confirm = false;
        return w;
    }());
    const std::string wrong_msg =
        error_of(wrong, R"({"to":["john smith"],"subject":"s","body":"b"})");
    EXPECT_NE(wrong_msg.find("refused the user name or password"), std::string::npos) << wrong_msg;
    EXPECT_EQ(
        error_of(wrong, R"({"to":["johnny walker"],"subject":"s","body":"b"})"),
        "no one called 'johnny walker' in the address book; it has: Eve, Jane Doe, John Smith");
    EXPECT_EQ(error_of(wrong, R"({"to":["not an address@"],"subject":"s","body":"b"})"),
              "'not an address@' is not an email address");
    auto down = make([&] {
        auto d = settings("smtp://127.0.0.1:1");
        d.confirm = false;
        return d;
    }());
    EXPECT_EQ(
        error_of(down, R"({"to":["john smith"],"subject":"s","body":"b"})"),
        "cannot reach the mail server at smtp://127.0.0.1:1: connection refused or unreachable");
    EXPECT_EQ(received(), 0u);
}

TEST(email_config, problems_are_named) {
    EXPECT_EQ(email_tool::config_problem({}), "no smtp_url set");
    EXPECT_EQ(
        email_tool::config_problem({.smtp_url = "smtp://mail.example.com", .require_tls = false}),
        "require_tls = false is only allowed for a loopback SMTP server");
    EXPECT_EQ(email_tool::config_problem({.smtp_url = "http://x"}),
              "smtp_url must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)");
    EXPECT_EQ(email_tool::config_problem({.smtp_url = "smtps://x", .from = "me@x.com"}), "");
}

TEST(email_message, headers_are_single_lines_and_the_body_is_quoted_printable) {
    const std::string m =
        ava::tools::build_message({"A \"B\" C", "a@x.com"}, {{"", "b@y.com"}},
                                  "two\r\nBcc: evil@z.com", "é" + std::string(100, 'x'), 0);
    EXPECT_NE(m.find("Subject: two  Bcc: evil@z.com\r\n"), std::string::npos) << m;
    EXPECT_NE(m.find("From: \"A \\\"B\\\" C\" <a@x.com>\r\n"), std::string::npos) << m;
    EXPECT_NE(m.find("\r\n\r\n=C3=A9xxx"), std::string::npos) << m;
    EXPECT_NE(m.find("=\r\n"), std::string::npos) << "long lines are soft-wrapped";
}

}  // namespace
