// The value shapes both directions of the codec share (codec_shapes.hpp): the session config,
// items and their content parts, tool definitions and metadata, read from and written to JSON.
// The mapping rules that are not one-to-one are listed in codec.hpp.
#include "codec_shapes.hpp"

#include <utility>

#include "ava/realtime/codec.hpp"

namespace ava::realtime::codec_detail {
namespace {

/// A value that may be a string or an object (tracing, truncation): objects are kept as their
/// compact JSON text.
std::string string_or_json_text(const json& v, const where& w) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object()) return dump(v);
    fail(w, wrong_type("string or object", v));
}

audio_format read_format(const obj& o) {
    audio_format f;
    f.type = o.req_str("type");
    f.rate = o.opt_int<int>("rate");
    return f;
}

turn_detection read_turn(const obj& o) {
    turn_detection t;
    const std::string type = o.req_str("type");
    if (type == "server_vad") {
        t.type = vad_type::server_vad;
    } else if (type == "semantic_vad") {
        t.type = vad_type::semantic_vad;
    } else {
        fail(o.at("type"), "unknown turn_detection type " + quote_short(type));
    }
    t.threshold = o.opt_num("threshold");
    t.prefix_padding_ms = o.opt_int<int>("prefix_padding_ms");
    t.silence_duration_ms = o.opt_int<int>("silence_duration_ms");
    t.eagerness = o.opt_str("eagerness");
    t.create_response = o.opt_bool("create_response");
    t.interrupt_response = o.opt_bool("interrupt_response");
    t.idle_timeout_ms = o.opt_int<int>("idle_timeout_ms");
    return t;
}

tool_def read_tool(const obj& o) {
    tool_def t;
    if (const auto type = o.opt_str("type"); type && *type != "function") {
        fail(o.at("type"), "unsupported tool type " + quote_short(*type) + " (only \"function\")");
    }
    t.name = o.req_str("name");
    t.description = o.str("description");
    if (const json* p = o.find("parameters")) {
        // A string is kept as it is: that is how encode sends a schema that is not JSON.
        t.parameters_json = p->is_string() ? p->get<std::string>() : dump(*p);
    }
    return t;
}

}  // namespace

// ---- reading ----------------------------------------------------------------------------------

std::optional<std::vector<tool_def>> read_tools(const obj& o) {
    std::vector<tool_def> tools;
    if (!o.each("tools", false, [&](const json& e, const where& w) {
            tools.push_back(read_tool(obj::of(e, w)));
        })) {
        return std::nullopt;
    }
    return tools;
}

std::optional<std::string> read_tool_choice(const obj& o) {
    const json* v = o.find("tool_choice");
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return v->get<std::string>();
    const obj c = obj::of(*v, o.at("tool_choice"));
    if (const std::string type = c.req_str("type"); type != "function") {
        fail(c.at("type"), "unsupported tool_choice type " + quote_short(type));
    }
    return c.req_str("name");
}

std::optional<int> read_max_tokens(const obj& o) {
    const json* v = o.find("max_output_tokens");
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) {
        if (v->get_ref<const std::string&>() != "inf") {
            fail(o.at("max_output_tokens"), "expected an integer or \"inf\"");
        }
        return max_tokens_inf;
    }
    return to_int<int>(*v, o.at("max_output_tokens"));
}

std::optional<std::string> read_voice(const obj& o) {
    const json* v = o.find("voice");
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return v->get<std::string>();
    return obj::of(*v, o.at("voice")).req_str("id");
}

