#include "ava/audio/wav_device.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ava/audio/resampler.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/spsc_ring.hpp"

namespace ava::audio {
namespace {

using clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(make_error_code(errc::bad_config), what);
}

// The input file, read a chunk at a time on the file thread (never whole: an hour-long recording
// must not cost an hour of PCM in memory), mixed to mono and resampled to 24 kHz with one
// stateful resampler.
class input_reader {
  public:
    input_reader(const std::string& path, std::chrono::milliseconds fifo_wait) {
        SF_INFO info{};
        file_ = open_file(path, fifo_wait, info);
        if (file_ == nullptr) {
            if (fifo_fd_ >= 0) ::close(fifo_fd_);
            fail("cannot read input audio '" + path + "': " + sf_strerror(nullptr));
        }
        if (info.channels <= 0 || info.samplerate <= 0 || info.frames < 0) {
            sf_close(file_);
            if (fifo_fd_ >= 0) ::close(fifo_fd_);
            fail("input audio '" + path + "' has no usable format");
        }
        // A header can claim any rate. Far below speech rates the resampler multiplies each chunk
        // by up to 24000 (1 Hz: 98 M samples from 4096 frames), and far above it soxr is asked
        // for ratios no recording has; both are a damaged or hostile file, not audio.
        if (info.samplerate < min_rate || info.samplerate > max_rate) {
            sf_close(file_);
            if (fifo_fd_ >= 0) ::close(fifo_fd_);
            fail("input audio '" + path + "' has no usable format (a sample rate of " +
                 std::to_string(info.samplerate) + " Hz; " + std::to_string(min_rate) + " to " +
                 std::to_string(max_rate) + " Hz can be read)");
        }
        // Float and double files hold -1.0..1.0: read as shorts, libsndfile hands them over
        // unscaled, so speech became zeros (silence, no turn, no warning). They are read as
        // floats and scaled here (libsndfile's own scaling option normalises to the file's
        // peak, which would change the level).
        const int subtype = info.format & SF_FORMAT_SUBMASK;
        float_ = subtype == SF_FORMAT_FLOAT || subtype == SF_FORMAT_DOUBLE;
        channels_ = static_cast<std::size_t>(info.channels);
        if (info.samplerate != core::wire_rate) {
            rs_ = std::make_unique<resampler>(info.samplerate, core::wire_rate);
        }
        if (float_) {
            interleaved_float_.resize(chunk_frames * channels_);
        } else {
            interleaved_.resize(chunk_frames * channels_);
        }
        mono_.reserve(chunk_frames);
    }
    ~input_reader() {
        sf_close(file_);
        if (fifo_fd_ >= 0) ::close(fifo_fd_);
    }
    input_reader(const input_reader&) = delete;
    input_reader& operator=(const input_reader&) = delete;

    [[nodiscard]] bool done() const noexcept { return done_; }

    /// Appends the next chunk (about 100 ms at 24 kHz, after resampling) to `out`; at the end of
    /// the file, the resampler's tail, and then done() is true.
    void read(std::vector<core::sample>& out) {
        if (done_) return;
        const auto want = static_cast<sf_count_t>(chunk_frames);
        const sf_count_t got = float_ ? sf_readf_float(file_, interleaved_float_.data(), want)
                                      : sf_readf_short(file_, interleaved_.data(), want);
        const auto frames = static_cast<std::size_t>(std::max<sf_count_t>(got, 0));
        mono_.resize(frames);
        for (std::size_t i = 0; i < frames; ++i) {
            if (float_) {
                float sum = 0.0f;
                for (std::size_t c = 0; c < channels_; ++c) {
                    sum += interleaved_float_[i * channels_ + c];
                }
                const float v = std::clamp(sum / static_cast<float>(channels_), -1.0f, 1.0f);
                mono_[i] = static_cast<core::sample>(std::lround(v * 32767.0f));
                continue;
            }
            int sum = 0;
            for (std::size_t c = 0; c < channels_; ++c) sum += interleaved_[i * channels_ + c];
            mono_[i] = static_cast<core::sample>(sum / static_cast<int>(channels_));
        }
        if (rs_) {
            rs_->process(mono_, out);
        } else {
            out.insert(out.end(), mono_.begin(), mono_.end());
        }
        if (frames < chunk_frames) {  // end of file (or a read error: what was read is kept)
            if (rs_) rs_->drain(out);
            done_ = true;
        }
    }

