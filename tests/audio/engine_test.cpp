// The engine through the WAV device (manual pacing = a fake clock): play clock, flush, start
// threshold, underruns, capture, DSP alignment; and the fast WAV device end to end.
#include "ava/audio/engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>

#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "test_util.hpp"

namespace {

using namespace ava::audio;
using ava::audio::test::read_wav;
using ava::audio::test::sine;
using ava::audio::test::temp_dir;
using ava::core::sample;

constexpr std::size_t period = 240;  // 10 ms at 24 kHz (the WAV device's default period)

std::vector<sample> pattern(std::size_t n, int base) {
    // Distinct, never-zero values so each item's samples can be found in the output file.
    std::vector<sample> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<sample>(base > 0 ? base + static_cast<int>(i % 500)
                                            : base - static_cast<int>(i % 500));
    }
    return v;
}

struct rig {
    explicit rig(engine_config cfg = {}, std::string input = {}) {
        wav_device_options o;
        o.output_path = dir.file("out.wav");
        o.input_path = std::move(input);
        o.pacing = wav_pacing::manual;
        dev = open_wav_device(o);
        cfg.device_rate = dev->format().sample_rate;
        eng = std::make_unique<engine>(std::move(cfg));
        EXPECT_FALSE(dev->start(*eng));
    }
    std::vector<sample> finish() {
        dev->stop();
        return read_wav(dir.file("out.wav")).samples;
    }
    temp_dir dir{"engine"};
    std::unique_ptr<wav_device> dev;
    std::unique_ptr<engine> eng;
};

TEST(engine_play_clock, heard_equals_samples_written_for_each_item) {
    rig r;
    const auto a = pattern(7200, 1000);   // 300 ms
    const auto b = pattern(4800, -1000);  // 200 ms
    ASSERT_TRUE(r.eng->play(1, a));
    r.eng->end_item(1);
    ASSERT_TRUE(r.eng->play(2, b));
    r.eng->end_item(2);
    r.dev->step(25);  // 250 ms: in the middle of item 1
    EXPECT_EQ(r.eng->state(), playback_state::playing);
    const std::int64_t mid = r.eng->heard_samples(1);
    EXPECT_EQ(mid, 250 * 24);
    r.dev->step(35);
    EXPECT_TRUE(r.eng->drained());
    EXPECT_EQ(r.eng->state(), playback_state::idle);
    const std::int64_t heard_a = r.eng->heard_samples(1);
    const std::int64_t heard_b = r.eng->heard_samples(2);
    const auto out = r.finish();
    const auto count_a = std::count_if(out.begin(), out.end(), [](sample s) { return s >= 1000; });
    const auto count_b = std::count_if(out.begin(), out.end(), [](sample s) { return s <= -1000; });
    EXPECT_EQ(heard_a, count_a);
    EXPECT_EQ(heard_b, count_b);
    EXPECT_EQ(heard_a, 7200);
    EXPECT_EQ(heard_b, 4800);
    // In order and bit-exact: the file holds a then b back to back, from the first sample
    // (a complete item starts at once).
    ASSERT_GE(out.size(), a.size() + b.size());
    EXPECT_TRUE(std::equal(a.begin(), a.end(), out.begin()));
    EXPECT_TRUE(std::equal(b.begin(), b.end(), out.begin() + 7200));
    EXPECT_EQ(r.eng->stats().underruns, 0U);
}

TEST(engine_play_clock, modelled_output_latency_is_not_counted_as_heard) {
    engine_config cfg;
    temp_dir dir("latency");
    wav_device_options o;
    o.pacing = wav_pacing::manual;
    o.output_latency_samples = 960;  // 40 ms still in flight to the "DAC"
    auto dev = open_wav_device(o);
    engine eng(std::move(cfg));
    ASSERT_FALSE(dev->start(eng));
    eng.play(1, pattern(24000, 1000));
    dev->step(20);  // 200 ms rendered
    const std::int64_t heard = eng.heard_samples(1);
    // The clock extrapolates the DAC between periods but never past what was handed over.
    EXPECT_GE(heard, 200 * 24 - 960);
    EXPECT_LE(heard, 200 * 24);
    dev->stop();
}

