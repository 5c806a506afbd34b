// Helpers shared by the audio tests: WAV files, tones, Goertzel, temp dirs.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include <sndfile.h>
#include <unistd.h>

#include "ava/core/pcm.hpp"

namespace ava::audio::test {

struct wav_data {
    int rate = 0;
    int channels = 0;
    std::vector<core::sample> samples;  // interleaved
};

inline wav_data read_wav(const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) throw std::runtime_error("cannot read " + path);
    wav_data d{info.samplerate, info.channels, {}};
    d.samples.resize(static_cast<std::size_t>(info.frames * info.channels));
    sf_readf_short(f, d.samples.data(), info.frames);
    sf_close(f);
    return d;
}

inline void write_wav(const std::string& path, int rate, int channels,
                      const std::vector<core::sample>& interleaved) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    sf_writef_short(
        f, interleaved.data(),
        static_cast<sf_count_t>(interleaved.size() / static_cast<std::size_t>(channels)));
    sf_close(f);
}

inline std::vector<core::sample> sine(double freq, int rate, std::size_t n, double amp,
                                      double phase = 0) {
    std::vector<core::sample> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<core::sample>(std::lround(
            amp * std::sin(2 * std::numbers::pi * freq * static_cast<double>(i) / rate + phase)));
    }
    return out;
}

/// Amplitude of the `freq` component (Goertzel), in the same units as the samples.
inline double goertzel_amplitude(const core::sample* x, std::size_t n, double freq, int rate) {
    const double w = 2 * std::numbers::pi * freq / rate;
    const double c = 2 * std::cos(w);
    double s1 = 0;
    double s2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    const double power = s1 * s1 + s2 * s2 - c * s1 * s2;
    return 2 * std::sqrt(std::max(0.0, power)) / static_cast<double>(n);
}

inline double rms_of(const core::sample* x, std::size_t n) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    return n == 0 ? 0 : std::sqrt(sum / static_cast<double>(n));
}

/// A fresh directory under the build tree's temp, removed on destruction.
class temp_dir {
  public:
    explicit temp_dir(const std::string& tag) {
        path_ =
            std::filesystem::temp_directory_path() /
            ("ava-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    [[nodiscard]] std::string file(const std::string& name) const {
        return (path_ / name).string();
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    static int& counter() {
        static int c = 0;
        return c;
    }
    std::filesystem::path path_;
};

}  // namespace ava::audio::test
