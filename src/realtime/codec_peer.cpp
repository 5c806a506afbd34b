// The server direction of the Realtime codec (codec_peer.hpp): encoding the events the server
// sends and decoding the events the client sends. Only the tests and the bench use it (the
// simulator has its own, independent JSON), so it is a library of its own, ava_codec_peer,
// and ava-voice does not carry it. Built on the same helpers and shapes as the client
// direction (codec_json.*, codec_shapes.*), so both directions agree on every shape.
#include "ava/realtime/codec_peer.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include "ava/core/base64.hpp"
#include "codec_shapes.hpp"

namespace ava::realtime::codec_detail {
namespace {

// ---- encoding the shapes only the server sends ------------------------------------------------

/// `full`: the top-level error event, whose type and message are always there (decode insists).
json error_json(const error_info& e, bool full) {
    json j = object_with("type", e.type);
    if (!e.code.empty()) j["code"] = e.code;
    if (full || !e.message.empty()) j["message"] = e.message;
    if (!e.param.empty()) j["param"] = e.param;
    if (!e.event_id.empty()) j["event_id"] = e.event_id;
    return j;
}

json token_details_json(const token_details& d, bool with_image) {
    json j = object_with("text_tokens", d.text_tokens);
    j["audio_tokens"] = d.audio_tokens;
    if (with_image || d.image_tokens != 0) j["image_tokens"] = d.image_tokens;
    return j;
}

json usage_json(const usage& u) {
    json j = object_with("total_tokens", u.total_tokens);
    j["input_tokens"] = u.input_tokens;
    j["output_tokens"] = u.output_tokens;
    json in = token_details_json(u.input_details, true);
    in["cached_tokens"] = u.input_details.cached_tokens;
    in["cached_tokens_details"] = token_details_json(u.input_details.cached_tokens_details, true);
    j["input_token_details"] = std::move(in);
    j["output_token_details"] = token_details_json(u.output_details, false);
    return j;
}

json response_json(const response_info& r) {
    json j = object_with("id", r.id);
    if (!r.object.empty()) j["object"] = r.object;
    j["status"] = r.status;
    if (r.details) {
        json d = json::object();
        if (!r.details->type.empty()) d["type"] = r.details->type;
        if (!r.details->reason.empty()) d["reason"] = r.details->reason;
        if (r.details->error) d["error"] = error_json(*r.details->error, false);
        j["status_details"] = std::move(d);
    }
    json output = json::array();
    for (const item& it : r.output) output.push_back(item_json(it));
    j["output"] = std::move(output);
    if (!r.conversation_id.empty()) j["conversation_id"] = r.conversation_id;
    if (r.output_modalities) j["output_modalities"] = *r.output_modalities;
    if (r.usage) j["usage"] = usage_json(*r.usage);
    if (!r.metadata.empty()) j["metadata"] = metadata_json(r.metadata);
    return j;
}

// ---- encoding server events: write_fields(json&, const event&) for each event ----------------

void write_fields(json& j, const server::error& e) {
    j["error"] = error_json(e.error, true);
}
void write_fields(json& j, const server::session_created& e) {
    j["session"] = session_json(e.session);
}
void write_fields(json& j, const server::session_updated& e) {
    j["session"] = session_json(e.session);
}
template <class E>
void write_item_event(json& j, const E& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::conversation_item_added& e) {
    write_item_event(j, e);
}
void write_fields(json& j, const server::conversation_item_done& e) {
    write_item_event(j, e);
}
void write_fields(json& j, const server::conversation_item_truncated& e) {
    write_truncate(j, e);
}
void write_fields(json& j, const server::conversation_item_deleted& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::conversation_item_retrieved& e) {
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::input_transcription_delta& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::input_transcription_completed& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["transcript"] = e.transcript;
    if (e.usage) {
        // The ASR usage shape: {type:"tokens", input/output/total, input_token_details}.
        json u = object_with("type", "tokens");
        u["total_tokens"] = e.usage->total_tokens;
        u["input_tokens"] = e.usage->input_tokens;
        u["output_tokens"] = e.usage->output_tokens;
        u["input_token_details"] = token_details_json(e.usage->input_details, false);
        j["usage"] = std::move(u);
    }
}
void write_fields(json& j, const server::input_transcription_failed& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["error"] = error_json(e.error, false);
}
void write_fields(json& j, const server::speech_started& e) {
    j["audio_start_ms"] = e.audio_start_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::speech_stopped& e) {
    j["audio_end_ms"] = e.audio_end_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::input_audio_committed& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item_id"] = e.item_id;
}
void write_fields(json&, const server::input_audio_cleared&) {}
void write_fields(json& j, const server::input_audio_timeout_triggered& e) {
    j["audio_start_ms"] = e.audio_start_ms;
    j["audio_end_ms"] = e.audio_end_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::response_created& e) {
    j["response"] = response_json(e.response);
}
void write_fields(json& j, const server::response_done& e) {
    j["response"] = response_json(e.response);
}
template <class E>
void write_output_item(json& j, const E& e) {
    j["response_id"] = e.response_id;
    j["output_index"] = e.output_index;
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::output_item_added& e) {
    write_output_item(j, e);
}
void write_fields(json& j, const server::output_item_done& e) {
    write_output_item(j, e);
}
template <class E>
void write_part_address(json& j, const E& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["content_index"] = e.content_index;
}
void write_fields(json& j, const server::content_part_added& e) {
    write_part_address(j, e);
    j["part"] = part_json(e.part);
}
void write_fields(json& j, const server::content_part_done& e) {
    write_part_address(j, e);
    j["part"] = part_json(e.part);
}
void write_fields(json& j, const server::output_audio_done& e) {
    write_part_address(j, e);
}
void write_fields(json& j, const server::output_audio_transcript_delta& e) {
    write_part_address(j, e);
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::output_audio_transcript_done& e) {
    write_part_address(j, e);
    j["transcript"] = e.transcript;
}
void write_fields(json& j, const server::output_text_delta& e) {
    write_part_address(j, e);
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::output_text_done& e) {
    write_part_address(j, e);
    j["text"] = e.text;
}
void write_fields(json& j, const server::function_call_arguments_delta& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["call_id"] = e.call_id;
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::function_call_arguments_done& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["call_id"] = e.call_id;
    if (!e.name.empty()) j["name"] = e.name;
    j["arguments"] = e.arguments;
}
void write_fields(json& j, const server::rate_limits_updated& e) {
    json limits = json::array();
    for (const server::rate_limit& l : e.rate_limits) {
        json r = object_with("name", l.name);
        r["limit"] = l.limit;
        r["remaining"] = l.remaining;
        r["reset_seconds"] = l.reset_seconds;
        limits.push_back(std::move(r));
    }
    j["rate_limits"] = std::move(limits);
}

template <class E>
std::string encode_one(const E& e) {
    json j = event_object(E::type, e.event_id);
    write_fields(j, e);
    return dump(j);
}

std::string encode_one(const unknown_event& e) {
    return encode_note(e);
}

std::string encode_one(const decode_error& e) {
    return encode_note(e);
}

std::string encode_one(const server::output_audio_delta& e) {
    // {"type":...,"event_id":...,"response_id":...,"item_id":...,"output_index":N,
    //  "content_index":N,"delta":"<base64>"}: the shape the service sends.
    std::string out;
    out.reserve(160 + e.event_id.size() + e.response_id.size() + e.item_id.size() +
                core::base64_size(e.audio.size() * sizeof(sample)));
    out += R"({"type":"response.output_audio.delta")";
    if (!e.event_id.empty()) {
        out += R"(,"event_id":)";
        append_quoted(out, e.event_id);
    }
    out += R"(,"response_id":)";
    append_quoted(out, e.response_id);
    out += R"(,"item_id":)";
    append_quoted(out, e.item_id);
    out += R"(,"output_index":)";
    out += std::to_string(e.output_index);
    out += R"(,"content_index":)";
    out += std::to_string(e.content_index);
    out += R"(,"delta":")";
    append_base64(out, e.audio);
    out += "\"}";
    return out;
}

// ---- decoding the shapes only the client sends ------------------------------------------------

response_overrides read_overrides(const obj& o) {
    response_overrides r;
    r.instructions = o.opt_str("instructions");
    r.tools = read_tools(o);
    r.tool_choice = read_tool_choice(o);
    r.output_modalities = read_strings(o, "output_modalities");
    if (const auto audio = o.opt_obj("audio")) {
        if (const auto out = audio->opt_obj("output")) r.voice = read_voice(*out);
    }
    r.max_output_tokens = read_max_tokens(o);
    r.conversation = o.opt_str("conversation");
    r.metadata = read_metadata(o, "metadata");
    return r;
}

}  // namespace

