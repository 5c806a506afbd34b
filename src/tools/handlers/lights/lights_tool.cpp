#include "lights/lights_tool.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "ava/core/log.hpp"
#include "support/http_json.hpp"
#include "support/text_match.hpp"

namespace ava::tools {
namespace {

using json = nlohmann::json;
constexpr const char* k_service = "Home Assistant";

// Renders every area with its light entities as JSON. Runs inside Home Assistant.
constexpr const char* k_areas_template =
    "[{% for a in areas() %}{\"id\": {{ a | tojson }}, \"name\": {{ area_name(a) | tojson }}, "
    "\"lights\": {{ area_entities(a) | select('match', 'light\\\\.') | list | tojson }}}"
    "{% if not loop.last %},{% endif %}{% endfor %}]";

struct light {
    std::string id;
    std::string name;
    std::string state;
    std::optional<int> brightness_pct;
    std::string area;
};

struct area {
    std::string name;
    std::vector<std::string> light_ids;
};

const std::vector<std::string_view> k_filler{"light", "lamp", "lighting", "bulb"};
const std::vector<std::string_view> k_room_filler{"light", "lighting", "bulb"};

// Colour temperatures for the whites people say; other words go to HA as CSS colour names.
const std::map<std::string, int>& whites() {
    static const std::map<std::string, int> m{
        {"warmwhite", 2700}, {"softwhite", 3000}, {"white", 4000},   {"neutralwhite", 4000},
        {"coolwhite", 5000}, {"coldwhite", 5500}, {"daylight", 6500}};
    return m;
}

// The CSS3 colour names Home Assistant's light.turn_on accepts as color_name.
bool css_colour(const std::string& c) {
    static const char* const names[] = {"aliceblue",
                                        "antiquewhite",
                                        "aqua",
                                        "aquamarine",
                                        "azure",
                                        "beige",
                                        "bisque",
                                        "black",
                                        "blanchedalmond",
                                        "blue",
                                        "blueviolet",
                                        "brown",
                                        "burlywood",
                                        "cadetblue",
                                        "chartreuse",
                                        "chocolate",
                                        "coral",
                                        "cornflowerblue",
                                        "cornsilk",
                                        "crimson",
                                        "cyan",
                                        "darkblue",
                                        "darkcyan",
                                        "darkgoldenrod",
                                        "darkgray",
                                        "darkgreen",
                                        "darkgrey",
                                        "darkkhaki",
                                        "darkmagenta",
                                        "darkolivegreen",
                                        "darkorange",
                                        "darkorchid",
                                        "darkred",
                                        "darksalmon",
                                        "darkseagreen",
                                        "darkslateblue",
                                        "darkslategray",
                                        "darkslategrey",
                                        "darkturquoise",
                                        "darkviolet",
                                        "deeppink",
                                        "deepskyblue",
                                        "dimgray",
                                        "dimgrey",
                                        "dodgerblue",
                                        "firebrick",
                                        "floralwhite",
                                        "forestgreen",
                                        "fuchsia",
                                        "gainsboro",
                                        "ghostwhite",
                                        "gold",
                                        "goldenrod",
                                        "gray",
                                        "green",
                                        "greenyellow",
                                        "grey",
                                        "honeydew",
                                        "hotpink",
                                        "indianred",
                                        "indigo",
                                        "ivory",
                                        "khaki",
                                        "lavender",
                                        "lavenderblush",
                                        "lawngreen",
                                        "lemonchiffon",
                                        "lightblue",
                                        "lightcoral",
                                        "lightcyan",
                                        "lightgoldenrodyellow",
                                        "lightgray",
                                        "lightgreen",
                                        "lightgrey",
                                        "lightpink",
                                        "lightsalmon",
                                        "lightseagreen",
                                        "lightskyblue",
                                        "lightslategray",
                                        "lightslategrey",
                                        "lightsteelblue",
                                        "lightyellow",
                                        "lime",
                                        "limegreen",
                                        "linen",
                                        "magenta",
                                        "maroon",
                                        "mediumaquamarine",
                                        "mediumblue",
                                        "mediumorchid",
                                        "mediumpurple",
                                        "mediumseagreen",
                                        "mediumslateblue",
                                        "mediumspringgreen",
                                        "mediumturquoise",
                                        "mediumvioletred",
                                        "midnightblue",
                                        "mintcream",
                                        "mistyrose",
                                        "moccasin",
                                        "navajowhite",
                                        "navy",
                                        "navyblue",
                                        "oldlace",
                                        "olive",
                                        "olivedrab",
                                        "orange",
                                        "orangered",
                                        "orchid",
                                        "palegoldenrod",
                                        "palegreen",
                                        "paleturquoise",
                                        "palevioletred",
                                        "papayawhip",
                                        "peachpuff",
                                        "peru",
                                        "pink",
                                        "plum",
                                        "powderblue",
                                        "purple",
                                        "red",
                                        "rosybrown",
                                        "royalblue",
                                        "saddlebrown",
                                        "salmon",
                                        "sandybrown",
                                        "seagreen",
                                        "seashell",
                                        "sienna",
                                        "silver",
                                        "skyblue",
                                        "slateblue",
                                        "slategray",
                                        "slategrey",
                                        "snow",
                                        "springgreen",
                                        "steelblue",
                                        "tan",
                                        "teal",
                                        "thistle",
                                        "tomato",
                                        "turquoise",
                                        "violet",
                                        "wheat",
                                        "whitesmoke",
                                        "yellow",
                                        "yellowgreen"};
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return c == n; });
}

