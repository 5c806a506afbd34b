#include "ava/core/error.hpp"

#include <gtest/gtest.h>

TEST(error, codes_have_category_and_message) {
    const std::error_code ec = ava::errc::auth_failed;
    EXPECT_STREQ(ec.category().name(), "ava");
    EXPECT_NE(ec.message().find("API key"), std::string::npos);
    EXPECT_TRUE(static_cast<bool>(ec));
    EXPECT_FALSE(static_cast<bool>(std::error_code(ava::errc::ok)));
}

#include "ava/core/json_string.hpp"

#include <string_view>

TEST(json_string, output_is_always_valid_utf8) {
    // #20 probe 14: binary frames and a 512-byte cut put invalid UTF-8 into the events JSONL.
    EXPECT_EQ(ava::core::json_string("caf\xc3\xa9 \xe4\xbd\xa0 \xf0\x9f\x98\x80"),
              "\"caf\xc3\xa9 \xe4\xbd\xa0 \xf0\x9f\x98\x80\"");
    using namespace std::string_view_literals;
    EXPECT_EQ(ava::core::json_string("bin \xff\x00\x80 cut \xe4\xbd"sv),
              R"("bin \ufffd\u0000\ufffd cut \ufffd\ufffd")");
}

TEST(json_string, escapes_quotes_backslashes_and_control_characters) {
    EXPECT_EQ(ava::core::json_string("plain"), "\"plain\"");
    EXPECT_EQ(ava::core::json_string("say \"hi\"\\"), R"("say \"hi\"\\")");
    EXPECT_EQ(ava::core::json_string("a\nb\tc\r"), R"("a\nb\tc\r")");
    EXPECT_EQ(ava::core::json_string(std::string("x\x01y", 3)), R"("x\u0001y")");
    EXPECT_EQ(ava::core::json_string("grüße"), "\"grüße\"");  // UTF-8 passes through
}

TEST(json_string, nesting_is_measured_without_parsing) {
    using ava::core::json_nesting;
    EXPECT_EQ(json_nesting(""), 0U);
    EXPECT_EQ(json_nesting("1"), 0U);
    EXPECT_EQ(json_nesting("[]"), 1U);
    EXPECT_EQ(json_nesting(R"({"a":[1,{"b":[]}],"c":{}})"), 4U);
    // Brackets inside strings do not count, escaped quotes do not end them.
    EXPECT_EQ(json_nesting(R"(["[[[[", "\"{{", "\\"])"), 1U);
    EXPECT_EQ(json_nesting("]]]]["), 1U);
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_EQ(json_nesting(deep), 100000U);
}
