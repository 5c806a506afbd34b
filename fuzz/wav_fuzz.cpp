// libFuzzer target: the WAV input reader (include/ava/audio/wav_device.hpp), on a file as
// `--input FILE` opens it: libsndfile parses the header (and any other format it recognises),
// then the reader mixes to mono and resamples to 24 kHz, chunk by chunk. Driven pacing, so no
// thread: each drive() runs one period on this thread until the input is exhausted. A file it
// cannot use must be refused with std::system_error (bad_config).
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "ava/audio/device.hpp"
#include "ava/audio/wav_device.hpp"

namespace {

// Removed when the fuzzer exits normally (a crash leaves it, next to the crash file's input).
struct temp_file {
    std::string path;
    ~temp_file() {
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
};

const std::string& wav_file() {
    static const temp_file f{(std::filesystem::temp_directory_path() /
                              ("ava-wav-fuzz-" + std::to_string(::getpid()) + ".wav"))
                                 .string()};
    return f.path;
}

// Takes every period's input and plays silence.
class sink final : public ava::audio::device_callback {
  public:
    void process(ava::core::pcm_view in, ava::core::pcm_span out,
                 const ava::audio::callback_timing&) noexcept override {
        for (const auto s : in) sum_ += s;
        for (auto& s : out) s = 0;
    }
    [[nodiscard]] std::size_t capture_room() const noexcept override { return 1 << 20; }
    [[nodiscard]] bool playback_active() const noexcept override { return false; }
    long long sum_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        std::ofstream out(wav_file(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    ava::audio::wav_device_options o;
    o.input_path = wav_file();
    o.pacing = ava::audio::wav_pacing::driven;
    o.period_ms = 200;  // fewer periods per input: the reader is what is fuzzed
    try {
        auto dev = ava::audio::open_wav_device(o);
        sink cb;
        if (dev->start(cb)) return 0;
        auto t = std::chrono::steady_clock::now();
        // At most 200 periods of 200 ms (two drive() calls each): 40 s of audio, more than an
        // uncompressed fuzz input holds at the lowest accepted rate (1000 Hz), and a bound on
        // what a compressed one (FLAC, Ogg: libsndfile opens those too) can cost.
        for (int i = 0; i < 400 && !dev->input_exhausted(); ++i) {
            const auto next = dev->drive(t);
            if (!next) break;
            t = *next;
        }
        dev->stop();
    } catch (const std::system_error&) {
        // refused: "cannot read input audio" / "no usable format"
    }
    return 0;
}
