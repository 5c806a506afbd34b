// The device seam: every audio device (PortAudio, WAV files, null) drives the same callback.
//
// Callback contract (the same for every device, so tests exercise the real pipeline):
//  - the device calls device_callback::process() from ONE thread (its "realtime thread": the
//    PortAudio callback, or the WAV/null device's pacing thread, or, for a WAV device in driven
//    pacing, the control thread inside drive()), once per device period;
//  - samples are mono int16 at the device's rate (format().sample_rate); a device with more
//    channels down/up-mixes around the call (plain arithmetic, no allocation);
//  - `in` holds the captured period (or is empty when the device has no input), `out` must be
//    filled completely; when both are present they have the same length;
//  - process() must not block, lock, allocate, log or throw (it is noexcept).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

#include "ava/core/pcm.hpp"

namespace ava::audio {

/// What a device tells the callback about the period being processed.
struct callback_timing {
    /// When the callback began (steady_clock): the captured period became available then.
    std::chrono::steady_clock::time_point now{};
    /// Device-rate samples already handed to the device, INCLUDING this period's `out`, that the
    /// listener has not heard yet at `now` (PortAudio: (outputBufferDacTime - currentTime) *
    /// rate + out.size(); WAV device: 0, because a sample handed over is a sample in the file).
    std::int64_t output_pending_samples = 0;
    /// Device-rate samples between a speaker sample of this period and the microphone sample
    /// of this period that shares its index: DAC time minus ADC time (PortAudio:
    /// outputBufferDacTime - inputBufferAdcTime). The echo of what is played can arrive no
    /// earlier than this; the echo canceller delays its reference by it. 0 when unknown.
    std::int64_t echo_delay_samples = 0;
};

/// Implemented by the engine; called by a device. See the contract at the top of this file.
class device_callback {
  public:
    virtual ~device_callback() = default;
    /// Realtime thread: one device period. Must not block, lock, allocate, log or throw.
    virtual void process(core::pcm_view in, core::pcm_span out,
                         const callback_timing& timing) noexcept = 0;
    /// Realtime thread: how many captured samples fit now. A device that may wait (the WAV device
    /// in fast mode) waits until a period fits instead of losing input; sound cards ignore it.
    [[nodiscard]] virtual std::size_t capture_room() const noexcept = 0;
    /// Any thread: true while a period would play something (audio ready to start or playing,
    /// a flush to perform); false while nothing is queued or an item only waits for more audio.
    /// A fast WAV device whose input is exhausted renders periods only then, instead of writing
    /// silence as fast as it can.
    [[nodiscard]] virtual bool playback_active() const noexcept = 0;
};

/// Format the device runs at, after negotiation.
struct stream_format {
    int sample_rate = core::wire_rate;
    int input_channels = 1;   ///< channels of the device itself (the callback always sees mono)
    int output_channels = 1;  ///< channels of the device itself (the callback always sees mono)
    std::size_t period_frames = 0;  ///< typical period; 0 when the device decides per callback
};

/// A full-duplex audio device. Concrete types live in .cpp files (factories in
/// portaudio_device.hpp and wav_device.hpp). Control methods are for one control thread (the io
/// or main thread), never the realtime thread.
class duplex_device {
  public:
    virtual ~duplex_device() = default;
    duplex_device() = default;
    duplex_device(const duplex_device&) = delete;
    duplex_device& operator=(const duplex_device&) = delete;

    [[nodiscard]] virtual stream_format format() const = 0;
    /// Starts calling `cb` (which must outlive the running device). Errors come back as values.
    virtual std::error_code start(device_callback& cb) = 0;
    /// Stops; returns after the last callback finished (and, for the WAV device, after the
    /// output file is complete). Safe to call twice.
    virtual void stop() = 0;
    /// True when the input is finished for good (end of the input WAV). Sound cards: false.
    [[nodiscard]] virtual bool input_exhausted() const noexcept { return false; }
    /// Over/underflows the host audio system reported (the machine did not run the callback in
    /// time); the engine's own counters cannot see these. Any thread.
    [[nodiscard]] virtual std::uint64_t host_xruns() const noexcept { return 0; }
    /// Devices without a clock of their own (WAV files in driven pacing) let the control thread
    /// run their periods: drive() runs every period due by `now` and returns when the next one
    /// is due. Devices that run themselves (sound cards, the other WAV pacings) do nothing and
    /// return std::nullopt. Control thread, after start().
    virtual std::optional<std::chrono::steady_clock::time_point> drive(
        std::chrono::steady_clock::time_point now) {
        (void)now;
        return std::nullopt;
    }
    /// Short human-readable description ("pulse (ALSA) 48000 Hz 2->mono", "wav in.wav").
    [[nodiscard]] virtual std::string_view description() const noexcept = 0;
};

}  // namespace ava::audio
