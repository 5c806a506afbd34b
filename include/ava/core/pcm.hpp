// PCM conventions shared by every module: what the wire carries and how we count it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ava::core {

/// One sample of the wire format: signed 16-bit little-endian mono ("audio/pcm").
using sample = std::int16_t;
using pcm_view = std::span<const sample>;
using pcm_span = std::span<sample>;

/// The OpenAI Realtime API takes and returns 24 kHz mono PCM16 only (GA `audio/pcm`).
inline constexpr int wire_rate = 24000;
inline constexpr int wire_channels = 1;
inline constexpr std::size_t bytes_per_sample = sizeof(sample);

/// 20 ms = 480 samples: the default append size. Small appends let server VAD react sooner
/// (protocol reference section 6); 20 ms is also what the openai-python examples send.
inline constexpr int frame_ms = 20;
inline constexpr std::size_t frame_samples = wire_rate / 1000 * frame_ms;
/// 10 ms blocks are the unit of the DSP stage (AEC, VAD), as WebRTC APM and speexdsp want.
inline constexpr std::size_t dsp_block_samples = wire_rate / 100;

/// Samples at the wire rate -> milliseconds, rounded down (never overstates what was heard).
constexpr std::int64_t samples_to_ms(std::int64_t samples) noexcept {
    return samples * 1000 / wire_rate;
}
constexpr std::int64_t ms_to_samples(std::int64_t ms) noexcept {
    return ms * wire_rate / 1000;
}
/// Bytes of wire PCM -> milliseconds (bytes / 48 at 24 kHz mono s16), rounded down.
constexpr std::int64_t pcm_bytes_to_ms(std::int64_t bytes) noexcept {
    return samples_to_ms(bytes / static_cast<std::int64_t>(bytes_per_sample));
}

}  // namespace ava::core