TEST(engine_flush, fades_within_one_period_without_click_and_drops_late_plays) {
    rig r;
    const auto tone = sine(440, 24000, 48000, 12000);  // 2 s
    ASSERT_TRUE(r.eng->play(7, tone));
    r.dev->step(20);  // 200 ms heard
    ASSERT_EQ(r.eng->state(), playback_state::playing);
    const std::uint64_t gen = r.eng->flush();
    EXPECT_FALSE(r.eng->flush_completed(gen));  // only the realtime thread performs it
    r.dev->step(1);                             // one device period
    EXPECT_TRUE(r.eng->flush_completed(gen));
    EXPECT_EQ(r.eng->stats().flushes, 1U);
    EXPECT_EQ(r.eng->state(), playback_state::idle);
    const std::int64_t heard = r.eng->heard_samples(7);
    const std::size_t fade = 8 * 24;
    EXPECT_EQ(heard, static_cast<std::int64_t>(200 * 24 + fade));

    // A late delta of the flushed item is dropped; a new item plays.
    EXPECT_FALSE(r.eng->play(7, tone));
    EXPECT_EQ(r.eng->stats().dropped_plays, 1U);
    r.dev->step(10);
    EXPECT_EQ(r.eng->heard_samples(7), heard);
    const auto next = pattern(2400, 1000);
    EXPECT_TRUE(r.eng->play(8, next));
    r.eng->end_item(8);
    r.dev->step(20);

    const auto out = r.finish();
    const auto h = static_cast<std::size_t>(heard);
    ASSERT_GT(out.size(), h + 10 * period);
    // Before the fade: the tone exactly as sent.
    EXPECT_TRUE(std::equal(tone.begin(), tone.begin() + 200 * 24, out.begin()));
    // The fade: each sample is scaled down, ending near zero; no step larger than the tone's
    // own slope (12000 * 2 pi * 440 / 24000 = 1382) plus the fade's slope (12000 / 192 = 63).
    int max_step = 0;
    for (std::size_t i = 200 * 24; i < h; ++i) {
        max_step = std::max(max_step, std::abs(out[i] - out[i - 1]));
        EXPECT_LE(std::abs(out[i]), std::abs(tone[i]) + 1);
    }
    max_step = std::max(max_step, std::abs(out[h] - out[h - 1]));  // the step into silence
    EXPECT_LE(max_step, 1382 + 63 + 2);
    EXPECT_LE(std::abs(out[h - 1]), 12000 / 192 + 2);
    // After the fade: silence until the next item, never the discarded tail of the tone.
    const auto next_at = std::find(out.begin() + static_cast<std::ptrdiff_t>(h), out.end(), 1000);
    ASSERT_NE(next_at, out.end());
    EXPECT_TRUE(std::all_of(out.begin() + static_cast<std::ptrdiff_t>(h), next_at,
                            [](sample s) { return s == 0; }));
    EXPECT_TRUE(std::equal(next.begin(), next.end(), next_at));
    EXPECT_EQ(r.eng->heard_samples(8), 2400);
}

TEST(engine_flush, while_buffering_discards_without_fade) {
    rig r;
    r.eng->play(1, pattern(480, 1000));  // 20 ms: below the 50 ms start threshold
    r.dev->step(3);
    EXPECT_EQ(r.eng->state(), playback_state::buffering);
    const auto gen = r.eng->flush();
    r.dev->step(1);
    EXPECT_TRUE(r.eng->flush_completed(gen));
    EXPECT_EQ(r.eng->heard_samples(1), 0);
    EXPECT_EQ(r.eng->stats().flushed_samples, 480U);
    EXPECT_TRUE(r.eng->drained());
}

