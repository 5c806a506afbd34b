#include "ava/audio/wav_device.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <sndfile.h>

#include "ava/audio/resampler.hpp"
#include "ava/core/error.hpp"
#include "ava/core/spsc_ring.hpp"

namespace ava::audio {
namespace {

using clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(make_error_code(errc::bad_config), what);
}

// Reads a whole WAV (any rate, any channel count), mixes to mono and resamples to 24 kHz.
std::vector<core::sample> load_input(const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) fail("cannot read input audio '" + path + "': " + sf_strerror(nullptr));
    if (info.channels <= 0 || info.samplerate <= 0 || info.frames < 0) {
        sf_close(f);
        fail("input audio '" + path + "' has no usable format");
    }
    const auto channels = static_cast<std::size_t>(info.channels);
    std::vector<short> interleaved(static_cast<std::size_t>(info.frames) * channels);
    const sf_count_t got = sf_readf_short(f, interleaved.data(), info.frames);
    sf_close(f);
    const auto frames = static_cast<std::size_t>(std::max<sf_count_t>(got, 0));
    std::vector<core::sample> mono(frames);
    for (std::size_t i = 0; i < frames; ++i) {
        int sum = 0;
        for (std::size_t c = 0; c < channels; ++c) sum += interleaved[i * channels + c];
        mono[i] = static_cast<core::sample>(sum / static_cast<int>(channels));
    }
    if (info.samplerate == core::wire_rate) return mono;
    return resampler::convert(mono, info.samplerate, core::wire_rate);
}

class wav_device_impl final : public wav_device {
  public:
    explicit wav_device_impl(const wav_device_options& opts, bool null_device)
        : opts_(opts),
          period_(static_cast<std::size_t>(core::wire_rate / 1000 * std::max(1, opts.period_ms))),
          in_buf_(period_),
          out_buf_(period_),
          out_ring_(static_cast<std::size_t>(core::wire_rate) * 2) {
        if (opts.period_ms < 1 || opts.period_ms > 200) fail("wav device: period_ms out of range");
        if (!opts.input_path.empty()) {
            input_ = load_input(opts.input_path);
            has_input_file_ = true;
        }
        if (!opts.output_path.empty()) {
            SF_INFO info{};
            info.samplerate = core::wire_rate;
            info.channels = 1;
            info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
            out_file_ = sf_open(opts.output_path.c_str(), SFM_WRITE, &info);
            if (out_file_ == nullptr) {
                fail("cannot write output audio '" + opts.output_path +
                     "': " + sf_strerror(nullptr));
            }
        }
        description_ = null_device
                           ? "null device"
                           : "wav in='" + opts.input_path + "' out='" + opts.output_path + "'";
    }

    ~wav_device_impl() override {
        stop();
        if (out_file_ != nullptr) sf_close(out_file_);
    }

    stream_format format() const override {
        return {.sample_rate = core::wire_rate,
                .input_channels = 1,
                .output_channels = 1,
                .period_frames = period_};
    }

    std::error_code start(device_callback& cb) override {
        if (cb_ != nullptr) return make_error_code(errc::device_failed);  // already started
        cb_ = &cb;
        running_.store(true);
        writer_ = std::thread([this] { write_loop(); });
        if (opts_.pacing != wav_pacing::manual) pacer_ = std::thread([this] { pace_loop(); });
        return {};
    }

    void stop() override {
        running_.store(false);
        if (pacer_.joinable()) pacer_.join();
        writer_stop_.store(true);
        if (writer_.joinable()) writer_.join();
        if (out_file_ != nullptr) sf_write_sync(out_file_);
    }

    bool input_exhausted() const noexcept override {
        return has_input_file_ && exhausted_.load(std::memory_order_acquire);
    }

    std::string_view description() const noexcept override { return description_; }

    void step(std::size_t periods) override {
        if (cb_ == nullptr || opts_.pacing != wav_pacing::manual) return;
        for (std::size_t p = 0; p < periods; ++p) run_period();
    }

    std::uint64_t samples_written() const noexcept override {
        return written_.load(std::memory_order_acquire);
    }

