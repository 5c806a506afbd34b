#include "session_schema.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace ava::sim::detail {
namespace {

using json = nlohmann::json;

const char* const voices[] = {"alloy", "ash",     "ballad", "coral", "echo",
                              "sage",  "shimmer", "verse",  "marin", "cedar"};
const char* const transcription_models[] = {
    "whisper-1",      "gpt-4o-transcribe",   "gpt-4o-mini-transcribe", "gpt-4o-transcribe-diarize",
    "gpt-transcribe", "gpt-live-transcribe", "gpt-realtime-whisper"};

api_error unknown(const std::string& param) {
    return {"unknown_parameter", "Unknown parameter: '" + param + "'.", param};
}
api_error missing(const std::string& param) {
    return {"missing_required_parameter", "Missing required parameter: '" + param + "'.", param};
}
api_error invalid(const std::string& param, const std::string& why) {
    return {"invalid_value", "Invalid value for '" + param + "': " + why, param};
}
api_error bad_type(const std::string& param, const char* expected) {
    return {"invalid_type",
            "Invalid type for '" + param + "': expected " + std::string(expected) + ".", param};
}

std::optional<api_error> only_keys(const json& obj, std::initializer_list<const char*> allowed,
                                   const std::string& path) {
    for (const auto& [key, value] : obj.items()) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || key == a;
        if (!ok) return unknown(path + "." + key);
    }
    return std::nullopt;
}

template <std::size_t N>
bool one_of(const std::string& v, const char* const (&list)[N]) {
    for (const char* s : list)
        if (v == s) return true;
    return false;
}

std::optional<api_error> check_format(const json& f, const std::string& path) {
    if (!f.is_object()) return bad_type(path, "an object");
    if (auto e = only_keys(f, {"type", "rate"}, path)) return e;
    if (!f.contains("type")) return missing(path + ".type");
    if (!f["type"].is_string()) return bad_type(path + ".type", "a string");
    const std::string t = f["type"].get<std::string>();
    if (t == "audio/pcm") {
        if (f.contains("rate") && !(f["rate"].is_number() && f["rate"].get<double>() == 24000.0))
            return invalid(path + ".rate", "audio/pcm supports 24000 only.");
    } else if (t == "audio/pcmu" || t == "audio/pcma") {
        if (f.contains("rate")) return unknown(path + ".rate");
    } else {
        return invalid(path + ".type", "'" + t +
                                           "'. Supported values are: 'audio/pcm', "
                                           "'audio/pcmu' and 'audio/pcma'.");
    }
    return std::nullopt;
}

std::optional<api_error> check_bool(const json& obj, const char* key, const std::string& path) {
    if (obj.contains(key) && !obj[key].is_boolean()) return bad_type(path + "." + key, "a boolean");
    return std::nullopt;
}

std::optional<api_error> check_ms(const json& obj, const char* key, const std::string& path,
                                  bool nullable = false) {
    if (!obj.contains(key)) return std::nullopt;
    const json& v = obj[key];
    if (nullable && v.is_null()) return std::nullopt;
    if (!v.is_number_integer()) return bad_type(path + "." + key, "an integer");
    if (v.get<long long>() < 0)
        return api_error{"integer_below_min_value",
                         "Invalid '" + path + "." + key + "': integer below minimum value.",
                         path + "." + key};
    return std::nullopt;
}

