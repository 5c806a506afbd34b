// The audio engine's settings (ava/audio/engine.hpp): start threshold, fade, ring sizes and the
// DSP stage. A value type the facade (ava/session.hpp) takes as it is.
#pragma once

#include <memory>

#include "ava/audio/dsp.hpp"
#include "ava/core/pcm.hpp"

namespace ava::audio {

struct engine_config {
    /// The device rate (stream_format::sample_rate); 24 kHz needs no resampling.
    int device_rate = core::wire_rate;
    /// Audio a new item (or an item resuming after an underrun) buffers before it starts.
    /// 50 ms: the service sends audio faster than real time, so the ring only has to bridge the
    /// gap between the first and the second delta; 50 ms absorbs ordinary WebSocket/TCP jitter
    /// (a couple of 20 ms scheduling hiccups) while costing barely any latency, since a first
    /// delta of >= 50 ms starts at once. openai-agents-python uses 120 ms; we want less latency.
    /// An item marked complete (end_item) starts at once even when shorter.
    int start_threshold_ms = 50;
    /// Linear fade-out on flush: 8 ms removes the click (5-10 ms is inaudible as a fade) and
    /// fits in one 10-20 ms device period.
    int fade_ms = 8;
    /// Capture ring: 320 ms at the device rate = 16 wire frames. The io thread drains every
    /// 20 ms; the slack absorbs a stalled io thread or a device delivering 40-60 ms periods
    /// before mic audio is lost (counted as an overrun).
    int capture_ms = 320;
    /// Playback ring: 3 s at the device rate. Model audio arrives in bursts faster than real
    /// time; what does not fit waits in an io-side backlog (service()), never dropped.
    int playback_ms = 3000;
    /// DSP stage; nullptr = identity. The engine owns it.
    std::unique_ptr<dsp_stage> dsp;
};

}  // namespace ava::audio
