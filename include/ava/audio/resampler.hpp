// A streaming resampler (libsoxr) for one direction of audio: keep one per stream, feed it
// chunk after chunk. Re-creating it per chunk loses the filter state and clicks (peer lesson 14).
#pragma once

#include <memory>
#include <vector>

#include "ava/core/pcm.hpp"

namespace ava::audio {

class resampler {
  public:
    /// Throws std::runtime_error when soxr rejects the rates. Equal rates give a pass-through.
    resampler(int in_rate, int out_rate);
    ~resampler();
    resampler(const resampler&) = delete;
    resampler& operator=(const resampler&) = delete;

    [[nodiscard]] int in_rate() const noexcept { return in_rate_; }
    [[nodiscard]] int out_rate() const noexcept { return out_rate_; }
    [[nodiscard]] bool passthrough() const noexcept { return in_rate_ == out_rate_; }

    /// Appends the resampled `in` to `out` (the filter keeps its state between calls, so some
    /// output lags by the filter delay). Allocates only when `out` must grow.
    void process(core::pcm_view in, std::vector<core::sample>& out);
    /// Appends what the filter still holds (end of a stream) and resets it for a fresh signal.
    void drain(std::vector<core::sample>& out);
    /// Forgets the filter state (after a flush) without producing output.
    void reset();

    /// One-shot conversion of a whole buffer (files), including the tail.
    static std::vector<core::sample> convert(core::pcm_view in, int in_rate, int out_rate);

  private:
    struct impl;
    int in_rate_;
    int out_rate_;
    std::unique_ptr<impl> impl_;
};

}  // namespace ava::audio
