// libFuzzer target: the client's decoder of server events (ava_codec), on whatever a server or
// a man in the middle could send in one text frame. decode_server() promises never to throw;
// what it decodes is encoded again (the peer's direction) and decoded once more, so a value the
// decoder lets through that the encoder cannot take (bad UTF-8, a non-finite number, a huge
// nesting) shows up too. elide_audio() is what the event log runs over the same text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ava/realtime/codec.hpp"
#include "ava/realtime/codec_peer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ava::realtime::server_event ev = ava::realtime::decode_server(text);
    const std::string again = ava::realtime::encode(ev);
    (void)ava::realtime::decode_server(again);
    (void)ava::realtime::elide_audio(text);
    return 0;
}