std::string join_names(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "(none)" : out;
}

}  // namespace

lights_tool::lights_tool(lights_settings settings, std::shared_ptr<const http_client> http)
    : settings_(std::move(settings)), http_(std::move(http)) {
    ava::log::add_secret(settings_.token);
    while (!settings_.base_url.empty() && settings_.base_url.back() == '/') {
        settings_.base_url.pop_back();
    }
    spec_.name = "control_lights";
    spec_.description =
        "Switch the user's lights (Home Assistant): on, off, toggle, brightness, colour, by room "
        "or by light name; or list the lights and their state. Use the names the user says.";
    spec_.parameters_json = R"({"type":"object","properties":{
  "action":{"type":"string","enum":["on","off","toggle","list"],
            "description":"'on' also sets brightness/colour; 'list' reports lights and rooms"},
  "room":{"type":"string","minLength":1,"maxLength":100,"description":"Room/area, e.g. 'living room'"},
  "light":{"type":"string","minLength":1,"maxLength":100,"description":"A light's name, e.g. 'desk lamp'"},
  "brightness":{"type":"integer","minimum":0,"maximum":100,"description":"Percent, with action 'on'"},
  "color":{"type":"string","minLength":1,"maxLength":40,
           "description":"Colour name with action 'on': 'red', 'blue', 'warm white', 'daylight'..."}},
  "required":["action"],"additionalProperties":false})";
}

std::string lights_tool::config_problem(const lights_settings& s) {
    if (s.base_url.empty()) return "no Home Assistant base_url set";
    if (s.base_url.rfind("http://", 0) != 0 && s.base_url.rfind("https://", 0) != 0) {
        return "Home Assistant base_url must start with http:// or https://";
    }
    if (s.token.empty()) return "no Home Assistant token (set it or HOME_ASSISTANT_TOKEN)";
    return {};
}

namespace {

// An entity's attributes, read in place: json::value() would copy them, recursively, and a
// server's answer may nest deep enough (100,000 levels parse fine) to overflow the stack.
const json& attributes_of(const json& state) {
    static const json none = json::object();
    const auto it = state.find("attributes");
    return it != state.end() && it->is_object() ? *it : none;
}

}  // namespace

