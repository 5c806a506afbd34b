// Proof that the engine's realtime callback never allocates: global operator new/delete are
// replaced by counting versions, and a thread_local flag is armed only while engine::process()
// runs. Exercises play, item changes, the start threshold, underruns, flush with fade, capture
// overruns and a resampling device rate.
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include <gtest/gtest.h>

#include "ava/audio/engine.hpp"

namespace {
thread_local bool armed = false;
std::atomic<int> allocations_while_armed{0};

void* counted_alloc(std::size_t n) {
    if (armed) allocations_while_armed.fetch_add(1, std::memory_order_relaxed);
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
void counted_free(void* p) noexcept {
    if (armed && p != nullptr) allocations_while_armed.fetch_add(1, std::memory_order_relaxed);
    std::free(p);
}
}  // namespace

void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    counted_free(p);
}
void operator delete[](void* p) noexcept {
    counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    counted_free(p);
}

namespace {

using namespace ava::audio;
using ava::core::sample;

// Runs one device period with the allocation detector armed.
void period(engine& eng, std::vector<sample>& in, std::vector<sample>& out) {
    armed = true;
    eng.process(
        in, out,
        callback_timing{.now = std::chrono::steady_clock::now(), .output_pending_samples = 480});
    armed = false;
}

TEST(noalloc, detector_catches_an_allocation) {
    // The detector itself must be able to fail, or the real test proves nothing.
    const int before = allocations_while_armed.load();
    armed = true;
    auto* p = new int(3);
    delete p;
    armed = false;
    EXPECT_EQ(allocations_while_armed.load() - before, 2);
    allocations_while_armed.store(0);
}

void exercise(int device_rate) {
    engine_config cfg;
    cfg.device_rate = device_rate;
    cfg.capture_ms = 40;  // small, so capture overruns happen too
    engine eng(std::move(cfg));
    const std::size_t n = static_cast<std::size_t>(device_rate / 100);  // 10 ms periods
    std::vector<sample> in(n, 100);
    std::vector<sample> out(n);
    std::vector<sample> delta(480, 3000);
    ava::audio::capture_frame f;

    for (std::uint32_t tag = 1; tag <= 6; ++tag) {
        // Short first delta: buffering below the threshold.
        eng.play(tag, ava::core::pcm_view(delta.data(), 240));
        period(eng, in, out);
        // A burst: starts playing; then runs dry mid-item: underrun.
        for (int i = 0; i < 4; ++i) eng.play(tag, delta);
        for (int p = 0; p < 12; ++p) period(eng, in, out);
        // Refill, then barge in mid-item: flush with fade.
        for (int i = 0; i < 10; ++i) eng.play(tag, delta);
        for (int p = 0; p < 3; ++p) period(eng, in, out);
        // Local barge-in: pause (fade-out, then held periods), resume with a fade-in, pause
        // again, and on odd items the flush below lands while paused.
        eng.hold(true);
        for (int p = 0; p < 3; ++p) period(eng, in, out);
        eng.hold(false);
        period(eng, in, out);
        eng.hold(tag % 2 == 1);
        period(eng, in, out);
        const auto gen = eng.flush();
        period(eng, in, out);
        period(eng, in, out);
        EXPECT_TRUE(eng.flush_completed(gen));
        eng.hold(false);
        // Next item queued completely and played to the end; capture drained sometimes only.
        eng.play(tag + 100, delta);
        eng.end_item(tag + 100);
        for (int p = 0; p < 8; ++p) period(eng, in, out);
        if (tag % 2 == 0) {
            while (eng.read(f)) {
            }
        }
        // Flush while idle.
        eng.flush();
        period(eng, in, out);
    }
    const engine_stats s = eng.stats();
    EXPECT_GT(s.underruns, 0U);
    EXPECT_GT(s.flushes, 0U);
    EXPECT_GT(s.overruns, 0U);
    EXPECT_EQ(allocations_while_armed.load(), 0) << "the realtime callback allocated";
}

TEST(noalloc, engine_callback_at_24k) {
    exercise(24000);
}
TEST(noalloc, engine_callback_at_48k) {
    exercise(48000);
}

}  // namespace
