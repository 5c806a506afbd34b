// The echo rig's room and the audio processing stage (speexdsp), block by block as the engine
// drives them: room capture, speaker render, dsp render then capture. Behaviour only: echo
// removed, the mic held until the canceller converged, the user heard over the assistant.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "ava/audio/dsp.hpp"
#include "ava/audio/echo_canceller.hpp"
#include "ava/audio/echo_room.hpp"
#include "test_util.hpp"

namespace ava::audio {
namespace {

using core::dsp_block_samples;
using core::sample;

/// Speech-like test signal: noise shaped into "syllables" of 120-250 ms at varying levels,
/// with short pauses, from a fixed seed (broadband and non-stationary like a voice).
std::vector<sample> babble(std::size_t n, double level_dbfs, std::uint32_t seed) {
    std::vector<sample> v(n, 0);
    std::uint32_t s = seed;
    auto rnd = [&s] {
        s = s * 1664525U + 1013904223U;
        return static_cast<double>(s >> 8) / 16777216.0;
    };
    const double amp = std::pow(10.0, level_dbfs / 20.0) * 32768.0 * 1.7;
    std::size_t i = 0;
    double lp = 0;
    while (i < n) {
        const auto syl = static_cast<std::size_t>((0.12 + 0.13 * rnd()) * 24000);
        const auto pause = static_cast<std::size_t>((0.02 + 0.08 * rnd()) * 24000);
        const double g = 0.5 + rnd();
        for (std::size_t k = 0; k < syl && i < n; ++k, ++i) {
            const double env =
                std::sin(3.14159 * static_cast<double>(k) / static_cast<double>(syl));
            lp = 0.6 * lp + 0.4 * (rnd() * 2 - 1);  // a little low-pass: voice-like tilt
            v[i] = static_cast<sample>(std::clamp(amp * g * env * lp, -32768.0, 32767.0));
        }
        i += pause;
    }
    return v;
}

double energy(const sample* x, std::size_t n) {
    double e = 0;
    for (std::size_t i = 0; i < n; ++i) e += static_cast<double>(x[i]) * x[i];
    return e;
}

struct rig_result {
    std::vector<sample> sent;
    std::vector<bool> vad;
    dsp_report report;
};

rig_result run_rig(dsp_stage& dsp, const echo_room_options& ro, const std::vector<sample>& far,
                   const std::vector<sample>& near) {
    echo_room room(ro);
    rig_result r;
    const std::size_t blocks = far.size() / dsp_block_samples;
    r.sent.resize(blocks * dsp_block_samples);
    std::vector<sample> mic(dsp_block_samples), ref(dsp_block_samples);
    for (std::size_t b = 0; b < blocks; ++b) {
        const auto off = static_cast<std::ptrdiff_t>(b * dsp_block_samples);
        std::copy_n(near.begin() + off, dsp_block_samples, mic.begin());
        room.capture(mic);
        std::copy_n(far.begin() + off, dsp_block_samples, ref.begin());
        room.play(ref);
        dsp.render(ref);
        dsp.capture(mic);
        std::copy(mic.begin(), mic.end(), r.sent.begin() + off);
        r.vad.push_back(dsp.voice_active());
    }
    r.report = dsp.report();
    return r;
}

/// What the microphone hears of `far` in the room, with nobody talking.
std::vector<sample> echo_of(const echo_room_options& ro, const std::vector<sample>& far) {
    echo_room room(ro);
    std::vector<sample> echo(far.size(), 0);
    for (std::size_t b = 0; b < far.size() / dsp_block_samples; ++b) {
        room.capture(core::pcm_span(echo.data() + b * dsp_block_samples, dsp_block_samples));
        room.play(core::pcm_view(far.data() + b * dsp_block_samples, dsp_block_samples));
    }
    return echo;
}

TEST(EchoRoom, ParsesItsSpecAndNamesABadField) {
    const auto o = parse_echo_room("delay=120,gain=+6,tail=30,noise=-70,drift=20,seed=7");
    EXPECT_EQ(o.delay_ms, 120);
    EXPECT_DOUBLE_EQ(o.gain_db, 6.0);
    EXPECT_EQ(o.tail_ms, 30);
    EXPECT_DOUBLE_EQ(o.drift_ppm, 20.0);
    EXPECT_EQ(o.seed, 7U);
    EXPECT_EQ(parse_echo_room(to_string(o)).delay_ms, 120);
    EXPECT_EQ(parse_echo_room("on").delay_ms, echo_room_options{}.delay_ms);
    try {
        (void)parse_echo_room("delay=65,loud=3");
        FAIL() << "no error";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("loud"), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)parse_echo_room("delay=fast"), std::invalid_argument);
    EXPECT_THROW((void)parse_echo_room("delay=900"), std::invalid_argument);
}

TEST(EchoRoom, ReturnsThePlayedSoundAfterItsDelayAtItsGain) {
    echo_room_options o;
    o.delay_ms = 50;
    o.gain_db = -6;
    o.tail_ms = 0;
    o.noise_dbfs = -200;
    echo_room room(o);
    std::vector<sample> mic(dsp_block_samples, 0), spk(dsp_block_samples, 0);
    spk[0] = 10000;  // an impulse in the first block
    std::vector<sample> heard;
    for (int b = 0; b < 10; ++b) {
        std::fill(mic.begin(), mic.end(), sample{0});
        room.capture(mic);
        heard.insert(heard.end(), mic.begin(), mic.end());
        room.play(spk);
        std::fill(spk.begin(), spk.end(), sample{0});
    }
    const auto peak = std::max_element(heard.begin(), heard.end()) - heard.begin();
    EXPECT_EQ(peak, 50 * 24);  // 50 ms at 24 kHz
    EXPECT_NEAR(heard[static_cast<std::size_t>(peak)], 10000 * 0.501, 20);
}

TEST(AudioProcessor, CancelsTheEchoAfterHoldingTheMicUntilItConverged) {
    const std::size_t n = 20 * 24000;
    const auto far = babble(n, -24, 11);
    const std::vector<sample> silence(n, 0);
    echo_room_options ro;  // 65 ms, 0 dB, a 60 ms tail, noise, as the benchmark's rig
    processing_options po;
    po.echo = echo_handling::aec;
    auto dsp = make_audio_processor(po);
    const auto r = run_rig(*dsp, ro, far, silence);

    // The echo the mic heard, from the same room alone.
    const auto echo = echo_of(ro, far);
    // Cold: nothing of the echo reaches the service while the filter learns.
    EXPECT_EQ(energy(r.sent.data(), 24000), 0.0);
    // Warm (after 5 s): at least 25 dB of echo removed (the floor on rig (a) at 0 dB).
    const std::size_t from = 5 * 24000;
    const double erle = 10 * std::log10(energy(echo.data() + from, n - from) /
                                        std::max(1.0, energy(r.sent.data() + from, n - from)));
    EXPECT_GE(erle, 25.0);
    EXPECT_TRUE(r.report.converged);
    EXPECT_FALSE(r.report.echo_absent);
    EXPECT_GT(r.report.gated_blocks, 0U);
    EXPECT_GT(r.report.echo_blocks, 1500U);
    // The local VAD never takes the assistant's echo for the user once converged.
    for (std::size_t b = 500; b < r.vad.size(); ++b) ASSERT_FALSE(r.vad[b]) << "block " << b;
}

TEST(AudioProcessor, KeepsCancellingWhileTheSpeakersClockDrifts) {
    // Two sound cards: the speaker's clock runs 200 ppm fast, so over a minute the echo moves
    // 12 ms (288 samples) against the reference. The adaptive filter follows it.
    const std::size_t n = 60 * 24000;
    const auto far = babble(n, -24, 17);
    const std::vector<sample> silence(n, 0);
    echo_room_options ro;
    ro.drift_ppm = 200;
    processing_options po;
    po.echo = echo_handling::aec;
    auto dsp = make_audio_processor(po);
    const auto r = run_rig(*dsp, ro, far, silence);
    const auto echo = echo_of(ro, far);
    // Each 10 s stretch after the first keeps at least 25 dB, to the end.
    for (std::size_t from = 10 * 24000; from + 10 * 24000 <= n; from += 10 * 24000) {
        const double erle =
            10 * std::log10(energy(echo.data() + from, 10 * 24000) /
                            std::max(1.0, energy(r.sent.data() + from, 10 * 24000)));
        EXPECT_GE(erle, 25.0) << "from " << from / 24000 << " s";
    }
    for (std::size_t b = 500; b < r.vad.size(); ++b) ASSERT_FALSE(r.vad[b]) << "block " << b;
}

TEST(AudioProcessor, HearsTheUserTalkingOverTheAssistant) {
    const std::size_t n = 14 * 24000;
    const auto far = babble(n, -24, 5);
    std::vector<sample> near(n, 0);
    // The user talks over the assistant from 8 s to 10 s, 6 dB under the echo's level.
    const auto voice = babble(2 * 24000, -30, 99);
    std::copy(voice.begin(), voice.end(), near.begin() + 8 * 24000);
    echo_room_options ro;
    processing_options po;
    po.echo = echo_handling::aec;
    auto dsp = make_audio_processor(po);
    const auto r = run_rig(*dsp, ro, far, near);
    // Detected within 300 ms of the voice's start, and speech most of the time it lasts.
    std::size_t first = 0;
    for (std::size_t b = 800; b < 830; ++b) {
        if (r.vad[b]) {
            first = b;
            break;
        }
    }
    EXPECT_NE(first, 0U) << "the user's voice was not detected within 300 ms";
    // What is sent during the overlap is mostly the user's voice (double talk survives).
    double sxy = 0, sxx = 0, syy = 0, best = 0;
    for (std::size_t lag = 0; lag <= 480; lag += 24) {
        sxy = sxx = syy = 0;
        for (std::size_t i = 8 * 24000; i < 10 * 24000; ++i) {
            const double x = near[i], y = r.sent[i + lag];
            sxy += x * y;
            sxx += x * x;
            syy += y * y;
        }
        if (syy > 0) best = std::max(best, sxy / std::sqrt(sxx * syy));
    }
    EXPECT_GT(best, 0.6);
}

TEST(AudioProcessor, WithHeadphonesTheMicIsNotHeldAndTheUserIsHeard) {
    // No echo path at all: the room returns only its noise. The default (auto) must not hold
    // the mic waiting for a convergence that cannot come, or the user could never talk over
    // the assistant.
    const std::size_t n = 10 * 24000;
    const auto far = babble(n, -24, 7);
    std::vector<sample> near(n, 0);
    const auto voice = babble(2 * 24000, -30, 98);
    std::copy(voice.begin(), voice.end(), near.begin() + 6 * 24000);
    echo_room_options ro;
    ro.gain_db = -200;      // headphones: nothing of the speaker reaches the mic
    processing_options po;  // echo auto
    auto dsp = make_audio_processor(po);
    const auto r = run_rig(*dsp, ro, far, near);
    EXPECT_TRUE(r.report.echo_absent);
    EXPECT_FALSE(r.report.converged);
    EXPECT_LT(r.report.gated_blocks, 300U) << "held for longer than the 1.5 s it takes to tell";
    // The voice over the assistant (6-8 s) is sent as spoken and heard by the local VAD.
    const double in = energy(near.data() + 6 * 24000, 2 * 24000);
    const double out = energy(r.sent.data() + 6 * 24000, 2 * 24000);
    EXPECT_GT(out, in * 0.5);
    std::size_t voiced = 0;
    for (std::size_t b = 600; b < 800; ++b) voiced += r.vad[b] ? 1U : 0U;
    EXPECT_GT(voiced, 100U);
}

TEST(AudioProcessor, ALatencyFigureThatWandersDoesNotResetTheFilter) {
    // PulseAudio's own latency figure moves by 10 ms and more between callbacks. The echo does
    // not move, so neither may the reference: each move would make the filter learn again and
    // let the echo through meanwhile.
    const std::size_t n = 20 * 24000;
    const auto far = babble(n, -24, 23);
    const std::vector<sample> silence(n, 0);
    echo_room_options ro;
    ro.delay_ms = 90;
    processing_options po;
    po.echo = echo_handling::aec;
    auto dsp = make_audio_processor(po);
    echo_room room(ro);
    std::vector<sample> sent(n, 0), mic(dsp_block_samples), ref(dsp_block_samples);
    const std::int64_t figures_ms[] = {27, 37, 29, 33, 25, 36};
    for (std::size_t b = 0; b < n / dsp_block_samples; ++b) {
        if (b % 20 == 0) dsp->set_echo_delay(figures_ms[(b / 20) % 6] * 24);
        const auto off = static_cast<std::ptrdiff_t>(b * dsp_block_samples);
        std::fill(mic.begin(), mic.end(), sample{0});
        room.capture(mic);
        std::copy_n(far.begin() + off, dsp_block_samples, ref.begin());
        room.play(ref);
        dsp->render(ref);
        dsp->capture(mic);
        std::copy(mic.begin(), mic.end(), sent.begin() + off);
    }
    const auto echo = echo_of(ro, far);
    const std::size_t from = 5 * 24000;
    const double erle = 10 * std::log10(energy(echo.data() + from, n - from) /
                                        std::max(1.0, energy(sent.data() + from, n - from)));
    EXPECT_GE(erle, 25.0);
    EXPECT_EQ(dsp->report().echo_delay_samples, (27 - 20) * 24) << "the reference moved";
    // A real change (another device: 200 ms more) does move it.
    dsp->set_echo_delay(230 * 24);
    EXPECT_EQ(dsp->report().echo_delay_samples, (230 - 20) * 24);
}

TEST(AudioProcessor, AutoCostsNothingWhileTheAssistantIsSilent) {
    processing_options po;  // echo auto, no noise or gain
    auto dsp = make_audio_processor(po);
    const auto voice = babble(24000, -26, 3);
    std::vector<sample> blk(dsp_block_samples);
    const std::vector<sample> quiet(dsp_block_samples, 0);
    for (std::size_t b = 0; b < 100; ++b) {
        std::copy_n(voice.begin() + static_cast<std::ptrdiff_t>(b * dsp_block_samples),
                    dsp_block_samples, blk.begin());
        const auto before = blk;
        dsp->render(quiet);
        dsp->capture(blk);
        ASSERT_EQ(blk, before) << "block " << b << " changed with nothing playing";
    }
    EXPECT_EQ(dsp->report().echo_blocks, 0U);
    EXPECT_TRUE(dsp->voice_active());
}

TEST(AudioProcessor, HowLongTheUserSpokeEndsWithTheWordsNotTheHangover) {
    // Local barge-in tells a backchannel from a turn by how long the user spoke: the VAD's
    // hangover (quiet before speech counts as over) must not add to it.
    processing_options po;
    auto dsp = make_audio_processor(po);
    const auto voice = babble(24000 * 3 / 10, -26, 5);  // 0.3 s, an "uh-huh"
    const std::vector<sample> quiet(dsp_block_samples, 0);
    std::vector<sample> blk(dsp_block_samples);
    int heard_blocks = 0;
    int last_heard = -1;
    int last_active = -1;
    for (int b = 0; b < 100; ++b) {
        const auto off = static_cast<std::size_t>(b) * dsp_block_samples;
        if (off + dsp_block_samples <= voice.size()) {
            std::copy_n(voice.begin() + static_cast<std::ptrdiff_t>(off), dsp_block_samples,
                        blk.begin());
        } else {
            std::fill(blk.begin(), blk.end(), sample{0});
        }
        dsp->render(quiet);
        dsp->capture(blk);
        if (dsp->voice_heard()) {
            EXPECT_TRUE(dsp->voice_active()) << "block " << b;
            ++heard_blocks;
            last_heard = b;
        }
        if (dsp->voice_active()) last_active = b;
    }
    EXPECT_GE(heard_blocks, 10) << "the speech was not heard";
    EXPECT_LT(last_heard, 30) << "voiced blocks after the 0.3 s of speech";
    EXPECT_GE(last_active, last_heard + po.vad_hangover_ms / 10 - 1) << "no hangover";
    EXPECT_LT(last_active, 30 + po.vad_hangover_ms / 10 + 1);
}

TEST(AudioProcessor, OffIsTheIdentity) {
    processing_options po;
    po.echo = echo_handling::off;
    po.high_pass = false;
    auto dsp = make_audio_processor(po);
    EXPECT_NE(dynamic_cast<identity_dsp*>(dsp.get()), nullptr);
}

}  // namespace
}  // namespace ava::audio
