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
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
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
using ava::test::wait_process;

ava::test::pulse_server* g_pulse = nullptr;
std::string g_self;

// Best normalised cross-correlation of `source` inside `captured` (tests/fixtures).
double best_correlation(const std::vector<sample>& source, const std::vector<sample>& captured,
                        std::size_t* lag_out = nullptr) {
    const auto m = ava::test::find_signal(source, captured);
    if (lag_out != nullptr) *lag_out = m.lag;
    return std::max(m.sample_corr, 0.0);
}

double pieces_found(const std::vector<sample>& source, const std::vector<sample>& recorded);

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
    const double pieces = pieces_found(speech, captured);
    std::cout << "capture: " << captured.size() << " samples at 24 kHz via " << dev->description()
              << ", " << static_cast<int>(pieces * 100) << "% of the pieces found, whole-signal "
              << "correlation " << corr << " at lag " << lag / 24 << " ms, overruns "
              << eng->stats().overruns - overruns_before << ", host xruns " << dev->host_xruns()
              << "\n";
    // Piecewise, not the whole-signal correlation: see pieces_found() for why a loaded machine
    // drops the latter to 0.5-0.85 although every word came through.
    EXPECT_GE(pieces, 0.8);
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
    const double pieces = pieces_found(speech, recorded.samples);
    std::cout << "playback: recorded " << recorded.samples.size() << " samples, "
              << static_cast<int>(pieces * 100) << "% of the pieces found, whole-signal "
              << "correlation " << corr << " at lag " << lag / 24 << " ms, heard "
              << eng->heard_samples(1) << " of " << speech.size() << ", underruns "
              << eng->stats().underruns << ", host xruns " << dev->host_xruns() << "\n";
    // CI once saw 0.83 here with every sample heard and no underrun or xrun: parecord, a client
    // of its own on a loaded machine, had put a gap into the recording (see pieces_found()).
    // A host xrun reported by the device garbles more (CI: 75% of the pieces with 2 xruns, every
    // sample heard): then half of them must still come out intact.
    EXPECT_GE(pieces, dev->host_xruns() == 0 ? 0.8 : 0.5) << dev->host_xruns() << " host xruns";
    // With the sample rate native (24 kHz through pulse), the play clock counts every sample.
    if (eng->device_rate() == 24000) {
        EXPECT_EQ(eng->heard_samples(1), static_cast<std::int64_t>(speech.size()));
    }
}

// ---- fault injection: the watchdog's reopen path -------------------------------------------

// What portaudio_options::on_fault reported, in order. on_fault runs on the device's watchdog
// thread, so the test thread reads snapshots.
class fault_log {
  public:
    struct event {
        std::error_code ec;
        std::string what;
        std::chrono::steady_clock::time_point at;
    };
    void add(std::error_code ec, const std::string& what) {
        std::lock_guard lock(mutex_);
        events_.push_back({ec, what, std::chrono::steady_clock::now()});
    }
    [[nodiscard]] std::vector<event> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    /// Index of the first event at or after `from` that is an error (`failure`) or a success.
    [[nodiscard]] std::optional<std::size_t> find(bool failure, std::size_t from = 0) const {
        std::lock_guard lock(mutex_);
        for (std::size_t i = from; i < events_.size(); ++i) {
            if (static_cast<bool>(events_[i].ec) == failure) return i;
        }
        return std::nullopt;
    }
    [[nodiscard]] std::size_t size() const {
        std::lock_guard lock(mutex_);
        return events_.size();
    }
    [[nodiscard]] std::string dump() const {
        std::lock_guard lock(mutex_);
        std::string out;
        const auto t0 = events_.empty() ? std::chrono::steady_clock::time_point{} : events_[0].at;
        for (const auto& e : events_) {
            const auto ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(e.at - t0).count();
            out += "  +" + std::to_string(ms) + " ms " + (e.ec ? e.ec.message() : "ok") + ": " +
                   e.what + "\n";
        }
        return out;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<event> events_;
};

// A session's io thread, played by the test thread: drains capture (keeping what `keep` says)
// and moves queued playback on, between the test's own checks.
struct io_pump {
    engine& eng;
    std::vector<sample> captured;
    bool keep = false;
    void operator()() {
        capture_frame f;
        while (eng.read(f)) {
            if (keep) captured.insert(captured.end(), f.pcm.begin(), f.pcm.end());
        }
        eng.service();
    }
    bool until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
        return wait_for(
            [&] {
                (*this)();
                return pred();
            },
            timeout);
    }
};

