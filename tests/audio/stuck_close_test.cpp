// A Pa_CloseStream that never returns (#20 item 6): after a sound-server restart libpulse can
// deadlock inside it (about 1 run of 20), which hung stop() for good. Driven through the real
// device code against tests/audio/fake_portaudio.cpp, loaded in place of libportaudio.so.2
// (LD_LIBRARY_PATH, set by CMake), whose faults the test switches on: stop() must return within
// the close limit, and the watchdog must open a new stream after a stalled one whose close hangs.
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ava/audio/portaudio_device.hpp"

namespace {

using namespace std::chrono_literals;
using ava::audio::callback_timing;

struct counting_callback final : ava::audio::device_callback {
    std::atomic<long> periods{0};
    void process(ava::core::pcm_view, ava::core::pcm_span out,
                 const callback_timing&) noexcept override {
        std::fill(out.begin(), out.end(), ava::core::sample{0});
        periods.fetch_add(1);
    }
    std::size_t capture_room() const noexcept override { return std::size_t{1} << 20; }
    bool playback_active() const noexcept override { return false; }
};

struct faults_seen {
    std::mutex m;
    std::vector<std::string> lines;
    bool contains(const std::string& text) {
        std::lock_guard lk(m);
        return std::any_of(lines.begin(), lines.end(),
                           [&](const std::string& l) { return l.find(text) != l.npos; });
    }
};

// The fake's controls, from the copy the lazy loader already mapped.
template <class F>
F fake(const char* name) {
    void* h = dlopen("libportaudio.so.2", RTLD_NOW | RTLD_NOLOAD);
    if (h == nullptr) return nullptr;
    return reinterpret_cast<F>(dlsym(h, name));
}

template <class P>
bool eventually(P pred, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > end) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

std::unique_ptr<ava::audio::duplex_device> open_device(faults_seen& seen, bool reopen) {
    ava::audio::portaudio_options o;
    o.preferred_rate = 48000;
    o.auto_reopen = reopen;
    o.close_timeout = 300ms;
    o.on_fault = [&seen](std::error_code, const std::string& what) {
        std::lock_guard lk(seen.m);
        seen.lines.push_back(what);
    };
    return ava::audio::open_portaudio_device(o);
}

}  // namespace

TEST(StuckClose, StopReturnsWhenTheCloseNeverDoes) {
    faults_seen seen;
    counting_callback cb;
    auto dev = open_device(seen, false);
    auto control = fake<void (*)(int, int)>("fake_pa_control");
    ASSERT_NE(control, nullptr) << "the fake PortAudio is not the one loaded (LD_LIBRARY_PATH)";
    ASSERT_FALSE(dev->start(cb));
    ASSERT_TRUE(eventually([&] { return cb.periods.load() > 5; }, 5s));
    control(0, 1);  // every close from now on hangs
    const auto t0 = std::chrono::steady_clock::now();
    dev->stop();
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(took, 2s) << "stop() waited for the stuck close";
    EXPECT_GE(took, 250ms) << "the close was not given its time";
    EXPECT_TRUE(seen.contains("did not close within 300 ms"))
        << ::testing::PrintToString(seen.lines);
    // The abandoned stream's callback is cut off: no more periods reach the callback.
    const long after = cb.periods.load();
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(cb.periods.load(), after);
    control(0, 0);
    dev.reset();  // the destructor must not hang either (no Pa_Terminate after an abandon)
}

TEST(StuckClose, TheWatchdogReopensAfterAStalledStreamWhoseCloseHangs) {
    faults_seen seen;
    counting_callback cb;
    auto dev = open_device(seen, true);
    auto control = fake<void (*)(int, int)>("fake_pa_control");
    auto opened = fake<int (*)()>("fake_pa_streams_opened");
    ASSERT_NE(control, nullptr);
    ASSERT_NE(opened, nullptr);
    ASSERT_FALSE(dev->start(cb));
    ASSERT_TRUE(eventually([&] { return cb.periods.load() > 5; }, 5s));
    const int before = opened();
    control(1, 1);  // the open stream stalls, and closing it hangs
    // The watchdog sees the stall after 2 s, gives the close 300 ms, abandons it, reopens.
    ASSERT_TRUE(eventually([&] { return seen.contains("stream reopened"); }, 10s))
        << ::testing::PrintToString(seen.lines);
    EXPECT_TRUE(seen.contains("did not close within 300 ms"));
    EXPECT_EQ(opened(), before + 1);
    control(0, 0);  // the old stream comes back to life: its callback is refused (paAbort)
    const long at_reopen = cb.periods.load();
    ASSERT_TRUE(eventually([&] { return cb.periods.load() > at_reopen + 20; }, 5s))
        << "the new stream does not call back";
    const auto t0 = std::chrono::steady_clock::now();
    dev->stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}
