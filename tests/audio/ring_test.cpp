#include "ava/core/spsc_ring.hpp"

#include <array>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

namespace {

using ava::core::spsc_ring;

TEST(spsc_ring, capacity_rounds_up_to_power_of_two) {
    EXPECT_EQ(spsc_ring<int>(5).capacity(), 8U);
    EXPECT_EQ(spsc_ring<int>(8).capacity(), 8U);
    EXPECT_EQ(spsc_ring<int>(0).capacity(), 2U);
}

TEST(spsc_ring, full_and_empty) {
    spsc_ring<int> r(4);
    std::array<int, 6> in{1, 2, 3, 4, 5, 6};
    EXPECT_EQ(r.readable(), 0U);
    EXPECT_EQ(r.writable(), 4U);
    EXPECT_EQ(r.write(in), 4U);  // only what fits
    EXPECT_EQ(r.writable(), 0U);
    EXPECT_EQ(r.write(in), 0U);
    std::array<int, 6> out{};
    EXPECT_EQ(r.read(out), 4U);
    EXPECT_EQ((std::vector<int>(out.begin(), out.begin() + 4)), (std::vector<int>{1, 2, 3, 4}));
    EXPECT_EQ(r.read(out), 0U);
    EXPECT_EQ(r.total_written(), 4U);
    EXPECT_EQ(r.total_read(), 4U);
}

TEST(spsc_ring, wraps_around_in_order) {
    spsc_ring<int> r(8);
    int next_in = 0;
    int next_out = 0;
    for (int round = 0; round < 100; ++round) {
        // Odd sizes so the split copy at the end of the buffer is exercised.
        std::vector<int> in(static_cast<std::size_t>(1 + round % 7));
        std::iota(in.begin(), in.end(), next_in);
        const std::size_t w = r.write(in);
        next_in += static_cast<int>(w);
        std::vector<int> out(static_cast<std::size_t>(1 + (round * 3) % 5));
        const std::size_t got = r.read(out);
        for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(out[i], next_out++);
    }
    std::vector<int> rest(8);
    const std::size_t got = r.read(rest);
    for (std::size_t i = 0; i < got; ++i) ASSERT_EQ(rest[i], next_out++);
    EXPECT_EQ(next_out, next_in);
}

TEST(spsc_ring, peek_does_not_consume_and_discard_drops) {
    spsc_ring<int> r(8);
    std::array<int, 5> in{10, 11, 12, 13, 14};
    r.write(in);
    std::array<int, 3> out{};
    EXPECT_EQ(r.peek(out), 3U);
    EXPECT_EQ(out[0], 10);
    EXPECT_EQ(r.readable(), 5U);
    EXPECT_EQ(r.discard(2), 2U);
    EXPECT_EQ(r.read(out), 3U);
    EXPECT_EQ(out[0], 12);
    EXPECT_EQ(out[2], 14);
    EXPECT_EQ(r.discard(10), 0U);  // nothing left: discards only what is ready
}

}  // namespace
