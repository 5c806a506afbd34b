// Counters and levels the engine keeps; a 1 s timer on the io thread may log them.
#pragma once

#include <cstdint>

namespace ava::audio {

/// A snapshot of the engine's counters (each counter is an atomic inside the engine).
struct engine_stats {
    std::uint64_t callbacks = 0;  ///< device periods processed
    std::uint64_t overruns = 0;   ///< periods whose capture did not fit (mic samples lost)
    std::uint64_t dropped_capture_samples = 0;  ///< mic samples lost to overruns
    std::uint64_t underruns = 0;        ///< periods that ran out of queued audio mid-item (silence)
    std::uint64_t flushes = 0;          ///< flushes performed by the callback
    std::uint64_t dropped_plays = 0;    ///< play() calls dropped because their tag was flushed
    std::uint64_t flushed_samples = 0;  ///< queued device-rate samples discarded by flushes
    /// Input overflows and output underflows the host audio API reported (PortAudio's callback
    /// flags). Not the engine's own count: ava::session fills it in from the device.
    std::uint64_t host_xruns = 0;
};

/// Signal level of the last 10 ms block, in dBFS (-inf dB is reported as -120).
struct level {
    float rms_db = -120.0f;
    float peak_db = -120.0f;
};

}  // namespace ava::audio
