// ava-realtime-sim: the JSONL event log (--events): one line per event in or out, per
// connection change and per fault, with base64 audio replaced by its decoded size.
#include "session.hpp"

#include <algorithm>

#include "ava/core/base64.hpp"

namespace ava::sim::detail {

/// The JSONL copy of an event: base64 audio replaced by its decoded byte count (an integer).
json loggable(const json& ev, std::int64_t& audio_bytes) {
    audio_bytes = -1;
    const std::string type = ev.value("type", "");
    auto strip = [&](json& obj, const char* key) {
        if (obj.is_object() && obj.contains(key) && obj[key].is_string()) {
            const auto n = static_cast<std::int64_t>(
                core::base64_decoded_size(obj[key].get_ref<const std::string&>()));
            audio_bytes = std::max<std::int64_t>(audio_bytes, 0) + n;
            obj[key] = n;
        }
    };
    if (type == "input_audio_buffer.append" || type == "response.output_audio.delta") {
        json copy = ev;
        strip(copy, type == "input_audio_buffer.append" ? "audio" : "delta");
        return copy;
    }
    if ((type == "conversation.item.create" || type == "conversation.item.retrieved") &&
        ev.contains("item") && ev["item"].is_object() && ev["item"].contains("content") &&
        ev["item"]["content"].is_array()) {
        json copy = ev;
        for (json& part : copy["item"]["content"]) strip(part, "audio");
        return copy;
    }
    return ev;
}

// ---- shared_state: writing the log --------------------------------------------------------------

void shared_state::write_line(std::string_view dir, const std::string& session_id,
                              std::string_view type, const json& extra, const json* event) {
    if (!events.is_open()) return;
    auto str = [](std::string_view v) { return json(std::string(v)).dump(); };
    std::string line = "{\"t_mono_us\":" + std::to_string(mono_us()) + ",\"dir\":" + str(dir) +
                       ",\"session\":" + str(session_id) + ",\"type\":" + str(type);
    for (const auto& [k, v] : extra.items())
        line += "," + str(k) + ":" + v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (event != nullptr)
        line += ",\"event\":" + event->dump(-1, ' ', false, json::error_handler_t::replace);
    line += "}\n";
    std::lock_guard lock(events_mutex);
    events << line;
    events.flush();
}

void shared_state::write_event(std::string_view dir, const std::string& session_id,
                               const json& ev) {
    if (!events.is_open()) return;
    std::int64_t audio_bytes = -1;
    const json copy = ev.is_object() ? loggable(ev, audio_bytes) : ev;
    json extra = json::object();
    if (audio_bytes >= 0) extra["audio_bytes"] = audio_bytes;
    write_line(dir, session_id, ev.is_object() ? ev.value("type", "") : "", extra, &copy);
}

void shared_state::write_raw_event(std::string_view dir, const std::string& session_id,
                                   std::string_view type, const json& extra) {
    write_line(dir, session_id, type, extra, nullptr);
}

}  // namespace ava::sim::detail
