// The simulated model's voice (private to the simulator).
//
// Text -> 24 kHz mono PCM16. espeak-ng when it is built in (its 22.05 kHz output resampled to
// 24 kHz with libsoxr), else a clearly audible synthetic voiced signal: a syllable-modulated
// harmonic tone, about 150 ms per word, so tests and the demo hear "speech-like" audio either way.
// Thread safety: any thread. espeak-ng keeps global state, so its calls are serialised by a
// mutex; results are cached per (text, voice, speed, engine) because tests repeat short replies.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ava::sim::detail {

using pcm16 = std::vector<std::int16_t>;

/// True when this build has espeak-ng and it can run (with AVA_LAZY_LIBS its library is loaded,
/// and espeak-ng initialised, by the first call to this or to synthesize()).
bool espeak_available();

/// Why libespeak-ng could not be loaded (sim/espeak_shim.cpp, AVA_LAZY_LIBS builds only); ""
/// when it is loaded.
const char* espeak_load_error() noexcept;

/// Synthesises `text`. `engine` is "auto", "espeak" or "tone"; `voice` picks an espeak variant
/// (each GA voice name maps to a different one) or the tone's pitch; `speed` 0.25..1.5.
/// Never throws for bad text; an espeak failure falls back to the tone.
std::shared_ptr<const pcm16> synthesize(const std::string& text, const std::string& voice,
                                        double speed, const std::string& engine);

/// The synthetic voiced signal alone (exposed for tests).
pcm16 synth_tone(const std::string& text, const std::string& voice, double speed);

}  // namespace ava::sim::detail