// Generous: the test asserts that it happens, not how fast (a loaded 2-core CI machine).
constexpr auto fault_deadline = std::chrono::seconds(30);

// Queues `pcm` as item `tag` in 100 ms deltas, like a reply arriving over the wire.
bool play_item(engine& eng, std::uint32_t tag, const std::vector<sample>& pcm) {
    for (std::size_t i = 0; i < pcm.size(); i += 2400) {
        const std::size_t n = std::min<std::size_t>(2400, pcm.size() - i);
        if (!eng.play(tag, ava::core::pcm_view(pcm.data() + i, n))) return false;
    }
    eng.end_item(tag);
    return true;
}

// parecord of a sink's monitor for as long as it lives (stopped by PID, even when an assertion
// returns early).
class recorder {
  public:
    recorder(const std::string& monitor, const std::string& wav, const std::string& log)
        : wav_(wav) {
        pid_ = spawn_process({"parecord", "-d", monitor, "--file-format=wav", "--rate=24000",
                              "--channels=1", "--format=s16le", wav},
                             log);
    }
    ~recorder() { finish(); }
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;
    [[nodiscard]] bool running() const { return pid_ > 0; }
    std::vector<sample> finish() {
        if (pid_ <= 0) return {};
        stop_process(pid_, SIGINT);
        pid_ = -1;
        return ava::audio::test::read_wav(wav_).samples;
    }

  private:
    std::string wav_;
    pid_t pid_ = -1;
};

// How much of `source` came out, sample-exact, in `recorded`: the share of its voiced 100 ms
// pieces found in order with a correlation above 0.9, each searched within +-20 ms of where the
// previous piece was found (starting from find_signal()'s lag). A single-lag correlation over the
// whole signal is not enough on a loaded machine: the pulse path now and then puts a gap of a few
// samples into the recording or garbles a piece (measured with two busy loops on 2 cores: 28
// samples of gaps and two garbled pieces in the first 800 ms, no xrun reported anywhere), which
// shifts everything after it and drops the whole-signal correlation to 0.5-0.85 although the
// speech came out. A different signal, or silence, matches no piece.
double pieces_found(const std::vector<sample>& source, const std::vector<sample>& recorded) {
    constexpr std::size_t piece = 2400;
    constexpr std::ptrdiff_t slack = 480;
    const auto m = ava::test::find_signal(source, recorded);
    if (m.sample_corr <= -1) return 0;  // the recording is shorter than the source
    std::size_t voiced = 0;
    std::size_t found = 0;
    auto offset = static_cast<std::ptrdiff_t>(m.lag);  // where source[0] is in `recorded`
    const auto rec_size = static_cast<std::ptrdiff_t>(recorded.size());
    for (std::size_t at = 0; at + piece <= source.size(); at += piece) {
        double ns = 0;
        for (std::size_t i = 0; i < piece; ++i) {
            const double v = source[at + i];
            ns += v * v;
        }
        if (std::sqrt(ns / static_cast<double>(piece)) < 300) continue;  // a pause between words
        ++voiced;
        double best = -1;
        std::ptrdiff_t best_offset = offset;
        for (std::ptrdiff_t off = offset - slack; off <= offset + slack; ++off) {
            const std::ptrdiff_t start = off + static_cast<std::ptrdiff_t>(at);
            if (start < 0 || start + static_cast<std::ptrdiff_t>(piece) > rec_size) continue;
            double dot = 0;
            double nr = 0;
            for (std::size_t i = 0; i < piece; ++i) {
                const double r = recorded[static_cast<std::size_t>(start) + i];
                dot += r * source[at + i];
                nr += r * r;
            }
            const double c = dot / std::sqrt(std::max(nr * ns, 1e-9));
            if (c > best) {
                best = c;
                best_offset = off;
            }
        }
        if (best > 0.9) {
            ++found;
            offset = best_offset;
        }
    }
    return voiced == 0 ? 0 : static_cast<double>(found) / static_cast<double>(voiced);
}

