#include "ava/core/log.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "ava/core/error.hpp"

namespace {

TEST(log_redact, registered_secret_is_replaced_everywhere) {
    ava::log::add_secret("my-very-secret-value-42");
    const auto out =
        ava::log::redact("key=my-very-secret-value-42 and again my-very-secret-value-42");
    EXPECT_EQ(out.find("my-very-secret-value-42"), std::string::npos);
    EXPECT_NE(out.find("[redacted]"), std::string::npos);
}

TEST(log_redact, header_values_and_key_shapes) {
    EXPECT_EQ(ava::log::redact("Authorization: Bearer abc.def-123"),
              "Authorization: Bearer [redacted]");
    EXPECT_EQ(ava::log::redact(R"({"api-key":"zzz999"})"), R"({"api-key":"[redacted]"})");
    EXPECT_EQ(ava::log::redact("using sk-proj-ABCDEFGHIJKLMNOPQRSTUV now"), "using [redacted] now");
    // Short look-alikes and ordinary words are left alone.
    EXPECT_EQ(ava::log::redact("task-list sk-short"), "task-list sk-short");
}

TEST(log_redact, a_longer_word_is_not_a_header) {
    // #20 probe 16: the hint "--api-key-env NAME" came out as "--api-key[redacted] NAME".
    EXPECT_EQ(ava::log::redact("name another variable with --api-key-env NAME"),
              "name another variable with --api-key-env NAME");
    EXPECT_EQ(ava::log::redact("api-key: abcdef123456"), "api-key: [redacted]");
    EXPECT_EQ(ava::log::redact("?api-key=abcdef123456"), "?api-key=[redacted]");
    EXPECT_EQ(ava::log::redact("{\"api-key\":\"abcdef123456\"}"), "{\"api-key\":\"[redacted]\"}");
}

TEST(log_init, bad_level_is_a_config_error) {
    EXPECT_THROW(ava::log::init({.level = "loud"}), ava::config_error);
}

TEST(log_file, no_secret_reaches_the_file) {
    const std::string path = ::testing::TempDir() + "ava_log_test.log";
    ava::log::add_secret("sk-test-FAKEKEY-0123456789abcdef");
    ava::log::init({.level = "debug", .file = path, .to_stderr = false});
    auto lg = ava::log::get("app");
    lg->info("connecting with sk-test-FAKEKEY-0123456789abcdef");
    lg->debug("header Authorization: Bearer sk-test-FAKEKEY-0123456789abcdef");
    lg->flush();
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    EXPECT_NE(text.find("connecting with"), std::string::npos);
    EXPECT_EQ(text.find("FAKEKEY"), std::string::npos) << text;
    ava::log::init({});
}

TEST(log_file, lines_are_clipped_and_escape_sequences_inert) {
    const std::string path = ::testing::TempDir() + "ava_log_clip_test.log";
    ava::log::init({.level = "debug", .file = path, .to_stderr = false});
    auto lg = ava::log::get("app");
    lg->warn("server error: {}", std::string(1 << 20, 'x'));  // a 1 MiB message
    lg->warn("title \x1b]0;pwned\x07 clear \x1b[2J end");
    lg->flush();
    std::ifstream in(path);
    std::string first;
    std::string second;
    std::getline(in, first);
    std::getline(in, second);
    EXPECT_LE(first.size(), 4200U);
    EXPECT_NE(first.find("bytes more)"), std::string::npos);
    EXPECT_EQ(second.find('\x1b'), std::string::npos) << second;
    EXPECT_NE(second.find("title ?]0;pwned? clear ?[2J end"), std::string::npos) << second;
    ava::log::init({});
}

}  // namespace