std::optional<api_error> check_turn_detection(const json& td, const std::string& path) {
    if (td.is_null()) return std::nullopt;
    if (!td.is_object()) return bad_type(path, "an object or null");
    if (!td.contains("type")) return missing(path + ".type");
    if (!td["type"].is_string()) return bad_type(path + ".type", "a string");
    const std::string type = td["type"].get<std::string>();
    if (type == "server_vad") {
        if (auto e = only_keys(td,
                               {"type", "threshold", "prefix_padding_ms", "silence_duration_ms",
                                "create_response", "interrupt_response", "idle_timeout_ms"},
                               path))
            return e;
        if (td.contains("threshold")) {
            if (!td["threshold"].is_number()) return bad_type(path + ".threshold", "a number");
            const double t = td["threshold"].get<double>();
            if (!(t >= 0.0 && t <= 1.0))
                return invalid(path + ".threshold", "expected a value between 0 and 1.");
        }
        if (auto e = check_ms(td, "prefix_padding_ms", path)) return e;
        if (auto e = check_ms(td, "silence_duration_ms", path)) return e;
        if (auto e = check_ms(td, "idle_timeout_ms", path, true)) return e;
    } else if (type == "semantic_vad") {
        if (auto e =
                only_keys(td, {"type", "eagerness", "create_response", "interrupt_response"}, path))
            return e;
        if (td.contains("eagerness")) {
            static const char* const eager[] = {"low", "medium", "high", "auto"};
            if (!td["eagerness"].is_string() || !one_of(td["eagerness"].get<std::string>(), eager))
                return invalid(path + ".eagerness",
                               "supported values are: 'low', 'medium', 'high' and 'auto'.");
        }
    } else {
        return invalid(path + ".type", "'" + type +
                                           "'. Supported values are: 'server_vad' and "
                                           "'semantic_vad'.");
    }
    if (auto e = check_bool(td, "create_response", path)) return e;
    if (auto e = check_bool(td, "interrupt_response", path)) return e;
    return std::nullopt;
}

std::optional<api_error> check_voice(const json& v, const std::string& path) {
    if (v.is_string()) {
        if (!one_of(v.get<std::string>(), voices))
            return invalid(path, "'" + v.get<std::string>() +
                                     "'. Supported values are: 'alloy', 'ash', 'ballad', "
                                     "'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin' and "
                                     "'cedar'.");
        return std::nullopt;
    }
    if (v.is_object()) {
        if (auto e = only_keys(v, {"id"}, path)) return e;
        if (!v.contains("id") || !v["id"].is_string()) return missing(path + ".id");
        return std::nullopt;
    }
    return bad_type(path, "a string or an object");
}

std::optional<api_error> check_output_modalities(const json& m, const std::string& path) {
    if (!m.is_array()) return bad_type(path, "an array");
    if (m.size() != 1 || !m[0].is_string() ||
        (m[0].get<std::string>() != "audio" && m[0].get<std::string>() != "text"))
        return invalid(path, "expected exactly one of ['audio'] or ['text'].");
    return std::nullopt;
}

std::optional<api_error> check_tools(const json& tools, const std::string& path) {
    if (!tools.is_array()) return bad_type(path, "an array");
    for (std::size_t i = 0; i < tools.size(); ++i) {
        const json& t = tools[i];
        const std::string p = path + "[" + std::to_string(i) + "]";
        if (!t.is_object()) return bad_type(p, "an object");
        if (!t.contains("type")) return missing(p + ".type");
        if (t["type"] != "function")
            return invalid(p + ".type", "this simulator supports function tools only.");
        if (auto e = only_keys(t, {"type", "name", "description", "parameters"}, p)) return e;
        if (!t.contains("name") || !t["name"].is_string() || t["name"].get<std::string>().empty())
            return missing(p + ".name");
        if (t.contains("description") && !t["description"].is_string())
            return bad_type(p + ".description", "a string");
        if (t.contains("parameters") && !t["parameters"].is_object())
            return bad_type(p + ".parameters", "an object");
    }
    return std::nullopt;
}

std::optional<api_error> check_tool_choice(const json& tc, const std::string& path) {
    if (tc.is_string()) {
        const std::string v = tc.get<std::string>();
        if (v != "auto" && v != "none" && v != "required")
            return invalid(path, "'" + v + "'. Supported values are: 'auto', 'none', 'required'.");
        return std::nullopt;
    }
    if (tc.is_object()) {
        if (auto e = only_keys(tc, {"type", "name"}, path)) return e;
        if (tc.value("type", "") != "function")
            return invalid(path + ".type", "expected 'function'.");
        if (!tc.contains("name") || !tc["name"].is_string()) return missing(path + ".name");
        return std::nullopt;
    }
    return bad_type(path, "a string or an object");
}