struct heard_result {
    ava::test::signal_match whole;  ///< single-lag match of the whole signal (for the log)
    double pieces = 0;              ///< pieces_found()
};

// Plays `speech` as item `tag` while recording `monitor`; how much of it came out.
heard_result played(engine& eng, io_pump& pump, std::uint32_t tag,
                    const std::vector<sample>& speech, const std::string& monitor,
                    const ava::audio::test::temp_dir& dir) {
    const std::string name = "rec" + std::to_string(tag);
    recorder rec(monitor, dir.file(name + ".wav"), dir.file(name + ".log"));
    if (!rec.running()) return {};
    pump.until([] { return false; }, std::chrono::milliseconds(300));
    if (!play_item(eng, tag, speech)) return {};
    const bool drained = pump.until([&] { return eng.drained(); }, fault_deadline);
    pump.until([] { return false; }, std::chrono::milliseconds(400));
    const auto recorded = rec.finish();
    if (const char* dump = std::getenv("AVA_AUDIO_DUMP_DIR")) {
        ava::audio::test::write_wav(
            std::string(dump) + "/" + name + "-" + std::to_string(::getpid()) + ".wav", 24000, 1,
            recorded);
    }
    if (!drained) return {};
    return {ava::test::find_signal(speech, recorded), pieces_found(speech, recorded)};
}

std::string describe(const heard_result& h) {
    return std::to_string(static_cast<int>(h.pieces * 100)) + "% of the pieces found (whole " +
           "signal: envelope " + std::to_string(h.whole.envelope_corr) + ", samples " +
           std::to_string(h.whole.sample_corr) + ")";
}

// Speaks `speech_path` into the microphone sink; returns how well the capture matches.
double captured_correlation(io_pump& pump, const std::vector<sample>& speech,
                            const std::string& speech_path, const ava::audio::test::temp_dir& dir) {
    pump.captured.clear();
    pump.keep = true;
    const pid_t player =
        spawn_process({"paplay", "-d", g_pulse->mic_sink(), speech_path}, dir.file("paplay.log"));
    int rc = -1;
    pump.until(
        [&] {
            rc = wait_process(player, std::chrono::milliseconds(0));
            return rc != -1;
        },
        std::chrono::seconds(20));
    if (rc == -1) stop_process(player, SIGKILL);
    pump.until([] { return false; }, std::chrono::milliseconds(500));
    pump.keep = false;
    return rc == 0 ? best_correlation(speech, pump.captured) : -1;
}

// Set when a test had to abandon a device whose watchdog is stuck inside PortAudio (see
// fault_rig::abandon()): its threads hold PortAudio's lock for good, so no later test in this
// process can open a device; they skip, and say why.
bool g_portaudio_stuck = false;

// One test's device, the engine it calls and the log it reports to, destroyed in that order.
struct fault_rig {
    std::unique_ptr<fault_log> faults = std::make_unique<fault_log>();
    std::unique_ptr<engine> eng;
    std::unique_ptr<duplex_device> dev;

    // Opens and starts the device with `o` (on_fault goes to `faults`); true when it runs.
    bool start(portaudio_options o) {
        o.latency_ms = 60;  // as audio_device_io: content is checked, CI machines are shared
        o.on_fault = [log = faults.get()](std::error_code ec, const std::string& what) {
            log->add(ec, what);
        };
        dev = open_portaudio_device(o);
        engine_config cfg;
        cfg.device_rate = dev->format().sample_rate;
        eng = std::make_unique<engine>(std::move(cfg));
        if (dev->start(*eng)) return false;
        return wait_for([&] { return eng->stats().callbacks > 5; }, std::chrono::seconds(5));
    }

