// libFuzzer target: the service's decoder of client events (ava_codec_peer: what the codec
// tests, the bench and test servers parse; the simulator itself parses client JSON on its own,
// see codec_peer.hpp). decode_client() promises never to throw; what it decodes is encoded again
// (the client's direction, what ava-voice sends) and decoded once more.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ava/realtime/codec.hpp"
#include "ava/realtime/codec_peer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const ava::realtime::client_event ev = ava::realtime::decode_client(text);
    const std::string again = ava::realtime::encode(ev);
    (void)ava::realtime::decode_client(again);
    (void)ava::realtime::base64_decode_pcm(text);
    return 0;
}