std::string lights_tool::call(std::string_view args_json, std::stop_token stop) {
    const json args = json::parse(args_json.empty() ? std::string_view("{}") : args_json);
    const std::string action = args.at("action").get<std::string>();
    const std::vector<std::pair<std::string, std::string>> auth{
        {"Authorization", "Bearer " + settings_.token}, {"Content-Type", "application/json"}};

    // 1. Every light entity.
    const json states = detail::parse_json_answer(
        http_->request(
            {.url = settings_.base_url + "/api/states", .headers = auth, .service_name = k_service},
            stop),
        k_service);
    if (!states.is_array()) throw tool_error("Home Assistant sent a malformed answer (states)");
    std::vector<light> lights;
    for (const auto& s : states) {
        if (!s.is_object() || !s.contains("entity_id") || !s["entity_id"].is_string()) continue;
        const std::string id = s["entity_id"].get<std::string>();
        if (id.rfind("light.", 0) != 0) continue;
        light l{.id = id, .name = id.substr(6), .state = s.value("state", "unknown")};
        const json& attrs = attributes_of(s);
        if (attrs.contains("friendly_name") && attrs["friendly_name"].is_string()) {
            l.name = attrs["friendly_name"].get<std::string>();
        }
        if (attrs.contains("brightness") && attrs["brightness"].is_number()) {
            l.brightness_pct =
                static_cast<int>(std::lround(attrs["brightness"].get<double>() * 100.0 / 255.0));
        }
        lights.push_back(std::move(l));
    }
    if (lights.empty()) throw tool_error("Home Assistant has no lights");

    // 2. Areas, when the template API answers; otherwise rooms are words in light names.
    std::vector<area> areas;
    bool have_areas = false;
    try {
        const auto r = http_->request({.method = "POST",
                                       .url = settings_.base_url + "/api/template",
                                       .headers = auth,
                                       .body = json{{"template", k_areas_template}}.dump(),
                                       .service_name = k_service},
                                      stop);
        const json a = json::parse(r.body, nullptr, false);
        if (a.is_array()) {
            have_areas = true;
            for (const auto& e : a) {
                if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
                area ar{.name = e["name"].get<std::string>()};
                for (const auto& id : e.value("lights", json::array())) {
                    if (id.is_string()) ar.light_ids.push_back(id.get<std::string>());
                }
                for (auto& l : lights) {
                    if (std::find(ar.light_ids.begin(), ar.light_ids.end(), l.id) !=
                        ar.light_ids.end()) {
                        l.area = ar.name;
                    }
                }
                areas.push_back(std::move(ar));
            }
        }
    } catch (const tool_error& e) {
        // Credentials and connectivity already worked for /api/states; a refusal here means
        // the template API is missing or locked down, so fall back to names. Cancellation is
        // not a fallback case.
        if (stop.stop_requested()) throw;
        ava::log::get("tools")->info("control_lights: no areas from Home Assistant ({})", e.what());
    }

    std::vector<std::string> light_names;
    for (const auto& l : lights) light_names.push_back(l.name);
    std::vector<std::string> area_names;
    for (const auto& a : areas) area_names.push_back(a.name);

    // 3. Which lights the user means.
    std::vector<const light*> targets;
    std::string target_words;
    const std::string room = args.value("room", "");
    const std::string light_name = args.value("light", "");
    if (!light_name.empty()) {
        auto hits = detail::best_matches(light_name, light_names, k_filler);
        if (hits.empty()) {
            // Also try entity ids ("light.desk_lamp" or "desk_lamp").
            for (std::size_t i = 0; i < lights.size(); ++i) {
                if (detail::match_score(light_name, lights[i].id.substr(6), k_filler) >= 2) {
                    hits.push_back(i);
                }
            }
        }
        if (hits.empty()) {
            throw tool_error("no light called '" + light_name +
                             "'; the lights are: " + join_names(light_names));
        }
        for (auto i : hits) targets.push_back(&lights[i]);
        target_words = light_name;
    }
    if (!room.empty()) {
        std::vector<const light*> in_room;
        const auto area_hits = detail::best_matches(room, area_names, k_room_filler);
        if (!area_hits.empty()) {
            for (auto ai : area_hits) {
                for (const auto& l : lights) {
                    if (l.area == areas[ai].name) in_room.push_back(&l);
                }
            }
            if (in_room.empty()) {
                throw tool_error("the " + areas[area_hits[0]].name + " has no lights");
            }
        } else {
            // No such area: a room may still be a word in the light names.
            for (const auto& l : lights) {
                if (detail::match_score(room, l.name, k_room_filler) > 0) in_room.push_back(&l);
            }
        }
        if (in_room.empty()) {
            throw tool_error(
                "no room called '" + room + "'; the rooms are: " +
                (have_areas ? join_names(area_names) : "(no areas in Home Assistant)") +
                "; the lights are: " + join_names(light_names));
        }
        if (targets.empty()) {
            targets = in_room;
        } else {
            std::erase_if(targets, [&](const light* l) {
                return std::find(in_room.begin(), in_room.end(), l) == in_room.end();
            });
            if (targets.empty()) {
                throw tool_error("no light called '" + light_name + "' in the " + room);
            }
        }
        target_words = room + (light_name.empty() ? "" : " " + light_name);
    }

    auto describe = [](const light& l) {
        json j{{"name", l.name}, {"state", l.state}};
        if (l.brightness_pct) j["brightness_percent"] = *l.brightness_pct;
        if (!l.area.empty()) j["room"] = l.area;
        return j;
    };

    if (action == "list") {
        json out = json::object();
        json list = json::array();
        if (targets.empty()) {
            for (const auto& l : lights) list.push_back(describe(l));
        } else {
            for (const auto* l : targets) list.push_back(describe(*l));
        }
        out["lights"] = list;
        if (have_areas) out["rooms"] = area_names;
        return out.dump();
    }
    if (targets.empty()) {
        throw tool_error("say which room or light; the rooms are: " +
                         (have_areas ? join_names(area_names) : "(no areas)") +
                         "; the lights are: " + join_names(light_names));
    }

    // 4. The service call.
    std::string service = action == "on" ? "turn_on" : action == "off" ? "turn_off" : "toggle";
    json body;
    body["entity_id"] = json::array();
    for (const auto* l : targets) body["entity_id"].push_back(l->id);
    json done{{"action", action}};
    const bool has_brightness = args.contains("brightness");
    const bool has_color = args.contains("color");
    if ((has_brightness || has_color) && action != "on") {
        throw tool_error("brightness and colour go with action 'on', not '" + action + "'");
    }
    if (has_brightness) {
        const int pct = args["brightness"].get<int>();
        if (pct == 0) {
            service = "turn_off";  // HA turns a light off at brightness 0 anyway; say so plainly
        } else {
            body["brightness_pct"] = pct;
        }
        done["brightness_percent"] = pct;
    }
    if (has_color) {
        std::string c;
        for (const char ch : args["color"].get<std::string>()) {
            if (std::isalpha(static_cast<unsigned char>(ch))) {
                c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            }
        }
        if (c.rfind("colour", 0) == 0 || c.rfind("color", 0) == 0) c.clear();
        if (auto w = whites().find(c); w != whites().end()) {
            body["color_temp_kelvin"] = w->second;
        } else if (css_colour(c)) {
            body["color_name"] = c;
        } else {
            throw tool_error("unknown colour '" + args["color"].get<std::string>() +
                             "'; use a colour name such as red, blue, orange, purple, warm white "
                             "or daylight");
        }
        done["color"] = args["color"];
    }
    const json changed = detail::parse_json_answer(
        http_->request({.method = "POST",
                        .url = settings_.base_url + "/api/services/light/" + service,
                        .headers = auth,
                        .body = body.dump(),
                        .service_name = k_service},
                       stop),
        k_service);
    json names = json::array();
    for (const auto* l : targets) names.push_back(l->name);
    done["lights"] = names;
    // HA answers the states that changed; report them when it did.
    if (changed.is_array()) {
        json now = json::array();
        for (const auto& s : changed) {
            if (s.is_object() && s.value("entity_id", "").rfind("light.", 0) == 0) {
                now.push_back(
                    {{"name", attributes_of(s).value("friendly_name", s.value("entity_id", ""))},
                     {"state", s.value("state", "")}});
            }
        }
        if (!now.empty()) done["now"] = now;
    }
    if (!target_words.empty()) done["matched"] = target_words;
    return done.dump();
}

}  // namespace ava::tools