  private:
    // A regular file: sf_open. A FIFO: open() itself would block until a writer appears (maybe
    // never, silently), so it is opened without blocking and waited on with a time limit; the
    // first bytes make it readable, and libsndfile reads the stream from the descriptor.
    SNDFILE* open_file(const std::string& path, std::chrono::milliseconds wait, SF_INFO& info) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
            return sf_open(path.c_str(), SFM_READ, &info);
        }
        const auto wait_s = std::to_string((wait.count() + 999) / 1000);
        log::get("audio")->warn("input audio '{}' is a FIFO: waiting up to {} s for a writer", path,
                                wait_s);
        fifo_fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo_fd_ < 0) fail("cannot read input audio '" + path + "': " + std::strerror(errno));
        pollfd p{.fd = fifo_fd_, .events = POLLIN, .revents = 0};
        int r = 0;
        do {
            r = ::poll(&p, 1, static_cast<int>(wait.count()));
        } while (r < 0 && errno == EINTR);
        if (r <= 0 || (p.revents & POLLIN) == 0) {
            ::close(fifo_fd_);
            fifo_fd_ = -1;
            fail("input audio '" + path + "' is a FIFO and nothing was written to it within " +
                 wait_s + " s");
        }
        const int flags = ::fcntl(fifo_fd_, F_GETFL);
        if (flags >= 0) ::fcntl(fifo_fd_, F_SETFL, flags & ~O_NONBLOCK);
        return sf_open_fd(fifo_fd_, SFM_READ, &info, SF_FALSE);  // closed by ~input_reader
    }

    static constexpr std::size_t chunk_frames = 4096;
    static constexpr int min_rate = 1000;
    static constexpr int max_rate = 768000;
    int fifo_fd_ = -1;
    SNDFILE* file_ = nullptr;
    std::size_t channels_ = 1;
    std::unique_ptr<resampler> rs_;
    bool float_ = false;  ///< a float or double file: read as floats, scaled to PCM16
    std::vector<short> interleaved_;
    std::vector<float> interleaved_float_;
    std::vector<core::sample> mono_;
    bool done_ = false;
};

