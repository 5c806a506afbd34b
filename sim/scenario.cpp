#include "scenario.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

namespace ava::sim::detail {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
    throw std::runtime_error("scenario " + origin + ": " + what);
}

std::string get_string(const json& obj, const char* key, const std::string& where,
                       const std::string& origin) {
    if (!obj.contains(key)) return {};
    const json& v = obj.at(key);
    if (!v.is_string()) fail(origin, where + "." + key + " must be a string");
    return v.get<std::string>();
}

void check_keys(const json& obj, std::initializer_list<const char*> allowed,
                const std::string& where, const std::string& origin) {
    if (!obj.is_object()) fail(origin, where + " must be a table/object");
    for (const auto& [key, value] : obj.items()) {
        bool ok = false;
        for (const char* a : allowed) ok = ok || key == a;
        if (!ok) fail(origin, "unknown key '" + where + "." + key + "'");
    }
}

fault parse_fault_json(const json& f, int turn, const std::string& where,
                       const std::string& origin) {
    check_keys(f, {"kind", "at", "nth", "session", "code", "reason", "abrupt", "ms", "bytes"},
               where, origin);
    fault out;
    out.turn = turn;
    out.kind = get_string(f, "kind", where, origin);
    static const char* kinds[] = {"close",           "malformed_json", "unknown_event",
                                  "oversized_frame", "stall",          "server_error"};
    bool known = false;
    for (const char* k : kinds) known = known || out.kind == k;
    if (!known) fail(origin, where + ".kind '" + out.kind + "' is not a known fault kind");
    if (f.contains("at")) out.at = get_string(f, "at", where, origin);
    auto get_int = [&](const char* key, auto& dst) {
        if (!f.contains(key)) return;
        if (!f.at(key).is_number_integer()) fail(origin, where + "." + key + " must be an integer");
        dst = f.at(key).get<std::remove_reference_t<decltype(dst)>>();
    };
    get_int("nth", out.nth);
    get_int("session", out.session);
    get_int("code", out.code);
    get_int("ms", out.ms);
    get_int("bytes", out.bytes);
    out.reason = get_string(f, "reason", where, origin);
    if (f.contains("abrupt")) {
        if (!f.at("abrupt").is_boolean()) fail(origin, where + ".abrupt must be a boolean");
        out.abrupt = f.at("abrupt").get<bool>();
    }
    if (out.nth < 1) fail(origin, where + ".nth must be >= 1");
    if (out.session < 0) fail(origin, where + ".session must be >= 0");
    return out;
}

}  // namespace

scenario default_scenario() {
    scenario s;
    s.turns.push_back({.user = "",
                       .reply = "Hello! I am ava, running against the offline simulator. "
                                "How can I help you today?"});
    s.turns.push_back({.user = "",
                       .reply = "That is a good question. In this offline demo I can only "
                                "answer from my script, but the conversation itself is real."});
    s.generic_reply =
        "I hear you. This is the simulator's generic answer; give it a scenario "
        "file for more.";
    s.loop = false;
    return s;
}

scenario parse_scenario_json(const std::string& text, const std::string& origin) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        fail(origin, std::string("not valid JSON: ") + e.what());
    }
    check_keys(doc, {"name", "loop", "generic_reply", "turns"}, "scenario", origin);
    scenario s;
    s.name = origin;
    if (doc.contains("name")) s.name = get_string(doc, "name", "scenario", origin);
    if (doc.contains("loop")) {
        if (!doc["loop"].is_boolean()) fail(origin, "scenario.loop must be a boolean");
        s.loop = doc["loop"].get<bool>();
    }
    if (doc.contains("generic_reply"))
        s.generic_reply = get_string(doc, "generic_reply", "scenario", origin);
    if (doc.contains("turns")) {
        if (!doc["turns"].is_array()) fail(origin, "scenario.turns must be an array");
        int n = 0;
        for (const json& t : doc["turns"]) {
            ++n;
            const std::string where = "turns[" + std::to_string(n) + "]";
            check_keys(t, {"user", "reply", "calls", "followup", "faults"}, where, origin);
            scenario_turn turn;
            turn.user = get_string(t, "user", where, origin);
            turn.reply = get_string(t, "reply", where, origin);
            turn.followup = get_string(t, "followup", where, origin);
            if (t.contains("calls")) {
                if (!t["calls"].is_array()) fail(origin, where + ".calls must be an array");
                for (const json& c : t["calls"]) {
                    check_keys(c, {"name", "arguments"}, where + ".calls[]", origin);
                    scenario_call call;
                    call.name = get_string(c, "name", where + ".calls[]", origin);
                    if (call.name.empty()) fail(origin, where + ".calls[].name is required");
                    if (c.contains("arguments")) {
                        const json& a = c["arguments"];
                        if (a.is_string()) {
                            call.arguments = a.get<std::string>();
                        } else if (a.is_object()) {
                            call.arguments = a.dump();
                        } else {
                            fail(origin, where + ".calls[].arguments must be an object or string");
                        }
                    }
                    turn.calls.push_back(std::move(call));
                }
            }
            if (t.contains("faults")) {
                if (!t["faults"].is_array()) fail(origin, where + ".faults must be an array");
                for (const json& f : t["faults"])
                    turn.faults.push_back(parse_fault_json(f, n, where + ".faults[]", origin));
            }
            if (turn.reply.empty() && turn.calls.empty())
                fail(origin, where + " needs a reply or calls");
            if (!turn.calls.empty() && turn.followup.empty())
                fail(origin, where + " has calls but no followup");
            s.turns.push_back(std::move(turn));
        }
    }
    return s;
}

scenario load_scenario(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open the file");
    std::stringstream buf;
    buf << in.rdbuf();
    const bool is_toml = path.size() >= 5 && path.substr(path.size() - 5) == ".toml";
    if (!is_toml) return parse_scenario_json(buf.str(), path);
    // TOML: parse with toml++, then reuse the one strict JSON reader.
    try {
        toml::table tbl = toml::parse(buf.str(), path);
        std::stringstream js;
        js << toml::json_formatter{tbl};
        return parse_scenario_json(js.str(), path);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << e.description() << " (line " << e.source().begin.line << ")";
        fail(path, msg.str());
    }
}

std::string substitute_outputs(const std::string& text,
                               const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::string out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t open = text.find("{output:", pos);
        if (open == std::string::npos) break;
        const std::size_t close = text.find('}', open);
        if (close == std::string::npos) break;
        const std::string name = text.substr(open + 8, close - open - 8);
        out.append(text, pos, open - pos);
        bool found = false;
        for (const auto& [n, v] : outputs) {
            if (n == name) {
                out += v;
                found = true;
                break;
            }
        }
        if (!found) out.append(text, open, close - open + 1);
        pos = close + 1;
    }
    out.append(text, pos, std::string::npos);
    return out;
}

}  // namespace ava::sim::detail
