// JSON Schema subset validator. See ava/tools/schema.hpp for the keywords it knows.
#include "ava/tools/schema.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"

namespace ava::tools {
namespace {

using json = nlohmann::json;

constexpr std::array k_annotations{"description", "title",    "default",  "examples",
                                   "$schema",     "$id",      "$comment", "deprecated",
                                   "readOnly",    "writeOnly"};
constexpr std::array k_supported{"type",
                                 "properties",
                                 "required",
                                 "enum",
                                 "minimum",
                                 "maximum",
                                 "exclusiveMinimum",
                                 "exclusiveMaximum",
                                 "minLength",
                                 "maxLength",
                                 "items",
                                 "minItems",
                                 "maxItems",
                                 "additionalProperties"};
constexpr std::array k_types{"object", "array", "string", "number", "integer", "boolean", "null"};

template <std::size_t N>
bool contains(const std::array<const char*, N>& list, std::string_view key) {
    return std::any_of(list.begin(), list.end(), [&](const char* k) { return key == k; });
}

std::string at(const std::string& path) {
    return path.empty() ? "arguments" : path;
}

// Checks a schema node once, at construction, so validate() can trust its shape.
void check_schema(const json& s, const std::string& where) {
    if (s.is_boolean()) return;
    if (!s.is_object()) throw config_error(where + ": a schema must be an object");
    for (const auto& [key, value] : s.items()) {
        if (contains(k_annotations, key)) continue;
        if (!contains(k_supported, key)) {
            throw config_error(where + ": unsupported schema keyword '" + key + "'");
        }
        if (key == "type") {
            auto check_one = [&](const json& t) {
                if (!t.is_string() || !contains(k_types, t.get<std::string>())) {
                    throw config_error(where + ": unknown type " + t.dump());
                }
            };
            if (value.is_array()) {
                // An empty list allows nothing, and check() would name no type ("expected a ,").
                if (value.empty()) throw config_error(where + ": 'type' must not be an empty list");
                for (const auto& t : value) check_one(t);
            } else {
                check_one(value);
            }
        } else if (key == "properties") {
            if (!value.is_object()) throw config_error(where + ": 'properties' must be an object");
            for (const auto& [name, sub] : value.items()) check_schema(sub, where + "." + name);
        } else if (key == "required") {
            if (!value.is_array() || !std::all_of(value.begin(), value.end(),
                                                  [](const json& v) { return v.is_string(); })) {
                throw config_error(where + ": 'required' must be an array of strings");
            }
        } else if (key == "enum") {
            if (!value.is_array() || value.empty()) {
                throw config_error(where + ": 'enum' must be a non-empty array");
            }
        } else if (key == "items" || key == "additionalProperties") {
            check_schema(value, where + "." + key);
        } else if (!value.is_number()) {
            throw config_error(where + ": '" + key + "' must be a number");
        }
    }
}

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::null:
            return "null";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number";
        default:
            return "an unsupported value";
    }
}

bool has_type(const json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") {
        if (v.is_number_integer()) return true;
        if (v.is_number_float()) {
            const double d = v.get<double>();
            return std::isfinite(d) && std::floor(d) == d;
        }
    }
    return false;
}

