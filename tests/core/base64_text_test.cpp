// core::base64 (EVP, strict decoding) and the ASCII text helpers.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "ava/core/base64.hpp"
#include "ava/core/text.hpp"

namespace {

using ava::core::base64_decode;
using ava::core::base64_encode;

TEST(Base64, Rfc4648Vectors) {
    const std::vector<std::pair<std::string, std::string>> v = {{"", ""},
                                                                {"f", "Zg=="},
                                                                {"fo", "Zm8="},
                                                                {"foo", "Zm9v"},
                                                                {"foob", "Zm9vYg=="},
                                                                {"fooba", "Zm9vYmE="},
                                                                {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, b64] : v) {
        EXPECT_EQ(base64_encode(std::string_view(plain)), b64);
        const auto back = base64_decode(b64);
        ASSERT_TRUE(back.has_value()) << b64;
        EXPECT_EQ(std::string(back->begin(), back->end()), plain);
        EXPECT_EQ(ava::core::base64_decoded_size(b64), plain.size());
    }
}

TEST(Base64, StrictDecoding) {
    EXPECT_FALSE(base64_decode("Zg=").has_value());     // length
    EXPECT_FALSE(base64_decode("Z=g=").has_value());    // '=' inside
    EXPECT_FALSE(base64_decode("Zm9v\n").has_value());  // whitespace
    EXPECT_FALSE(base64_decode("Zm9*").has_value());    // alphabet
    EXPECT_FALSE(base64_decode("Zm 9").has_value());
}

TEST(Base64, AppendKeepsPrefixAndBinaryRoundTrips) {
    std::vector<std::byte> bytes(1000);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
    std::string out = "x:";
    ava::core::base64_append(out, bytes);
    EXPECT_EQ(out.size(), 2 + ava::core::base64_size(bytes.size()));
    const auto back = base64_decode(std::string_view(out).substr(2));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->size(), bytes.size());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        EXPECT_EQ(static_cast<std::byte>((*back)[i]), bytes[i]);
    }
}

TEST(Text, PrintableAndClip) {
    using ava::core::clip;
    using ava::core::printable;
    EXPECT_EQ(printable("plain caf\xc3\xa9 \xf0\x9f\x98\x80"),
              "plain caf\xc3\xa9 \xf0\x9f\x98\x80");
    EXPECT_EQ(printable("a\x1b[31mb\x07"
                        "c\x7f"),
              "a?[31mb?c?");
    EXPECT_EQ(printable("two\nlines\tand\r"), "two\nlines\tand?");
    EXPECT_EQ(printable("two\nlines\tand\r", true), "two lines and ");
    EXPECT_EQ(printable("c1 \xc2\x9b csi"), "c1 ? csi");           // U+009B, 8-bit CSI
    EXPECT_EQ(printable("bad \xff \xc3 \xe2\x82"), "bad ? ? ??");  // not UTF-8
    EXPECT_EQ(printable("\xc0\xaf \xed\xa0\x80"), "?? ???");       // overlong, surrogate
    EXPECT_EQ(clip("short", 10), "short");
    EXPECT_EQ(clip("0123456789abc", 10), "0123456789 ... (3 bytes more)");
    EXPECT_EQ(clip("ab\xc3\xa9", 3), "ab ... (2 bytes more)");  // never half a character
}

TEST(Text, TrimLowerUrlEncode) {
    EXPECT_EQ(ava::core::trim(" \t a b \r\n"), "a b");
    EXPECT_EQ(ava::core::trim("   "), "");
    EXPECT_EQ(ava::core::ascii_lower("HeLLo-\xC3\x89"), "hello-\xC3\x89");
    EXPECT_EQ(ava::core::url_encode("New York/é~._-"), "New%20York%2F%C3%A9~._-");
}

}  // namespace
