// The relay's control messages (protocol.hpp).
#include "protocol.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "ava/core/json_string.hpp"
#include "ava/core/text.hpp"

namespace ava::relay::proto {
namespace {

using json = nlohmann::json;

bad fail(std::string code, std::string message) {
    return bad{std::move(code), std::move(message)};
}

/// The field `name` of `j` as a string, or an error naming it.
std::optional<std::string> string_field(const json& j, const char* name, std::string& error,
                                        std::string_view where) {
    const auto it = j.find(name);
    if (it == j.end()) {
        error = std::string(where) + "." + name + ": missing";
        return std::nullopt;
    }
    if (!it->is_string()) {
        error = std::string(where) + "." + name + ": must be a string";
        return std::nullopt;
    }
    return it->get<std::string>();
}

/// An optional number field within [lo, hi]; an error names it when present and wrong.
std::optional<double> number_field(const json& j, const char* name, double lo, double hi,
                                   std::string& error, std::string_view where) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) {
        error = std::string(where) + "." + name + ": must be a number";
        return std::nullopt;
    }
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < lo || v > hi) {
        char range[64];
        std::snprintf(range, sizeof range, "%g..%g", lo, hi);
        error = std::string(where) + "." + name + ": must be within " + range;
        return std::nullopt;
    }
    return v;
}

std::optional<bool> bool_field(const json& j, const char* name, std::string& error,
                               std::string_view where) {
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) {
        error = std::string(where) + "." + name + ": must be true or false";
        return std::nullopt;
    }
    return it->get<bool>();
}

control parse_settings(const json& j) {
    settings s;
    std::string err;
    if (const auto it = j.find("voice"); it != j.end() && !it->is_null()) {
        if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
            it->get_ref<const std::string&>().size() > 64) {
            return fail("bad_message", "settings.voice: must be a voice name");
        }
        s.patch.voice = it->get<std::string>();
    }
    if (auto v = number_field(j, "speed", 0.25, 1.5, err, "settings")) s.patch.speed = *v;
    if (!err.empty()) return fail("bad_message", err);
    if (const auto it = j.find("turn_detection"); it != j.end() && !it->is_null()) {
        if (!it->is_object()) {
            return fail("bad_message", "settings.turn_detection: must be an object");
        }
        const json& t = *it;
        realtime::turn_detection td;
        const auto type = string_field(t, "type", err, "settings.turn_detection");
        if (!type) return fail("bad_message", err);
        const auto vt = parse_vad(*type);
        if (!vt) {
            return fail("bad_message",
                        "settings.turn_detection.type: must be server_vad, semantic_vad or none");
        }
        td.type = *vt;
        const char* where = "settings.turn_detection";
        if (auto v = number_field(t, "threshold", 0, 1, err, where)) td.threshold = *v;
        if (auto v = number_field(t, "silence_ms", 0, 10000, err, where)) {
            td.silence_duration_ms = static_cast<int>(*v);
        }
        if (auto v = number_field(t, "prefix_ms", 0, 10000, err, where)) {
            td.prefix_padding_ms = static_cast<int>(*v);
        }
        if (!err.empty()) return fail("bad_message", err);
        if (td.type == realtime::vad_type::semantic_vad) {
            td.threshold.reset();
            td.silence_duration_ms.reset();
            td.prefix_padding_ms.reset();
        }
        s.patch.turn = td;
    }
    if (!s.patch.voice && !s.patch.speed && !s.patch.turn) {
        return fail("bad_message", "settings: give voice, speed or turn_detection");
    }
    return s;
}

control parse_position(const json& j) {
    playback_position p;
    std::string err;
    const auto id = string_field(j, "item_id", err, "playback_position");
    if (!id) return fail("bad_message", err);
    if (id->empty() || id->size() > 200) {
        return fail("bad_message", "playback_position.item_id: must be an item id");
    }
    p.item_id = *id;
    constexpr double max_ms = 24.0 * 3600 * 1000;
    const auto samples =
        number_field(j, "played_samples", 0, max_ms * 24, err, "playback_position");
    const auto ms = number_field(j, "played_ms", 0, max_ms, err, "playback_position");
    if (!err.empty()) return fail("bad_message", err);
    if (samples) {
        p.played_samples = static_cast<std::int64_t>(*samples);
    } else if (ms) {
        p.played_samples = static_cast<std::int64_t>(std::llround(*ms * 24.0));
    } else {
        return fail("bad_message", "playback_position.played_ms: missing");
    }
    const auto intr = bool_field(j, "interrupted", err, "playback_position");
    if (!err.empty()) return fail("bad_message", err);
    p.interrupted = intr.value_or(false);
    return p;
}

}  // namespace

std::optional<realtime::vad_type> parse_vad(std::string_view w) {
    if (w == "server_vad" || w == "server") return realtime::vad_type::server_vad;
    if (w == "semantic_vad" || w == "semantic") return realtime::vad_type::semantic_vad;
    if (w == "none" || w == "manual") return realtime::vad_type::none;
    return std::nullopt;
}

control parse_control(std::string_view text) {
    if (core::json_nesting(text) > 16) return fail("bad_json", "nested too deeply");
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("bad_json", "not JSON");
    if (!j.is_object()) return fail("bad_message", "must be a JSON object");
    const auto t = j.find("type");
    if (t == j.end()) return fail("bad_message", "type: missing");
    if (!t->is_string()) return fail("bad_message", "type: must be a string");
    const std::string& type = t->get_ref<const std::string&>();
    std::string err;
    if (type == "text_input") {
        auto s = string_field(j, "text", err, "text_input");
        if (!s) return fail("bad_message", err);
        if (s->empty()) return fail("bad_message", "text_input.text: empty");
        if (s->size() > max_text_input * 4) return fail("bad_message", "text_input.text: too long");
        return text_input{std::move(*s)};
    }
    if (type == "interrupt") return interrupt{};
    if (type == "mute") return mute{true};
    if (type == "unmute") return mute{false};
    if (type == "talk") {
        const auto p = bool_field(j, "pressed", err, "talk");
        if (!p) return fail("bad_message", err.empty() ? "talk.pressed: missing" : err);
        return talk{*p};
    }
    if (type == "settings") return parse_settings(j);
    if (type == "playback_position") return parse_position(j);
    if (type == "events") {
        const auto e = bool_field(j, "enabled", err, "events");
        if (!err.empty()) return fail("bad_message", err);
        return events{e.value_or(true)};
    }
    if (type == "ping") return ping{};
    return fail("unknown_type", "type: unknown message type '" + core::clip(type, 64) + "'");
}

}  // namespace ava::relay::proto