std::optional<api_error> check_max_tokens(const json& v, const std::string& path) {
    if (v.is_string() && v.get<std::string>() == "inf") return std::nullopt;
    if (!v.is_number_integer()) return invalid(path, "expected an integer 1..4096 or 'inf'.");
    const auto n = v.get<long long>();
    if (n < 1 || n > 4096) return invalid(path, "expected an integer 1..4096 or 'inf'.");
    return std::nullopt;
}

}  // namespace

json turn_detection_defaults(const std::string& type) {
    if (type == "semantic_vad")
        return {{"type", "semantic_vad"},
                {"eagerness", "auto"},
                {"create_response", true},
                {"interrupt_response", true}};
    return {{"type", "server_vad"},       {"threshold", 0.5},        {"prefix_padding_ms", 300},
            {"silence_duration_ms", 500}, {"create_response", true}, {"interrupt_response", true},
            {"idle_timeout_ms", nullptr}};
}

json default_session(const std::string& model, const std::string& voice) {
    return {
        {"type", "realtime"},
        {"object", "realtime.session"},
        {"model", model},
        {"output_modalities", json::array({"audio"})},
        {"instructions",
         "You are a helpful, witty and friendly AI. Your voice and personality should be warm "
         "and engaging."},
        {"tools", json::array()},
        {"tool_choice", "auto"},
        {"max_output_tokens", "inf"},
        {"tracing", nullptr},
        {"prompt", nullptr},
        {"truncation", "auto"},
        {"include", nullptr},
        {"audio",
         {{"input",
           {{"format", {{"type", "audio/pcm"}, {"rate", 24000}}},
            {"transcription", nullptr},
            {"noise_reduction", nullptr},
            {"turn_detection", turn_detection_defaults("server_vad")}}},
          {"output",
           {{"format", {{"type", "audio/pcm"}, {"rate", 24000}}},
            {"voice", voice},
            {"speed", 1.0}}}}},
    };
}

