// libFuzzer target: the relay's control messages (src/relay/protocol.cpp), what any browser or
// script on the stream sends. parse_control must never throw: every input is a message or a
// `bad` naming its field.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto c = ava::relay::proto::parse_control(text);
    if (const auto* b = std::get_if<ava::relay::proto::bad>(&c)) {
        if (b->code.empty() || b->message.empty()) __builtin_trap();
    }
    return 0;
}
