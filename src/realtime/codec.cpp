// The client direction of the Realtime codec (codec.hpp): encoding the events the client sends
// and decoding the events the server sends. The server direction is codec_peer.cpp; the JSON
// helpers and the shapes both share are codec_json.* and codec_shapes.*.
//
// Decoding goes through the JSON tree (codec_shapes.hpp: decode_any), with one exception:
// response.output_audio.delta, the event that arrives in bursts, is first tried by a flat
// scanner (fast_audio_delta) that decodes the base64 straight from the input text; anything it
// is not sure about goes the general way.
//
// Encoding: cold events are built as ordered JSON trees (so "type" comes first, which keeps
// event logs readable) and dumped with invalid UTF-8 replaced, never thrown. The hot event
// (input_audio_buffer.append) is written directly around the base64 text, one allocation.
#include "ava/realtime/codec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <variant>

#include "ava/core/base64.hpp"
#include "codec_shapes.hpp"

namespace ava::realtime::codec_detail {
namespace {

// ---- encoding client events: write_fields(json&, const event&) for each event ----------------

json overrides_json(const response_overrides& r) {
    json j = json::object();
    if (r.conversation) j["conversation"] = *r.conversation;
    if (r.output_modalities) j["output_modalities"] = *r.output_modalities;
    if (r.instructions) j["instructions"] = *r.instructions;
    if (r.voice) j["audio"] = object_with("output", object_with("voice", voice_json(*r.voice)));
    if (r.tools) j["tools"] = tools_json(*r.tools);
    if (r.tool_choice) j["tool_choice"] = tool_choice_json(*r.tool_choice);
    if (r.max_output_tokens) j["max_output_tokens"] = max_tokens_json(*r.max_output_tokens);
    if (!r.metadata.empty()) j["metadata"] = metadata_json(r.metadata);
    return j;
}

void write_fields(json& j, const client::session_update& e) {
    j["session"] = session_json(e.session);
}
void write_fields(json&, const client::input_audio_buffer_commit&) {}
void write_fields(json&, const client::input_audio_buffer_clear&) {}
void write_fields(json& j, const client::conversation_item_create& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const client::conversation_item_truncate& e) {
    write_truncate(j, e);
}
void write_fields(json& j, const client::conversation_item_delete& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const client::conversation_item_retrieve& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const client::response_create& e) {
    if (e.response) j["response"] = overrides_json(*e.response);
}
void write_fields(json& j, const client::response_cancel& e) {
    if (e.response_id) j["response_id"] = *e.response_id;
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

std::string encode_one(const client::input_audio_buffer_append& e) {
    return encode_append(e.audio, e.event_id);
}

// ---- decoding the shapes only the server sends ------------------------------------------------

/// `strict`: the top-level `error` event, where type and message must be there.
error_info read_error(const obj& o, bool strict) {
    error_info e;
    e.type = strict ? o.req_str("type") : o.str("type");
    e.code = o.str("code");
    e.message = strict ? o.req_str("message") : o.str("message");
    e.param = o.str("param");
    e.event_id = o.str("event_id");
    return e;
}

token_details read_token_details(const obj& o) {
    token_details d;
    d.text_tokens = o.int_or_zero<std::int64_t>("text_tokens");
    d.audio_tokens = o.int_or_zero<std::int64_t>("audio_tokens");
    d.image_tokens = o.int_or_zero<std::int64_t>("image_tokens");
    return d;
}

usage read_usage(const obj& o) {
    usage u;
    u.input_tokens = o.req_int<std::int64_t>("input_tokens");
    u.output_tokens = o.req_int<std::int64_t>("output_tokens");
    u.total_tokens = o.find("total_tokens") != nullptr ? o.req_int<std::int64_t>("total_tokens")
                                                       : u.input_tokens + u.output_tokens;
    if (const auto in = o.opt_obj("input_token_details")) {
        static_cast<token_details&>(u.input_details) = read_token_details(*in);
        u.input_details.cached_tokens = in->int_or_zero<std::int64_t>("cached_tokens");
        if (const auto cached = in->opt_obj("cached_tokens_details")) {
            u.input_details.cached_tokens_details = read_token_details(*cached);
        }
    }
    if (const auto out = o.opt_obj("output_token_details")) {
        u.output_details = read_token_details(*out);
    }
    return u;
}

response_info read_response(const obj& o) {
    response_info r;
    r.id = o.req_str("id");
    r.object = o.str("object");
    r.status = o.req_str("status");
    if (const auto d = o.opt_obj("status_details")) {
        status_details sd;
        sd.type = d->str("type");
        sd.reason = d->str("reason");
        if (const auto e = d->opt_obj("error")) sd.error = read_error(*e, false);
        r.details = std::move(sd);
    }
    o.each("output", false,
           [&](const json& e, const where& w) { r.output.push_back(read_item(obj::of(e, w))); });
    if (const auto u = o.opt_obj("usage")) r.usage = read_usage(*u);
    r.conversation_id = o.str("conversation_id");
    r.output_modalities = read_strings(o, "output_modalities");
    r.metadata = read_metadata(o, "metadata");
    return r;
}

}  // namespace

// ---- decoding server events: read_fields(obj, event&) for each event (found by decode_as) ----

void read_fields(const obj& o, server::error& e) {
    e.error = read_error(o.req_obj("error"), true);
}
void read_fields(const obj& o, server::session_created& e) {
    e.session = read_session(o.req_obj("session"));
}
void read_fields(const obj& o, server::session_updated& e) {
    e.session = read_session(o.req_obj("session"));
}
template <class E>
void read_item_event(const obj& o, E& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::conversation_item_added& e) {
    read_item_event(o, e);
}
void read_fields(const obj& o, server::conversation_item_done& e) {
    read_item_event(o, e);
}
void read_fields(const obj& o, server::conversation_item_truncated& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
}
void read_fields(const obj& o, server::conversation_item_deleted& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::conversation_item_retrieved& e) {
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::input_transcription_delta& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::input_transcription_completed& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.transcript = o.req_str("transcript");
    if (const auto u = o.opt_obj("usage")) {
        // {type:"duration",seconds} (whisper-1) is not modelled: usage stays empty.
        if (u->str("type") != "duration") e.usage = read_usage(*u);
    }
}
void read_fields(const obj& o, server::input_transcription_failed& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.error = read_error(o.req_obj("error"), false);
}
void read_fields(const obj& o, server::speech_started& e) {
    e.audio_start_ms = o.req_int<std::int64_t>("audio_start_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::speech_stopped& e) {
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::input_audio_committed& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj&, server::input_audio_cleared&) {}
void read_fields(const obj& o, server::input_audio_timeout_triggered& e) {
    e.audio_start_ms = o.req_int<std::int64_t>("audio_start_ms");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::response_created& e) {
    e.response = read_response(o.req_obj("response"));
}
void read_fields(const obj& o, server::response_done& e) {
    e.response = read_response(o.req_obj("response"));
}
template <class E>
void read_output_item(const obj& o, E& e) {
    e.response_id = o.req_str("response_id");
    e.output_index = o.req_int<int>("output_index");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::output_item_added& e) {
    read_output_item(o, e);
}
void read_fields(const obj& o, server::output_item_done& e) {
    read_output_item(o, e);
}
/// The four ids/indexes every response.<part>.* event carries.
template <class E>
void read_part_address(const obj& o, E& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.content_index = o.req_int<int>("content_index");
}
void read_fields(const obj& o, server::content_part_added& e) {
    read_part_address(o, e);
    e.part = read_part(o.req_obj("part"));
}
void read_fields(const obj& o, server::content_part_done& e) {
    read_part_address(o, e);
    e.part = read_part(o.req_obj("part"));
}
void read_fields(const obj& o, server::output_audio_delta& e) {
    read_part_address(o, e);
    e.audio = to_pcm(o.need("delta"), o.at("delta"));  // decoded straight from the parsed text
}
void read_fields(const obj& o, server::output_audio_done& e) {
    read_part_address(o, e);
}
void read_fields(const obj& o, server::output_audio_transcript_delta& e) {
    read_part_address(o, e);
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::output_audio_transcript_done& e) {
    read_part_address(o, e);
    e.transcript = o.req_str("transcript");
}
void read_fields(const obj& o, server::output_text_delta& e) {
    read_part_address(o, e);
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::output_text_done& e) {
    read_part_address(o, e);
    e.text = o.req_str("text");
}
void read_fields(const obj& o, server::function_call_arguments_delta& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.call_id = o.req_str("call_id");
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::function_call_arguments_done& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.call_id = o.req_str("call_id");
    e.name = o.str("name");  // older servers left it out; output_item.done has it too
    e.arguments = o.req_str("arguments");
}
void read_fields(const obj& o, server::rate_limits_updated& e) {
    o.each("rate_limits", true, [&](const json& v, const where& w) {
        const obj r = obj::of(v, w);
        server::rate_limit l;
        l.name = r.req_str("name");
        l.limit = r.req_int<std::int64_t>("limit");
        l.remaining = r.req_int<std::int64_t>("remaining");
        l.reset_seconds = r.req_num("reset_seconds");
        e.rate_limits.push_back(std::move(l));
    });
}

namespace {

/// Retired beta names still seen in the SDK union, decoded as their GA events.
constexpr std::array<decoder_entry<server_event>, 7> server_aliases{{
    {"conversation.item.created", &decode_as<server_event, server::conversation_item_added>},
    {"response.audio.delta", &decode_as<server_event, server::output_audio_delta>},
    {"response.audio.done", &decode_as<server_event, server::output_audio_done>},
    {"response.audio_transcript.delta",
     &decode_as<server_event, server::output_audio_transcript_delta>},
    {"response.audio_transcript.done",
     &decode_as<server_event, server::output_audio_transcript_done>},
    {"response.text.delta", &decode_as<server_event, server::output_text_delta>},
    {"response.text.done", &decode_as<server_event, server::output_text_done>},
}};

// ---- the output_audio.delta fast path ------------------------------------------------------

bool json_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// One member of a flat JSON object as the fast path sees it.
struct flat_value {
    enum kind_t { string, integer, null } kind = null;
    std::string_view text;  ///< string contents (no escapes)
    std::int64_t number = 0;
};

constexpr bool plain_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
}

/// Decodes `response.output_audio.delta` (or its beta name) without building a JSON tree: the
/// service sends these in bursts, and the tree would copy the base64 text twice, one character
/// at a time. Accepts only the plain shape: a flat object whose values are strings without
/// escapes (ASCII), integers or null. Anything else, and any event that would be a
/// decode_error, returns nullopt so that the general path decodes it and names the problem:
/// both paths give the same result for every input the fast path accepts.
std::optional<server::output_audio_delta> fast_audio_delta(std::string_view s) {
    std::size_t i = 0;
    const auto skip_ws = [&] {
        while (i < s.size() && json_space(s[i])) ++i;
    };
    // Reads a string starting at s[i] == '"'. `checked`: every character must be plain (the
    // delta is not checked here: base64 decoding rejects anything outside its alphabet).
    const auto read_string = [&](bool checked, std::string_view& out) {
        const std::size_t begin = i + 1;
        const void* hit = std::memchr(s.data() + begin, '"', s.size() - begin);
        if (hit == nullptr) return false;
        const auto end = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        out = s.substr(begin, end - begin);
        if (checked && !std::all_of(out.begin(), out.end(), plain_char)) return false;
        i = end + 1;
        return true;
    };
    std::string_view type;
    std::optional<std::string_view> delta;
    std::optional<std::string_view> event_id;
    std::optional<std::string_view> response_id;
    std::optional<std::string_view> item_id;
    std::optional<std::int64_t> output_index;
    std::optional<std::int64_t> content_index;
    bool event_id_null = false;

    skip_ws();
    if (i >= s.size() || s[i] != '{') return std::nullopt;
    ++i;
    for (;;) {
        skip_ws();
        if (i >= s.size() || s[i] != '"') return std::nullopt;
        std::string_view key;
        if (!read_string(true, key)) return std::nullopt;
        skip_ws();
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        ++i;
        skip_ws();
        if (i >= s.size()) return std::nullopt;
        flat_value v;
        if (s[i] == '"') {
            v.kind = flat_value::string;
            if (!read_string(key != "delta", v.text)) return std::nullopt;
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            const std::size_t digits = i + (s[i] == '-' ? 1 : 0);
            // JSON has no leading zeros and no bare '-'.
            if (digits >= s.size() || s[digits] < '0' || s[digits] > '9') return std::nullopt;
            if (s[digits] == '0' && digits + 1 < s.size() && s[digits + 1] >= '0' &&
                s[digits + 1] <= '9') {
                return std::nullopt;
            }
            const auto [ptr, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v.number);
            if (ec != std::errc()) return std::nullopt;
            i = static_cast<std::size_t>(ptr - s.data());
            if (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) return std::nullopt;
            v.kind = flat_value::integer;
        } else if (s.substr(i, 4) == "null") {
            i += 4;
        } else {
            return std::nullopt;  // nested value, boolean, or not JSON: the general path
        }
        const bool str = v.kind == flat_value::string;
        const bool num = v.kind == flat_value::integer;
        if (key == "type") {
            if (!str) return std::nullopt;
            type = v.text;
        } else if (key == "delta") {
            if (!str) return std::nullopt;
            delta = v.text;
        } else if (key == "event_id") {
            if (num) return std::nullopt;
            event_id_null = !str;
            event_id = v.text;
        } else if (key == "response_id" || key == "item_id") {
            if (!str) return std::nullopt;
            (key == "item_id" ? item_id : response_id) = v.text;
        } else if (key == "output_index" || key == "content_index") {
            if (!num || v.number < std::numeric_limits<int>::min() ||
                v.number > std::numeric_limits<int>::max()) {
                return std::nullopt;
            }
            (key == "output_index" ? output_index : content_index) = v.number;
        }
        skip_ws();
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') {
            ++i;
            break;
        }
        return std::nullopt;
    }
    skip_ws();
    if (i != s.size()) return std::nullopt;
    if (type != "response.output_audio.delta" && type != "response.audio.delta")
        return std::nullopt;
    if (!response_id || !item_id || !output_index || !content_index || !delta) {
        return std::nullopt;
    }
    server::output_audio_delta ev;
    if (!decode_base64_into(*delta, ev.audio)) return std::nullopt;
    if (event_id && !event_id_null) ev.event_id = *event_id;
    ev.response_id = *response_id;
    ev.item_id = *item_id;
    ev.output_index = static_cast<int>(*output_index);
    ev.content_index = static_cast<int>(*content_index);
    return ev;
}

// ---- elide_audio --------------------------------------------------------------------------------

/// End of the JSON string whose opening quote is at `open` (index of the closing quote), or npos.
std::size_t string_end(std::string_view s, std::size_t open) noexcept {
    std::size_t pos = open + 1;
    while (pos < s.size()) {
        const void* hit = std::memchr(s.data() + pos, '"', s.size() - pos);
        if (hit == nullptr) return std::string_view::npos;
        const auto q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        std::size_t backslashes = 0;
        while (q - backslashes > open + 1 && s[q - backslashes - 1] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return q;
        pos = q + 1;
    }
    return std::string_view::npos;
}

}  // namespace
}  // namespace ava::realtime::codec_detail

// ---- public API -------------------------------------------------------------------------------

namespace ava::realtime {

using namespace codec_detail;

std::string encode(const client_event& ev) {
    return std::visit([](const auto& e) { return encode_one(e); }, ev);
}

std::string encode_append(core::pcm_view audio, std::string_view event_id) {
    constexpr std::string_view head = R"({"type":"input_audio_buffer.append")";
    std::string out;
    out.reserve(head.size() + 32 + event_id.size() + core::base64_size(audio.size_bytes()));
    out += head;
    if (!event_id.empty()) {
        out += R"(,"event_id":)";
        append_quoted(out, event_id);
    }
    out += R"(,"audio":")";
    append_base64(out, audio);
    out += "\"}";
    return out;
}

server_event decode_server(std::string_view json) noexcept {
    try {
        if (auto ev = fast_audio_delta(json)) return std::move(*ev);
    } catch (...) {
        // Only bad_alloc can get here; the general path reports whatever it finds.
    }
    return decode_any<server_event>(json, server_aliases);
}

std::string elide_audio(std::string_view in) {
    // One pass over the tokens that matter: strings (keys and values) and brackets (depth).
    struct span {
        std::size_t begin;  // opening quote of the value
        std::size_t end;    // one past its closing quote
    };
    std::vector<span> spans;
    std::optional<span> top_delta;
    std::string_view top_type;
    std::string_view pending_key;  // the key whose value comes next
    int pending_depth = -1;
    int depth = 0;
    for (std::size_t i = 0; i < in.size();) {
        const char c = in[i];
        if (c == '"') {
            const std::size_t close = string_end(in, i);
            if (close == std::string_view::npos) break;  // truncated text: stop scanning
            const std::string_view text = in.substr(i + 1, close - i - 1);
            std::size_t k = close + 1;
            while (k < in.size() && json_space(in[k])) ++k;
            if (k < in.size() && in[k] == ':') {  // a key
                pending_key = text;
                pending_depth = depth;
                i = k + 1;
                continue;
            }
            if (!pending_key.empty()) {  // a string value
                if (pending_key == "audio") spans.push_back({i, close + 1});
                if (pending_depth == 1 && pending_key == "delta") top_delta = span{i, close + 1};
                if (pending_depth == 1 && pending_key == "type") top_type = text;
            }
            pending_key = {};
            i = close + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        }
        if (!json_space(c)) pending_key = {};
        ++i;
    }
    if (top_delta &&
        (top_type == "response.output_audio.delta" || top_type == "response.audio.delta")) {
        spans.push_back(*top_delta);
        std::sort(spans.begin(), spans.end(),
                  [](const span& a, const span& b) { return a.begin < b.begin; });
    }
    if (spans.empty()) return std::string(in);
    std::string out;
    out.reserve(std::min<std::size_t>(in.size(), 512 + spans.size() * 24));
    std::size_t copied = 0;
    for (const span& s : spans) {
        out.append(in.substr(copied, s.begin - copied));
        out += "\"<";
        out +=
            std::to_string(core::base64_decoded_size(in.substr(s.begin + 1, s.end - s.begin - 2)));
        out += " bytes>\"";
        copied = s.end;
    }
    out.append(in.substr(copied));
    return out;
}

}  // namespace ava::realtime
