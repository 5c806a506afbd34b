// The audio processing stage for open speakers: echo cancellation, residual echo and noise
// suppression and automatic gain control (speexdsp: the MDF adaptive filter and its
// preprocessor), a high-pass filter, and a local voice activity decision on the cleaned signal.
//
// Why speexdsp: Debian 12 ships it (libspeexdsp1, 100 KB, a C API that loads lazily like the
// other optional libraries) and webrtc-audio-processing 0.3; both were measured on the echo rig,
// see bench/echo_bench.cpp and docs/audio-processing.md.
//
// The echo path: the engine hands render() the speaker block of the same device period as the
// mic block that follows, so the echo of a block arrives `set_echo_delay()` samples later (the
// device's DAC and ADC latencies) plus the room's own delay. The reference is delayed by the
// device's part (less a safety margin), and the adaptive filter (`filter_ms`) covers the room's.
// A new delay figure moves the reference; small clock drift between capture and playback moves
// the echo slowly inside the filter, which tracks it.
//
// A cold canceller removes little echo in its first second or two. Until it has converged
// (estimated echo loss `converged_db` over `converge_ms` of assistant speech), the stage also
// gates: while the assistant is audible at the mic, a block passes only when it is clearly
// louder than the echo the filter expects, so the service's VAD does not hear the assistant's
// own voice and barge-in is held back until the canceller can tell the two apart.
//
// `auto` echo handling runs the canceller only while the assistant's audio can still be in the
// mic (the reference window holds sound); otherwise the block passes untouched (unless noise
// suppression or gain control are on), which costs next to nothing.
//
// Threads: render(), capture() and report() on the io thread (engine::read()), never the
// realtime callback. No allocation after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ava/audio/dsp.hpp"

namespace ava::audio {

enum class echo_handling : std::uint8_t {
    off,        ///< nothing (headphones)
    gate,       ///< the playback-relative energy gate (energy_gate_dsp), with the echo path's delay
    aec,        ///< the adaptive canceller, always on
    automatic,  ///< the canceller while the assistant is audible, nothing otherwise
};

struct processing_options {
    echo_handling echo = echo_handling::automatic;
    bool noise = false;        ///< noise suppression
    bool gain = false;         ///< automatic gain control
    bool high_pass = false;    ///< 80 Hz high-pass before everything else
    int filter_ms = 300;       ///< adaptive filter: the room's echo path after the bulk delay
    int margin_ms = 20;        ///< the reference is delayed this much less than the device says
    int converge_ms = 1500;    ///< assistant speech the canceller needs before the gate opens
    double converged_db = 12;  ///< estimated echo loss that counts as converged
    double vad_dbfs = -42;     ///< local VAD: speech is louder than this after processing...
    double vad_snr_db = 12;    ///< ...and this much over the noise floor
    /// ...and, while the assistant is audible, at most this far under the mic before
    /// cancellation (echo loses 20-40 dB in the canceller, the user's voice very little)
    double vad_echo_margin_db = 10;
    int vad_onset_ms = 10;  ///< ...for this long
    /// The fast path: a cleaned block this far over the residual the converged filter leaves
    /// of the echo, for `vad_fast_onset_ms`, is speech too (the voice rising under the echo).
    double vad_fast_margin_db = 25;
    int vad_fast_onset_ms = 20;
    int vad_hangover_ms = 200;  ///< speech ends after this much quiet
};

/// Builds the stage. Throws std::runtime_error when speexdsp is needed and cannot be loaded
/// (the message names the package and the setting to turn off).
std::unique_ptr<dsp_stage> make_audio_processor(const processing_options& opts);

/// "off", "gate", "aec", "auto".
const char* to_string(echo_handling e) noexcept;

}  // namespace ava::audio
