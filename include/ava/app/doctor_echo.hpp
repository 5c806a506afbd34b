// The doctor's echo test (issue 15): does the speaker reach the microphone, how late and how
// loud, and does the echo canceller remove it?
//
// The test signal is speech-like noise (a pseudo-random, band-limited signal under a syllabic
// envelope, -20 dBFS RMS), played after a stretch of silence that measures the noise floor.
// analyse_echo() then works on what was played and what was recorded, both at 24 kHz and sample
// aligned as the device hands them over (a speaker sample and the microphone sample of the same
// index in one callback period):
//  - the echo path's delay: the lag of the strongest normalised cross-correlation of the two
//    (0 .. 700 ms; coarse at 8 kHz, then to the sample); no echo when that peak is weak or the
//    echo is not over the noise floor;
//  - the echo level at the microphone (dBFS) and its gain relative to what was played;
//  - ERLE: the same processing stage a conversation uses (--echo aec, the device's own delay)
//    run over the recording, echo energy in over energy out after the canceller converged.
//
// Threads: analyse_echo() is pure (any thread); the probe's process() is the realtime callback
// (no locks, no allocation: buffers sized up front).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "ava/audio/device.hpp"
#include "ava/core/pcm.hpp"

namespace ava::app {

struct echo_test_result {
    bool echo_found = false;
    double correlation = 0;          ///< peak normalised cross-correlation, 0 .. 1
    double delay_ms = 0;             ///< speaker to microphone, measured
    double device_delay_ms = 0;      ///< what the device reports (the canceller's bulk delay)
    double noise_floor_dbfs = -120;  ///< microphone level while nothing plays
    double played_dbfs = -120;       ///< the test signal's level
    double echo_dbfs = -120;         ///< its echo at the microphone
    double echo_gain_db = -120;      ///< echo relative to what was played
    double residual_dbfs = -120;     ///< the echo after cancellation
    double erle_db = 0;              ///< echo_dbfs - residual_dbfs (after convergence)
    bool converged = false;          ///< the canceller converged within the test
    double clipped_fraction = 0;     ///< microphone samples at full scale while playing
    bool canceller_available = true;
    std::string canceller_error;  ///< why it is not (names the package)
};

/// `played`/`recorded`: 24 kHz, equal length, `quiet` samples of silence first (noise floor).
/// `device_delay_samples`: the device's DAC - ADC time at 24 kHz (callback_timing).
echo_test_result analyse_echo(core::pcm_view played, core::pcm_view recorded, std::size_t quiet,
                              std::int64_t device_delay_samples);

/// The test signal at `rate`: `quiet_s` of silence, then `signal_s` of speech-like noise.
std::vector<core::sample> echo_test_signal(int rate, double quiet_s, double signal_s);

/// Plays the test signal and records both sides (the realtime callback). start() with a
/// running device; done() once the signal has played and `tail` more has been recorded.
class echo_probe final : public audio::device_callback {
  public:
    echo_probe(int rate, double quiet_s, double signal_s, double tail_s);
    void process(core::pcm_view in, core::pcm_span out,
                 const audio::callback_timing& timing) noexcept override;
    [[nodiscard]] std::size_t capture_room() const noexcept override { return 1u << 20; }
    [[nodiscard]] bool playback_active() const noexcept override { return !done(); }

    [[nodiscard]] bool done() const noexcept { return at_.load() >= played_.size(); }
    [[nodiscard]] int rate() const noexcept { return rate_; }
    [[nodiscard]] std::size_t quiet_samples() const noexcept { return quiet_; }
    /// After done(): what went out and what came in, sample aligned, at the device rate.
    [[nodiscard]] const std::vector<core::sample>& played() const noexcept { return played_; }
    [[nodiscard]] const std::vector<core::sample>& recorded() const noexcept { return recorded_; }
    [[nodiscard]] std::int64_t device_delay_samples() const noexcept { return delay_.load(); }

  private:
    int rate_;
    std::size_t quiet_;
    std::vector<core::sample> played_;    ///< the signal plus the tail's silence
    std::vector<core::sample> recorded_;  ///< the same length
    std::atomic<std::size_t> at_{0};
    std::atomic<std::int64_t> delay_{0};
};

}  // namespace ava::app
