// Headless devices: WAV file in/out (`--input in.wav --output out.wav`) and null.
//
// They drive the same device_callback as a sound card, from their own thread:
//  - realtime: one period every period_ms on a steady_clock schedule, like a sound card;
//  - fast: periods back to back while there is input to feed (waiting, never dropping, when the
//    engine's capture ring is full) or audio to play; once the input is exhausted and nothing is
//    queued the device sleeps instead of writing silence, so the output file holds the replies
//    complete and in order without idle gaps;
//  - driven: real time like `realtime`, but with no thread of its own: the control thread runs
//    the due periods in drive() (the session's io thread does, on its tick). A file needs no
//    realtime thread, and one thread waking 50 times a second costs far less than two (headless
//    ava-voice uses this);
//  - manual: no thread; step() runs periods on the caller's thread (a fake clock for tests).
// The input WAV may have any rate and channel count: it is mixed to mono and resampled to
// 24 kHz as it is read. The output is 24 kHz mono PCM16. The input is streamed 2 s ahead and
// the output written behind (memory stays flat whatever the file's length). With realtime and
// fast pacing that file I/O runs on a file thread of its own, so the pacing thread only copies
// and calls the engine; driven pacing does it in drive(), outside the periods (reading a chunk
// every ~170 ms and writing every 100 ms from the page cache), which saves the file thread's
// 10 wake-ups a second. A disk that stalls then delays the control thread, never a period.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ava/audio/device.hpp"
#include "ava/audio/echo_room.hpp"

namespace ava::audio {

enum class wav_pacing : std::uint8_t { realtime, fast, driven, manual };

struct wav_device_options {
    std::string input_path;   ///< empty: the microphone hears silence (never exhausted)
    std::string output_path;  ///< empty: what is played is discarded
    wav_pacing pacing = wav_pacing::realtime;
    int period_ms = 10;  ///< device period (a typical sound-card period)
    /// Output latency the device reports to the engine's play clock, in 24 kHz samples (models a
    /// sound card's DAC delay in tests). 0: a sample handed over is a sample in the file.
    std::int64_t output_latency_samples = 0;
    /// An input that is a FIFO (mkfifo, bash's <(...)) opens when a writer sends its first
    /// bytes: how long to wait for them (saying so) before failing, instead of blocking forever.
    std::chrono::milliseconds fifo_wait{30000};
    /// The echo rig: what is played comes back into what is captured through this room
    /// (echo_room.hpp). Tests and benchmarks of echo handling; `--room` on the command line.
    std::optional<echo_room_options> room;
};

class wav_device : public duplex_device {
  public:
    /// Manual pacing only, control thread: runs `periods` device periods now.
    virtual void step(std::size_t periods) = 0;
    /// Samples written to the output (complete after stop()).
    [[nodiscard]] virtual std::uint64_t samples_written() const noexcept = 0;
};

/// Opens the files now (so a bad path is reported before anything starts). Throws
/// std::system_error with ava::errc::bad_config and a message naming the file and the reason.
std::unique_ptr<wav_device> open_wav_device(const wav_device_options& opts);

/// A device with no sound at all: silent input, discarded output, realtime pacing.
std::unique_ptr<duplex_device> open_null_device(int period_ms = 10);

}  // namespace ava::audio