std::optional<api_error> validate_session_update(const json& s, const json& effective) {
    const std::string root = "session";
    if (!s.is_object()) return bad_type(root, "an object");
    // Beta-only fields are unknown to GA: the error names them like the real service does.
    if (auto e = only_keys(
            s,
            {"type", "model", "output_modalities", "instructions", "audio", "tools", "tool_choice",
             "max_output_tokens", "tracing", "truncation", "include", "prompt"},
            root))
        return e;
    if (!s.contains("type")) return missing("session.type");
    if (s["type"] != "realtime") {
        if (s["type"].is_string() && s["type"].get<std::string>() == "transcription")
            return invalid("session.type",
                           "a realtime session cannot become a transcription session.");
        return invalid("session.type", "supported values are: 'realtime' and 'transcription'.");
    }
    if (s.contains("model")) {
        if (!s["model"].is_string()) return bad_type("session.model", "a string");
        if (s["model"] != effective.value("model", "")) {
            return api_error{"invalid_value", "Cannot update a session's model.", "session.model"};
        }
    }
    if (s.contains("output_modalities"))
        if (auto e = check_output_modalities(s["output_modalities"], "session.output_modalities"))
            return e;
    if (s.contains("instructions") && !s["instructions"].is_string())
        return bad_type("session.instructions", "a string");
    if (s.contains("audio")) {
        const json& a = s["audio"];
        if (!a.is_object()) return bad_type("session.audio", "an object");
        if (auto e = only_keys(a, {"input", "output"}, "session.audio")) return e;
        if (a.contains("input")) {
            const json& in = a["input"];
            const std::string p = "session.audio.input";
            if (!in.is_object()) return bad_type(p, "an object");
            if (auto e = only_keys(
                    in, {"format", "transcription", "noise_reduction", "turn_detection"}, p))
                return e;
            if (in.contains("format"))
                if (auto e = check_format(in["format"], p + ".format")) return e;
            if (in.contains("noise_reduction") && !in["noise_reduction"].is_null()) {
                const json& nr = in["noise_reduction"];
                if (!nr.is_object()) return bad_type(p + ".noise_reduction", "an object or null");
                if (auto e = only_keys(nr, {"type"}, p + ".noise_reduction")) return e;
                if (nr.value("type", "") != "near_field" && nr.value("type", "") != "far_field")
                    return invalid(p + ".noise_reduction.type",
                                   "supported values are: 'near_field' and 'far_field'.");
            }
            if (in.contains("transcription") && !in["transcription"].is_null()) {
                const json& tr = in["transcription"];
                const std::string tp = p + ".transcription";
                if (!tr.is_object()) return bad_type(tp, "an object or null");
                if (auto e = only_keys(tr, {"model", "language", "prompt"}, tp)) return e;
                if (!tr.contains("model")) return missing(tp + ".model");
                if (!tr["model"].is_string() ||
                    !one_of(tr["model"].get<std::string>(), transcription_models))
                    return invalid(tp + ".model", "unknown transcription model.");
                if (tr.contains("language") && !tr["language"].is_string())
                    return bad_type(tp + ".language", "a string");
                if (tr.contains("prompt") && !tr["prompt"].is_string())
                    return bad_type(tp + ".prompt", "a string");
            }
            if (in.contains("turn_detection"))
                if (auto e = check_turn_detection(in["turn_detection"], p + ".turn_detection"))
                    return e;
        }
        if (a.contains("output")) {
            const json& out = a["output"];
            const std::string p = "session.audio.output";
            if (!out.is_object()) return bad_type(p, "an object");
            if (auto e = only_keys(out, {"format", "voice", "speed"}, p)) return e;
            if (out.contains("format"))
                if (auto e = check_format(out["format"], p + ".format")) return e;
            if (out.contains("voice"))
                if (auto e = check_voice(out["voice"], p + ".voice")) return e;
            if (out.contains("speed")) {
                if (!out["speed"].is_number()) return bad_type(p + ".speed", "a number");
                const double v = out["speed"].get<double>();
                if (!(v >= 0.25 && v <= 1.5))
                    return invalid(p + ".speed", "expected a value between 0.25 and 1.5.");
            }
        }
    }
    if (s.contains("tools"))
        if (auto e = check_tools(s["tools"], "session.tools")) return e;
    if (s.contains("tool_choice"))
        if (auto e = check_tool_choice(s["tool_choice"], "session.tool_choice")) return e;
    if (s.contains("max_output_tokens"))
        if (auto e = check_max_tokens(s["max_output_tokens"], "session.max_output_tokens"))
            return e;
    if (s.contains("tracing")) {
        const json& t = s["tracing"];
        if (!(t.is_null() || t == "auto" || t.is_object()))
            return invalid("session.tracing", "expected 'auto', an object or null.");
        if (!effective["tracing"].is_null() && t != effective["tracing"])
            return invalid("session.tracing", "tracing cannot be changed once enabled.");
    }
    if (s.contains("truncation")) {
        const json& t = s["truncation"];
        if (t.is_string()) {
            if (t != "auto" && t != "disabled")
                return invalid("session.truncation", "supported values are: 'auto', 'disabled'.");
        } else if (t.is_object()) {
            if (auto e =
                    only_keys(t, {"type", "retention_ratio", "token_limits"}, "session.truncation"))
                return e;
            if (t.value("type", "") != "retention_ratio")
                return invalid("session.truncation.type", "expected 'retention_ratio'.");
            if (!t.contains("retention_ratio") || !t["retention_ratio"].is_number() ||
                t["retention_ratio"].get<double>() < 0 || t["retention_ratio"].get<double>() > 1)
                return invalid("session.truncation.retention_ratio", "expected 0..1.");
        } else {
            return bad_type("session.truncation", "a string or an object");
        }
    }
    if (s.contains("include")) {
        const json& inc = s["include"];
        if (!inc.is_null()) {
            if (!inc.is_array()) return bad_type("session.include", "an array");
            for (const json& v : inc)
                if (v != "item.input_audio_transcription.logprobs")
                    return invalid("session.include",
                                   "supported values are: 'item.input_audio_transcription."
                                   "logprobs'.");
        }
    }
    if (s.contains("prompt") && !(s["prompt"].is_null() || s["prompt"].is_object()))
        return bad_type("session.prompt", "an object or null");
    return std::nullopt;
}