    // For a device whose watchdog made no progress: stop() would wait for it forever, so the
    // device, the engine and the log stay alive (leaked) and later tests skip. Seen after the
    // sound server went away, 5 times in 86 runs of the server-restart test (idle machine and two
    // busy loops on 2 cores alike): libpulse's mainloop thread for one of ALSA's pulse PCMs waits
    // forever in pa_memimport_free() (from pa_pstream_unlink) while holding that mainloop's lock,
    // PortAudio's callback thread blocks on that lock inside the pulse plugin, and the watchdog's
    // Pa_CloseStream() joins the callback thread. The deadlock is below PortAudio; the device does
    // not survive it, and ava-voice would hang the same way (its watchdog, then stop()).
    void abandon() {
        g_portaudio_stuck = true;
        static_cast<void>(dev.release());
        static_cast<void>(eng.release());
        static_cast<void>(faults.release());
    }

    // For a watchdog that went silent: true when stop() returns within `timeout` (then the
    // silence is our own code's doing), false when it does not (stuck below us: abandoned).
    bool stops_within(std::chrono::seconds timeout) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        std::thread([d = dev.get(), done] {
            d->stop();
            done->store(true);
        }).detach();
        if (wait_for([&] { return done->load(); }, timeout)) return true;
        abandon();
        return false;
    }
};

// What a stuck device is reported as: a skip, because the deadlock is below PortAudio and known
// (fault_rig::abandon()), not a pass: the reopen path was not exercised in this run.
constexpr const char* stuck_below_portaudio =
    "SKIPPED, NOT PASSED: the device is stuck (no on_fault call for 30 s, and stop() does not "
    "return): the known deadlock between PortAudio's callback thread and libpulse after the "
    "sound server went away (see fault_rig::abandon()); ava-voice would hang the same way.\n";

#define SKIP_IF_PORTAUDIO_STUCK()                                                          \
    if (g_portaudio_stuck) {                                                               \
        GTEST_SKIP() << "an earlier test left PortAudio stuck (see fault_rig::abandon())"; \
    }

// Suspends null sinks while alive: the server stays up, but the sinks stop rendering, so a
// stream on them stalls.
class suspended_sinks {
  public:
    explicit suspended_sinks(std::vector<std::string> sinks) : sinks_(std::move(sinks)) {
        ok_ = set(true);
    }
    ~suspended_sinks() { resume(); }
    suspended_sinks(const suspended_sinks&) = delete;
    suspended_sinks& operator=(const suspended_sinks&) = delete;
    [[nodiscard]] bool ok() const { return ok_; }
    bool resume() {
        if (!suspended_) return true;
        suspended_ = false;
        return set(false);
    }

  private:
    bool set(bool on) {
        suspended_ = on;
        bool all = true;
        for (const auto& sink : sinks_) {
            all &= run_process({"pactl", "suspend-sink", sink, on ? "1" : "0"},
                               std::chrono::seconds(20)) == 0;
        }
        return all;
    }
    std::vector<std::string> sinks_;
    bool ok_ = false;
    bool suspended_ = false;
};

// The fault-injection tests: each gets a scratch directory and the espeak-ng sentence (24 kHz)
// to play, and skips when an earlier one left PortAudio stuck.
class audio_device_fault : public ::testing::Test {
  protected:
    void SetUp() override {
        SKIP_IF_PORTAUDIO_STUCK();
        speech = make_speech(dir, speech_path);
        ASSERT_GT(speech.size(), 24000U);
    }
    ava::audio::test::temp_dir dir{"devfault"};
    std::string speech_path;
    std::vector<sample> speech;
};

