// PortAudio full duplex, list_devices(). portaudio.h stays out of the headers: besides this file
// only doctor.cpp (its device checks) and portaudio_shim.cpp (lazy loading) include it.
#include "ava/audio/portaudio_device.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <portaudio.h>

#include "ava/audio/devices.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"

namespace ava::audio {
namespace {

// ---- quiet, reference-counted Pa_Initialize ----------------------------------------------------

// ALSA and JACK print dozens of harmless lines on stderr while PortAudio probes devices
// (testing-audio.md gotcha 3). fd 2 is silenced for the duration of the call. This is
// process-wide, so it only happens around initialisation and stream opening, from a control
// thread; never in a callback.
class quiet_stderr {
  public:
    quiet_stderr() {
        saved_ = ::dup(2);
        const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved_ >= 0 && devnull >= 0) ::dup2(devnull, 2);
        if (devnull >= 0) ::close(devnull);
    }
    ~quiet_stderr() {
        if (saved_ >= 0) {
            ::dup2(saved_, 2);
            ::close(saved_);
        }
    }
    quiet_stderr(const quiet_stderr&) = delete;
    quiet_stderr& operator=(const quiet_stderr&) = delete;

  private:
    int saved_ = -1;
};

// ALSA also prints "underrun occurred" and probe errors from its own error handler at any time
// (not only during Pa_Initialize). Where PortAudio runs on ALSA, route that handler to a no-op;
// PortAudio reports xruns to us through the callback flags instead. Looked up with dlsym so
// there is no link dependency on libasound (absent on macOS and Windows). Called after
// Pa_Initialize: PortAudio may be loaded lazily with RTLD_LOCAL (portaudio_shim.cpp), which keeps
// libasound out of RTLD_DEFAULT's reach, so ask for the already loaded libasound by name
// (RTLD_NOLOAD: never load it ourselves), then fall back to the global scope (PortAudio linked
// normally, or an ALSA under another soname).
extern "C" void ava_quiet_alsa_handler(const char*, int, const char*, int, const char*, ...) {}

void silence_alsa_errors() {
    using handler_t = void (*)(const char*, int, const char*, int, const char*, ...);
    using setter_t = int (*)(handler_t);
    void* sym = nullptr;
    if (void* alsa = ::dlopen("libasound.so.2", RTLD_NOLOAD | RTLD_LAZY); alsa != nullptr) {
        sym = ::dlsym(alsa, "snd_lib_error_set_handler");
        ::dlclose(alsa);  // drops our reference only: PortAudio still holds the library
    }
    if (sym == nullptr) sym = ::dlsym(RTLD_DEFAULT, "snd_lib_error_set_handler");
    if (sym != nullptr) reinterpret_cast<setter_t>(sym)(&ava_quiet_alsa_handler);
}

std::mutex pa_mutex;  // guards pa_users and every Pa_* call outside the callback
int pa_users = 0;
// A stream was abandoned inside a Pa_CloseStream that never returned (close_stream). PortAudio
// is then never terminated or re-initialised in this process: Pa_Terminate closes every open
// stream, the stuck one included, and would hang the same way.
bool pa_abandoned = false;

// Holds PortAudio initialised while alive (PortAudio's own init is not thread-safe).
class pa_session {
  public:
    pa_session() {
        std::lock_guard lock(pa_mutex);
        if (pa_users == 0) {
            quiet_stderr quiet;
            const PaError err = Pa_Initialize();
            silence_alsa_errors();
            if (err != paNoError) {
                throw std::runtime_error(std::string("PortAudio failed to start: ") +
                                         Pa_GetErrorText(err));
            }
        }
        ++pa_users;
    }
    ~pa_session() {
        std::lock_guard lock(pa_mutex);
        if (--pa_users == 0 && !pa_abandoned) Pa_Terminate();
    }
    pa_session(const pa_session&) = delete;
    pa_session& operator=(const pa_session&) = delete;
};

const char* no_device_hint =
    "; run `ava-voice --list-devices` to see the devices, or use `--input in.wav --output "
    "out.wav` to run without a sound card";

[[noreturn]] void throw_no_device(const std::string& what) {
    throw std::system_error(make_error_code(errc::no_device), what + no_device_hint);
}

// Resolves a device spec (empty, index, or name substring) for one direction. Caller holds
// pa_mutex. Returns paNoDevice when `spec` is empty and there is no default.
PaDeviceIndex resolve(const std::string& spec, bool input) {
    const PaDeviceIndex count = Pa_GetDeviceCount();
    if (spec.empty()) return input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
    const bool digits =
        std::all_of(spec.begin(), spec.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
    auto usable = [&](PaDeviceIndex i) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
        return info != nullptr && (input ? info->maxInputChannels : info->maxOutputChannels) > 0;
    };
    if (digits && spec.size() < 6) {
        const int idx = std::stoi(spec);
        if (idx >= 0 && idx < count && usable(idx)) return idx;
    } else {
        const std::string want = core::ascii_lower(spec);
        for (PaDeviceIndex i = 0; i < count; ++i) {
            const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
            if (usable(i) && core::ascii_lower(info->name).find(want) != std::string::npos)
                return i;
        }
    }
    throw std::system_error(make_error_code(errc::bad_config),
                            std::string("no ") + (input ? "input" : "output") +
                                " device matches '" + spec + "'" + no_device_hint);
}

struct negotiated {
    PaDeviceIndex in = paNoDevice;
    PaDeviceIndex out = paNoDevice;
    int in_channels = 1;
    int out_channels = 1;
    double rate = 24000;
};

PaStreamParameters params(PaDeviceIndex dev, int channels, bool input, int latency_ms = 0) {
    PaStreamParameters p{};
    p.device = dev;
    p.channelCount = channels;
    p.sampleFormat = paInt16;
    const PaDeviceInfo* info = Pa_GetDeviceInfo(dev);
    p.suggestedLatency = latency_ms > 0 ? latency_ms / 1000.0
                         : input        ? info->defaultLowInputLatency
                                        : info->defaultLowOutputLatency;
    p.hostApiSpecificStreamInfo = nullptr;
    return p;
}

// Picks channel counts (mono when offered, else the device's own up to 2 ... 8) and a rate both
// directions accept. Caller holds pa_mutex. Returns false when nothing works.
bool negotiate(PaDeviceIndex in, PaDeviceIndex out, int preferred_rate, negotiated& result) {
    const PaDeviceInfo* ii = Pa_GetDeviceInfo(in);
    const PaDeviceInfo* oi = Pa_GetDeviceInfo(out);
    if (ii == nullptr || oi == nullptr) return false;
    std::vector<double> rates{static_cast<double>(preferred_rate),
                              ii->defaultSampleRate,
                              oi->defaultSampleRate,
                              48000,
                              44100,
                              96000};
    const std::array<int, 3> channel_choices{1, 2, 0};
    for (const double rate : rates) {
        if (rate <= 0) continue;
        for (const int ic : channel_choices) {
            const int in_ch = ic == 0 ? std::min(ii->maxInputChannels, 8) : ic;
            if (in_ch > ii->maxInputChannels || in_ch <= 0) continue;
            for (const int oc : channel_choices) {
                const int out_ch = oc == 0 ? std::min(oi->maxOutputChannels, 8) : oc;
                if (out_ch > oi->maxOutputChannels || out_ch <= 0) continue;
                const PaStreamParameters ip = params(in, in_ch, true);
                const PaStreamParameters op = params(out, out_ch, false);
                if (Pa_IsFormatSupported(&ip, &op, rate) == paFormatIsSupported) {
                    result = {in, out, in_ch, out_ch, rate};
                    return true;
                }
            }
        }
    }
    return false;
}

// ---- the device ------------------------------------------------------------------------------

class portaudio_device;

// One open stream's link to its device: PortAudio's user data for the callback. A stream that is
// abandoned while stuck in Pa_CloseStream may still call back later (if the sound server comes
// unstuck) when its device is long gone, so the link outlives the device and is cut first.
struct stream_link {
    explicit stream_link(portaudio_device* d, int out_channels) : dev(d), out_ch(out_channels) {}
    std::atomic<portaudio_device*> dev;
    std::atomic<int> in_callback{0};
    int out_ch;
};

class portaudio_device final : public duplex_device {
  public:
    explicit portaudio_device(const portaudio_options& opts) : opts_(opts) {
        std::lock_guard lock(pa_mutex);
        if (Pa_GetDeviceCount() <= 0) throw_no_device("no audio devices found");
        const PaDeviceIndex in = resolve(opts.input_device, true);
        const PaDeviceIndex out = resolve(opts.output_device, false);
        if (in == paNoDevice) throw_no_device("no default input (microphone) device");
        if (out == paNoDevice) throw_no_device("no default output (speaker) device");
        if (!negotiate(in, out, opts.preferred_rate, neg_)) {
            throw_no_device(std::string("devices '") + Pa_GetDeviceInfo(in)->name + "' / '" +
                            Pa_GetDeviceInfo(out)->name + "' accept no common 16-bit format");
        }
        rate_ = static_cast<int>(neg_.rate);
        describe();
    }

