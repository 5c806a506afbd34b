#include "ava/audio/resampler.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace {

using ava::audio::resampler;
using ava::audio::test::goertzel_amplitude;
using ava::audio::test::rms_of;
using ava::audio::test::sine;
using ava::core::sample;

// Streams `in` through `rs` in uneven chunks, as the engine does.
std::vector<sample> stream(resampler& rs, const std::vector<sample>& in) {
    std::vector<sample> out;
    std::size_t pos = 0;
    std::size_t chunk = 7;
    while (pos < in.size()) {
        const std::size_t n = std::min(chunk, in.size() - pos);
        rs.process(ava::core::pcm_view(in.data() + pos, n), out);
        pos += n;
        chunk = chunk * 3 % 997 + 1;
    }
    rs.drain(out);
    return out;
}

TEST(resampler, sine_round_trip_48k_24k_48k_keeps_frequency_and_level) {
    const auto in = sine(1000, 48000, 48000, 12000);
    resampler down(48000, 24000);
    resampler up(24000, 48000);
    const auto mid = stream(down, in);
    const auto back = stream(up, mid);
    // Length is preserved by a rate converter (within the filter's rounding).
    EXPECT_NEAR(static_cast<double>(mid.size()), 24000.0, 2.0);
    EXPECT_NEAR(static_cast<double>(back.size()), 48000.0, 4.0);
    // Measure on the steady middle (skip the filter's start-up and tail).
    const double a_mid = goertzel_amplitude(mid.data() + 2400, 19200, 1000, 24000);
    const double a_back = goertzel_amplitude(back.data() + 4800, 38400, 1000, 48000);
    EXPECT_NEAR(20 * std::log10(a_mid / 12000), 0.0, 0.2);
    EXPECT_NEAR(20 * std::log10(a_back / 12000), 0.0, 0.2);
    // The energy is at 1 kHz, not elsewhere: a neighbouring bin holds almost nothing.
    EXPECT_LT(goertzel_amplitude(back.data() + 4800, 38400, 1500, 48000), 12000 * 0.01);
    // Total RMS matches the tone's RMS (no added noise or distortion to speak of).
    EXPECT_NEAR(rms_of(back.data() + 4800, 38400), 12000 / std::sqrt(2.0), 12000 * 0.01);
}

TEST(resampler, content_above_new_nyquist_is_suppressed) {
    // 15 kHz cannot exist at 24 kHz (Nyquist 12 kHz): it must be filtered, not aliased to 9 kHz.
    const auto in = sine(15000, 48000, 48000, 12000);
    resampler down(48000, 24000);
    const auto out = stream(down, in);
    ASSERT_GT(out.size(), 20000U);
    const double alias = goertzel_amplitude(out.data() + 2400, 19200, 9000, 24000);
    const double total = rms_of(out.data() + 2400, 19200);
    EXPECT_LT(20 * std::log10(std::max(alias, 1e-3) / 12000), -60.0);
    EXPECT_LT(20 * std::log10(std::max(total, 1e-3) / (12000 / std::sqrt(2.0))), -60.0);
}

TEST(resampler, one_stateful_stream_equals_one_shot) {
    // Chunked streaming through one resampler gives the same signal as converting at once:
    // no state is lost between chunks (the click peer lesson 14 describes).
    const auto in = sine(440, 24000, 24000, 8000);
    resampler rs(24000, 44100);
    const auto chunked = stream(rs, in);
    const auto whole = resampler::convert(in, 24000, 44100);
    ASSERT_EQ(chunked.size(), whole.size());
    int max_diff = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(chunked[i] - whole[i]));
    }
    EXPECT_EQ(max_diff, 0);
}

TEST(resampler, equal_rates_pass_through) {
    resampler rs(24000, 24000);
    EXPECT_TRUE(rs.passthrough());
    std::vector<sample> out;
    const std::vector<sample> in{1, 2, 3};
    rs.process(in, out);
    EXPECT_EQ(out, in);
}

}  // namespace