// The other kind of fault: the stream does not fail, it stalls. With both sinks suspended (the
// speaker, and the microphone whose monitor is the default source), PortAudio's ALSA callback
// thread keeps polling the pulse PCMs and never gets a period, so the stream stays "active"
// with no callbacks; the watchdog reports it after 2 s, closes it and reopens (the new stream
// stalls too until the sinks resume). The watchdog must keep doing that while the stall lasts,
// and stop() must not wait for the stall to end. (Closing with Pa_StopStream waited for
// PortAudio's callback thread, which only returns when the sinks resume: one report, then
// nothing, and stop() hung for as long as the sinks stayed suspended.)
TEST_F(audio_device_fault, a_stalled_stream_is_reported_reopened_and_stoppable) {
    fault_rig rig;
    ASSERT_TRUE(rig.start({})) << rig.dev->description();
    fault_log& faults = *rig.faults;
    engine& eng = *rig.eng;
    io_pump pump{eng};
    const std::vector<std::string> both{g_pulse->speaker_sink(), g_pulse->mic_sink()};

    {
        suspended_sinks stall(both);
        ASSERT_TRUE(stall.ok());
        // Reported, and reported again: the watchdog is not stuck closing the stalled stream.
        ASSERT_TRUE(pump.until(
            [&] {
                const auto first = faults.find(true);
                return first && faults.find(true, *first + 1).has_value();
            },
            fault_deadline))
            << "the stall was not reported twice:\n"
            << faults.dump();
        ASSERT_TRUE(stall.resume());
    }
    // The sinks are back: a stream runs again, and the last report says so (it may have been
    // made before the sinks resumed: a reopen on a suspended sink succeeds, then stalls).
    std::uint64_t base = eng.stats().callbacks;
    ASSERT_TRUE(pump.until(
        [&] {
            const auto events = faults.events();
            if (events.empty() || events.back().ec) {
                base = eng.stats().callbacks;
                return false;
            }
            return eng.stats().callbacks > base + 50;
        },
        fault_deadline))
        << "no running stream after the sinks resumed:\n"
        << faults.dump();
    std::cout << "stall: on_fault calls:\n" << faults.dump();
    const auto play = played(eng, pump, 1, speech, g_pulse->speaker_monitor(), dir);
    std::cout << "stall: playback after the sinks resumed: " << describe(play) << "\n";
    EXPECT_GE(play.pieces, 0.5) << describe(play);

    // stop() while the device is stalled returns (it does not wait for the sinks).
    suspended_sinks stall(both);
    ASSERT_TRUE(stall.ok());
    const std::size_t reports = faults.size();
    ASSERT_TRUE(pump.until([&] { return faults.find(true, reports).has_value(); }, fault_deadline))
        << faults.dump();
    std::atomic<bool> stopped{false};
    std::thread stopper([&] {
        rig.dev->stop();
        stopped = true;
    });
    const bool stop_returned = wait_for([&] { return stopped.load(); }, fault_deadline);
    stall.resume();  // lets a stop() that waits for the sinks finish, so the thread can join
    stopper.join();
    EXPECT_TRUE(stop_returned) << "stop() waited for the stalled device";
}

