// The Realtime codec: typed events (events.hpp) <-> GA wire JSON text, and base64 PCM.
//
// This header declares the client's direction (what ava-voice sends and receives); the server's
// direction (encode a server event, decode a client event) is codec_peer.hpp, a separate library
// for the tests and the bench. The codec's sources (src/realtime/codec*.cpp) are the only
// places that know the wire shapes; no JSON type leaks out (nlohmann/json is a private
// dependency of ava_codec). Every function here is pure and reentrant: any thread may call any
// of them concurrently (no shared mutable state).
//
// Decoding never throws and never aborts on bad input: malformed JSON, a missing required field
// or a field of the wrong type gives the `decode_error` alternative, naming the event type (when
// it could be read) and the JSON path of the offending field, e.g. "response.usage.input_tokens"
// or "rate_limits[1].remaining". A well-formed event of a type we do not model gives
// `unknown_event{type}`. Unknown fields inside a known event are ignored (the server adds fields
// over time; being strict there would break clients in the field).
//
// Mapping rules that are not one-to-one (documented here because callers see only structs):
//  - `turn_detection: null` <-> turn->type == vad_type::none (other turn fields are then not
//    sent); `noise_reduction: null` <-> ""; `transcription: null` <-> model == "";
//    `tracing: null` <-> ""; `max_output_tokens: "inf"` <-> max_tokens_inf.
//  - tool_choice "auto" / "none" / "required" are sent as strings, anything else as
//    `{"type":"function","name":<it>}` (so a function named "auto" cannot be forced).
//  - voice: a custom voice id ("voice_...") is sent as `{"id":...}`; decoded back to the id.
//  - tracing and truncation may be objects on the wire; they are carried as their compact JSON
//    text (a string starting with '{' is embedded as JSON when encoding).
//  - tool_def::parameters_json is embedded as real JSON. If it is not valid JSON (or is nested
//    deeper than the codec accepts), encode still succeeds and sends it as a JSON *string*:
//    the server then rejects that session.update/response.create with an error naming the
//    field, instead of the codec silently replacing the schema. Validate schemas earlier (the
//    tool registry) to avoid that.
//  - Empty strings and std::nullopt are omitted when encoding (event_id included); nullable
//    wire fields that arrive as null decode as empty / std::nullopt.
//  - Transcription usage of type "duration" decodes as usage == std::nullopt (not modelled).
//  - Strings that are not valid UTF-8 are encoded with U+FFFD replacements, never a throw.
//  - Doubles that are not finite (NaN speed, ...) encode as null (= absent).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/core/pcm.hpp"
#include "ava/realtime/events.hpp"

namespace ava::realtime {

/// Deepest nesting of arrays/objects the decoder accepts (deeper input is a decode_error; this
/// bounds the stack used by anything that walks the parsed tree).
inline constexpr std::size_t max_json_depth = 128;

/// Compact wire JSON of a client event. Throws only std::bad_alloc. `unknown_event` encodes as
/// `{"type":...}`; `decode_error` as a `{"type":"decode_error",...}` note (not a wire event).
std::string encode(const client_event& ev);

/// The hot path of the microphone: `input_audio_buffer.append` built directly around the base64
/// text (one allocation), without first copying the samples into an event struct. Equal to
/// encode(client::input_audio_buffer_append{event_id, {audio...}}).
std::string encode_append(core::pcm_view audio, std::string_view event_id = {});

/// Parses one server event (the client's side). Never throws. Also accepts the beta names
/// conversation.item.created, response.audio.delta/.done, response.audio_transcript.delta/.done
/// and response.text.delta/.done, decoded as their GA events.
server_event decode_server(std::string_view json) noexcept;

/// For event logs: `json` with every audio payload (a string value of an "audio" key at any
/// depth, and the top-level "delta" of response.output_audio.delta / response.audio.delta)
/// replaced by a note of its decoded size, e.g. `"audio":"<960 bytes>"`. One linear scan, no
/// JSON tree; malformed input is returned as well as it can be (never throws but bad_alloc).
std::string elide_audio(std::string_view json);

/// Base64 (standard alphabet, padded) of the samples as little-endian s16 bytes.
std::string base64_encode(core::pcm_view pcm);

/// Decodes base64 of little-endian s16 PCM. std::nullopt for invalid base64 (bad characters,
/// whitespace, wrong length or padding) or an odd number of bytes. "" gives an empty vector.
std::optional<std::vector<core::sample>> base64_decode_pcm(std::string_view b64);

}  // namespace ava::realtime