TEST(engine_jitter, waits_for_start_threshold_then_plays) {
    rig r;                               // threshold 50 ms = 1200 samples
    r.eng->play(1, pattern(720, 1000));  // 30 ms
    r.dev->step(5);
    EXPECT_EQ(r.eng->state(), playback_state::buffering);
    EXPECT_EQ(r.eng->heard_samples(1), 0);
    r.eng->play(1, pattern(720, 1000));  // 60 ms now: starts
    r.dev->step(1);
    EXPECT_EQ(r.eng->state(), playback_state::playing);
    EXPECT_EQ(r.eng->heard_samples(1), static_cast<std::int64_t>(period));
    const auto out = r.finish();
    // Nothing but silence during the 50 ms of buffering.
    EXPECT_TRUE(
        std::all_of(out.begin(), out.begin() + 5 * period, [](sample s) { return s == 0; }));
    EXPECT_EQ(out[5 * period], 1000);
}

TEST(engine_jitter, a_complete_short_item_starts_at_once) {
    rig r;
    r.eng->play(1, pattern(480, 1000));  // 20 ms, below the threshold
    r.eng->end_item(1);
    r.dev->step(3);
    EXPECT_EQ(r.eng->heard_samples(1), 480);
    EXPECT_TRUE(r.eng->drained());
    EXPECT_EQ(r.eng->stats().underruns, 0U);
}

TEST(engine_jitter, underrun_is_counted_and_silent_then_rebuffers) {
    rig r;
    r.eng->play(1, pattern(2400, 1000));  // 100 ms, item not finished
    r.dev->step(15);
    EXPECT_GE(r.eng->stats().underruns, 1U);
    EXPECT_EQ(r.eng->state(), playback_state::buffering);
    EXPECT_EQ(r.eng->heard_samples(1), 2400);
    r.eng->play(1, pattern(480, 2000));  // a late 20 ms: below threshold, waits
    r.dev->step(2);
    EXPECT_EQ(r.eng->heard_samples(1), 2400);
    r.eng->end_item(1);  // now complete: plays
    r.dev->step(3);
    EXPECT_EQ(r.eng->heard_samples(1), 2880);
    const std::uint64_t underruns = r.eng->stats().underruns;
    r.dev->step(5);
    EXPECT_EQ(r.eng->stats().underruns, underruns);  // the end of an item is not an underrun
    const auto out = r.finish();
    // Silence (never stale samples) between the first 100 ms and the late delta.
    const auto late = std::find(out.begin(), out.end(), 2000);
    ASSERT_NE(late, out.end());
    EXPECT_TRUE(std::all_of(out.begin() + 2400, late, [](sample s) { return s == 0; }));
}

TEST(engine_jitter, bursts_larger_than_the_ring_wait_in_the_backlog) {
    engine_config cfg;
    cfg.playback_ms = 200;  // ring of 4800 (rounded to 8192) samples
    rig r(std::move(cfg));
    const auto big = pattern(24000, 1000);  // 1 s in one burst
    ASSERT_TRUE(r.eng->play(1, big));
    r.eng->end_item(1);
    EXPECT_FALSE(r.eng->drained());
    for (int i = 0; i < 120; ++i) {
        r.eng->service();
        r.dev->step(1);
    }
    EXPECT_TRUE(r.eng->drained());
    EXPECT_EQ(r.eng->heard_samples(1), 24000);
    const auto out = r.finish();
    EXPECT_TRUE(std::equal(big.begin(), big.end(), out.begin()));
}

// Records the order of DSP calls and the reference it was given.
class recording_dsp final : public dsp_stage {
  public:
    void render(ava::core::pcm_view speaker) override {
        calls.push_back('r');
        reference.insert(reference.end(), speaker.begin(), speaker.end());
    }
    void capture(ava::core::pcm_span mic) override {
        calls.push_back('c');
        for (auto& s : mic) s = static_cast<sample>(s / 2);  // visible processing
    }
    std::string calls;
    std::vector<sample> reference;
};