// ---- decoding client events: read_fields(obj, event&) for each event (found by decode_as) ----

void read_fields(const obj& o, client::session_update& e) {
    e.session = read_session(o.req_obj("session"));
}
void read_fields(const obj& o, client::input_audio_buffer_append& e) {
    e.audio = to_pcm(o.need("audio"), o.at("audio"));
}
void read_fields(const obj&, client::input_audio_buffer_commit&) {}
void read_fields(const obj&, client::input_audio_buffer_clear&) {}
void read_fields(const obj& o, client::conversation_item_create& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, client::conversation_item_truncate& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
}
void read_fields(const obj& o, client::conversation_item_delete& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, client::conversation_item_retrieve& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, client::response_create& e) {
    if (const auto r = o.opt_obj("response")) e.response = read_overrides(*r);
}
void read_fields(const obj& o, client::response_cancel& e) {
    e.response_id = o.opt_str("response_id");
}

namespace {

constexpr std::array<decoder_entry<client_event>, 0> client_aliases{};

}  // namespace
}  // namespace ava::realtime::codec_detail

// ---- public API -------------------------------------------------------------------------------

namespace ava::realtime {

using namespace codec_detail;

std::string encode(const server_event& ev) {
    return std::visit([](const auto& e) { return encode_one(e); }, ev);
}

client_event decode_client(std::string_view json) noexcept {
    return decode_any<client_event>(json, client_aliases);
}

}  // namespace ava::realtime