// Issue #5, second half: the reopen falls back to the default device when the chosen one is gone
// for good. The chosen device is an ALSA PCM ("ava_spare", defined in an extra ALSA config file
// given in ALSA_CONFIG_PATH) playing into a third null sink loaded for this test. It goes away as
// an unplugged card does: its definition is removed (PortAudio's device list, rebuilt by the
// reopen, no longer has it) and its sink stops rendering (suspended), so the stream stalls; the
// watchdog reports that, finds no device by that name any more and opens the default ones.
// (Stopping the server would do too, but after a disconnect libpulse can deadlock: see
// fault_rig::abandon().)
TEST_F(audio_device_fault, a_vanished_named_device_falls_back_to_the_default) {
    // The configuration ALSA would read anyway comes first in ALSA_CONFIG_PATH (its top-level
    // alsa.conf loads the system's files and libasound2-plugins' default-to-pulse), then ours.
    const char* env = std::getenv("ALSA_CONFIG_PATH");
    const std::string saved_path = env != nullptr ? env : "";
    const std::string base = saved_path.empty() ? "/usr/share/alsa/alsa.conf" : saved_path;
    if (saved_path.empty() && !std::filesystem::exists(base)) GTEST_SKIP() << base << " not found";
    const std::string conf = dir.file("asound-extra.conf");
    {
        std::ofstream f(conf);
        f << "pcm.ava_spare {\n    type pulse\n    device ava_spare\n}\n";
    }
    const std::string module_log = dir.file("load-module.log");
    ASSERT_EQ(run_process({"pactl", "load-module", "module-null-sink", "sink_name=ava_spare",
                           "rate=24000", "channels=1", "format=s16le"},
                          std::chrono::seconds(20), module_log),
              0);
    struct unload_spare {  // pactl printed the module's index
        std::string log;
        ~unload_spare() {
            std::ifstream in(log);
            std::string index;
            if (std::getline(in, index) && !index.empty()) {
                run_process({"pactl", "unload-module", index}, std::chrono::seconds(20));
            }
        }
    } unload{module_log};
    ::setenv("ALSA_CONFIG_PATH", (base + ":" + conf).c_str(), 1);
    struct restore_env {
        std::string value;
        ~restore_env() {
            if (value.empty()) {
                ::unsetenv("ALSA_CONFIG_PATH");
            } else {
                ::setenv("ALSA_CONFIG_PATH", value.c_str(), 1);
            }
        }
    } restore{saved_path};

    fault_rig rig;
    portaudio_options o;
    o.output_device = "ava_spare";
    ASSERT_TRUE(rig.start(o)) << rig.dev->description();
    fault_log& faults = *rig.faults;
    engine& eng = *rig.eng;
    io_pump pump{eng};
    const std::string opened_as(rig.dev->description());
    ASSERT_NE(opened_as.find("out 'ava_spare'"), std::string::npos) << opened_as;
    // The named device really is the one playing.
    const auto named = played(eng, pump, 1, speech, "ava_spare.monitor", dir);
    EXPECT_GE(named.pieces, 0.5) << describe(named);

    // The device goes away for good.
    { std::ofstream truncate(conf); }
    suspended_sinks gone({"ava_spare"});
    ASSERT_TRUE(gone.ok());
    ASSERT_TRUE(pump.until([&] { return faults.find(true).has_value(); }, fault_deadline))
        << "the vanished device was not reported";
    const std::size_t from = *faults.find(true);
    ASSERT_TRUE(pump.until([&] { return faults.find(false, from).has_value(); }, fault_deadline))
        << "no reopen reported:\n"
        << faults.dump();
    const auto reopened = faults.events()[*faults.find(false, from)];
    const std::string now_as(rig.dev->description());
    std::cout << "fallback: opened as " << opened_as << ", reopened as " << now_as
              << "; on_fault calls:\n"
              << faults.dump();
    EXPECT_EQ(now_as.find("ava_spare"), std::string::npos) << now_as;
    EXPECT_NE(reopened.what.find(now_as), std::string::npos) << reopened.what;

    // The default device (the fixture's speaker) plays the next reply.
    const std::uint64_t callbacks_reopened = eng.stats().callbacks;
    ASSERT_TRUE(
        pump.until([&] { return eng.stats().callbacks > callbacks_reopened + 50; }, fault_deadline))
        << "no callbacks after the reopen";
    ASSERT_TRUE(pump.until([&] { return eng.drained(); }, fault_deadline));
    const auto fallback = played(eng, pump, 2, speech, g_pulse->speaker_monitor(), dir);
    std::cout << "fallback: named device " << describe(named)
              << "; default device after the reopen " << describe(fallback) << "\n";
    EXPECT_GE(fallback.pieces, 0.5) << describe(fallback);
}