TEST(engine_capture, wav_input_any_rate_to_24k_frames_with_dsp_after_speaker) {
    temp_dir dir("capture");
    // 0.5 s of 1 kHz at 44.1 kHz stereo: the device must mix and resample it.
    const auto mono = sine(1000, 44100, 22050, 10000);
    std::vector<sample> stereo;
    for (const sample s : mono) {
        stereo.push_back(s);
        stereo.push_back(s);
    }
    ava::audio::test::write_wav(dir.file("in.wav"), 44100, 2, stereo);
    engine_config cfg;
    auto dsp = std::make_unique<recording_dsp>();
    recording_dsp* rec = dsp.get();
    cfg.dsp = std::move(dsp);
    rig r(std::move(cfg), dir.file("in.wav"));
    const auto speech = pattern(4800, 1000);
    r.eng->play(1, speech);
    r.eng->end_item(1);

    std::vector<sample> got;
    std::vector<std::chrono::steady_clock::time_point> stamps;
    capture_frame f;
    float loudest = -120.0f;
    for (int p = 0; p < 60; ++p) {
        r.dev->step(1);
        while (r.eng->read(f)) {
            got.insert(got.end(), f.pcm.begin(), f.pcm.end());
            stamps.push_back(f.captured);
            loudest = std::max(loudest, r.eng->input_level().rms_db);
        }
    }
    EXPECT_TRUE(r.dev->input_exhausted());
    EXPECT_EQ(got.size(), 60 * period);  // 600 ms of 24 kHz frames (input, then silence)
    EXPECT_TRUE(std::is_sorted(stamps.begin(), stamps.end()));
    // Frequency and level survive (halved by the recording DSP), measured on the steady part.
    const double a = ava::audio::test::goertzel_amplitude(got.data() + 1200, 9600, 1000, 24000);
    EXPECT_NEAR(a, 5000, 100);
    // The DSP saw each speaker block before the mic block of the same period.
    ASSERT_GE(rec->calls.size(), 100U);
    for (std::size_t i = 0; i + 1 < rec->calls.size(); i += 2) {
        ASSERT_EQ(rec->calls[i], 'r');
        ASSERT_EQ(rec->calls[i + 1], 'c');
    }
    // The reference is exactly what the speaker played.
    ASSERT_GE(rec->reference.size(), speech.size());
    EXPECT_TRUE(std::equal(speech.begin(), speech.end(), rec->reference.begin()));
    // 5000 peak after the DSP: RMS 3536 = -19.3 dBFS.
    EXPECT_NEAR(loudest, -19.3f, 0.5f);
    EXPECT_EQ(r.eng->stats().overruns, 0U);
}

TEST(wav_device, float_input_is_scaled_not_silence) {
    // A 32-bit float WAV (what many editors and Python's soundfile write) holds -1.0..1.0.
    temp_dir dir("float");
    const std::string path = dir.file("float.wav");
    {
        SF_INFO info{};
        info.samplerate = 24000;
        info.channels = 1;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
        ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
        std::vector<float> tone(24000);
        for (std::size_t i = 0; i < tone.size(); ++i) {
            tone[i] = 0.25f * static_cast<float>(
                                  std::sin(2.0 * M_PI * 1000.0 * static_cast<double>(i) / 24000.0));
        }
        ASSERT_EQ(sf_writef_float(f, tone.data(), static_cast<sf_count_t>(tone.size())),
                  static_cast<sf_count_t>(tone.size()));
        sf_close(f);
    }
    rig r({}, path);
    std::vector<sample> got;
    capture_frame f;
    for (int p = 0; p < 60; ++p) {
        r.dev->step(1);
        while (r.eng->read(f)) got.insert(got.end(), f.pcm.begin(), f.pcm.end());
    }
    ASSERT_GE(got.size(), 12000U);
    // 0.25 of full scale is 8192 in PCM16 (the default DSP stage passes the mic through).
    const double a = ava::audio::test::goertzel_amplitude(got.data() + 1200, 9600, 1000, 24000);
    EXPECT_NEAR(a, 8192, 200);
}

