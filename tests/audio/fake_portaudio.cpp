// A fault-injecting stand-in for libportaudio.so.2 (tests only): one duplex device whose
// streams call back every 10 ms from a thread of their own, as PortAudio's do, and two faults
// the test switches on through fake_pa_control(): streams opened so far stop calling back while
// still reporting active (a stalled sound server), and Pa_CloseStream never returns (the libpulse
// deadlock seen after a sound-server restart). ava-voice's lazy loader dlopen()s it by soname
// when the test puts its directory first in LD_LIBRARY_PATH.
#include <portaudio.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

struct fake_stream {
    PaStreamCallback* cb = nullptr;
    void* user = nullptr;
    int in_ch = 1;
    int out_ch = 1;
    unsigned long frames = 480;
    int id = 0;
    std::atomic<bool> running{false};
    std::atomic<bool> quit{false};
    std::thread th;
};

std::atomic<int> streams_opened{0};
std::atomic<int> stall_up_to{0};  // streams with id <= this stop calling back
std::atomic<bool> hang_close{false};
// Leaked on purpose: a hung close still waits on them while the process exits.
std::mutex& never_mutex = *new std::mutex;
std::condition_variable& never = *new std::condition_variable;

PaDeviceInfo device_info() {
    PaDeviceInfo d{};
    d.structVersion = 2;
    d.name = "fake duplex";
    d.hostApi = 0;
    d.maxInputChannels = 1;
    d.maxOutputChannels = 1;
    d.defaultLowInputLatency = 0.01;
    d.defaultLowOutputLatency = 0.01;
    d.defaultHighInputLatency = 0.05;
    d.defaultHighOutputLatency = 0.05;
    d.defaultSampleRate = 48000;
    return d;
}
const PaDeviceInfo the_device = device_info();
const PaHostApiInfo the_host = {1, paALSA, "fake", 1, 0, 0};

void run(fake_stream* s) {
    std::vector<std::int16_t> in(s->frames * static_cast<unsigned long>(s->in_ch));
    std::vector<std::int16_t> out(s->frames * static_cast<unsigned long>(s->out_ch));
    auto next = std::chrono::steady_clock::now();
    while (!s->quit.load()) {
        next += std::chrono::milliseconds(10);
        std::this_thread::sleep_until(next);
        if (s->id <= stall_up_to.load()) continue;  // stalled: active, but silent
        PaStreamCallbackTimeInfo t{};
        if (s->cb(in.data(), out.data(), s->frames, &t, 0, s->user) != paContinue) {
            s->running = false;
            return;
        }
    }
}

}  // namespace

extern "C" {

// Test control: stall every stream opened so far (1) or none (0); make closes hang (1) or not.
__attribute__((visibility("default"))) void fake_pa_control(int stall_opened, int hang) {
    stall_up_to = stall_opened != 0 ? streams_opened.load() : 0;
    hang_close = hang != 0;
}
__attribute__((visibility("default"))) int fake_pa_streams_opened() {
    return streams_opened.load();
}

const char* Pa_GetErrorText(PaError) {
    return "fake PortAudio error";
}
PaError Pa_Initialize(void) {
    return paNoError;
}
PaError Pa_Terminate(void) {
    return paNoError;
}
const PaHostApiInfo* Pa_GetHostApiInfo(PaHostApiIndex i) {
    return i == 0 ? &the_host : nullptr;
}
PaDeviceIndex Pa_GetDeviceCount(void) {
    return 1;
}
PaDeviceIndex Pa_GetDefaultInputDevice(void) {
    return 0;
}
PaDeviceIndex Pa_GetDefaultOutputDevice(void) {
    return 0;
}
const PaDeviceInfo* Pa_GetDeviceInfo(PaDeviceIndex d) {
    return d == 0 ? &the_device : nullptr;
}

PaError Pa_IsFormatSupported(const PaStreamParameters* in, const PaStreamParameters* out,
                             double rate) {
    const bool ok = rate == 48000 &&
                    (in == nullptr || (in->device == 0 && in->channelCount == 1)) &&
                    (out == nullptr || (out->device == 0 && out->channelCount == 1));
    return ok ? paFormatIsSupported : paInvalidSampleRate;
}

PaError Pa_OpenStream(PaStream** stream, const PaStreamParameters* in,
                      const PaStreamParameters* out, double rate, unsigned long frames,
                      PaStreamFlags, PaStreamCallback* cb, void* user) {
    if (Pa_IsFormatSupported(in, out, rate) != paFormatIsSupported) return paInvalidSampleRate;
    auto* s = new fake_stream;
    s->cb = cb;
    s->user = user;
    s->frames = frames == paFramesPerBufferUnspecified ? 480 : frames;
    s->id = ++streams_opened;
    *stream = s;
    return paNoError;
}

PaError Pa_StartStream(PaStream* stream) {
    auto* s = static_cast<fake_stream*>(stream);
    s->running = true;
    s->th = std::thread(run, s);
    return paNoError;
}

PaError Pa_StopStream(PaStream* stream) {
    auto* s = static_cast<fake_stream*>(stream);
    s->quit = true;
    if (s->th.joinable()) s->th.join();
    s->running = false;
    return paNoError;
}

PaError Pa_CloseStream(PaStream* stream) {
    if (hang_close.load()) {  // the deadlock: never returns
        std::unique_lock lk(never_mutex);
        never.wait(lk, [] { return false; });
    }
    Pa_StopStream(stream);
    delete static_cast<fake_stream*>(stream);
    return paNoError;
}

PaError Pa_IsStreamActive(PaStream* stream) {
    return static_cast<fake_stream*>(stream)->running.load() ? 1 : 0;
}

}  // extern "C"
