// Helpers shared by the codec tests: golden file access and JSON-value comparison.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ava/core/pcm.hpp"
#include "ava/realtime/codec_peer.hpp"

namespace ava::realtime {
// Failure messages show events as their wire JSON (found by ADL from the variants).
inline void PrintTo(const client_event& ev, std::ostream* os) {
    *os << encode(ev);
}
inline void PrintTo(const server_event& ev, std::ostream* os) {
    *os << encode(ev);
}
}  // namespace ava::realtime

namespace ava::realtime::test {

/// The text of tests/data/golden/<rel>. Fails the test when it cannot be read.
inline std::string golden(const std::string& rel) {
    const std::string path = std::string(AVA_SOURCE_DIR) + "/tests/data/golden/" + rel;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Compares two JSON texts as values (key order and whitespace do not matter; numbers compare
/// by value, so 1 and 1.0 are equal).
inline ::testing::AssertionResult json_equal(const std::string& actual,
                                             const std::string& expected) {
    const auto a = nlohmann::json::parse(actual, nullptr, false);
    const auto e = nlohmann::json::parse(expected, nullptr, false);
    if (a.is_discarded()) return ::testing::AssertionFailure() << "not JSON: " << actual;
    if (e.is_discarded()) return ::testing::AssertionFailure() << "golden not JSON: " << expected;
    if (a == e) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "JSON differs\n  actual:   " << a.dump() << "\n  expected: " << e.dump()
           << "\n  patch:    " << nlohmann::json::diff(e, a).dump();
}

/// Decoded "AAABAP///38AgAABAP/oAw==" (golden audio A) and "OTDHzwcA" (golden audio B).
inline std::vector<core::sample> pcm_a() {
    return {0, 1, -1, 32767, -32768, 256, -256, 1000};
}
inline std::vector<core::sample> pcm_b() {
    return {12345, -12345, 7};
}

}  // namespace ava::realtime::test
