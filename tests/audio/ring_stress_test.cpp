// The SPSC ring under ThreadSanitizer: one producer, one consumer, uneven chunk sizes, peek and
// discard, millions of elements. Built with -fsanitize=thread (see CMakeLists.txt): a missing
// acquire/release shows up as a data race report, which fails the test.
#include "ava/core/spsc_ring.hpp"

#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

TEST(spsc_ring_stress, producer_consumer_keep_order_and_content) {
    ava::core::spsc_ring<std::uint32_t> ring(1024);
    constexpr std::uint32_t total = 2'000'000;
    std::thread producer([&] {
        std::vector<std::uint32_t> buf(700);
        std::uint32_t next = 0;
        std::size_t chunk = 1;
        while (next < total) {
            const std::size_t n = std::min<std::size_t>(chunk, total - next);
            for (std::size_t i = 0; i < n; ++i) buf[i] = next + static_cast<std::uint32_t>(i);
            const std::size_t w = ring.write(std::span<const std::uint32_t>(buf.data(), n));
            next += static_cast<std::uint32_t>(w);
            if (w == 0) std::this_thread::yield();
            chunk = chunk * 7 % 691 + 1;
        }
    });
    std::vector<std::uint32_t> buf(500);
    std::uint32_t expect = 0;
    std::size_t chunk = 3;
    bool ok = true;
    while (expect < total && ok) {
        // Alternate peek+discard and read, as the engine's consumers do.
        std::span<std::uint32_t> out(buf.data(), chunk);
        std::size_t got = 0;
        if (chunk % 2 == 0) {
            got = ring.peek(out);
            ring.discard(got);
        } else {
            got = ring.read(out);
        }
        for (std::size_t i = 0; i < got; ++i) {
            if (buf[i] != expect++) ok = false;
        }
        if (got == 0) std::this_thread::yield();
        chunk = chunk * 5 % 499 + 1;
    }
    producer.join();
    EXPECT_TRUE(ok);
    EXPECT_EQ(expect, total);
    EXPECT_EQ(ring.readable(), 0U);
}

}  // namespace
