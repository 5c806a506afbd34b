// Wire audio helpers of the simulator (private): G.711 and the energy VAD. (Base64 is
// core::base64.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ava::sim::detail {

/// G.711 (8 kHz) <-> PCM16 at 24 kHz, for sessions with audio/pcmu or audio/pcma.
std::vector<std::int16_t> g711_to_pcm24k(const std::vector<std::uint8_t>& bytes, bool ulaw);
std::vector<std::uint8_t> pcm24k_to_g711(const std::int16_t* pcm, std::size_t n, bool ulaw);

/// Energy voice-activity detector on 24 kHz PCM16, run in 10 ms blocks.
///
/// The session's `threshold` (0..1) maps linearly onto an RMS level in dBFS:
///     level_dbfs = -70 + 60 * threshold   (0 -> -70 dBFS, 0.5 -> -40 dBFS, 1 -> -10 dBFS)
/// so the default 0.5 hears ordinary speech (-30..-15 dBFS RMS) and ignores a quiet room
/// (< -50 dBFS), and a higher threshold needs louder speech, as with the real service.
/// Speech starts after 30 ms of blocks above the level (one-block clicks do not count) and
/// stops after `silence_duration_ms` of blocks below it.
class energy_vad {
  public:
    struct config {
        double threshold = 0.5;
        int prefix_padding_ms = 300;
        int silence_duration_ms = 500;
    };
    enum class event { none, started, stopped };

    void configure(const config& c) { cfg_ = c; }
    void reset();
    /// Feeds one 10 ms block (240 samples) ending at input sample `end_sample` (session
    /// position). Returns the transition it caused.
    event feed_block(const std::int16_t* block, std::size_t n, std::int64_t end_sample);
    bool in_speech() const { return in_speech_; }
    /// Session position (samples) where speech began, minus prefix padding (clamped at 0).
    std::int64_t start_sample() const { return start_sample_; }
    static double level_for_threshold(double threshold);  ///< linear RMS (0..1 full scale)

  private:
    config cfg_;
    bool in_speech_ = false;
    int voiced_run_ms_ = 0;
    int silence_run_ms_ = 0;
    std::int64_t start_sample_ = 0;
};

}  // namespace ava::sim::detail