    ~portaudio_device() override { stop(); }

    stream_format format() const override {
        return {.sample_rate = rate_,
                .input_channels = neg_.in_channels,
                .output_channels = neg_.out_channels,
                .period_frames = frames_per_buffer()};
    }

    std::error_code start(device_callback& cb) override {
        std::unique_lock ctl(control_);
        if (stream_ != nullptr) return make_error_code(errc::device_failed);
        cb_ = &cb;
        if (const std::error_code ec = open_stream(neg_); ec) return ec;
        if (opts_.auto_reopen) {
            stopping_ = false;
            watchdog_ = std::thread([this] { watch(); });
        }
        return {};
    }

    void stop() override {
        {
            std::lock_guard ctl(control_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (watchdog_.joinable()) watchdog_.join();
        std::lock_guard ctl(control_);
        close_stream();
    }

    std::string_view description() const noexcept override { return description_; }

    std::uint64_t host_xruns() const noexcept override {
        return xruns_.load(std::memory_order_relaxed);
    }

  private:
    [[nodiscard]] unsigned long frames_per_buffer() const noexcept {
        return opts_.period_ms <= 0
                   ? 0UL
                   : static_cast<unsigned long>(static_cast<long>(rate_) * opts_.period_ms / 1000);
    }

    void describe() {
        const PaDeviceInfo* ii = Pa_GetDeviceInfo(neg_.in);
        const PaDeviceInfo* oi = Pa_GetDeviceInfo(neg_.out);
        description_ = std::string("in '") + ii->name + "' out '" + oi->name + "' " +
                       std::to_string(rate_) + " Hz " + std::to_string(neg_.in_channels) + "/" +
                       std::to_string(neg_.out_channels) + " ch";
    }

    // Control thread with control_ held.
    std::error_code open_stream(const negotiated& n) {
        std::lock_guard lock(pa_mutex);
        const PaStreamParameters ip = params(n.in, n.in_channels, true, opts_.latency_ms);
        const PaStreamParameters op = params(n.out, n.out_channels, false, opts_.latency_ms);
        in_ch_ = n.in_channels;
        out_ch_ = n.out_channels;
        link_ = std::make_shared<stream_link>(this, n.out_channels);
        quiet_stderr quiet;
        PaError err = Pa_OpenStream(
            &stream_, &ip, &op, n.rate,
            frames_per_buffer() == 0 ? paFramesPerBufferUnspecified : frames_per_buffer(), paNoFlag,
            &portaudio_device::trampoline, link_.get());
        if (err == paNoError) err = Pa_StartStream(stream_);
        if (err != paNoError) {
            last_error_ = Pa_GetErrorText(err);
            if (stream_ != nullptr) Pa_CloseStream(stream_);
            stream_ = nullptr;
            link_.reset();
            return make_error_code(errc::device_failed);
        }
        return {};
    }

    // Closes without Pa_StopStream: Pa_CloseStream aborts a running stream (cancels PortAudio's
    // callback thread in its poll()), while Pa_StopStream waits for that thread to finish on its
    // own, which a stalled stream does not do: with ALSA-pulse and a suspended sink it polls until
    // the sink resumes (28 s of a 30 s suspension, tests/audio/device_test.cpp). That held the
    // watchdog (one report, no reopen) and stop() for as long as the stall lasted. Aborting only
    // drops output still buffered in the host (at most the host latency).
    //
    // The close runs on a helper thread and is waited for close_timeout at most: libpulse can
    // deadlock inside Pa_CloseStream after a sound-server restart (about 1 run of 20), which
    // hung stop() for good. A stream that does not close in time is abandoned: its callback is
    // cut off from this device, the helper thread is left behind (holding only the link), and
    // PortAudio is never terminated again in this process (pa_abandoned).
    void close_stream() {
        if (stream_ == nullptr) return;
        PaStream* stream = std::exchange(stream_, nullptr);
        std::shared_ptr<stream_link> link = std::move(link_);
        std::lock_guard lock(pa_mutex);
        auto closed = std::make_shared<std::promise<void>>();
        std::future<void> done = closed->get_future();
        try {
            std::thread([stream, link, closed] {
                Pa_CloseStream(stream);
                closed->set_value();
            }).detach();
        } catch (const std::system_error&) {
            Pa_CloseStream(stream);  // no thread to spare: close here, as before
            return;
        }
        if (done.wait_for(opts_.close_timeout) == std::future_status::ready) return;
        // Cut the callback off: after this no callback of that stream touches the device.
        link->dev.store(nullptr);
        while (link->in_callback.load() != 0) std::this_thread::yield();  // it never blocks
        pa_abandoned = true;
        report(make_error_code(errc::device_failed),
               "the audio stream did not close within " +
                   std::to_string(opts_.close_timeout.count()) +
                   " ms (the sound server is stuck); abandoned it");
    }

    // realtime thread. The link's two sequentially consistent steps pair with close_stream's
    // cut (store null, then wait for in_callback to drain): either this sees null, or the cut
    // waits for this period to end.
    static int trampoline(const void* input, void* output, unsigned long frames,
                          const PaStreamCallbackTimeInfo* time, PaStreamCallbackFlags flags,
                          void* user) noexcept {
        auto* link = static_cast<stream_link*>(user);
        link->in_callback.fetch_add(1);
        portaudio_device* dev = link->dev.load();
        if (dev == nullptr) {  // an abandoned stream came back: silence, and stop it
            if (output != nullptr) {
                std::memset(
                    output, 0,
                    frames * static_cast<unsigned long>(link->out_ch) * sizeof(std::int16_t));
            }
            link->in_callback.fetch_sub(1);
            return paAbort;
        }
        if ((flags & (paInputOverflow | paOutputUnderflow)) != 0) {
            dev->xruns_.fetch_add(1, std::memory_order_relaxed);
        }
        dev->callback(static_cast<const std::int16_t*>(input), static_cast<std::int16_t*>(output),
                      frames, time);
        link->in_callback.fetch_sub(1);
        return paContinue;
    }

    // realtime thread: mixes to mono, calls the engine in chunks of the scratch size, spreads
    // mono to every output channel. Arithmetic and copies only.
    void callback(const std::int16_t* input, std::int16_t* output, unsigned long frames,
                  const PaStreamCallbackTimeInfo* time) noexcept {
        const auto now = std::chrono::steady_clock::now();
        double dac_delay = 0;
        if (time != nullptr && time->outputBufferDacTime > 0 && time->currentTime > 0) {
            dac_delay = std::max(0.0, time->outputBufferDacTime - time->currentTime);
        }
        const auto delay_samples = static_cast<std::int64_t>(dac_delay * rate_);
        double echo_delay = 0;
        if (time != nullptr && time->outputBufferDacTime > 0 && time->inputBufferAdcTime > 0) {
            echo_delay = std::max(0.0, time->outputBufferDacTime - time->inputBufferAdcTime);
        }
        const auto echo_samples = static_cast<std::int64_t>(echo_delay * rate_);
        const auto in_ch = static_cast<std::size_t>(in_ch_);
        const auto out_ch = static_cast<std::size_t>(out_ch_);
        std::size_t done = 0;
        const auto total = static_cast<std::size_t>(frames);
        while (done < total) {
            const std::size_t n = std::min(total - done, scratch_frames);
            if (input != nullptr) {
                for (std::size_t i = 0; i < n; ++i) {
                    int sum = 0;
                    for (std::size_t c = 0; c < in_ch; ++c) sum += input[(done + i) * in_ch + c];
                    in_mono_[i] = static_cast<core::sample>(sum / in_ch_);
                }
            }
            const callback_timing t{
                .now = now,
                .output_pending_samples = delay_samples + static_cast<std::int64_t>(done + n),
                .echo_delay_samples = echo_samples};
            cb_->process(input != nullptr ? core::pcm_view(in_mono_.data(), n) : core::pcm_view{},
                         core::pcm_span(out_mono_.data(), n), t);
            if (output != nullptr) {
                for (std::size_t i = 0; i < n; ++i) {
                    for (std::size_t c = 0; c < out_ch; ++c) {
                        output[(done + i) * out_ch + c] = out_mono_[i];
                    }
                }
            }
            done += n;
        }
        heartbeat_.fetch_add(1, std::memory_order_relaxed);
    }

    void report(std::error_code ec, const std::string& what) {
        if (ec) {
            log::get("audio")->warn("audio device: {}", what);
        } else {
            log::get("audio")->info("audio device: {}", what);
        }
        if (opts_.on_fault) opts_.on_fault(ec, what);
    }

    // Watchdog thread: a stream that stopped or stalls for 2 s is reported and reopened, first
    // on the same devices, then on the defaults, with backoff 0.25 s doubling to 5 s.
    void watch() {
        std::unique_lock ctl(control_);
        std::uint64_t last_beat = heartbeat_.load(std::memory_order_relaxed);
        auto last_change = std::chrono::steady_clock::now();
        auto backoff = std::chrono::milliseconds(250);
        std::uint64_t last_xruns = 0;
        auto last_xrun_log = last_change - std::chrono::seconds(10);
        while (!stopping_) {
            wake_.wait_for(ctl, std::chrono::milliseconds(250));
            if (stopping_) break;
            const auto now = std::chrono::steady_clock::now();
            const std::uint64_t beat = heartbeat_.load(std::memory_order_relaxed);
            const std::uint64_t xruns = xruns_.load(std::memory_order_relaxed);
            if (xruns != last_xruns && now - last_xrun_log > std::chrono::seconds(10)) {
                log::get("audio")->debug("audio device: {} host xruns so far", xruns);
                last_xruns = xruns;
                last_xrun_log = now;
            }
            if (beat != last_beat) {
                last_beat = beat;
                last_change = now;
                backoff = std::chrono::milliseconds(250);
                continue;
            }
            bool active = false;
            if (stream_ != nullptr) {
                std::lock_guard lock(pa_mutex);
                active = Pa_IsStreamActive(stream_) == 1;
            }
            if (active && now - last_change < std::chrono::seconds(2)) continue;
            report(make_error_code(errc::device_failed),
                   stream_ == nullptr ? "stream is closed; reopening"
                                      : "stream stopped or stalled; reopening");
            close_stream();
            wake_.wait_for(ctl, backoff, [this] { return stopping_; });
            if (stopping_) break;
            backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
            if (reopen()) {
                report({}, "stream reopened: " + description_);
                last_change = std::chrono::steady_clock::now();
                last_beat = heartbeat_.load(std::memory_order_relaxed);
            }
        }
    }

    // Watchdog thread with control_ held. Terminates and re-initialises PortAudio so devices
    // that appeared or vanished are seen, then tries the chosen devices and the defaults at the
    // engine's rate (the engine cannot change rate under a running session).
    bool reopen() {
        {
            std::lock_guard lock(pa_mutex);
            quiet_stderr quiet;
            if (pa_users == 1 && !pa_abandoned) {
                Pa_Terminate();
                if (Pa_Initialize() != paNoError) return false;
            }
        }
        for (const bool defaults : {false, true}) {
            negotiated n;
            {
                std::lock_guard lock(pa_mutex);
                // Probing a device that cannot open prints one PortAudio line per format tried
                // over the UI (54 per attempt, seen for a named pulse PCM whose sink is gone).
                quiet_stderr quiet;
                try {
                    const PaDeviceIndex in = resolve(defaults ? "" : opts_.input_device, true);
                    const PaDeviceIndex out = resolve(defaults ? "" : opts_.output_device, false);
                    if (in == paNoDevice || out == paNoDevice) continue;
                    if (!negotiate(in, out, rate_, n) || static_cast<int>(n.rate) != rate_)
                        continue;
                } catch (const std::exception&) {
                    continue;
                }
            }
            if (!open_stream(n)) {
                neg_ = n;
                describe();
                return true;
            }
        }
        return false;
    }

    static constexpr std::size_t scratch_frames = 4096;

    portaudio_options opts_;
    pa_session session_;  // PortAudio stays initialised while this device exists
    negotiated neg_;
    int rate_ = 24000;
    int in_ch_ = 1;
    int out_ch_ = 1;
    std::string description_;
    std::string last_error_;
    PaStream* stream_ = nullptr;
    std::shared_ptr<stream_link> link_;  // the open stream's callback link (close_stream)
    device_callback* cb_ = nullptr;
    std::array<core::sample, scratch_frames> in_mono_{};
    std::array<core::sample, scratch_frames> out_mono_{};
    std::atomic<std::uint64_t> heartbeat_{0};
    std::atomic<std::uint64_t> xruns_{0};  // host-side over/underflows PortAudio reported
    std::mutex control_;                   // control and watchdog threads; never the callback
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread watchdog_;
};

}  // namespace

std::unique_ptr<duplex_device> open_portaudio_device(const portaudio_options& opts) {
    return std::make_unique<portaudio_device>(opts);
}

std::vector<device_info> list_devices() {
    pa_session session;
    std::lock_guard lock(pa_mutex);
    std::vector<device_info> out;
    const PaDeviceIndex count = Pa_GetDeviceCount();
    const PaDeviceIndex def_in = Pa_GetDefaultInputDevice();
    const PaDeviceIndex def_out = Pa_GetDefaultOutputDevice();
    for (PaDeviceIndex i = 0; i < count; ++i) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
        if (info == nullptr) continue;
        const PaHostApiInfo* api = Pa_GetHostApiInfo(info->hostApi);
        out.push_back({.index = i,
                       .name = info->name,
                       .host_api = api != nullptr ? api->name : "",
                       .max_input_channels = info->maxInputChannels,
                       .max_output_channels = info->maxOutputChannels,
                       .default_sample_rate = info->defaultSampleRate,
                       .default_input = i == def_in,
                       .default_output = i == def_out});
    }
    return out;
}

}  // namespace ava::audio