  private:
    // The pacing thread's per-period work: copy input, call the engine, queue the output.
    // realtime thread (like a sound card's callback: no locks, no allocation, no file I/O)
    void run_period(bool capture = true) noexcept {
        const std::size_t left = pos_ < input_.size() ? input_.size() - pos_ : 0;
        const std::size_t n = std::min(left, period_);
        if (n > 0) std::memcpy(in_buf_.data(), input_.data() + pos_, n * sizeof(core::sample));
        std::fill(in_buf_.begin() + static_cast<std::ptrdiff_t>(n), in_buf_.end(), core::sample{0});
        pos_ += n;
        if (has_input_file_ && pos_ >= input_.size()) {
            exhausted_.store(true, std::memory_order_release);
        }
        const callback_timing t{.now = clock::now(),
                                .output_pending_samples = opts_.output_latency_samples};
        cb_->process(capture ? core::pcm_view(in_buf_) : core::pcm_view{}, out_buf_, t);
        // The writer drains every few ms; waiting here (fast/manual modes, or a stalled disk)
        // keeps the output complete rather than dropping it.
        std::size_t done = 0;
        while (done < period_) {
            done += out_ring_.write(core::pcm_view(out_buf_).subspan(done));
            if (done < period_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    bool input_remaining() const noexcept { return has_input_file_ && pos_ < input_.size(); }

    void pace_loop() {
        const auto period = std::chrono::microseconds(static_cast<std::int64_t>(period_) *
                                                      1'000'000 / core::wire_rate);
        auto next = clock::now();
        while (running_.load(std::memory_order_acquire)) {
            if (opts_.pacing == wav_pacing::fast) {
                if (input_remaining()) {
                    if (cb_->capture_room() < period_) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        continue;
                    }
                    run_period();
                } else if (cb_->playback_active()) {
                    // Input exhausted: render the replies without capturing endless silence
                    // faster than the io thread could read it.
                    run_period(!has_input_file_);
                } else {
                    std::this_thread::sleep_for(period);
                }
                continue;
            }
            next += period;
            std::this_thread::sleep_until(next);
            const auto now = clock::now();
            // A sound card does not catch up after a long stall: resynchronise.
            if (now - next > std::chrono::milliseconds(200)) next = now;
            run_period();
        }
    }

    void write_loop() {
        std::vector<core::sample> chunk(period_ * 8);
        for (;;) {
            const std::size_t n = out_ring_.read(chunk);
            if (n > 0) {
                if (out_file_ != nullptr) {
                    sf_write_short(out_file_, chunk.data(), static_cast<sf_count_t>(n));
                }
                written_.fetch_add(n, std::memory_order_release);
                continue;
            }
            if (writer_stop_.load(std::memory_order_acquire) && out_ring_.readable() == 0) break;
            // Realtime pacing fills the 2 s ring at 1x: waking every 50 ms keeps it far from
            // full and costs 20 wake-ups a second instead of 500 (the writer was ava-voice's
            // busiest thread in the CPU benchmark). Fast pacing fills it as fast as it can.
            std::this_thread::sleep_for(opts_.pacing == wav_pacing::realtime
                                            ? std::chrono::milliseconds(50)
                                            : std::chrono::milliseconds(2));
        }
    }

    wav_device_options opts_;
    const std::size_t period_;
    std::vector<core::sample> input_;
    bool has_input_file_ = false;
    std::size_t pos_ = 0;  // pacing thread only
    std::vector<core::sample> in_buf_;
    std::vector<core::sample> out_buf_;
    core::spsc_ring<core::sample> out_ring_;
    SNDFILE* out_file_ = nullptr;
    device_callback* cb_ = nullptr;
    std::atomic<bool> running_{false};
    std::atomic<bool> writer_stop_{false};
    std::atomic<bool> exhausted_{false};
    std::atomic<std::uint64_t> written_{0};
    std::thread pacer_;
    std::thread writer_;
    std::string description_;
};

}  // namespace

std::unique_ptr<wav_device> open_wav_device(const wav_device_options& opts) {
    return std::make_unique<wav_device_impl>(opts, false);
}

std::unique_ptr<duplex_device> open_null_device(int period_ms) {
    wav_device_options opts;
    opts.period_ms = period_ms;
    return std::make_unique<wav_device_impl>(opts, true);
}

}  // namespace ava::audio
