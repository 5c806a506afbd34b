// The real device: PortAudio full duplex. No PortAudio types leak out of this header.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "ava/audio/device.hpp"

namespace ava::audio {

struct portaudio_options {
    /// Device selection: empty = the default device; all digits = a PortAudio index (see
    /// list_devices()); otherwise a case-insensitive substring of the device name.
    std::string input_device;
    std::string output_device;
    /// Rate to ask for first. When the device does not offer it, the device's default rate and
    /// then 48000, 44100, 96000 are tried and the engine resamples.
    int preferred_rate = 24000;
    /// Device period in ms (frames per callback = rate * period_ms / 1000); 0 lets PortAudio
    /// pick. 10 ms by default: through ALSA's PulseAudio plugin an unspecified period (about
    /// 8 ms of buffering) underruns on a loaded machine and loses captured samples (measured in
    /// tests/audio/device_test.cpp: correlation fell to 0.1-0.5), while 10 ms periods stay exact.
    int period_ms = 10;
    /// Host buffering PortAudio is asked for, in ms; 0 = the device's default low latency.
    /// More buffering survives a starved machine (fewer xruns) but keeps more audio in flight
    /// after a barge-in flush (the play clock subtracts it, so truncation stays exact).
    int latency_ms = 0;
    /// Reopen the stream when it stops or stalls mid-session (device unplugged, server restart),
    /// falling back to the default devices, with backoff 0.25 s doubling to 5 s.
    bool auto_reopen = true;
    /// How long closing a stream may take. A sound server that restarts can leave libpulse
    /// deadlocked inside Pa_CloseStream (seen in about 1 run of 20): the close runs on a helper
    /// thread, and a stream that does not close in time is abandoned (its callback cut off, the
    /// thread left behind) so that stop() returns and the watchdog can open a new stream.
    std::chrono::milliseconds close_timeout{2000};
    /// Called from the device's watchdog thread when the stream failed (errc::device_failed)
    /// and again when it was reopened (success). Also logged on the "audio" logger.
    std::function<void(std::error_code, const std::string&)> on_fault;
};

/// Opens (but does not start) a full-duplex stream. Throws std::system_error with
/// ava::errc::no_device when there is no usable input or output device (the message suggests
/// `--list-devices` or `--input`/`--output`), or errc::bad_config when a named device does not
/// exist. Call from a normal thread. The engine must be built for format().sample_rate.
std::unique_ptr<duplex_device> open_portaudio_device(const portaudio_options& opts);

}  // namespace ava::audio
