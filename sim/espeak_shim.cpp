// espeak-ng loaded on first use (AVA_LAZY_LIBS; why: include/ava/core/lazy_library.hpp).
//
// Defines the espeak_* functions that voice.cpp calls, with speak_lib.h's own declarations (so
// the compiler checks every signature), each forwarding to the real one in libespeak-ng.so.1,
// dlopen'ed by the simulator's first spoken reply. ava-voice talking to the real service never
// maps espeak-ng and what it drags in (pulse, dbus, X11, systemd ...).
//
// When the library cannot be loaded, espeak_Initialize returns EE_INTERNAL_ERROR (what it
// returns when espeak-ng cannot start), every other function returns EE_INTERNAL_ERROR or does
// nothing, and voice.cpp logs espeak_load_error() once and speaks with the synthetic voice, as a
// build without espeak-ng does. AVA_LAZY_LIBS_DISABLE=espeak makes it behave so on purpose.
#include <cstddef>

#include <espeak-ng/speak_lib.h>

#include "ava/core/lazy_library.hpp"
#include "voice.hpp"

namespace {

#define AVA_ESPEAK_SYMBOLS(X)  \
    X(espeak_Initialize)       \
    X(espeak_SetSynthCallback) \
    X(espeak_SetVoiceByName)   \
    X(espeak_SetParameter)     \
    X(espeak_Synth)            \
    X(espeak_Synchronize)

enum class sym : std::size_t { AVA_ESPEAK_SYMBOLS(AVA_LAZY_ENUM_ENTRY) };
constexpr const char* symbol_names[] = {AVA_ESPEAK_SYMBOLS(AVA_LAZY_NAME_ENTRY)};
constexpr const char* sonames[] = {"libespeak-ng.so.1", "libespeak-ng.so"};

constinit ava::core::lazy_library espeak({.name = "espeak-ng",
                                          .key = "espeak",
                                          .package = "libespeak-ng1",
                                          .sonames = sonames,
                                          .symbols = symbol_names});

}  // namespace

namespace ava::sim::detail {

const char* espeak_load_error() noexcept {
    return espeak.load() ? "" : espeak.error();
}

}  // namespace ava::sim::detail

// The real `name`, typed exactly as speak_lib.h declares it. Only after espeak.load().
#define AVA_REAL(name) espeak.function<decltype(&::name)>(static_cast<std::size_t>(sym::name))

extern "C" {

int espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char* path, int options) {
    if (!espeak.load()) return EE_INTERNAL_ERROR;
    return AVA_REAL(espeak_Initialize)(output, buflength, path, options);
}

void espeak_SetSynthCallback(t_espeak_callback* SynthCallback) {
    if (espeak.load()) AVA_REAL(espeak_SetSynthCallback)(SynthCallback);
}

espeak_ERROR espeak_SetVoiceByName(const char* name) {
    if (!espeak.load()) return EE_INTERNAL_ERROR;
    return AVA_REAL(espeak_SetVoiceByName)(name);
}

espeak_ERROR espeak_SetParameter(espeak_PARAMETER parameter, int value, int relative) {
    if (!espeak.load()) return EE_INTERNAL_ERROR;
    return AVA_REAL(espeak_SetParameter)(parameter, value, relative);
}

espeak_ERROR espeak_Synth(const void* text, size_t size, unsigned int position,
                          espeak_POSITION_TYPE position_type, unsigned int end_position,
                          unsigned int flags, unsigned int* unique_identifier, void* user_data) {
    if (!espeak.load()) return EE_INTERNAL_ERROR;
    return AVA_REAL(espeak_Synth)(text, size, position, position_type, end_position, flags,
                                  unique_identifier, user_data);
}

espeak_ERROR espeak_Synchronize(void) {
    if (!espeak.load()) return EE_INTERNAL_ERROR;
    return AVA_REAL(espeak_Synchronize)();
}

}  // extern "C"
