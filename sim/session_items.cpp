// ava-realtime-sim: the session's conversation items (session.hpp): conversation.item.create
// with the validation of the item, .delete, .retrieve and .truncate.
#include "session.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "ava/core/base64.hpp"

namespace ava::sim::detail {

std::ptrdiff_t session::find_item(const std::string& id) const {
    for (std::size_t i = 0; i < conv_.size(); ++i)
        if (conv_[i]->item["id"] == id) return static_cast<std::ptrdiff_t>(i);
    return -1;
}

void session::item_not_found(const std::string& id, const json& eid) {
    send_error({"item_not_found", "Item with item_id '" + id + "' not found.", "item_id"}, eid);
}

std::optional<api_error> session::check_item(json& item, item_ptr& out) {
    if (!item.is_object()) return api_error{"invalid_type", "'item' must be an object.", "item"};
    const std::string type = item.value("type", "");
    static const char* allowed_message[] = {"id", "type", "object", "status", "role", "content"};
    auto only = [&](std::initializer_list<const char*> keys) -> std::optional<api_error> {
        for (const auto& [k, v] : item.items()) {
            bool ok = false;
            for (const char* a : keys) ok = ok || k == a;
            if (!ok)
                return api_error{"unknown_parameter", "Unknown parameter: 'item." + k + "'.",
                                 "item." + k};
        }
        return std::nullopt;
    };
    (void)allowed_message;
    if (type == "message") {
        if (auto e = only({"id", "type", "object", "status", "role", "content"})) return e;
        const std::string role = item.value("role", "");
        if (role != "user" && role != "system" && role != "assistant")
            return api_error{"invalid_value",
                             "Invalid value: '" + role +
                                 "'. Supported values are: 'user', 'system' and 'assistant'.",
                             "item.role"};
        if (!item.contains("content") || !item["content"].is_array())
            return api_error{"missing_required_parameter",
                             "Missing required parameter: 'item.content'.", "item.content"};
        for (std::size_t i = 0; i < item["content"].size(); ++i) {
            json& part = item["content"][i];
            const std::string p = "item.content[" + std::to_string(i) + "]";
            const std::string pt = part.is_object() ? part.value("type", "") : "";
            const bool ok = (role == "user" &&
                             (pt == "input_text" || pt == "input_audio" || pt == "input_image")) ||
                            (role == "system" && pt == "input_text") ||
                            (role == "assistant" && pt == "output_text");
            if (!ok) {
                if (role == "assistant" && pt == "output_audio")
                    return api_error{"invalid_value", "Assistant audio messages cannot be created.",
                                     p + ".type"};
                return api_error{"invalid_value",
                                 "Invalid value: '" + pt + "' for a " + role + " message.",
                                 p + ".type"};
            }
            if ((pt == "input_text" || pt == "output_text") &&
                !(part.contains("text") && part["text"].is_string()))
                return api_error{"missing_required_parameter",
                                 "Missing required parameter: '" + p + ".text'.", p + ".text"};
            if (pt == "input_audio") {
                if (!part.contains("audio") || !part["audio"].is_string())
                    return api_error{"missing_required_parameter",
                                     "Missing required parameter: '" + p + ".audio'.",
                                     p + ".audio"};
                auto bytes = core::base64_decode(part["audio"].get<std::string>());
                if (!bytes)
                    return api_error{
                        "invalid_value",
                        "Invalid '" + p + ".audio'. Expected base64-encoded audio data.",
                        p + ".audio"};
                for (std::size_t k = 0; k + 1 < bytes->size(); k += 2)
                    out->audio.push_back(
                        static_cast<std::int16_t>((*bytes)[k] | ((*bytes)[k + 1] << 8)));
                part.erase("audio");
                if (!part.contains("transcript")) part["transcript"] = nullptr;
            }
        }
    } else if (type == "function_call_output") {
        if (auto e = only({"id", "type", "object", "status", "call_id", "output"})) return e;
        if (!item.contains("call_id") || !item["call_id"].is_string())
            return api_error{"missing_required_parameter",
                             "Missing required parameter: 'item.call_id'.", "item.call_id"};
        if (!item.contains("output") || !item["output"].is_string())
            return api_error{"missing_required_parameter",
                             "Missing required parameter: 'item.output'.", "item.output"};
    } else if (type == "function_call") {
        if (auto e = only({"id", "type", "object", "status", "call_id", "name", "arguments"}))
            return e;
        if (!item.contains("name") || !item["name"].is_string())
            return api_error{"missing_required_parameter",
                             "Missing required parameter: 'item.name'.", "item.name"};
        if (!item.contains("call_id")) item["call_id"] = random_id("call_");
        if (!item.contains("arguments")) item["arguments"] = "{}";
    } else if (!item.contains("type")) {
        return api_error{"missing_required_parameter", "Missing required parameter: 'item.type'.",
                         "item.type"};
    } else {
        return api_error{"invalid_value",
                         "Invalid value: '" + type +
                             "'. Supported values are: 'message', 'function_call' and "
                             "'function_call_output'.",
                         "item.type"};
    }
    if (item.contains("id")) {
        if (!item["id"].is_string())
            return api_error{"invalid_type", "'item.id' must be a string.", "item.id"};
        if (find_item(item["id"].get<std::string>()) >= 0)
            return api_error{"invalid_value",
                             "Item with id '" + item["id"].get<std::string>() + "' already exists.",
                             "item.id"};
    } else {
        item["id"] = random_id("item_");
    }
    item["object"] = "realtime.item";
    item["status"] = "completed";
    return std::nullopt;
}

void session::on_item_create(const json& ev, const json& eid) {
    if (!ev.contains("item")) {
        send_error({"missing_required_parameter", "Missing required parameter: 'item'.", "item"},
                   eid);
        return;
    }
    json item = ev["item"];
    auto ci = std::make_shared<conv_item>();
    if (auto e = check_item(item, ci)) {
        send_error(*e, eid);
        return;
    }
    std::ptrdiff_t pos = static_cast<std::ptrdiff_t>(conv_.size());
    if (ev.contains("previous_item_id") && !ev["previous_item_id"].is_null()) {
        const json& p = ev["previous_item_id"];
        if (!p.is_string()) {
            send_error({"invalid_type", "'previous_item_id' must be a string.", "previous_item_id"},
                       eid);
            return;
        }
        if (p == "root") {
            pos = 0;
        } else {
            const auto at = find_item(p.get<std::string>());
            if (at < 0) {
                send_error({"invalid_value",
                            "Previous item with id '" + p.get<std::string>() + "' not found.",
                            "previous_item_id"},
                           eid);
                return;
            }
            pos = at + 1;
        }
    }
    ci->item = item;
    if (item["type"] == "function_call_output") {
        const std::string call_id = item["call_id"].get<std::string>();
        for (const auto& [cid, name] : pending_calls_)
            if (cid == call_id) outputs_.emplace_back(name, item["output"].get<std::string>());
    }
    if (item["type"] == "message" && item["role"] == "user") {
        for (const json& part : item["content"]) {
            if (part["type"] != "input_text") continue;
            const std::string expected = expected_user_text();
            if (!expected.empty() &&
                normalise(expected) != normalise(part["text"].get<std::string>())) {
                const std::string what =
                    "expected '" + expected + "', got '" + part["text"].get<std::string>() + "'";
                st_.log->warn("sim {}: user text differs from the scenario: {}", id_, what);
                st_.update(index_, [&](summary&, session_summary& ss) {
                    ss.expectation_mismatches.push_back(what);
                });
            }
        }
    }
    const std::string prev =
        pos == 0 ? "" : conv_[static_cast<std::size_t>(pos - 1)]->item["id"].get<std::string>();
    conv_.insert(conv_.begin() + pos, ci);
    send({{"type", "conversation.item.added"},
          {"previous_item_id", id_or_null(prev)},
          {"item", item}});
    send({{"type", "conversation.item.done"},
          {"previous_item_id", id_or_null(prev)},
          {"item", item}});
}

void session::on_item_delete(const json& ev, const json& eid) {
    const std::string id = ev.value("item_id", "");
    const auto at = find_item(id);
    if (at < 0) return item_not_found(id, eid);
    conv_.erase(conv_.begin() + at);
    send({{"type", "conversation.item.deleted"}, {"item_id", id}});
}

void session::on_item_retrieve(const json& ev, const json& eid) {
    const std::string id = ev.value("item_id", "");
    const auto at = find_item(id);
    if (at < 0) return item_not_found(id, eid);
    const conv_item& ci = *conv_[static_cast<std::size_t>(at)];
    json item = ci.item;
    if (!ci.audio.empty() && item.contains("content") && !item["content"].empty()) {
        item["content"][0]["audio"] = core::base64_encode(std::as_bytes(std::span(ci.audio)));
    }
    send({{"type", "conversation.item.retrieved"}, {"item", item}});
}

void session::on_truncate(const json& ev, const json& eid) {
    const std::string id = ev.value("item_id", "");
    if (!ev.contains("audio_end_ms") || !ev["audio_end_ms"].is_number_integer()) {
        send_error({"missing_required_parameter", "Missing required parameter: 'audio_end_ms'.",
                    "audio_end_ms"},
                   eid);
        return;
    }
    const auto end_ms = ev["audio_end_ms"].get<std::int64_t>();
    if (end_ms < 0) {
        send_error({"integer_below_min_value",
                    "Invalid 'audio_end_ms': integer below minimum value. Expected a value >= "
                    "0, but got " +
                        std::to_string(end_ms) + " instead.",
                    "audio_end_ms"},
                   eid);
        return;
    }
    if (ev.value("content_index", 0) != 0) {
        send_error(
            {"invalid_value", "Invalid 'content_index': only content index 0 can be truncated.",
             "content_index"},
            eid);
        return;
    }
    const auto at = find_item(id);
    if (at < 0) return item_not_found(id, eid);
    conv_item& ci = *conv_[static_cast<std::size_t>(at)];
    const std::int64_t generated_ms = static_cast<std::int64_t>(ci.audio.size()) / samples_per_ms;
    truncation_record rec{
        .session_id = id_, .item_id = id, .audio_end_ms = end_ms, .generated_ms = generated_ms};
    auto reject = [&](const std::string& message) {
        st_.update(index_, [&](summary& s, session_summary&) { s.truncations.push_back(rec); });
        send_error({"invalid_value", message, "audio_end_ms"}, eid);
    };
    if (!ci.assistant_audio || ci.audio.empty() || end_ms == 0)
        return reject("Only model output audio messages can be truncated");
    if (end_ms > generated_ms)
        return reject("Audio content of " + std::to_string(generated_ms) +
                      "ms is already shorter than " + std::to_string(end_ms) + "ms");
    // Cut the audio, and the transcript in proportion (at a word boundary), like the service.
    const double frac =
        static_cast<double>(end_ms) / static_cast<double>(std::max<std::int64_t>(generated_ms, 1));
    ci.audio.resize(static_cast<std::size_t>(end_ms * samples_per_ms));
    auto keep =
        static_cast<std::size_t>(std::floor(frac * static_cast<double>(ci.transcript.size())));
    keep = std::min(keep, ci.transcript.size());
    if (keep < ci.transcript.size()) {
        while (keep > 0 && ci.transcript[keep] != ' ' && ci.transcript[keep - 1] != ' ') --keep;
    }
    ci.transcript.resize(keep);
    while (!ci.transcript.empty() && ci.transcript.back() == ' ') ci.transcript.pop_back();
    ci.truncated = true;
    ci.item["content"][0]["transcript"] = ci.transcript;
    rec.accepted = true;
    st_.update(index_, [&](summary& s, session_summary&) { s.truncations.push_back(rec); });
    send({{"type", "conversation.item.truncated"},
          {"item_id", id},
          {"content_index", 0},
          {"audio_end_ms", end_ms}});
}

}  // namespace ava::sim::detail