session_config read_session(const obj& s) {
    session_config c;
    c.type = s.req_str("type");
    c.id = s.opt_str("id");
    c.object = s.opt_str("object");
    c.expires_at = s.opt_int<std::int64_t>("expires_at");
    c.model = s.opt_str("model");
    c.output_modalities = read_strings(s, "output_modalities");
    c.instructions = s.opt_str("instructions");
    if (const auto audio = s.opt_obj("audio")) {
        if (const auto in = audio->opt_obj("input")) {
            if (const auto f = in->opt_obj("format")) c.input_format = read_format(*f);
            if (const json* nr = in->member("noise_reduction")) {
                c.noise_reduction = nr->is_null()
                                        ? std::string()
                                        : obj::of(*nr, in->at("noise_reduction")).req_str("type");
            }
            if (const json* tr = in->member("transcription")) {
                transcription t;
                if (!tr->is_null()) {
                    const obj to = obj::of(*tr, in->at("transcription"));
                    t.model = to.str("model");
                    t.language = to.opt_str("language");
                    t.prompt = to.opt_str("prompt");
                }
                c.input_transcription = std::move(t);
            }
            if (const json* td = in->member("turn_detection")) {
                c.turn = td->is_null() ? turn_detection{.type = vad_type::none}
                                       : read_turn(obj::of(*td, in->at("turn_detection")));
            }
        }
        if (const auto out = audio->opt_obj("output")) {
            if (const auto f = out->opt_obj("format")) c.output_format = read_format(*f);
            c.voice = read_voice(*out);
            c.speed = out->opt_num("speed");
        }
    }
    c.tools = read_tools(s);
    c.tool_choice = read_tool_choice(s);
    c.max_output_tokens = read_max_tokens(s);
    if (const json* t = s.find("truncation")) {
        c.truncation = string_or_json_text(*t, s.at("truncation"));
    }
    if (const json* t = s.member("tracing")) {
        c.tracing = t->is_null() ? std::string() : string_or_json_text(*t, s.at("tracing"));
    }
    return c;
}

content_part read_part(const obj& o) {
    content_part p;
    p.type = o.req_str("type");
    p.text = o.str("text");
    p.transcript = o.str("transcript");
    if (const json* a = o.find("audio")) p.audio = to_pcm(*a, o.at("audio"));
    return p;
}

item read_item(const obj& o) {
    item it;
    it.id = o.str("id");
    it.object = o.str("object");
    it.type = o.req_str("type");
    it.status = o.str("status");
    it.role = o.str("role");
    o.each("content", false,
           [&](const json& e, const where& w) { it.content.push_back(read_part(obj::of(e, w))); });
    it.call_id = o.str("call_id");
    it.name = o.str("name");
    it.arguments = o.str("arguments");
    it.output = o.str("output");
    return it;
}

// ---- writing ----------------------------------------------------------------------------------

namespace {

/// Parses trusted-ish JSON text for embedding; a discarded value when it is not JSON.
json parse_or_discarded(std::string_view text) {
    json j;
    std::string error;
    if (!parse_bounded(text, j, error)) return json(json::value_t::discarded);
    return j;
}

/// tracing / truncation: a string starting with '{' that parses as an object is embedded.
json string_or_embedded(const std::string& s) {
    if (!s.empty() && s.front() == '{') {
        json j = parse_or_discarded(s);
        if (j.is_object()) return j;
    }
    return json(s);
}

json format_json(const audio_format& f) {
    json j = object_with("type", f.type);
    if (f.rate) j["rate"] = *f.rate;
    return j;
}

json turn_json(const turn_detection& t) {
    if (t.type == vad_type::none) return json(nullptr);
    json j = object_with("type", t.type == vad_type::server_vad ? "server_vad" : "semantic_vad");
    if (t.threshold) j["threshold"] = *t.threshold;
    if (t.prefix_padding_ms) j["prefix_padding_ms"] = *t.prefix_padding_ms;
    if (t.silence_duration_ms) j["silence_duration_ms"] = *t.silence_duration_ms;
    if (t.eagerness) j["eagerness"] = *t.eagerness;
    if (t.create_response) j["create_response"] = *t.create_response;
    if (t.interrupt_response) j["interrupt_response"] = *t.interrupt_response;
    if (t.idle_timeout_ms) j["idle_timeout_ms"] = *t.idle_timeout_ms;
    return j;
}

json tool_json(const tool_def& t) {
    json j = object_with("type", "function");
    j["name"] = t.name;
    j["description"] = t.description;
    json params = parse_or_discarded(t.parameters_json);
    // Not JSON: send the text as a string so the server names the bad field (see codec.hpp).
    j["parameters"] = params.is_discarded() ? json(t.parameters_json) : std::move(params);
    return j;
}

bool is_audio_part(std::string_view type) {
    return type == "input_audio" || type == "output_audio" || type == "audio";
}

}  // namespace

json tools_json(const std::vector<tool_def>& tools) {
    json j = json::array();
    for (const tool_def& t : tools) j.push_back(tool_json(t));
    return j;
}

json tool_choice_json(const std::string& c) {
    if (c.empty() || c == "auto" || c == "none" || c == "required") return json(c);
    json j = object_with("type", "function");
    j["name"] = c;
    return j;
}

json max_tokens_json(int n) {
    return n == max_tokens_inf ? json("inf") : json(n);
}

