// PortAudio loaded on first use (AVA_LAZY_LIBS; why: include/ava/core/lazy_library.hpp).
//
// Defines the Pa_* functions that portaudio_device.cpp and app/doctor.cpp call, with
// portaudio.h's own declarations (so the compiler checks every signature), each forwarding to
// the real function in libportaudio.so.2, which is dlopen'ed by the first call (in practice
// Pa_Initialize, on a control thread). A run with --input/--output WAV files never calls any of
// them, so it neither maps PortAudio (nor ALSA, JACK, libdb ...) nor needs it installed.
//
// When the library cannot be loaded, every function fails the way PortAudio does when it is not
// initialised (paNotInitialized, a negative count, paNoDevice, null info), and Pa_GetErrorText
// returns the loader's line for any code, so "PortAudio failed to start: <why>" names the
// missing package. AVA_LAZY_LIBS_DISABLE=portaudio makes it behave so on purpose.
#include <cstddef>

#include <portaudio.h>

#include "ava/core/lazy_library.hpp"

namespace {

// Every Pa_* function ava-voice calls (`nm -u` of portaudio_device.o and doctor.o).
#define AVA_PORTAUDIO_SYMBOLS(X) \
    X(Pa_GetErrorText)           \
    X(Pa_Initialize)             \
    X(Pa_Terminate)              \
    X(Pa_GetHostApiInfo)         \
    X(Pa_GetDeviceCount)         \
    X(Pa_GetDefaultInputDevice)  \
    X(Pa_GetDefaultOutputDevice) \
    X(Pa_GetDeviceInfo)          \
    X(Pa_IsFormatSupported)      \
    X(Pa_OpenStream)             \
    X(Pa_CloseStream)            \
    X(Pa_StartStream)            \
    X(Pa_StopStream)             \
    X(Pa_IsStreamActive)

enum class sym : std::size_t { AVA_PORTAUDIO_SYMBOLS(AVA_LAZY_ENUM_ENTRY) };
constexpr const char* symbol_names[] = {AVA_PORTAUDIO_SYMBOLS(AVA_LAZY_NAME_ENTRY)};
constexpr const char* sonames[] = {"libportaudio.so.2", "libportaudio.so"};

constinit ava::core::lazy_library portaudio({.name = "PortAudio",
                                             .key = "portaudio",
                                             .package = "libportaudio2",
                                             .sonames = sonames,
                                             .symbols = symbol_names});

}  // namespace

// The real `name`, typed exactly as portaudio.h declares it. Only after portaudio.load().
#define AVA_REAL(name) portaudio.function<decltype(&::name)>(static_cast<std::size_t>(sym::name))

extern "C" {

const char* Pa_GetErrorText(PaError errorCode) {
    if (!portaudio.load()) return portaudio.error();
    return AVA_REAL(Pa_GetErrorText)(errorCode);
}

PaError Pa_Initialize(void) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_Initialize)();
}

PaError Pa_Terminate(void) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_Terminate)();
}

const PaHostApiInfo* Pa_GetHostApiInfo(PaHostApiIndex hostApi) {
    if (!portaudio.load()) return nullptr;
    return AVA_REAL(Pa_GetHostApiInfo)(hostApi);
}

PaDeviceIndex Pa_GetDeviceCount(void) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_GetDeviceCount)();
}

PaDeviceIndex Pa_GetDefaultInputDevice(void) {
    if (!portaudio.load()) return paNoDevice;
    return AVA_REAL(Pa_GetDefaultInputDevice)();
}

PaDeviceIndex Pa_GetDefaultOutputDevice(void) {
    if (!portaudio.load()) return paNoDevice;
    return AVA_REAL(Pa_GetDefaultOutputDevice)();
}

const PaDeviceInfo* Pa_GetDeviceInfo(PaDeviceIndex device) {
    if (!portaudio.load()) return nullptr;
    return AVA_REAL(Pa_GetDeviceInfo)(device);
}

PaError Pa_IsFormatSupported(const PaStreamParameters* inputParameters,
                             const PaStreamParameters* outputParameters, double sampleRate) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_IsFormatSupported)(inputParameters, outputParameters, sampleRate);
}

PaError Pa_OpenStream(PaStream** stream, const PaStreamParameters* inputParameters,
                      const PaStreamParameters* outputParameters, double sampleRate,
                      unsigned long framesPerBuffer, PaStreamFlags streamFlags,
                      PaStreamCallback* streamCallback, void* userData) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_OpenStream)(stream, inputParameters, outputParameters, sampleRate,
                                   framesPerBuffer, streamFlags, streamCallback, userData);
}

PaError Pa_CloseStream(PaStream* stream) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_CloseStream)(stream);
}

PaError Pa_StartStream(PaStream* stream) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_StartStream)(stream);
}

PaError Pa_StopStream(PaStream* stream) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_StopStream)(stream);
}

PaError Pa_IsStreamActive(PaStream* stream) {
    if (!portaudio.load()) return paNotInitialized;
    return AVA_REAL(Pa_IsStreamActive)(stream);
}

}  // extern "C"
