// A simulated room for echo tests and benchmarks (the echo rig (a) of the echo-cancellation
// issue): what the speaker plays comes back into the microphone through a room impulse response.
//
// The response is a direct path `delay` after the sound left the speaker, at `gain_db` relative
// to the played signal, followed by a reverberant tail: decaying noise of `tail_ms` whose level
// falls by 30 dB over the tail, starting 12 dB under the direct path. A little white noise
// (`noise_dbfs`) is always added, and the speaker's clock may run `drift_ppm` fast or slow
// relative to the microphone's (the echo is read at a fractional, slowly moving position), as
// two real sound cards do.
//
// Use: for each device period, capture(mic) BEFORE the engine runs (adds the echo of what was
// played in earlier periods), then play(speaker) with what the engine produced. Any one thread;
// no allocation after construction (the WAV device calls it inside its periods).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ava/core/pcm.hpp"

namespace ava::audio {

struct echo_room_options {
    int delay_ms = 65;        ///< speaker to microphone (30 .. 200 ms in the rig)
    double gain_db = 0.0;     ///< direct echo level relative to the played signal (-30 .. +12)
    int tail_ms = 60;         ///< reverberant tail after the direct path (0: none)
    double noise_dbfs = -65;  ///< white noise added to the microphone (<= -120: none)
    double drift_ppm = 0.0;   ///< speaker clock relative to the microphone's (-500 .. 500)
    std::uint32_t seed = 1;   ///< for the tail and the noise (reproducible runs)
};

/// Parses "delay=65,gain=+6,tail=60,noise=-65,drift=20,seed=1" (any subset, any order; a bare
/// "on" or "default" takes the defaults). Throws std::invalid_argument naming the bad field.
echo_room_options parse_echo_room(std::string_view spec);
/// The canonical text of `o` (what parse_echo_room reads back).
std::string to_string(const echo_room_options& o);

class echo_room {
  public:
    explicit echo_room(const echo_room_options& opts);

    /// Adds the room's echo of what was played before, and the noise, to `mic` in place.
    void capture(core::pcm_span mic) noexcept;
    /// What the speaker played in this period (after capture() of the same period).
    void play(core::pcm_view speaker) noexcept;

    [[nodiscard]] const echo_room_options& options() const noexcept { return opts_; }

  private:
    [[nodiscard]] float history_at(double pos) const noexcept;

    echo_room_options opts_;
    std::vector<std::uint32_t> tap_at_;  ///< impulse response: offsets from the direct path
    std::vector<float> tap_gain_;        ///< and their gains
    std::vector<float> history_;         ///< what was played, a ring
    std::uint64_t played_ = 0;           ///< samples written to history_
    std::uint64_t captured_ = 0;         ///< microphone samples produced
    double delay_samples_ = 0;
    float noise_ = 0;
    std::uint32_t rng_;
};

}  // namespace ava::audio