json voice_json(const std::string& v) {
    return v.starts_with("voice_") ? object_with("id", v) : json(v);
}

json session_json(const session_config& c) {
    json j = object_with("type", c.type);
    if (c.object) j["object"] = *c.object;
    if (c.id) j["id"] = *c.id;
    if (c.expires_at) j["expires_at"] = *c.expires_at;
    if (c.model) j["model"] = *c.model;
    if (c.output_modalities) j["output_modalities"] = *c.output_modalities;
    if (c.instructions) j["instructions"] = *c.instructions;
    json in = json::object();
    if (c.input_format) in["format"] = format_json(*c.input_format);
    if (c.noise_reduction) {
        in["noise_reduction"] =
            c.noise_reduction->empty() ? json(nullptr) : object_with("type", *c.noise_reduction);
    }
    if (c.input_transcription) {
        const transcription& t = *c.input_transcription;
        json tj(nullptr);
        if (!t.model.empty()) {
            tj = object_with("model", t.model);
            if (t.language) tj["language"] = *t.language;
            if (t.prompt) tj["prompt"] = *t.prompt;
        }
        in["transcription"] = std::move(tj);
    }
    if (c.turn) in["turn_detection"] = turn_json(*c.turn);
    json out = json::object();
    if (c.output_format) out["format"] = format_json(*c.output_format);
    if (c.voice) out["voice"] = voice_json(*c.voice);
    if (c.speed) out["speed"] = *c.speed;
    if (!in.empty() || !out.empty()) {
        json audio = json::object();
        if (!in.empty()) audio["input"] = std::move(in);
        if (!out.empty()) audio["output"] = std::move(out);
        j["audio"] = std::move(audio);
    }
    if (c.tools) j["tools"] = tools_json(*c.tools);
    if (c.tool_choice) j["tool_choice"] = tool_choice_json(*c.tool_choice);
    if (c.max_output_tokens) j["max_output_tokens"] = max_tokens_json(*c.max_output_tokens);
    if (c.tracing)
        j["tracing"] = c.tracing->empty() ? json(nullptr) : string_or_embedded(*c.tracing);
    if (c.truncation) j["truncation"] = string_or_embedded(*c.truncation);
    return j;
}

json part_json(const content_part& p) {
    json j = object_with("type", p.type);
    if (is_audio_part(p.type)) {
        if (!p.audio.empty()) j["audio"] = base64_encode(p.audio);
        // The server always sends the transcript of its own audio; a client's input_audio
        // usually has none.
        if (p.type != "input_audio" || !p.transcript.empty()) j["transcript"] = p.transcript;
    } else {
        j["text"] = p.text;
        if (!p.transcript.empty()) j["transcript"] = p.transcript;
        if (!p.audio.empty()) j["audio"] = base64_encode(p.audio);
    }
    return j;
}

json item_json(const item& it) {
    json j = json::object();
    if (!it.id.empty()) j["id"] = it.id;
    if (!it.object.empty()) j["object"] = it.object;
    j["type"] = it.type;
    if (!it.status.empty()) j["status"] = it.status;
    const bool message = it.type == "message";
    const bool call = it.type == "function_call";
    const bool call_output = it.type == "function_call_output";
    if (message || !it.role.empty()) j["role"] = it.role;
    if (message || !it.content.empty()) {
        json content = json::array();
        for (const content_part& p : it.content) content.push_back(part_json(p));
        j["content"] = std::move(content);
    }
    if (call || call_output || !it.call_id.empty()) j["call_id"] = it.call_id;
    if (call || !it.name.empty()) j["name"] = it.name;
    if (call || !it.arguments.empty()) j["arguments"] = it.arguments;
    if (call_output || !it.output.empty()) j["output"] = it.output;
    return j;
}

json metadata_json(const std::map<std::string, std::string>& m) {
    json j = json::object();
    for (const auto& [k, v] : m) j[k] = v;
    return j;
}

// ---- encoding: the envelope -------------------------------------------------------------------

json event_object(std::string_view type, const std::string& event_id) {
    json j = object_with("type", type);
    if (!event_id.empty()) j["event_id"] = event_id;
    return j;
}

std::string encode_note(const unknown_event& e) {
    return dump(object_with("type", e.type));
}

std::string encode_note(const decode_error& e) {
    json j = object_with("type", "decode_error");
    j["event_type"] = e.event_type;
    j["field"] = e.field;
    j["message"] = e.message;
    return dump(j);
}

}  // namespace ava::realtime::codec_detail