class wav_device_impl final : public wav_device {
  public:
    explicit wav_device_impl(const wav_device_options& opts, bool null_device)
        : opts_(opts),
          period_(static_cast<std::size_t>(core::wire_rate / 1000 * std::max(1, opts.period_ms))),
          in_buf_(period_),
          out_buf_(period_),
          in_ring_(static_cast<std::size_t>(core::wire_rate) * 2),
          out_ring_(static_cast<std::size_t>(core::wire_rate) * 2),
          out_chunk_(std::max(period_ * 8, drain_samples)) {
        if (opts.period_ms < 1 || opts.period_ms > 200) fail("wav device: period_ms out of range");
        if (opts.room) room_.emplace(*opts.room);
        if (!opts.input_path.empty()) {
            reader_ = std::make_unique<input_reader>(opts.input_path, opts.fifo_wait);
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
        if (opts.room) description_ += " room=" + to_string(*opts.room);
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
        fill_input();  // the first seconds are there before the first period
        if (opts_.pacing != wav_pacing::driven) file_thread_ = std::thread([this] { file_loop(); });
        if (opts_.pacing == wav_pacing::realtime || opts_.pacing == wav_pacing::fast) {
            pacer_ = std::thread([this] { pace_loop(); });
        }
        next_due_ = clock::now() + period_duration();
        return {};
    }

    void stop() override {
        running_.store(false);
        if (pacer_.joinable()) pacer_.join();
        file_stop_.store(true);
        if (file_thread_.joinable()) {
            file_thread_.join();
        } else {
            write_output(1);  // driven or manual pacing: what is left in the ring
        }
        if (out_file_ != nullptr) sf_write_sync(out_file_);
    }

    bool input_exhausted() const noexcept override {
        return has_input_file_ && exhausted_.load(std::memory_order_acquire);
    }

    std::string_view description() const noexcept override { return description_; }

    std::optional<clock::time_point> drive(clock::time_point now) override {
        if (opts_.pacing != wav_pacing::driven || cb_ == nullptr ||
            !running_.load(std::memory_order_acquire))
            return std::nullopt;
        // A sound card does not catch up after a long stall: resynchronise (as pace_loop).
        if (now - next_due_ > std::chrono::milliseconds(200)) next_due_ = now;
        fill_input();  // the file I/O is here, outside the periods (no file thread)
        while (next_due_ <= now) {
            run_period();
            next_due_ += period_duration();
        }
        write_output(drain_samples);
        return next_due_;
    }

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
        std::size_t n = 0;
        if (has_input_file_ && capture) {
            n = in_ring_.read(core::pcm_span(in_buf_));
            // The file thread reads 2 s ahead, so this only runs short at the end of the file,
            // or when the disk stalls for longer than that: a sound card cannot wait, so
            // realtime pacing plays silence there and counts it; fast and manual pacing wait.
            while (n < period_ && !input_eof_.load(std::memory_order_acquire)) {
                if (opts_.pacing == wav_pacing::realtime || opts_.pacing == wav_pacing::driven) {
                    input_starved_.fetch_add(1, std::memory_order_relaxed);
                    break;
                }
                if (!running_.load(std::memory_order_acquire) && opts_.pacing != wav_pacing::manual)
                    break;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                n += in_ring_.read(core::pcm_span(in_buf_).subspan(n));
            }
            if (n < period_ && input_eof_.load(std::memory_order_acquire)) {
                n += in_ring_.read(core::pcm_span(in_buf_).subspan(n));
                if (in_ring_.readable() == 0) exhausted_.store(true, std::memory_order_release);
            }
        }
        std::fill(in_buf_.begin() + static_cast<std::ptrdiff_t>(n), in_buf_.end(), core::sample{0});
        if (room_) room_->capture(in_buf_);  // always, so the room's two clocks stay in step
        const callback_timing t{.now = clock::now(),
                                .output_pending_samples = opts_.output_latency_samples,
                                .echo_delay_samples = opts_.output_latency_samples};
        cb_->process(capture ? core::pcm_view(in_buf_) : core::pcm_view{}, out_buf_, t);
        if (room_) room_->play(out_buf_);
        // The file thread drains every few ms; waiting here (fast/manual modes, or a stalled
        // disk) keeps the output complete rather than dropping it.
        std::size_t done = 0;
        while (done < period_) {
            done += out_ring_.write(core::pcm_view(out_buf_).subspan(done));
            if (done < period_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    bool input_remaining() const noexcept {
        return has_input_file_ && !exhausted_.load(std::memory_order_acquire);
    }

    [[nodiscard]] std::chrono::microseconds period_duration() const noexcept {
        return std::chrono::microseconds(static_cast<std::int64_t>(period_) * 1'000'000 /
                                         core::wire_rate);
    }

    void pace_loop() {
        const auto period = period_duration();
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

    // file thread (and start(), before the threads exist): keeps the input ring full.
    void fill_input() {
        if (!reader_) return;
        for (;;) {
            if (pending_pos_ < pending_.size()) {
                pending_pos_ += in_ring_.write(core::pcm_view(pending_).subspan(pending_pos_));
                if (pending_pos_ < pending_.size()) return;  // ring full
            }
            pending_.clear();
            pending_pos_ = 0;
            if (reader_->done()) {
                input_eof_.store(true, std::memory_order_release);
                reader_.reset();  // closes the file
                return;
            }
            reader_->read(pending_);
        }
    }

    // Moves the output ring to the file while it holds at least `at_least` samples (file thread,
    // or the control thread when there is none). Returns whether anything was written.
    bool write_output(std::size_t at_least) {
        bool any = false;
        while (out_ring_.readable() >= at_least && out_ring_.readable() > 0) {
            const std::size_t n = out_ring_.read(out_chunk_);
            if (out_file_ != nullptr) {
                sf_write_short(out_file_, out_chunk_.data(), static_cast<sf_count_t>(n));
            }
            written_.fetch_add(n, std::memory_order_release);
            any = true;
        }
        return any;
    }

    // The file thread: reads the input ahead and writes the output behind the pacing thread.
    void file_loop() {
        for (;;) {
            fill_input();
            if (write_output(1)) continue;
            if (file_stop_.load(std::memory_order_acquire) && out_ring_.readable() == 0) break;
            // Real-time pacing moves 2 s rings at 1x: waking every 100 ms keeps them far from
            // full/empty (a 1.9 s margin) and costs 10 wake-ups a second instead of 500 (the
            // writer was once ava-voice's busiest thread in the CPU benchmark; at 50 ms it still
            // took 40-70 ms of CPU per 50 s). Fast pacing goes as fast as it can.
            // (Driven pacing has no file thread.)
            std::this_thread::sleep_for(opts_.pacing == wav_pacing::realtime
                                            ? std::chrono::milliseconds(100)
                                            : std::chrono::milliseconds(2));
        }
    }

    // Driven pacing writes the output in blocks of 100 ms: one write(2) every 5 periods.
    static constexpr std::size_t drain_samples = core::wire_rate / 10;

    wav_device_options opts_;
    const std::size_t period_;
    bool has_input_file_ = false;
    std::unique_ptr<input_reader> reader_;  // file thread (driven: control thread)
    std::vector<core::sample> pending_;     // read, not yet in the ring (likewise)
    std::size_t pending_pos_ = 0;
    std::vector<core::sample> in_buf_;
    std::vector<core::sample> out_buf_;
    core::spsc_ring<core::sample> in_ring_;   // file thread -> pacing thread
    core::spsc_ring<core::sample> out_ring_;  // pacing thread -> file thread
    std::vector<core::sample> out_chunk_;     // what write_output() moves to the file
    SNDFILE* out_file_ = nullptr;
    device_callback* cb_ = nullptr;
    std::optional<echo_room> room_;  // the echo rig (options.room)
    std::atomic<bool> running_{false};
    std::atomic<bool> file_stop_{false};
    std::atomic<bool> input_eof_{false};  // the whole input is in in_ring_ (or was)
    std::atomic<bool> exhausted_{false};  // ... and the pacing thread has consumed it
    std::atomic<std::uint64_t> input_starved_{0};
    std::atomic<std::uint64_t> written_{0};
    clock::time_point next_due_{};  // driven pacing: the next period's time (control thread)
    std::thread pacer_;
    std::thread file_thread_;
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