TEST(wav_device, bad_input_path_is_a_clear_error) {
    wav_device_options o;
    o.input_path = "/nonexistent/dir/q.wav";
    try {
        open_wav_device(o);
        FAIL() << "expected an error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), ava::make_error_code(ava::errc::bad_config));
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/q.wav"), std::string::npos);
    }
}

TEST(wav_device, a_fifo_input_is_read_once_its_writer_starts) {
    // `--input <(sox ...)` or a mkfifo: open() alone would block until a writer appears.
    temp_dir dir("fifo");
    const std::string file = dir.file("tone.wav");
    ava::audio::test::write_wav(file, 24000, 1, sine(1000, 24000, 24000, 8192));
    std::ostringstream whole;
    whole << std::ifstream(file, std::ios::binary).rdbuf();
    const std::string bytes = whole.str();
    const std::string fifo = dir.file("in.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::ofstream(fifo, std::ios::binary) << bytes;
    });
    std::vector<sample> got;
    {
        rig r({}, fifo);
        capture_frame f;
        for (int p = 0; p < 60; ++p) {
            r.dev->step(1);
            while (r.eng->read(f)) got.insert(got.end(), f.pcm.begin(), f.pcm.end());
        }
        r.finish();
    }
    writer.join();
    ASSERT_GE(got.size(), 12000U);
    const double a = ava::audio::test::goertzel_amplitude(got.data() + 1200, 9600, 1000, 24000);
    EXPECT_NEAR(a, 8192, 300);
}

