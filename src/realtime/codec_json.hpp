// Private to the codec (ava_codec and ava_codec_peer): the JSON helpers both directions use.
// Parsing with a depth bound, reading fields through `obj` (which carries the JSON path of the
// object so a bad field can be named exactly), the few writing helpers, and base64 PCM inside
// JSON. A bad field throws `field_error`, which never leaves the codec: decode_client and
// decode_server catch it (and anything else) and return decode_error.
//
// Nothing here is part of the codec's API (codec.hpp, codec_peer.hpp); the names live in
// ava::realtime::codec_detail so that the two libraries can share them.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/core/pcm.hpp"

namespace ava::realtime::codec_detail {

using json = nlohmann::ordered_json;
using core::sample;

// ---- parsing with a depth bound ---------------------------------------------------------------

/// Parses `text` into `out`, refusing nesting deeper than max_json_depth. On failure returns
/// false and sets `error`.
bool parse_bounded(std::string_view text, json& out, std::string& error);

/// Compact JSON text, invalid UTF-8 replaced (never throws but bad_alloc).
std::string dump(const json& j);

// ---- reading fields ---------------------------------------------------------------------------

/// A bad field; thrown and caught only inside the codec.
struct field_error {
    std::string field;
    std::string message;
};

/// Where a value sits, turned into a path string only when something is wrong with it.
struct where {
    std::string_view base;  ///< path of the enclosing object or array ("" at the root)
    std::string_view key;   ///< member name (objects)
    std::size_t index = 0;  ///< element index (arrays)
    bool is_index = false;

    std::string str() const {
        std::string s(base);
        if (is_index) {
            s += '[';
            s += std::to_string(index);
            s += ']';
        } else {
            if (!s.empty()) s += '.';
            s += key;
        }
        return s;
    }
};

[[noreturn]] void fail(const where& w, std::string message);

std::string wrong_type(std::string_view want, const json& got);

/// A wire string quoted for an error message, cut short (it may be long).
std::string quote_short(std::string_view s);

const std::string& to_str(const json& v, const where& w);

template <class I>
I to_int(const json& v, const where& w) {
    using lim = std::numeric_limits<I>;
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(lim::max())) fail(w, "integer out of range");
        return static_cast<I>(u);
    }
    if (v.is_number_integer()) {
        const auto s = v.get<std::int64_t>();
        if (s < static_cast<std::int64_t>(lim::min()) ||
            s > static_cast<std::int64_t>(lim::max())) {
            fail(w, "integer out of range");
        }
        return static_cast<I>(s);
    }
    if (v.is_number_float()) {
        // Accept integral floats (e.g. 300.0); refuse fractions and anything out of range
        // (the upper bound is exclusive: max + 1.0 is exact as a power of two).
        const double d = v.get<double>();
        if (std::trunc(d) != d || !(d >= static_cast<double>(lim::min())) ||
            !(d < static_cast<double>(lim::max()) + 1.0)) {
            fail(w, "expected an integer in range, got " + v.dump());
        }
        return static_cast<I>(d);
    }
    fail(w, wrong_type("integer", v));
}

double to_num(const json& v, const where& w);
bool to_bool(const json& v, const where& w);

/// A JSON object being read, with its path for error messages.
class obj {
  public:
    obj(const json& j, std::string path) : j_(&j), path_(std::move(path)) {}

    /// `v` as an object at `w`, or a field_error.
    static obj of(const json& v, const where& w) {
        if (!v.is_object()) fail(w, wrong_type("object", v));
        return obj(v, w.str());
    }

    const std::string& path() const noexcept { return path_; }
    const json::object_t& members() const { return j_->get_ref<const json::object_t&>(); }
    where at(std::string_view key) const noexcept { return where{path_, key}; }

    /// The member (null included), or nullptr when absent.
    const json* member(std::string_view key) const {
        for (const auto& kv : members()) {
            if (kv.first == key) return &kv.second;
        }
        return nullptr;
    }
    /// The member, or nullptr when absent or null (null = absent for optional fields).
    const json* find(std::string_view key) const {
        const json* v = member(key);
        return v != nullptr && !v->is_null() ? v : nullptr;
    }
    const json& need(std::string_view key) const {
        const json* v = member(key);
        if (v == nullptr) fail(at(key), "missing required field");
        if (v->is_null()) fail(at(key), "required field is null");
        return *v;
    }

    std::string req_str(std::string_view key) const { return to_str(need(key), at(key)); }
    /// Optional string field; "" when absent or null.
    std::string str(std::string_view key) const {
        const json* v = find(key);
        return v != nullptr ? to_str(*v, at(key)) : std::string();
    }
    std::optional<std::string> opt_str(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        return to_str(*v, at(key));
    }
    template <class I>
    I req_int(std::string_view key) const {
        return to_int<I>(need(key), at(key));
    }
    template <class I>
    I int_or_zero(std::string_view key) const {
        const json* v = find(key);
        return v != nullptr ? to_int<I>(*v, at(key)) : I{0};
    }
    template <class I>
    std::optional<I> opt_int(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        return to_int<I>(*v, at(key));
    }
    double req_num(std::string_view key) const { return to_num(need(key), at(key)); }
    std::optional<double> opt_num(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        return to_num(*v, at(key));
    }
    std::optional<bool> opt_bool(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        return to_bool(*v, at(key));
    }
    obj req_obj(std::string_view key) const { return of(need(key), at(key)); }
    std::optional<obj> opt_obj(std::string_view key) const {
        const json* v = find(key);
        if (v == nullptr) return std::nullopt;
        return of(*v, at(key));
    }
    /// Calls f(element, where) for each element of an array member. Absent or null is an empty
    /// array unless `required`.
    template <class F>
    bool each(std::string_view key, bool required, F&& f) const {
        const json* v = required ? &need(key) : find(key);
        if (v == nullptr) return false;
        if (!v->is_array()) fail(at(key), wrong_type("array", *v));
        const std::string p = at(key).str();
        std::size_t i = 0;
        for (const json& e : *v) f(e, where{p, {}, i++, true});
        return true;
    }

  private:
    const json* j_;
    std::string path_;
};

/// Base64 little-endian s16 PCM at `w`, or a field_error.
std::vector<sample> to_pcm(const json& v, const where& w);

std::optional<std::vector<std::string>> read_strings(const obj& o, std::string_view key);
std::map<std::string, std::string> read_metadata(const obj& o, std::string_view key);

// ---- writing ----------------------------------------------------------------------------------

/// `{key: value}`, an ordered object (so "type" comes first, which keeps event logs readable).
json object_with(std::string_view key, json value);

/// Appends `s` as a JSON string. Plain ASCII (ids, names) is copied as it is; anything else
/// goes through nlohmann for escaping and UTF-8 replacement.
void append_quoted(std::string& out, std::string_view s);

// ---- base64 PCM (core::base64 on little-endian s16) -------------------------------------------

/// Appends the base64 of `pcm` (as little-endian bytes) to `out`.
void append_base64(std::string& out, core::pcm_view pcm);

/// Decodes base64 of little-endian s16 into `out`. False (out unspecified) when invalid.
bool decode_base64_into(std::string_view b64, std::vector<sample>& out);

}  // namespace ava::realtime::codec_detail