// Issue #5: a device that errors mid-session is reported, the stream is reopened with backoff,
// and the conversation continues. The fault is real: the private PulseAudio daemon is stopped
// while a reply plays and the microphone is captured, then started again at the same socket.
// What PortAudio (19.6, ALSA host API, ALSA's pulse plugin) sees: the plugin's connection drops,
// snd_pcm_poll_descriptors_revents() fails in PortAudio's callback thread, which exits (PortAudio
// prints "Expression '...revents...' failed" on stderr); Pa_IsStreamActive() turns 0, so the
// watchdog reports on its next 250 ms tick rather than after its 2 s stall timeout. While the
// server is down every reopen (PortAudio re-initialised, named then default devices) fails and
// is reported again; after the restart one succeeds. Last of the device tests: now and then the
// disconnect deadlocks libpulse (fault_rig::abandon()), which leaves PortAudio unusable in this
// process; the test then reports itself skipped, not passed.
TEST_F(audio_device_fault, sound_server_restart_is_reported_and_the_stream_reopens) {
    fault_rig rig;
    ASSERT_TRUE(rig.start({})) << rig.dev->description();
    fault_log& faults = *rig.faults;
    engine& eng = *rig.eng;
    io_pump pump{eng};
    const std::string opened_as(rig.dev->description());

    // A reply is playing (and the microphone captured) when the server goes away.
    ASSERT_TRUE(play_item(eng, 1, speech));
    ASSERT_TRUE(pump.until([&] { return eng.heard_samples(1) > 2400; }, fault_deadline));
    const auto t_stop = std::chrono::steady_clock::now();
    g_pulse->stop_daemon();

    // 1. The fault is reported, and reopening is retried while the server is down. (No ASSERT
    // before restart(): the server must come back for the tests after this one.)
    const bool reported = pump.until([&] { return faults.find(true).has_value(); }, fault_deadline);
    const bool retried = pump.until([&] { return faults.size() >= 2; }, fault_deadline);
    const std::uint64_t callbacks_down = eng.stats().callbacks;
    pump.until([] { return false; }, std::chrono::milliseconds(500));
    const bool silent_while_down = eng.stats().callbacks == callbacks_down;
    const std::size_t reports_while_down = faults.size();
    const auto down_for = std::chrono::steady_clock::now() - t_stop;
    ASSERT_TRUE(g_pulse->restart()) << g_pulse->error();
    if (reported && !retried) {
        // The watchdog reports every 0.25-5 s while it cannot reopen: silence means it is stuck.
        ASSERT_FALSE(rig.stops_within(std::chrono::seconds(10)))
            << "the watchdog stopped reporting while the server was down:\n"
            << faults.dump();
        GTEST_SKIP() << stuck_below_portaudio << faults.dump();
    }
    ASSERT_TRUE(reported) << "no fault reported after the sound server stopped";
    const auto events = faults.events();
    EXPECT_EQ(events[0].ec, ava::make_error_code(ava::errc::device_failed)) << faults.dump();
    for (std::size_t i = 0; i < reports_while_down; ++i) {
        EXPECT_TRUE(events[i].ec) << "reopened without a sound server:\n" << faults.dump();
    }
    EXPECT_TRUE(silent_while_down) << "callbacks ran without a sound server";

    // 2. The server is back: the stream is reopened, and that is reported (a success).
    const bool reopened = pump.until(
        [&] { return faults.find(false, reports_while_down).has_value(); }, fault_deadline);
    if (!reopened && faults.size() == reports_while_down) {
        ASSERT_FALSE(rig.stops_within(std::chrono::seconds(10)))
            << "the watchdog stopped reporting after the server came back:\n"
            << faults.dump();
        GTEST_SKIP() << stuck_below_portaudio << faults.dump();
    }
    ASSERT_TRUE(reopened) << "no reopen reported after the sound server came back:\n"
                          << faults.dump();
    const auto success = faults.events()[*faults.find(false, reports_while_down)];
    EXPECT_NE(success.what.find("stream reopened"), std::string::npos) << success.what;
    std::cout
        << "fault: server down for "
        << std::chrono::duration_cast<std::chrono::milliseconds>(down_for).count()
        << " ms, first report after "
        << std::chrono::duration_cast<std::chrono::milliseconds>(events[0].at - t_stop).count()
        << " ms; on_fault calls:\n"
        << faults.dump() << "  opened as " << opened_as << ", reopened as "
        << rig.dev->description() << "\n";

    // 3. Audio flows again: callbacks go on, the interrupted reply finishes, a new reply reaches
    // the speaker and speech in the microphone reaches the capture.
    const std::uint64_t callbacks_reopened = eng.stats().callbacks;
    EXPECT_TRUE(
        pump.until([&] { return eng.stats().callbacks > callbacks_reopened + 50; }, fault_deadline))
        << "no callbacks after the reopen";
    ASSERT_TRUE(pump.until([&] { return eng.drained(); }, fault_deadline))
        << "the interrupted reply never finished";
    const auto play = played(eng, pump, 2, speech, g_pulse->speaker_monitor(), dir);
    const double capture_corr = captured_correlation(pump, speech, speech_path, dir);
    std::cout << "after the reopen: playback " << describe(play) << "; capture correlation "
              << capture_corr << ", host xruns " << rig.dev->host_xruns() << "\n";
    EXPECT_GE(play.pieces, 0.5) << describe(play);
    EXPECT_GT(capture_corr, 0.9);
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