TEST(wav_device, a_fifo_nobody_writes_to_fails_within_its_limit) {
    temp_dir dir("fifo-idle");
    const std::string fifo = dir.file("in.fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    wav_device_options o;
    o.input_path = fifo;
    o.fifo_wait = std::chrono::milliseconds(300);
    const auto t0 = std::chrono::steady_clock::now();
    try {
        open_wav_device(o);
        FAIL() << "expected an error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), ava::make_error_code(ava::errc::bad_config));
        EXPECT_NE(std::string(e.what()).find("is a FIFO and nothing was written to it within 1 s"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// A PCM16 mono WAV of `frames` zero samples whose header says `rate`, written byte by byte (a
// writer library might refuse the rate).
void write_wav_claiming(const std::string& path, std::uint32_t rate, std::uint32_t frames) {
    std::string b;
    auto u32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) b += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    auto u16 = [&](std::uint16_t v) {
        b += static_cast<char>(v & 0xff);
        b += static_cast<char>(v >> 8);
    };
    b += "RIFF";
    u32(36 + frames * 2);
    b += "WAVEfmt ";
    u32(16);
    u16(1);         // PCM
    u16(1);         // mono
    u32(rate);      // sample rate
    u32(rate * 2);  // byte rate
    u16(2);         // block align
    u16(16);        // bits
    b += "data";
    u32(frames * 2);
    b.append(frames * 2, '\0');
    std::ofstream(path, std::ios::binary) << b;
}

TEST(wav_device, a_sample_rate_outside_1000_to_768000_hz_is_refused) {
    temp_dir dir("rate");
    for (const std::uint32_t rate : {1u, 999u, 768001u, 4000000u, 0x7fffffffu}) {
        const std::string path = dir.file("rate-" + std::to_string(rate) + ".wav");
        write_wav_claiming(path, rate, 100);
        wav_device_options o;
        o.input_path = path;
        o.pacing = wav_pacing::manual;
        try {
            open_wav_device(o);
            ADD_FAILURE() << rate << " Hz was accepted";
        } catch (const std::system_error& e) {
            EXPECT_EQ(e.code(), ava::make_error_code(ava::errc::bad_config)) << rate;
            const std::string what = e.what();
            EXPECT_NE(what.find(path), std::string::npos) << what;
            EXPECT_NE(what.find("no usable format"), std::string::npos) << what;
        }
    }
    // The limits themselves are read.
    for (const std::uint32_t rate : {1000u, 768000u}) {
        const std::string path = dir.file("ok-" + std::to_string(rate) + ".wav");
        write_wav_claiming(path, rate, 100);
        wav_device_options o;
        o.input_path = path;
        o.pacing = wav_pacing::manual;
        EXPECT_NO_THROW(open_wav_device(o)) << rate;
    }
}

TEST(wav_device, fast_mode_waits_for_the_rest_of_an_item_instead_of_writing_silence) {
    // #20 probe 5: --fast with a short reply made a 1,464 s output WAV, mostly silence: while
    // an item waited for its next delta the device rendered silent periods as fast as it could.
    temp_dir dir("fastgap");
    wav_device_options o;
    o.output_path = dir.file("out.wav");
    o.pacing = wav_pacing::fast;
    auto dev = open_wav_device(o);
    engine eng(engine_config{});
    ASSERT_FALSE(dev->start(eng));
    eng.play(1, pattern(12000, 1000));  // the first half of a reply...
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    eng.play(1, pattern(12000, 1000));  // ...and the rest 400 ms later (a slow network)
    eng.end_item(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!eng.drained() && std::chrono::steady_clock::now() < deadline) {
        eng.service();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    dev->stop();
    const auto out = read_wav(dir.file("out.wav")).samples;
    EXPECT_EQ(std::count_if(out.begin(), out.end(), [](sample v) { return v >= 1000; }),
              24000);  // all of it, in the file
    // At most a few periods of silence around it, not 400 ms of CPU-speed silence (minutes).
    EXPECT_LT(out.size(), 24000U + 4800U) << out.size() << " samples for 24000 of audio";
}

TEST(wav_device, fast_mode_output_is_complete_and_in_order) {
    temp_dir dir("fast");
    const auto input = sine(700, 24000, 24000, 5000);  // 1 s
    ava::audio::test::write_wav(dir.file("in.wav"), 24000, 1, input);
    wav_device_options o;
    o.input_path = dir.file("in.wav");
    o.output_path = dir.file("out.wav");
    o.pacing = wav_pacing::fast;
    auto dev = open_wav_device(o);
    engine eng(engine_config{});
    const auto a = pattern(12000, 1000);
    const auto b = pattern(12000, -1000);
    eng.play(1, a);
    eng.end_item(1);
    ASSERT_FALSE(dev->start(eng));
    std::size_t frames = 0;
    bool played_b = false;
    capture_frame f;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        while (eng.read(f)) ++frames;
        if (!played_b && frames >= 25) {  // "the reply" arrives half way through the input
            eng.play(2, b);
            eng.end_item(2);
            played_b = true;
        }
        if (dev->input_exhausted() && played_b && eng.drained() && frames >= 50) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    dev->stop();
    EXPECT_EQ(frames, 50U);  // every input frame reached the io thread: none lost, none extra
    EXPECT_EQ(eng.stats().overruns, 0U);
    const auto out = read_wav(dir.file("out.wav")).samples;
    EXPECT_EQ(out.size(), dev->samples_written());
    const auto first_a = std::find(out.begin(), out.end(), 1000);
    const auto first_b = std::find(out.begin(), out.end(), -1000);
    ASSERT_NE(first_a, out.end());
    ASSERT_NE(first_b, out.end());
    EXPECT_LT(first_a, first_b);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), first_a));
    EXPECT_TRUE(std::equal(b.begin(), b.end(), first_b));
    EXPECT_EQ(eng.heard_samples(1), 12000);
    EXPECT_EQ(eng.heard_samples(2), 12000);
}

TEST(engine_resampling, device_at_48k_plays_and_captures_through_one_resampler_each) {
    // Drive process() directly at 48 kHz: a 24 kHz item comes out at twice the length.
    engine_config cfg;
    cfg.device_rate = 48000;
    engine eng(std::move(cfg));
    const auto tone = sine(1000, 24000, 24000, 10000);
    for (std::size_t i = 0; i < tone.size(); i += 480) {
        eng.play(3, ava::core::pcm_view(tone.data() + i, 480));  // 20 ms deltas
    }
    eng.end_item(3);
    std::vector<sample> out_all;
    std::vector<sample> in(480, 0);
    std::vector<sample> out(480);
    for (int p = 0; p < 120; ++p) {
        eng.service();
        eng.process(in, out, {});
        out_all.insert(out_all.end(), out.begin(), out.end());
    }
    EXPECT_TRUE(eng.drained());
    const double a =
        ava::audio::test::goertzel_amplitude(out_all.data() + 4800, 38400, 1000, 48000);
    EXPECT_NEAR(a, 10000, 200);
    // The clock converts back to 24 kHz and never exceeds what was received.
    EXPECT_NEAR(static_cast<double>(eng.heard_samples(3)), 24000.0, 24.0);
    EXPECT_LE(eng.heard_samples(3), 24000);
}

}  // namespace

namespace {

using steady = std::chrono::steady_clock;

}  // namespace

TEST(engine_clock_times, first_rendered_and_flush_done_are_the_callback_times) {
    rig r;
    EXPECT_EQ(r.eng->first_rendered_at(3), steady::time_point{});
    EXPECT_EQ(r.eng->last_flush_done_at(), steady::time_point{});
    ASSERT_TRUE(r.eng->play(3, pattern(480, 1000)));
    r.dev->step(1);  // 20 ms buffered: below the 50 ms start threshold, nothing rendered yet
    EXPECT_EQ(r.eng->first_rendered_at(3), steady::time_point{});
    // Now the threshold is met: the next period's callback time is the item's first-rendered
    // time, whatever the io thread does afterwards.
    ASSERT_TRUE(r.eng->play(3, pattern(24000, 1000)));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto before = steady::now();
    r.dev->step(1);
    const auto after = steady::now();
    const auto first = r.eng->first_rendered_at(3);
    EXPECT_GE(first, before);
    EXPECT_LE(first, after);
    r.dev->step(5);
    EXPECT_EQ(r.eng->first_rendered_at(3), first);  // later periods do not move it

    const std::uint64_t gen = r.eng->flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto flush_before = steady::now();
    r.dev->step(1);  // the fade (8 ms) fits in this 10 ms period
    const auto flush_after = steady::now();
    ASSERT_TRUE(r.eng->flush_completed(gen));
    EXPECT_GE(r.eng->last_flush_done_at(), flush_before);
    EXPECT_LE(r.eng->last_flush_done_at(), flush_after);
    r.finish();
}

TEST(wav_device, long_input_streams_through_a_small_read_ahead_exactly) {
    // 12 s at 48 kHz stereo: six times the device's 2 s read-ahead ring and many file chunks,
    // so the streamed, chunk-by-chunk resampled input must join up exactly.
    temp_dir dir("stream");
    const auto mono48 = sine(440, 48000, 48000 * 12, 8000);
    std::vector<sample> stereo;
    stereo.reserve(mono48.size() * 2);
    for (const sample s : mono48) {
        stereo.push_back(s);
        stereo.push_back(s);
    }
    ava::audio::test::write_wav(dir.file("in.wav"), 48000, 2, stereo);
    const auto expect = resampler::convert(mono48, 48000, 24000);

    wav_device_options o;
    o.input_path = dir.file("in.wav");
    o.pacing = wav_pacing::fast;
    auto dev = open_wav_device(o);
    engine eng(engine_config{});
    ASSERT_FALSE(dev->start(eng));
    std::vector<sample> got;
    capture_frame f;
    const auto deadline = steady::now() + std::chrono::seconds(30);
    while (steady::now() < deadline) {
        while (eng.read(f)) got.insert(got.end(), f.pcm.begin(), f.pcm.end());
        if (dev->input_exhausted() && got.size() >= expect.size()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    dev->stop();
    ASSERT_GE(got.size(), expect.size());
    EXPECT_EQ(eng.stats().overruns, 0U);
    // The same signal as a one-shot conversion of the whole file, sample for sample (+-2 LSB:
    // the streamed resampler rounds chunk by chunk).
    int worst = 0;
    for (std::size_t i = 0; i < expect.size(); ++i) {
        worst = std::max(worst, std::abs(got[i] - expect[i]));
    }
    EXPECT_LE(worst, 2);
    // After the file: silence (the device keeps capturing), never a repeat of the input.
    EXPECT_TRUE(std::all_of(got.begin() + static_cast<std::ptrdiff_t>(expect.size()), got.end(),
                            [](sample s) { return std::abs(s) <= 2; }));
}

namespace {

TEST(engine_hold, pauses_without_losing_audio_and_resumes_where_it_paused) {
    rig r;
    const auto a = pattern(24000, 1000);  // 1 s
    ASSERT_TRUE(r.eng->play(1, a));
    r.eng->end_item(1);
    r.dev->step(20);  // 200 ms heard
    const std::int64_t before = r.eng->heard_samples(1);
    EXPECT_EQ(before, 200 * 24);
    r.eng->hold(true);
    EXPECT_TRUE(r.eng->holding());
    r.dev->step(30);  // 300 ms paused: the fade-out's samples, then nothing consumed
    const std::int64_t paused = r.eng->heard_samples(1);
    const std::size_t fade = 8 * 24;
    EXPECT_EQ(paused, before + static_cast<std::int64_t>(fade));
    r.eng->hold(false);
    r.dev->step(100);
    EXPECT_TRUE(r.eng->drained());
    EXPECT_EQ(r.eng->heard_samples(1), 24000);  // every sample played, none skipped
    const auto out = r.finish();
    // The 300 ms pause is silence, between the fade-out and the fade-in.
    const std::size_t pause_at = 200 * 24 + fade;
    ASSERT_GE(out.size(), pause_at + 290 * 24);
    for (std::size_t i = pause_at; i < pause_at + 290 * 24; ++i) ASSERT_EQ(out[i], 0) << i;
    // The fade-out falls to silence; after the pause the item goes on from where it stopped,
    // fading in, then bit-exact.
    EXPECT_LT(std::abs(out[pause_at - 1]), 40);
    const auto resumed = std::find_if(out.begin() + static_cast<std::ptrdiff_t>(pause_at),
                                      out.end(), [](sample s) { return s != 0; });
    ASSERT_NE(resumed, out.end());
    const auto at = static_cast<std::size_t>(resumed - out.begin());
    const std::size_t src = 200 * 24 + fade;  // the next sample of the item
    EXPECT_LT(std::abs(out[at]), 40);         // fading in
    EXPECT_TRUE(std::equal(a.begin() + static_cast<std::ptrdiff_t>(src + fade),
                           a.begin() + 24000 - 1,
                           out.begin() + static_cast<std::ptrdiff_t>(at + fade)));
}

TEST(engine_hold, a_flush_while_paused_is_silent_and_completes) {
    rig r;
    const auto a = pattern(24000, 1000);
    ASSERT_TRUE(r.eng->play(1, a));
    r.eng->end_item(1);
    r.dev->step(10);
    r.eng->hold(true);
    r.dev->step(5);
    const std::uint64_t g = r.eng->flush();
    r.dev->step(2);
    EXPECT_TRUE(r.eng->flush_completed(g));
    r.eng->hold(false);
    r.dev->step(10);
    const auto out = r.finish();
    const std::size_t after = 100 * 24 + 8 * 24;
    for (std::size_t i = after; i < out.size(); ++i) ASSERT_EQ(out[i], 0) << i;
    EXPECT_EQ(r.eng->state(), playback_state::idle);
}

}  // namespace
