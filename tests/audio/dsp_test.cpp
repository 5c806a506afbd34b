#include "ava/audio/dsp.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace {

using ava::audio::energy_gate_dsp;
using ava::audio::test::sine;
using ava::core::dsp_block_samples;

TEST(energy_gate, echo_below_playback_relative_threshold_is_silenced) {
    energy_gate_dsp gate;
    const auto speaker = sine(300, 24000, dsp_block_samples, 16000);
    auto echo = sine(300, 24000, dsp_block_samples, 3000);  // quieter copy: the room's echo
    for (int i = 0; i < 5; ++i) gate.render(speaker);
    gate.capture(echo);
    EXPECT_FALSE(gate.voice_active());
    EXPECT_EQ(ava::audio::rms(echo), 0.0f);
    EXPECT_EQ(gate.gated_blocks(), 1U);
}

TEST(energy_gate, loud_speech_passes_over_playback) {
    energy_gate_dsp gate;
    const auto speaker = sine(300, 24000, dsp_block_samples, 8000);
    auto voice = sine(500, 24000, dsp_block_samples, 20000);
    const auto original = voice;
    for (int i = 0; i < 5; ++i) gate.render(speaker);
    gate.capture(voice);
    EXPECT_TRUE(gate.voice_active());
    EXPECT_EQ(voice, original);
}

TEST(energy_gate, open_while_speaker_is_silent) {
    energy_gate_dsp gate;
    const std::vector<ava::core::sample> silence(dsp_block_samples, 0);
    auto quiet = sine(500, 24000, dsp_block_samples, 200);
    const auto original = quiet;
    gate.render(silence);
    gate.capture(quiet);
    EXPECT_EQ(quiet, original);
    EXPECT_EQ(gate.gated_blocks(), 0U);
}

}  // namespace
