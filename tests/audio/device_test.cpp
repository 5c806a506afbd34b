// PortAudio for real, through a private PulseAudio server (tests/fixtures/pulse_env.sh): no
// sound hardware, no network. Speech from espeak-ng goes into the virtual microphone and must
// come out of the engine's capture; a signal the engine plays must reach the virtual speaker.
//
// Own main(): without pulseaudio (or espeak-ng/sox) the test reports SKIP with exit code 77
// (CTest SKIP_RETURN_CODE), except in CI (env CI set), where missing tools are a failure.
// `audio_device_test --probe-no-device` is the child used by the no-device test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "ava/audio/devices.hpp"
#include "ava/audio/engine.hpp"
#include "ava/audio/portaudio_device.hpp"
#include "ava/core/error.hpp"
#include "process.hpp"
#include "pulse_server.hpp"
#include "signal_match.hpp"
#include "test_util.hpp"

namespace {

using namespace ava::audio;
using ava::core::sample;
using ava::test::run_process;
using ava::test::spawn_process;
using ava::test::stop_process;

ava::test::pulse_server* g_pulse = nullptr;
std::string g_self;

// Best normalised cross-correlation of `source` inside `captured` (tests/fixtures).
double best_correlation(const std::vector<sample>& source, const std::vector<sample>& captured,
                        std::size_t* lag_out = nullptr) {
    const auto m = ava::test::find_signal(source, captured);
    if (lag_out != nullptr) *lag_out = m.lag;
    return std::max(m.sample_corr, 0.0);
}

// espeak-ng speech converted to 24 kHz mono s16 with sox (testing-audio.md "Speech fixtures").
std::vector<sample> make_speech(const ava::audio::test::temp_dir& dir, std::string& path24) {
    const std::string raw = dir.file("say.wav");
    path24 = dir.file("say24.wav");
    EXPECT_EQ(run_process({"espeak-ng", "-w", raw, "turn off the living room lights"}), 0);
    EXPECT_EQ(run_process({"sox", raw, "-r", "24000", "-c", "1", "-b", "16", "-e", "signed-integer",
                           path24}),
              0);
    const auto wav = ava::audio::test::read_wav(path24);
    EXPECT_EQ(wav.rate, 24000);
    EXPECT_EQ(wav.channels, 1);
    return wav.samples;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
}

TEST(audio_device, no_sound_server_gives_a_clear_no_device_error) {
    // A child process, so PortAudio probes from scratch with PULSE_SERVER pointing nowhere.
    const int rc = run_process({g_self, "--probe-no-device"}, std::chrono::seconds(30));
    EXPECT_EQ(rc, 0) << "the child did not get errc::no_device (see its output above)";
}

TEST(audio_device, lists_the_virtual_sound_card) {
    const auto devices = list_devices();
    ASSERT_FALSE(devices.empty());
    bool any_input_default = false;
    bool any_output_default = false;
    for (const auto& d : devices) {
        EXPECT_FALSE(d.name.empty());
        EXPECT_FALSE(d.host_api.empty());
        any_input_default |= d.default_input && d.max_input_channels > 0;
        any_output_default |= d.default_output && d.max_output_channels > 0;
    }
    EXPECT_TRUE(any_input_default);
    EXPECT_TRUE(any_output_default);
}

TEST(audio_device, unknown_device_name_is_a_config_error) {
    portaudio_options o;
    o.input_device = "no-such-microphone-xyz";
    try {
        open_portaudio_device(o);
        FAIL() << "expected an error";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), ava::make_error_code(ava::errc::bad_config));
        EXPECT_NE(std::string(e.what()).find("--list-devices"), std::string::npos);
    }
}

class audio_device_io : public ::testing::Test {
  protected:
    void SetUp() override {
        // Speech first: nobody drains the capture ring until a test's io thread starts.
        speech = make_speech(dir, speech_path);
        ASSERT_GT(speech.size(), 24000U);
        portaudio_options o;
        // 60 ms of host buffering: the test checks the pipeline's content, and CI machines are
        // shared; a starved callback (a host xrun) is the machine's fault, not ours.
        o.latency_ms = 60;
        if (const char* p = std::getenv("AVA_TEST_PERIOD_MS")) o.period_ms = std::stoi(p);
        if (const char* l = std::getenv("AVA_TEST_LATENCY_MS")) o.latency_ms = std::stoi(l);
        dev = open_portaudio_device(o);
        engine_config cfg;
        cfg.device_rate = dev->format().sample_rate;
        eng = std::make_unique<engine>(std::move(cfg));
        ASSERT_FALSE(dev->start(*eng)) << dev->description();
        // The first callbacks prove the stream runs.
        ASSERT_TRUE(wait_for([&] { return eng->stats().callbacks > 5; }, std::chrono::seconds(5)));
    }
    void TearDown() override {
        if (dev) dev->stop();
    }
    ava::audio::test::temp_dir dir{"device"};
    std::unique_ptr<duplex_device> dev;
    std::unique_ptr<engine> eng;
    std::string speech_path;
    std::vector<sample> speech;
};

