// The server's direction of the Realtime codec: encode a server event, decode a client event.
// What a peer that plays the service needs: the codec tests, the bench and test servers. The
// product only speaks the client's direction (codec.hpp), so this lives in its own library,
// ava_codec_peer, which ava-voice does not link. The in-tree simulator does not use it either:
// it parses the client's JSON on its own, so that a mistake in the codec shows up as a protocol
// error instead of being mirrored.
//
// Same rules as codec.hpp (mapping, errors, thread safety).
#pragma once

#include <string>
#include <string_view>

#include "ava/realtime/codec.hpp"
#include "ava/realtime/events.hpp"

namespace ava::realtime {

/// Compact wire JSON of a server event. Same guarantees as encode(const client_event&).
std::string encode(const server_event& ev);

/// Parses one client event (the service's side). Never throws.
client_event decode_client(std::string_view json) noexcept;

}  // namespace ava::realtime
