#include "ava/realtime/backoff.hpp"

#include <gtest/gtest.h>

namespace {

using ava::realtime::backoff;
using ava::realtime::backoff_options;
using std::chrono::milliseconds;

TEST(Backoff, DoublesFromOneSecondAndGivesUpAfterFiveTries) {
    backoff b({}, [] { return 0.5; });  // mid-point jitter: exact base delays
    EXPECT_EQ(b.next(), milliseconds{1000});
    EXPECT_EQ(b.next(), milliseconds{2000});
    EXPECT_EQ(b.next(), milliseconds{4000});
    EXPECT_EQ(b.next(), milliseconds{8000});
    EXPECT_EQ(b.next(), milliseconds{16000});
    EXPECT_EQ(b.attempts(), 5);
    EXPECT_FALSE(b.next().has_value());
}

TEST(Backoff, CapsAtMaxAndJitterStaysInBounds) {
    backoff_options o;
    o.max_attempts = 0;  // never give up
    o.jitter = 0.2;
    double u = 0.0;
    backoff b(o, [&] { return u; });
    // u = 0 -> factor 0.8; u = 1 -> factor 1.2 (but never above max).
    EXPECT_EQ(b.next(), milliseconds{800});
    u = 1.0;
    EXPECT_EQ(b.next(), milliseconds{2400});
    for (int i = 0; i < 10; ++i) b.next();
    u = 1.0;
    EXPECT_EQ(b.next(), milliseconds{60000});  // 1.2 * 60 s capped to 60 s
    u = 0.0;
    EXPECT_EQ(b.next(), milliseconds{48000});  // 0.8 * 60 s
    EXPECT_EQ(b.attempts(), 14);
}

TEST(Backoff, ResetStartsOver) {
    backoff b({}, [] { return 0.5; });
    b.next();
    b.next();
    b.reset();
    EXPECT_EQ(b.attempts(), 0);
    EXPECT_EQ(b.next(), milliseconds{1000});
}

TEST(Backoff, DefaultJitterSourceIsWithinRange) {
    backoff b;
    for (int i = 0; i < 5; ++i) {
        const auto d = b.next();
        ASSERT_TRUE(d.has_value());
        const double base = 1000.0 * static_cast<double>(1 << i);
        EXPECT_GE(static_cast<double>(d->count()), base * 0.8 - 1);
        EXPECT_LE(static_cast<double>(d->count()), base * 1.2 + 1);
    }
}

}  // namespace
