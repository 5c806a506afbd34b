// Whether speexdsp (echo canceller, preprocessor) can be used in this process. With AVA_LAZY_LIBS
// it is dlopen'ed by the first call (src/audio/speexdsp_shim.cpp); linked, it always is.
#pragma once

namespace ava::audio {

/// Loads speexdsp on the first call (control thread). False when it is missing or disabled by
/// AVA_LAZY_LIBS_DISABLE=speexdsp.
bool speexdsp_available() noexcept;
/// Why speexdsp_available() is false: one line naming the package; "" when it is available.
const char* speexdsp_error() noexcept;

}  // namespace ava::audio
