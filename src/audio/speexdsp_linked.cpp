// speexdsp linked at build time (AVA_LAZY_LIBS=OFF): always available.
#include "ava/audio/speexdsp.hpp"

namespace ava::audio {
bool speexdsp_available() noexcept {
    return true;
}
const char* speexdsp_error() noexcept {
    return "";
}
}  // namespace ava::audio
