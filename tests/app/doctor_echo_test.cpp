// The doctor's echo test analysis (doctor_echo.hpp) on the deterministic echo rig: the test
// signal played into a simulated room, recorded as a device would hand it over. Behaviour only:
// the echo found at the room's delay and cancelled, no echo found without the room.
#include "ava/app/doctor_echo.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ava/audio/echo_room.hpp"
#include "ava/audio/speexdsp.hpp"

namespace ava::app {
namespace {

constexpr int rate = core::wire_rate;
constexpr double quiet_s = 0.5;

/// What the device records while it plays `played` into `room` (period by period: capture,
/// then play, as echo_room.hpp asks), with the device reporting `device_delay` samples.
std::vector<core::sample> record_through(const std::vector<core::sample>& played,
                                         const audio::echo_room_options& room_opts) {
    audio::echo_room room(room_opts);
    std::vector<core::sample> rec(played.size(), 0);
    constexpr std::size_t period = 480;
    for (std::size_t at = 0; at + period <= played.size(); at += period) {
        room.capture(core::pcm_span(rec.data() + at, period));
        room.play(core::pcm_view(played.data() + at, period));
    }
    return rec;
}

std::vector<core::sample> test_signal() {
    auto s = echo_test_signal(rate, quiet_s, 3.0);
    s.resize(s.size() + rate * 8 / 10, 0);  // the tail the probe records after it
    return s;
}

TEST(DoctorEcho, TheSignalIsSilentFirstThenAboutMinus20Dbfs) {
    const auto s = echo_test_signal(rate, quiet_s, 3.0);
    ASSERT_EQ(s.size(), static_cast<std::size_t>(3.5 * rate));
    for (std::size_t i = 0; i < rate / 2; ++i) ASSERT_EQ(s[i], 0);
    double e = 0;
    for (std::size_t i = rate / 2; i < s.size(); ++i) e += static_cast<double>(s[i]) * s[i];
    const double dbfs =
        10 * std::log10(e / static_cast<double>(s.size() - rate / 2)) - 20 * std::log10(32768.0);
    EXPECT_NEAR(dbfs, -20.0, 1.0);
}

TEST(DoctorEcho, SpeakersEchoIsFoundAtTheRoomsDelayAndCancelled) {
    if (!audio::speexdsp_available()) GTEST_SKIP() << audio::speexdsp_error();
    audio::echo_room_options room;
    room.delay_ms = 85;
    room.gain_db = -6;
    room.noise_dbfs = -70;
    const auto played = test_signal();
    const auto rec = record_through(played, room);
    // The device reports 40 ms of it (its own buffers); the rest is the room.
    const echo_test_result r = analyse_echo(played, rec, rate / 2, 40 * rate / 1000);
    EXPECT_TRUE(r.echo_found);
    EXPECT_NEAR(r.delay_ms, 85.0, 2.0);
    EXPECT_NEAR(r.echo_gain_db, -4.0, 3.0);  // the direct path and the tail
    EXPECT_NEAR(r.noise_floor_dbfs, -70.0, 3.0);
    EXPECT_NEAR(r.device_delay_ms, 40.0, 0.1);
    EXPECT_TRUE(r.converged);
    EXPECT_GE(r.erle_db, 25.0);
    EXPECT_LT(r.residual_dbfs, r.echo_dbfs - 25.0);
    EXPECT_EQ(r.clipped_fraction, 0.0);
}

TEST(DoctorEcho, HeadphonesLeaveNoEchoToFind) {
    audio::echo_room_options room;
    room.gain_db = -90;  // nothing of the speaker reaches the microphone
    room.noise_dbfs = -60;
    const auto played = test_signal();
    const auto rec = record_through(played, room);
    const echo_test_result r = analyse_echo(played, rec, rate / 2, 40 * rate / 1000);
    EXPECT_FALSE(r.echo_found);
    EXPECT_LT(r.correlation, 0.3);
    EXPECT_NEAR(r.noise_floor_dbfs, -60.0, 3.0);
}

TEST(DoctorEcho, AnEchoTheCancellerCannotModelIsNotPassed) {
    if (!audio::speexdsp_available()) GTEST_SKIP() << audio::speexdsp_error();
    // The device claims 400 ms more than the room's path: the reference comes after its echo,
    // which no causal canceller can remove.
    audio::echo_room_options room;
    room.delay_ms = 60;
    room.gain_db = 0;
    const auto played = test_signal();
    const auto rec = record_through(played, room);
    const echo_test_result r = analyse_echo(played, rec, rate / 2, 460 * rate / 1000);
    EXPECT_TRUE(r.echo_found);
    EXPECT_TRUE(!r.converged || r.erle_db < 20.0) << r.erle_db;
}

}  // namespace
}  // namespace ava::app
