// MCP rules without I/O: versions, names, tools/list pages, approval, call results.
#include "mcp/protocol.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "ava/core/json_string.hpp"
#include "ava/core/text.hpp"
#include "ava/tools/tool.hpp"

#ifndef AVA_MCP_CLIENT_VERSION
#define AVA_MCP_CLIENT_VERSION "0"
#endif

namespace ava::tools::mcp {
namespace {

using json = nlohmann::json;

constexpr std::size_t k_max_name = 64;  // the Realtime API's function name limit
constexpr std::size_t k_max_description = 4096;

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

std::string sanitized(std::string_view server, std::string_view tool) {
    std::string out;
    out.reserve(server.size() + 2 + tool.size());
    for (char c : server) out += name_char(c) ? c : '_';
    out += "__";
    for (char c : tool) out += name_char(c) ? c : '_';
    return out;
}

std::string hash_suffix(std::string_view server, std::string_view tool) {
    // FNV-1a, 32 bits, over "<server>\0<tool>": stable across runs, builds and platforms.
    std::uint32_t h = 2166136261u;
    auto mix = [&](unsigned char c) {
        h ^= c;
        h *= 16777619u;
    };
    for (char c : server) mix(static_cast<unsigned char>(c));
    mix(0);
    for (char c : tool) mix(static_cast<unsigned char>(c));
    char buf[16];
    std::snprintf(buf, sizeof buf, "_%08x", static_cast<unsigned>(h));
    return buf;
}

std::string string_or(const json& obj, const char* key, std::string fallback = {}) {
    const auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::optional<bool> bool_hint(const json& annotations, const char* key) {
    if (!annotations.is_object()) return std::nullopt;
    const auto it = annotations.find(key);
    if (it == annotations.end() || !it->is_boolean()) return std::nullopt;
    return it->get<bool>();
}

bool is_legacy(const json& v) {
    return v.is_string() && legacy_version_ok(v.get<std::string>());
}

era_choice era_from_versions(const json& versions, std::string_view where) {
    if (versions.is_array()) {
        if (std::find(versions.begin(), versions.end(), json(std::string(modern_version))) !=
            versions.end()) {
            return {era::modern, {}};
        }
        if (std::any_of(versions.begin(), versions.end(), is_legacy)) return {era::legacy, {}};
    }
    return {era::legacy,
            "the server speaks none of the protocol versions ava-voice does (" +
                std::string(where) + ": " +
                core::clip(versions.dump(-1, ' ', false, json::error_handler_t::replace), 200) +
                ")"};
}

// Decoded size of base64 text (what an image or a blob weighs).
std::size_t base64_bytes(const json& data) {
    if (!data.is_string()) return 0;
    const auto& s = data.get_ref<const std::string&>();
    std::size_t n = s.size() / 4 * 3;
    if (!s.empty() && s.back() == '=') --n;
    if (s.size() > 1 && s[s.size() - 2] == '=') --n;
    return n;
}

std::string summary(std::string_view kind, const json& item, const json& data) {
    std::string out = "[" + std::string(kind);
    if (const std::string mime = string_or(item, "mimeType"); !mime.empty()) out += " " + mime;
    return out + ", " + std::to_string(base64_bytes(data)) + " bytes]";
}

std::string content_text(const json& c) {
    if (!c.is_object()) return {};
    const std::string type = string_or(c, "type");
    if (type == "text") return string_or(c, "text");
    if (type == "image" || type == "audio") return summary(type, c, c.value("data", json()));
    if (type == "resource_link") return string_or(c, "uri");
    if (type == "resource") {
        const json r = c.value("resource", json::object());
        if (!r.is_object()) return "[resource]";
        if (r.contains("text") && r["text"].is_string()) return r["text"].get<std::string>();
        return summary("resource " + string_or(r, "uri"), r, r.value("blob", json()));
    }
    return "[" + (type.empty() ? std::string("unknown") : type) + " content]";
}

}  // namespace

std::optional<json> parse_line(std::string_view line, std::string& problem) {
    if (core::json_nesting(line) > max_line_depth) {
        problem = "JSON nested deeper than " + std::to_string(max_line_depth) + " levels";
        return std::nullopt;
    }
    json msg = json::parse(line, nullptr, false);
    if (msg.is_discarded()) {
        problem = "a line that is not JSON";
        return std::nullopt;
    }
    return msg;
}

era_choice era_from_discover(const json& result) {
    if (!result.is_object()) return {era::legacy, {}};
    return era_from_versions(result.value("supportedVersions", json()), "supportedVersions");
}

era_choice era_from_discover_error(int code, const json& data) {
    if (code != unsupported_protocol_version || !data.is_object()) return {era::legacy, {}};
    return era_from_versions(data.value("supported", json()), "supported");
}

std::string duration_text(std::chrono::milliseconds ms) {
    char buf[32];
    if (ms.count() % 1000 == 0) {
        std::snprintf(buf, sizeof buf, "%lld s", static_cast<long long>(ms.count() / 1000));
    } else {
        std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
    }
    return buf;
}

bool legacy_version_ok(std::string_view version) {
    return std::find(legacy_versions.begin(), legacy_versions.end(), version) !=
           legacy_versions.end();
}

json client_info() {
    return {{"name", "ava-voice"}, {"version", AVA_MCP_CLIENT_VERSION}};
}

json modern_meta() {
    return {{"io.modelcontextprotocol/protocolVersion", modern_version},
            {"io.modelcontextprotocol/clientCapabilities", json::object()},
            {"io.modelcontextprotocol/clientInfo", client_info()}};
}

std::string function_name(std::string_view server, std::string_view tool) {
    std::string name = sanitized(server, tool);
    if (name.size() <= k_max_name) return name;
    const std::string suffix = hash_suffix(server, tool);
    name.resize(k_max_name - suffix.size());
    return name + suffix;
}

std::string hashed_function_name(std::string_view server, std::string_view tool) {
    std::string name = sanitized(server, tool);
    const std::string suffix = hash_suffix(server, tool);
    name.resize(std::min(name.size(), k_max_name - suffix.size()));
    return name + suffix;
}

tools_page parse_tools_page(const json& result) {
    tools_page page;
    if (!result.is_object()) {
        page.problems.emplace_back("tools/list answered something that is not an object");
        return page;
    }
    page.next_cursor = string_or(result, "nextCursor");
    const json tools = result.value("tools", json::array());
    if (!tools.is_array()) {
        page.problems.emplace_back("tools/list answered 'tools' that is not an array");
        return page;
    }
    for (const auto& t : tools) {
        tool_info info;
        info.name = t.is_object() ? string_or(t, "name") : std::string();
        if (info.name.empty()) {
            page.problems.emplace_back("a tool without a name was skipped");
            continue;
        }
        info.description = string_or(t, "description", string_or(t, "title"));
        if (info.description.empty()) info.description = "The MCP tool '" + info.name + "'.";
        info.description = core::clip(info.description, k_max_description);
        const json schema = t.value("inputSchema", json());
        // A schema that is not an object is kept as it is: the registry's validator then says
        // what is wrong with it ("not offered: invalid parameters schema: ...").
        info.input_schema = schema.is_null()
                                ? std::string(R"({"type":"object"})")
                                : schema.dump(-1, ' ', false, json::error_handler_t::replace);
        const json annotations = t.value("annotations", json());
        info.read_only = bool_hint(annotations, "readOnlyHint");
        info.destructive = bool_hint(annotations, "destructiveHint");
        page.tools.push_back(std::move(info));
    }
    return page;
}

bool default_approval(const tool_info& t) {
    return t.destructive.value_or(false) || !t.read_only.value_or(true);
}

bool allowed(const mcp_server_settings& s, std::string_view tool) {
    auto has = [&](const std::vector<std::string>& list) {
        return std::find(list.begin(), list.end(), tool) != list.end();
    };
    return (s.allow.empty() || has(s.allow)) && !has(s.deny);
}

std::string call_output(const json& result, std::size_t max_bytes) {
    if (!result.is_object()) throw tool_error("the MCP server answered a call with no result");
    if (string_or(result, "resultType") == "input_required") {
        throw tool_error(
            "the tool needs more input from the user, which ava-voice cannot give it yet");
    }
    std::string text;
    if (const auto content = result.find("content");
        content != result.end() && content->is_array()) {
        for (const auto& c : *content) {
            const std::string part = content_text(c);
            if (part.empty()) continue;
            if (!text.empty()) text += '\n';
            text += part;
        }
    }
    // isError is a boolean; anything else reads as false, as a non-boolean annotation hint is
    // ignored (bool_hint): the text still reaches the model either way.
    if (const auto is_error = result.find("isError");
        is_error != result.end() && is_error->is_boolean() && is_error->get<bool>()) {
        throw tool_error(text.empty() ? "the tool failed and said nothing more"
                                      : core::clip(text, max_bytes));
    }
    json out = json::object();
    const auto structured = result.find("structuredContent");
    if (text.empty() && structured != result.end() && !structured->is_null()) {
        std::string dumped = structured->dump(-1, ' ', false, json::error_handler_t::replace);
        if (dumped.size() <= max_bytes) return json{{"result", *structured}}.dump();
        text = std::move(dumped);  // too big to pass whole: cut as text
    }
    out["result"] = core::clip(text, max_bytes);
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace ava::tools::mcp
