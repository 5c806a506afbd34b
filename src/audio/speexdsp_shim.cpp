// speexdsp loaded on first use (AVA_LAZY_LIBS; why: include/ava/core/lazy_library.hpp).
//
// Defines the speex_echo_* and speex_preprocess_* functions that echo_canceller.cpp calls, with
// the library's own declarations (so the compiler checks every signature), each forwarding to
// libspeexdsp.so.1, which is dlopen'ed by the first call (speexdsp_available(), on the control
// thread that builds the DSP stage). A run without echo cancellation, noise suppression or gain
// control (every headless WAV run by default) never maps it.
//
// When the library cannot be loaded the state constructors return null, which the DSP stage
// checks first (speexdsp_error() says why, naming the package); AVA_LAZY_LIBS_DISABLE=speexdsp
// makes it so on purpose.
#include <cstddef>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#include "ava/audio/speexdsp.hpp"
#include "ava/core/lazy_library.hpp"

namespace {

#define AVA_SPEEXDSP_SYMBOLS(X)       \
    X(speex_echo_state_init)          \
    X(speex_echo_state_destroy)       \
    X(speex_echo_cancellation)        \
    X(speex_echo_state_reset)         \
    X(speex_echo_ctl)                 \
    X(speex_preprocess_state_init)    \
    X(speex_preprocess_state_destroy) \
    X(speex_preprocess_run)           \
    X(speex_preprocess_ctl)

enum class sym : std::size_t { AVA_SPEEXDSP_SYMBOLS(AVA_LAZY_ENUM_ENTRY) };
constexpr const char* symbol_names[] = {AVA_SPEEXDSP_SYMBOLS(AVA_LAZY_NAME_ENTRY)};
constexpr const char* sonames[] = {"libspeexdsp.so.1", "libspeexdsp.so"};

constinit ava::core::lazy_library speexdsp({.name = "speexdsp",
                                            .key = "speexdsp",
                                            .package = "libspeexdsp1",
                                            .sonames = sonames,
                                            .symbols = symbol_names});

}  // namespace

#define AVA_REAL(name) speexdsp.function<decltype(&::name)>(static_cast<std::size_t>(sym::name))

namespace ava::audio {
bool speexdsp_available() noexcept {
    return speexdsp.load();
}
const char* speexdsp_error() noexcept {
    return speexdsp.error();
}
}  // namespace ava::audio

extern "C" {

SpeexEchoState* speex_echo_state_init(int frame_size, int filter_length) {
    if (!speexdsp.load()) return nullptr;
    return AVA_REAL(speex_echo_state_init)(frame_size, filter_length);
}

void speex_echo_state_destroy(SpeexEchoState* st) {
    if (st == nullptr || !speexdsp.load()) return;
    AVA_REAL(speex_echo_state_destroy)(st);
}

void speex_echo_cancellation(SpeexEchoState* st, const spx_int16_t* rec, const spx_int16_t* play,
                             spx_int16_t* out) {
    if (!speexdsp.load()) return;
    AVA_REAL(speex_echo_cancellation)(st, rec, play, out);
}

void speex_echo_state_reset(SpeexEchoState* st) {
    if (!speexdsp.load()) return;
    AVA_REAL(speex_echo_state_reset)(st);
}

int speex_echo_ctl(SpeexEchoState* st, int request, void* ptr) {
    if (!speexdsp.load()) return -1;
    return AVA_REAL(speex_echo_ctl)(st, request, ptr);
}

SpeexPreprocessState* speex_preprocess_state_init(int frame_size, int sampling_rate) {
    if (!speexdsp.load()) return nullptr;
    return AVA_REAL(speex_preprocess_state_init)(frame_size, sampling_rate);
}

void speex_preprocess_state_destroy(SpeexPreprocessState* st) {
    if (st == nullptr || !speexdsp.load()) return;
    AVA_REAL(speex_preprocess_state_destroy)(st);
}

int speex_preprocess_run(SpeexPreprocessState* st, spx_int16_t* x) {
    if (!speexdsp.load()) return 0;
    return AVA_REAL(speex_preprocess_run)(st, x);
}

int speex_preprocess_ctl(SpeexPreprocessState* st, int request, void* ptr) {
    if (!speexdsp.load()) return -1;
    return AVA_REAL(speex_preprocess_ctl)(st, request, ptr);
}

}  // extern "C"
