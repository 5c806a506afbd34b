// Typed OpenAI Realtime (GA) events, both directions. No JSON types here: codec.hpp turns these
// into wire text and back, and is the only place that knows JSON.
//
// Conventions:
//  - std::optional<T> = the field is absent on the wire (partial session.update, optional
//    fields in server events). A few fields are nullable on the wire; each says how its null is
//    spelled in C++ (e.g. turn_detection with type vad_type::none).
//  - Audio payloads are carried as decoded wire PCM (24 kHz mono s16); the codec does base64.
//  - Each event has `static constexpr std::string_view type`, the wire "type".
//  - event_id: optional on client events (the server echoes it in error.event_id); server
//    events carry the server's id (may be empty).
// Source: ../shared/reference/realtime-protocol.md sections 2 and 3.
// Members named like their type (`item item`, `usage usage`) spell the type qualified
// (`realtime::item`): GCC rejects the unqualified form ("changes meaning of 'item'").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ava/core/pcm.hpp"

namespace ava::realtime {

// ---- shared pieces ---------------------------------------------------------------------------

/// `{"type":"audio/pcm","rate":24000}`; rate only for audio/pcm (pcmu/pcma are 8 kHz).
struct audio_format {
    std::string type = "audio/pcm";
    std::optional<int> rate = 24000;
    bool operator==(const audio_format&) const = default;
};

enum class vad_type {
    none,          ///< wire `null`: manual turns (commit + response.create)
    server_vad,    ///< energy VAD on the server
    semantic_vad,  ///< end-of-turn model
};

struct turn_detection {
    vad_type type = vad_type::server_vad;
    std::optional<double> threshold;         ///< server_vad: 0..1
    std::optional<int> prefix_padding_ms;    ///< server_vad
    std::optional<int> silence_duration_ms;  ///< server_vad
    std::optional<std::string> eagerness;    ///< semantic_vad: low, medium, high, auto
    std::optional<bool> create_response;     ///< both
    std::optional<bool> interrupt_response;  ///< both
    std::optional<int> idle_timeout_ms;      ///< server_vad; absent = not sent
    bool operator==(const turn_detection&) const = default;
};

/// Input transcription; a value with an empty model is the wire `null` (transcription off).
struct transcription {
    std::string model;
    std::optional<std::string> language;
    std::optional<std::string> prompt;
    bool operator==(const transcription&) const = default;
};

/// A function tool offered to the model. `parameters_json` is a JSON Schema object as text.
struct tool_def {
    std::string name;
    std::string description;
    std::string parameters_json = R"({"type":"object","properties":{}})";
    bool operator==(const tool_def&) const = default;
};

/// max_output_tokens: 1..4096, or this value for the wire string "inf".
inline constexpr int max_tokens_inf = -1;

/// The GA session object (`session.update` sends a partial one; `session.created/updated` carry
/// the full effective one).
struct session_config {
    std::string type = "realtime";      ///< required by GA; "transcription" for transcription-only
    std::optional<std::string> id;      ///< server -> client only
    std::optional<std::string> object;  ///< server -> client only ("realtime.session")
    std::optional<std::int64_t> expires_at;  ///< server -> client only (unix seconds)
    std::optional<std::string> model;
    std::optional<std::vector<std::string>> output_modalities;  ///< ["audio"] or ["text"]
    std::optional<std::string> instructions;
    // audio.input
    std::optional<audio_format> input_format;
    std::optional<std::string> noise_reduction;  ///< "near_field", "far_field"; "" = null
    std::optional<transcription> input_transcription;
    std::optional<turn_detection> turn;  ///< type none = null (manual turns)
    // audio.output
    std::optional<audio_format> output_format;
    std::optional<std::string> voice;
    std::optional<double> speed;  ///< 0.25..1.5
    // the rest
    std::optional<std::vector<tool_def>> tools;
    std::optional<std::string> tool_choice;  ///< auto, none, required, or a function name
    std::optional<int> max_output_tokens;    ///< max_tokens_inf = "inf"
    std::optional<std::string> truncation;   ///< "auto" or "disabled"
    std::optional<std::string> tracing;      ///< "auto"; "" = null
    bool operator==(const session_config&) const = default;
};

/// One content part of a message item.
struct content_part {
    /// input_text, input_audio, output_text, output_audio (GA); text, audio (beta names).
    std::string type;
    std::string text;                 ///< input_text / output_text / text
    std::string transcript;           ///< input_audio / output_audio / audio (may be empty)
    std::vector<core::sample> audio;  ///< input_audio payload (client -> server only)
    bool operator==(const content_part&) const = default;
};

/// A conversation item.
struct item {
    std::string id;      ///< may be empty on client-created items (the server assigns one)
    std::string object;  ///< "realtime.item" from the server; empty otherwise
    std::string type;    ///< message, function_call, function_call_output
    std::string status;  ///< completed, in_progress, incomplete (server -> client)
    std::string role;    ///< message: user, assistant, system
    std::vector<content_part> content;  ///< message only
    std::string call_id;                ///< function_call, function_call_output
    std::string name;                   ///< function_call
    std::string arguments;              ///< function_call: JSON text
    std::string output;                 ///< function_call_output: the tool's answer (a string)
    bool operator==(const item&) const = default;
};

struct error_info {
    std::string type;  ///< invalid_request_error, server_error, ...
    std::string code;  ///< e.g. conversation_already_has_active_response; may be empty
    std::string message;
    std::string param;     ///< e.g. session.temperature; may be empty
    std::string event_id;  ///< the client event that caused it; may be empty
    bool operator==(const error_info&) const = default;
};

struct token_details {
    std::int64_t text_tokens = 0;
    std::int64_t audio_tokens = 0;
    std::int64_t image_tokens = 0;
    bool operator==(const token_details&) const = default;
};

struct input_token_details : token_details {
    std::int64_t cached_tokens = 0;  ///< part of the input count, not in addition to it
    token_details cached_tokens_details;
    bool operator==(const input_token_details&) const = default;
};

struct usage {
    std::int64_t total_tokens = 0;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    input_token_details input_details;
    token_details output_details;  ///< text_tokens and audio_tokens
    bool operator==(const usage&) const = default;
};

struct status_details {
    std::string type;    ///< completed, cancelled, failed, incomplete
    std::string reason;  ///< turn_detected, client_cancelled, max_output_tokens, content_filter
    std::optional<error_info> error;  ///< failed responses (type and code only)
    bool operator==(const status_details&) const = default;
};

struct response_info {
    std::string id;
    std::string object;  ///< "realtime.response"
    std::string status;  ///< in_progress, completed, cancelled, failed, incomplete
    std::optional<status_details> details;
    std::vector<item> output;
    std::optional<realtime::usage> usage;
    std::string conversation_id;
    std::optional<std::vector<std::string>> output_modalities;
    std::map<std::string, std::string> metadata;
    bool operator==(const response_info&) const = default;
};

/// Overrides accepted by response.create.
struct response_overrides {
    std::optional<std::string> instructions;
    std::optional<std::vector<tool_def>> tools;
    std::optional<std::string> tool_choice;
    std::optional<std::vector<std::string>> output_modalities;
    std::optional<std::string> voice;
    std::optional<int> max_output_tokens;         ///< max_tokens_inf = "inf"
    std::optional<std::string> conversation;      ///< "auto" or "none" (out of band)
    std::map<std::string, std::string> metadata;  ///< at most 16 pairs
    bool operator==(const response_overrides&) const = default;
};

/// What the codec returns for input it cannot decode. Names the event and the field.
struct decode_error {
    std::string event_type;  ///< the "type" if it could be read, else empty
    std::string field;       ///< JSON path of the offending field, e.g. "session.audio.input"
    std::string message;
    bool operator==(const decode_error&) const = default;
};

/// A well-formed event whose type we do not know: callers ignore it (after logging).
struct unknown_event {
    std::string type;
    bool operator==(const unknown_event&) const = default;
};

// ---- client -> server ------------------------------------------------------------------------
namespace client {

struct session_update {
    static constexpr std::string_view type = "session.update";
    std::string event_id;
    session_config session;
    bool operator==(const session_update&) const = default;
};
struct input_audio_buffer_append {
    static constexpr std::string_view type = "input_audio_buffer.append";
    std::string event_id;
    std::vector<core::sample> audio;
    bool operator==(const input_audio_buffer_append&) const = default;
};
struct input_audio_buffer_commit {
    static constexpr std::string_view type = "input_audio_buffer.commit";
    std::string event_id;
    bool operator==(const input_audio_buffer_commit&) const = default;
};
struct input_audio_buffer_clear {
    static constexpr std::string_view type = "input_audio_buffer.clear";
    std::string event_id;
    bool operator==(const input_audio_buffer_clear&) const = default;
};
struct conversation_item_create {
    static constexpr std::string_view type = "conversation.item.create";
    std::string event_id;
    std::optional<std::string> previous_item_id;  ///< "root" = first
    realtime::item item;
    bool operator==(const conversation_item_create&) const = default;
};
struct conversation_item_truncate {
    static constexpr std::string_view type = "conversation.item.truncate";
    std::string event_id;
    std::string item_id;
    int content_index = 0;
    std::int64_t audio_end_ms = 0;
    bool operator==(const conversation_item_truncate&) const = default;
};
struct conversation_item_delete {
    static constexpr std::string_view type = "conversation.item.delete";
    std::string event_id;
    std::string item_id;
    bool operator==(const conversation_item_delete&) const = default;
};
struct conversation_item_retrieve {
    static constexpr std::string_view type = "conversation.item.retrieve";
    std::string event_id;
    std::string item_id;
    bool operator==(const conversation_item_retrieve&) const = default;
};
struct response_create {
    static constexpr std::string_view type = "response.create";
    std::string event_id;
    std::optional<response_overrides> response;
    bool operator==(const response_create&) const = default;
};
struct response_cancel {
    static constexpr std::string_view type = "response.cancel";
    std::string event_id;
    std::optional<std::string> response_id;
    bool operator==(const response_cancel&) const = default;
};

}  // namespace client

using client_event =
    std::variant<client::session_update, client::input_audio_buffer_append,
                 client::input_audio_buffer_commit, client::input_audio_buffer_clear,
                 client::conversation_item_create, client::conversation_item_truncate,
                 client::conversation_item_delete, client::conversation_item_retrieve,
                 client::response_create, client::response_cancel, unknown_event, decode_error>;

// ---- server -> client ------------------------------------------------------------------------
namespace server {

struct error {
    static constexpr std::string_view type = "error";
    std::string event_id;
    error_info error;
    bool operator==(const struct error&) const = default;
};
struct session_created {
    static constexpr std::string_view type = "session.created";
    std::string event_id;
    session_config session;
    bool operator==(const session_created&) const = default;
};
struct session_updated {
    static constexpr std::string_view type = "session.updated";
    std::string event_id;
    session_config session;
    bool operator==(const session_updated&) const = default;
};
/// Also decoded from the beta name `conversation.item.created` (still in the SDK union).
struct conversation_item_added {
    static constexpr std::string_view type = "conversation.item.added";
    std::string event_id;
    std::optional<std::string> previous_item_id;
    realtime::item item;
    bool operator==(const conversation_item_added&) const = default;
};
struct conversation_item_done {
    static constexpr std::string_view type = "conversation.item.done";
    std::string event_id;
    std::optional<std::string> previous_item_id;
    realtime::item item;
    bool operator==(const conversation_item_done&) const = default;
};
struct conversation_item_truncated {
    static constexpr std::string_view type = "conversation.item.truncated";
    std::string event_id;
    std::string item_id;
    int content_index = 0;
    std::int64_t audio_end_ms = 0;
    bool operator==(const conversation_item_truncated&) const = default;
};
struct conversation_item_deleted {
    static constexpr std::string_view type = "conversation.item.deleted";
    std::string event_id;
    std::string item_id;
    bool operator==(const conversation_item_deleted&) const = default;
};
struct conversation_item_retrieved {
    static constexpr std::string_view type = "conversation.item.retrieved";
    std::string event_id;
    realtime::item item;
    bool operator==(const conversation_item_retrieved&) const = default;
};
struct input_transcription_delta {
    static constexpr std::string_view type = "conversation.item.input_audio_transcription.delta";
    std::string event_id;
    std::string item_id;
    int content_index = 0;
    std::string delta;
    bool operator==(const input_transcription_delta&) const = default;
};
struct input_transcription_completed {
    static constexpr std::string_view type =
        "conversation.item.input_audio_transcription.completed";
    std::string event_id;
    std::string item_id;
    int content_index = 0;
    std::string transcript;
    std::optional<realtime::usage> usage;  ///< token usage of the ASR model, when given
    bool operator==(const input_transcription_completed&) const = default;
};
struct input_transcription_failed {
    static constexpr std::string_view type = "conversation.item.input_audio_transcription.failed";
    std::string event_id;
    std::string item_id;
    int content_index = 0;
    error_info error;
    bool operator==(const input_transcription_failed&) const = default;
};
struct speech_started {
    static constexpr std::string_view type = "input_audio_buffer.speech_started";
    std::string event_id;
    std::int64_t audio_start_ms = 0;
    std::string item_id;
    bool operator==(const speech_started&) const = default;
};
struct speech_stopped {
    static constexpr std::string_view type = "input_audio_buffer.speech_stopped";
    std::string event_id;
    std::int64_t audio_end_ms = 0;
    std::string item_id;
    bool operator==(const speech_stopped&) const = default;
};
struct input_audio_committed {
    static constexpr std::string_view type = "input_audio_buffer.committed";
    std::string event_id;
    std::optional<std::string> previous_item_id;
    std::string item_id;
    bool operator==(const input_audio_committed&) const = default;
};
struct input_audio_cleared {
    static constexpr std::string_view type = "input_audio_buffer.cleared";
    std::string event_id;
    bool operator==(const input_audio_cleared&) const = default;
};
struct input_audio_timeout_triggered {
    static constexpr std::string_view type = "input_audio_buffer.timeout_triggered";
    std::string event_id;
    std::int64_t audio_start_ms = 0;
    std::int64_t audio_end_ms = 0;
    std::string item_id;
    bool operator==(const input_audio_timeout_triggered&) const = default;
};
struct response_created {
    static constexpr std::string_view type = "response.created";
    std::string event_id;
    response_info response;
    bool operator==(const response_created&) const = default;
};
struct response_done {
    static constexpr std::string_view type = "response.done";
    std::string event_id;
    response_info response;
    bool operator==(const response_done&) const = default;
};
struct output_item_added {
    static constexpr std::string_view type = "response.output_item.added";
    std::string event_id;
    std::string response_id;
    int output_index = 0;
    realtime::item item;
    bool operator==(const output_item_added&) const = default;
};
struct output_item_done {
    static constexpr std::string_view type = "response.output_item.done";
    std::string event_id;
    std::string response_id;
    int output_index = 0;
    realtime::item item;
    bool operator==(const output_item_done&) const = default;
};
struct content_part_added {
    static constexpr std::string_view type = "response.content_part.added";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    content_part part;
    bool operator==(const content_part_added&) const = default;
};
struct content_part_done {
    static constexpr std::string_view type = "response.content_part.done";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    content_part part;
    bool operator==(const content_part_done&) const = default;
};
/// Also decoded from the beta name `response.audio.delta`.
struct output_audio_delta {
    static constexpr std::string_view type = "response.output_audio.delta";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    std::vector<core::sample> audio;  ///< decoded from the base64 `delta`
    bool operator==(const output_audio_delta&) const = default;
};
struct output_audio_done {
    static constexpr std::string_view type = "response.output_audio.done";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    bool operator==(const output_audio_done&) const = default;
};
struct output_audio_transcript_delta {
    static constexpr std::string_view type = "response.output_audio_transcript.delta";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    std::string delta;
    bool operator==(const output_audio_transcript_delta&) const = default;
};
struct output_audio_transcript_done {
    static constexpr std::string_view type = "response.output_audio_transcript.done";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    std::string transcript;
    bool operator==(const output_audio_transcript_done&) const = default;
};
struct output_text_delta {
    static constexpr std::string_view type = "response.output_text.delta";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    std::string delta;
    bool operator==(const output_text_delta&) const = default;
};
struct output_text_done {
    static constexpr std::string_view type = "response.output_text.done";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    int content_index = 0;
    std::string text;
    bool operator==(const output_text_done&) const = default;
};
struct function_call_arguments_delta {
    static constexpr std::string_view type = "response.function_call_arguments.delta";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    std::string call_id;
    std::string delta;
    bool operator==(const function_call_arguments_delta&) const = default;
};
struct function_call_arguments_done {
    static constexpr std::string_view type = "response.function_call_arguments.done";
    std::string event_id;
    std::string response_id;
    std::string item_id;
    int output_index = 0;
    std::string call_id;
    std::string name;
    std::string arguments;  ///< JSON text
    bool operator==(const function_call_arguments_done&) const = default;
};
struct rate_limit {
    std::string name;  ///< "requests" or "tokens"
    std::int64_t limit = 0;
    std::int64_t remaining = 0;
    double reset_seconds = 0;
    bool operator==(const rate_limit&) const = default;
};
struct rate_limits_updated {
    static constexpr std::string_view type = "rate_limits.updated";
    std::string event_id;
    std::vector<rate_limit> rate_limits;
    bool operator==(const rate_limits_updated&) const = default;
};

}  // namespace server

using server_event =
    std::variant<server::error, server::session_created, server::session_updated,
                 server::conversation_item_added, server::conversation_item_done,
                 server::conversation_item_truncated, server::conversation_item_deleted,
                 server::conversation_item_retrieved, server::input_transcription_delta,
                 server::input_transcription_completed, server::input_transcription_failed,
                 server::speech_started, server::speech_stopped, server::input_audio_committed,
                 server::input_audio_cleared, server::input_audio_timeout_triggered,
                 server::response_created, server::response_done, server::output_item_added,
                 server::output_item_done, server::content_part_added, server::content_part_done,
                 server::output_audio_delta, server::output_audio_done,
                 server::output_audio_transcript_delta, server::output_audio_transcript_done,
                 server::output_text_delta, server::output_text_done,
                 server::function_call_arguments_delta, server::function_call_arguments_done,
                 server::rate_limits_updated, unknown_event, decode_error>;

/// The wire "type" of an event (for logs); "unknown"/"decode_error" for those alternatives.
std::string_view type_of(const client_event& ev) noexcept;
std::string_view type_of(const server_event& ev) noexcept;

}  // namespace ava::realtime