std::string short_dump(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// Returns an error message or an empty string.
std::string check(const json& s, const json& v, const std::string& path) {
    if (s.is_boolean()) {
        return s.get<bool>() ? std::string{} : at(path) + ": not allowed";
    }
    if (auto t = s.find("type"); t != s.end()) {
        bool ok = false;
        std::string wanted;
        if (t->is_array()) {
            for (const auto& one : *t) {
                ok = ok || has_type(v, one.get<std::string>());
                wanted += (wanted.empty() ? "" : " or ") + one.get<std::string>();
            }
        } else {
            wanted = t->get<std::string>();
            ok = has_type(v, wanted);
        }
        if (!ok) {
            const bool vowel = std::string_view("aeiou").find(wanted.front()) != std::string::npos;
            return at(path) + ": expected " + (vowel ? "an " : "a ") + wanted + ", got " +
                   type_name(v);
        }
    }
    if (auto e = s.find("enum"); e != s.end()) {
        if (std::find(e->begin(), e->end(), v) == e->end()) {
            std::string allowed;
            for (const auto& one : *e) allowed += (allowed.empty() ? "" : ", ") + one.dump();
            return at(path) + ": " + short_dump(v) + " is not one of " + allowed;
        }
    }
    if (v.is_number()) {
        const double d = v.get<double>();
        auto limit = [&](const char* key, auto bad, const char* words) -> std::string {
            if (auto m = s.find(key); m != s.end() && bad(d, m->template get<double>())) {
                return at(path) + ": " + short_dump(v) + " is " + words + " " + m->dump();
            }
            return {};
        };
        for (auto msg : {limit("minimum", std::less<>{}, "below the minimum"),
                         limit("maximum", std::greater<>{}, "above the maximum"),
                         limit("exclusiveMinimum", std::less_equal<>{}, "not above"),
                         limit("exclusiveMaximum", std::greater_equal<>{}, "not below")}) {
            if (!msg.empty()) return msg;
        }
    }
    if (v.is_string()) {
        // Lengths count code points, as JSON Schema says, not UTF-8 bytes.
        const auto& str = v.get_ref<const std::string&>();
        const auto len = static_cast<double>(std::count_if(str.begin(), str.end(), [](char c) {
            return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
        if (auto m = s.find("minLength"); m != s.end() && len < m->get<double>()) {
            return at(path) + ": must have at least " + m->dump() + " characters";
        }
        if (auto m = s.find("maxLength"); m != s.end() && len > m->get<double>()) {
            return at(path) + ": must have at most " + m->dump() + " characters";
        }
    }
    if (v.is_array()) {
        const auto n = static_cast<double>(v.size());
        if (auto m = s.find("minItems"); m != s.end() && n < m->get<double>()) {
            return at(path) + ": must have at least " + m->dump() + " items";
        }
        if (auto m = s.find("maxItems"); m != s.end() && n > m->get<double>()) {
            return at(path) + ": must have at most " + m->dump() + " items";
        }
        if (auto items = s.find("items"); items != s.end()) {
            for (std::size_t i = 0; i < v.size(); ++i) {
                auto msg = check(*items, v[i], at(path) + "[" + std::to_string(i) + "]");
                if (!msg.empty()) return msg;
            }
        }
    }
    if (v.is_object()) {
        const std::string prefix = path.empty() ? "" : path + ".";
        if (auto req = s.find("required"); req != s.end()) {
            for (const auto& name : *req) {
                if (!v.contains(name.get<std::string>())) {
                    return prefix + name.get<std::string>() + ": required but missing";
                }
            }
        }
        const auto props = s.find("properties");
        const auto extra = s.find("additionalProperties");
        for (const auto& [name, value] : v.items()) {
            if (props != s.end() && props->contains(name)) {
                auto msg = check((*props)[name], value, prefix + name);
                if (!msg.empty()) return msg;
            } else if (extra != s.end()) {
                if (extra->is_boolean() && !extra->get<bool>()) {
                    return prefix + name + ": unknown argument";
                }
                auto msg = check(*extra, value, prefix + name);
                if (!msg.empty()) return msg;
            }
        }
    }
    return {};
}

}  // namespace

struct json_schema::impl {
    json schema;
};

json_schema::json_schema(std::string_view schema_json) : impl_(std::make_unique<impl>()) {
    // check_schema() and check() recurse once per level (and nlohmann's dump and == do too):
    // 100,000 nested "items" overflowed the stack. Real tool schemas are a few levels deep.
    if (core::json_nesting(schema_json) > max_depth) {
        throw config_error("schema is nested deeper than " + std::to_string(max_depth) + " levels");
    }
    try {
        impl_->schema = json::parse(schema_json);
    } catch (const json::exception& e) {
        // parse_error, and out_of_range for a number no double holds (1e6464): both say what
        // and where in e.what().
        throw config_error(std::string("schema is not valid JSON: ") + e.what());
    }
    check_schema(impl_->schema, "schema");
}

json_schema::json_schema(json_schema&&) noexcept = default;
json_schema& json_schema::operator=(json_schema&&) noexcept = default;
json_schema::~json_schema() = default;

std::optional<std::string> json_schema::validate(std::string_view instance_json) const {
    const bool blank = std::all_of(instance_json.begin(), instance_json.end(), [](char c) {
        return c == ' ' || c == '\n' || c == '\t' || c == '\r';
    });
    json value;
    if (blank) {
        value = json::object();
    } else {
        // An enum mismatch quotes the value (dump) and compares it (==), both recursive.
        if (core::json_nesting(instance_json) > max_depth) {
            return "arguments are nested deeper than " + std::to_string(max_depth) + " levels";
        }
        value = json::parse(instance_json, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded()) return "arguments are not valid JSON";
    }
    std::string msg = check(impl_->schema, value, "");
    if (msg.empty()) return std::nullopt;
    return msg;
}

}  // namespace ava::tools