void merge_session(json& effective, const json& update) {
    for (const auto& [key, value] : update.items()) {
        if (key == "audio") {
            for (const auto& [dir, obj] : value.items()) {
                json& target = effective["audio"][dir];
                for (const auto& [k, v] : obj.items()) {
                    if (k == "turn_detection" && v.is_object()) {
                        json td = turn_detection_defaults(v["type"].get<std::string>());
                        for (const auto& [tk, tv] : v.items()) td[tk] = tv;
                        target[k] = td;
                    } else if (k == "format" && v.is_object()) {
                        json f = v;
                        if (f["type"] == "audio/pcm" && !f.contains("rate")) f["rate"] = 24000;
                        target[k] = f;
                    } else {
                        target[k] = v;
                    }
                }
            }
        } else {
            effective[key] = value;
        }
    }
}

std::optional<api_error> validate_response_overrides(const json& r) {
    const std::string root = "response";
    if (!r.is_object()) return bad_type(root, "an object");
    if (auto e = only_keys(
            r,
            {"instructions", "tools", "tool_choice", "output_modalities", "audio",
             "max_output_tokens", "metadata", "prompt", "conversation", "input", "reasoning"},
            root))
        return e;
    if (r.contains("output_modalities"))
        if (auto e = check_output_modalities(r["output_modalities"], "response.output_modalities"))
            return e;
    if (r.contains("instructions") && !r["instructions"].is_string())
        return bad_type("response.instructions", "a string");
    if (r.contains("tools"))
        if (auto e = check_tools(r["tools"], "response.tools")) return e;
    if (r.contains("tool_choice"))
        if (auto e = check_tool_choice(r["tool_choice"], "response.tool_choice")) return e;
    if (r.contains("max_output_tokens"))
        if (auto e = check_max_tokens(r["max_output_tokens"], "response.max_output_tokens"))
            return e;
    if (r.contains("audio")) {
        const json& a = r["audio"];
        if (!a.is_object()) return bad_type("response.audio", "an object");
        if (auto e = only_keys(a, {"output"}, "response.audio")) return e;
        if (a.contains("output")) {
            const json& o = a["output"];
            if (!o.is_object()) return bad_type("response.audio.output", "an object");
            if (auto e = only_keys(o, {"voice", "format"}, "response.audio.output")) return e;
            if (o.contains("voice"))
                if (auto e = check_voice(o["voice"], "response.audio.output.voice")) return e;
            if (o.contains("format"))
                if (auto e = check_format(o["format"], "response.audio.output.format")) return e;
        }
    }
    if (r.contains("metadata")) {
        const json& m = r["metadata"];
        if (!(m.is_null() || m.is_object())) return bad_type("response.metadata", "an object");
        if (m.is_object() && m.size() > 16)
            return invalid("response.metadata", "at most 16 key-value pairs.");
    }
    if (r.contains("conversation")) {
        const json& c = r["conversation"];
        if (!(c == "auto" || c == "none"))
            return invalid("response.conversation", "supported values are: 'auto' and 'none'.");
    }
    if (r.contains("input") && !r["input"].is_array())
        return bad_type("response.input", "an array");
    return std::nullopt;
}

std::size_t nesting_depth(std::string_view text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

}  // namespace ava::sim::detail