TEST_F(audio_device_io, captures_speech_played_into_the_microphone) {
    // The io thread's job: drain 20 ms frames while paplay "speaks" into the mic sink.
    std::vector<sample> captured;
    std::atomic<bool> reading{true};
    // Audio captured before the reader starts may overflow the ring (that is what it is for);
    // from here on the io thread keeps up, so no more overruns are allowed.
    capture_frame f0;
    while (eng->read(f0)) {
    }
    const std::uint64_t overruns_before = eng->stats().overruns;
    std::thread io([&] {
        capture_frame f;
        while (reading.load()) {
            while (eng->read(f)) captured.insert(captured.end(), f.pcm.begin(), f.pcm.end());
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        while (eng->read(f)) captured.insert(captured.end(), f.pcm.begin(), f.pcm.end());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int rc = run_process({"paplay", "-d", g_pulse->mic_sink(), speech_path},
                               std::chrono::seconds(20), dir.file("paplay.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    reading.store(false);
    io.join();
    ASSERT_EQ(rc, 0);
    std::size_t lag = 0;
    if (const char* dump = std::getenv("AVA_AUDIO_DUMP_DIR")) {
        ava::audio::test::write_wav(std::string(dump) + "/captured.wav", 24000, 1, captured);
        ava::audio::test::write_wav(std::string(dump) + "/speech.wav", 24000, 1, speech);
    }
    const double corr = best_correlation(speech, captured, &lag);
    std::cout << "capture: " << captured.size() << " samples at 24 kHz via " << dev->description()
              << ", correlation " << corr << " at lag " << lag / 24 << " ms, overruns "
              << eng->stats().overruns - overruns_before << ", host xruns " << dev->host_xruns()
              << "\n";
    EXPECT_GT(corr, 0.9);
    EXPECT_EQ(eng->stats().overruns, overruns_before);
}

TEST_F(audio_device_io, plays_a_signal_out_of_the_speaker) {
    const std::string rec = dir.file("rec.wav");
    const pid_t recorder =
        spawn_process({"parecord", "-d", g_pulse->speaker_monitor(), "--file-format=wav",
                       "--rate=24000", "--channels=1", "--format=s16le", rec},
                      dir.file("parecord.log"));
    ASSERT_GT(recorder, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    // Deliver the speech as 100 ms deltas, like a reply arriving over the wire.
    for (std::size_t i = 0; i < speech.size(); i += 2400) {
        const std::size_t n = std::min<std::size_t>(2400, speech.size() - i);
        ASSERT_TRUE(eng->play(1, ava::core::pcm_view(speech.data() + i, n)));
    }
    eng->end_item(1);
    ASSERT_TRUE(wait_for(
        [&] {
            eng->service();
            return eng->drained();
        },
        std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    stop_process(recorder, SIGINT);

    const auto recorded = ava::audio::test::read_wav(rec);
    ASSERT_EQ(recorded.rate, 24000);
    std::size_t lag = 0;
    const double corr = best_correlation(speech, recorded.samples, &lag);
    std::cout << "playback: recorded " << recorded.samples.size() << " samples, correlation "
              << corr << " at lag " << lag / 24 << " ms, heard " << eng->heard_samples(1) << " of "
              << speech.size() << ", underruns " << eng->stats().underruns << ", host xruns "
              << dev->host_xruns() << "\n";
    EXPECT_GT(corr, 0.9);
    // With the sample rate native (24 kHz through pulse), the play clock counts every sample.
    if (eng->device_rate() == 24000) {
        EXPECT_EQ(eng->heard_samples(1), static_cast<std::int64_t>(speech.size()));
    }
}

// Child of the no-device test: no reachable sound server, no ALSA hardware on this machine.
int probe_no_device() {
    ::setenv("PULSE_SERVER", "unix:/nonexistent/ava-no-such-pulse-socket", 1);
    ::setenv("PULSE_CLIENTCONFIG", "/dev/null", 1);
    try {
        auto dev = open_portaudio_device({});
        std::cerr << "probe: unexpectedly opened " << dev->description() << "\n";
        return 1;
    } catch (const std::system_error& e) {
        std::cerr << "probe: " << e.what() << "\n";
        if (e.code() != ava::make_error_code(ava::errc::no_device)) return 2;
        if (std::string(e.what()).find("--list-devices") == std::string::npos) return 3;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "probe: unexpected exception " << e.what() << "\n";
        return 4;
    }
}

}  // namespace

int main(int argc, char** argv) {
    g_self = argv[0];
    if (argc > 1 && std::string(argv[1]) == "--probe-no-device") return probe_no_device();
    ::testing::InitGoogleTest(&argc, argv);
    const bool ci = std::getenv("CI") != nullptr;
    std::vector<std::string> missing;
    if (!ava::test::pulse_server::available()) missing.emplace_back("pulseaudio pulseaudio-utils");
    if (!ava::test::have_program("espeak-ng")) missing.emplace_back("espeak-ng");
    if (!ava::test::have_program("sox")) missing.emplace_back("sox");
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing) list += " " + m;
        std::cout << (ci ? "FAIL" : "SKIP") << ": device tests need:" << list
                  << " (scripts/install-deps.sh installs them)\n";
        return ci ? 1 : 77;
    }
    ava::test::pulse_server pulse;
    if (!pulse.start()) {
        std::cout << "FAIL: could not start a private PulseAudio server: " << pulse.error() << "\n";
        return 1;
    }
    g_pulse = &pulse;
    const int rc = RUN_ALL_TESTS();
    pulse.stop();
    return rc;
}
