// The Realtime codec: the only translation unit that knows nlohmann/json (see codec.hpp).
//
// Decoding: the text is parsed into a tree by nlohmann's DOM builder wrapped in a SAX handler
// that bounds the nesting depth (so nothing that walks the tree later, e.g. dumping a tool's
// parameters, can run out of stack on hostile input). Fields are then read through `obj`, which
// carries the JSON path of the object so a bad field can be named exactly. A bad field throws a
// private `field_error` that never leaves this file: decode_client/decode_server catch it (and
// anything else) and return decode_error. One exception to the tree: response.output_audio.delta,
// the event that arrives in bursts, is first tried by a flat scanner (fast_audio_delta) that
// decodes the base64 straight from the input text; anything it is not sure about goes the
// general way.
//
// Encoding: cold events are built as ordered JSON trees (so "type" comes first, which keeps
// event logs readable) and dumped with invalid UTF-8 replaced, never thrown. The two hot events
// (input_audio_buffer.append and response.output_audio.delta) are written directly around the
// base64 text, one allocation each.
//
// Base64 goes through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. EVP_DecodeBlock is lenient in
// ways we are not: it decodes '=' anywhere as zero bits, trims whitespace and always returns
// 3 bytes per 4 characters (padding included), so we check the shape ourselves first.
#include "ava/realtime/codec.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <utility>
#include <variant>

namespace ava::realtime {
namespace {

using json = nlohmann::ordered_json;
using core::sample;

// ---- base64 -----------------------------------------------------------------------------------

constexpr std::size_t base64_size(std::size_t bytes) noexcept {
    return (bytes + 2) / 3 * 4;
}

/// Decoded size of base64 text of this length and padding (no validation).
constexpr std::size_t decoded_size(std::string_view b64) noexcept {
    std::size_t pad = 0;
    if (!b64.empty() && b64.back() == '=')
        pad = (b64.size() >= 2 && b64[b64.size() - 2] == '=') ? 2 : 1;
    const std::size_t raw = b64.size() / 4 * 3;
    return raw >= pad ? raw - pad : 0;
}

void byteswap_samples(std::span<sample> s) noexcept {
    for (sample& v : s) {
        const auto u = static_cast<std::uint16_t>(v);
        v = static_cast<sample>(static_cast<std::uint16_t>((u >> 8) | (u << 8)));
    }
}

/// Appends the base64 of `pcm` (as little-endian bytes) to `out`.
void append_base64(std::string& out, core::pcm_view pcm) {
    const std::size_t nbytes = pcm.size_bytes();
    if (nbytes == 0) return;
    const auto* src = reinterpret_cast<const unsigned char*>(pcm.data());
    std::vector<sample> swapped;  // only on big-endian hosts: the wire is little-endian
    if constexpr (std::endian::native == std::endian::big) {
        swapped.assign(pcm.begin(), pcm.end());
        byteswap_samples(swapped);
        src = reinterpret_cast<const unsigned char*>(swapped.data());
    }
    const std::size_t start = out.size();
    const std::size_t len = base64_size(nbytes);
    out.resize(start + len + 1);  // EVP_EncodeBlock writes a terminating NUL
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    // EVP_EncodeBlock takes an int length: feed it chunks that are a multiple of 3 bytes so the
    // pieces concatenate into one valid base64 text.
    constexpr std::size_t chunk = std::size_t{3} << 20;
    for (std::size_t off = 0; off < nbytes; off += chunk) {
        const std::size_t n = std::min(chunk, nbytes - off);
        const int written = EVP_EncodeBlock(dst, src + off, static_cast<int>(n));
        dst += written;
    }
    out.resize(start + len);
}

/// Decodes base64 of little-endian s16 into `out`. False (out unspecified) when invalid.
bool decode_base64_into(std::string_view b64, std::vector<sample>& out) {
    out.clear();
    if (b64.empty()) return true;
    if (b64.size() % 4 != 0) return false;
    std::size_t pad = 0;
    if (b64.back() == '=') pad = b64[b64.size() - 2] == '=' ? 2 : 1;
    // '=' is only valid as trailing padding (EVP_DecodeBlock would read it as zero bits).
    if (std::memchr(b64.data(), '=', b64.size() - pad) != nullptr) return false;
    const std::size_t raw = b64.size() / 4 * 3;  // what EVP_DecodeBlock writes, padding included
    const std::size_t bytes = raw - pad;
    if (bytes % 2 != 0) return false;  // s16 samples: an odd byte count is not PCM
    out.resize((raw + 1) / 2);
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    const auto* src = reinterpret_cast<const unsigned char*>(b64.data());
    constexpr std::size_t chunk = std::size_t{4} << 20;  // characters; a multiple of 4
    for (std::size_t off = 0; off < b64.size(); off += chunk) {
        const std::size_t n = std::min(chunk, b64.size() - off);
        const int got = EVP_DecodeBlock(dst, src + off, static_cast<int>(n));
        // -1 = a character outside the alphabet; a short count = EVP trimmed whitespace.
        if (got < 0 || static_cast<std::size_t>(got) != n / 4 * 3) return false;
        dst += got;
    }
    out.resize(bytes / 2);
    if constexpr (std::endian::native == std::endian::big) byteswap_samples(out);
    return true;
}

// ---- parsing with a depth bound ---------------------------------------------------------------

/// nlohmann's DOM builder behind a SAX handler that refuses nesting deeper than max_json_depth
/// and records the parse error instead of throwing.
class bounded_dom_sax {
  public:
    explicit bounded_dom_sax(json& root) : dom_(root, false) {}

    bool null() { return dom_.null(); }
    bool boolean(bool v) { return dom_.boolean(v); }
    bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
    bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
    bool number_float(json::number_float_t v, const json::string_t& s) {
        return dom_.number_float(v, s);
    }
    bool string(json::string_t& v) { return dom_.string(v); }
    bool binary(json::binary_t& v) { return dom_.binary(v); }
    bool key(json::string_t& v) { return dom_.key(v); }
    bool start_object(std::size_t n) { return deeper() && dom_.start_object(n); }
    bool end_object() {
        --depth_;
        return dom_.end_object();
    }
    bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
    bool end_array() {
        --depth_;
        return dom_.end_array();
    }
    template <class Exception>
    bool parse_error(std::size_t pos, const std::string& /*token*/, const Exception& ex) {
        // ex.what() quotes the last token read, which may be a whole audio payload: keep the
        // message short.
        error_ = "invalid JSON at byte " + std::to_string(pos) + ": ";
        error_ += std::string_view(ex.what()).substr(0, 160);
        return false;
    }

    const std::string& error() const noexcept { return error_; }

  private:
    bool deeper() {
        if (++depth_ > max_json_depth) {
            error_ = "JSON nested deeper than " + std::to_string(max_json_depth) + " levels";
            return false;
        }
        return true;
    }

    nlohmann::detail::json_sax_dom_parser<json> dom_;
    std::size_t depth_ = 0;
    std::string error_;
};

/// Parses `text` into `out`. On failure returns false and sets `error`.
bool parse_bounded(std::string_view text, json& out, std::string& error) {
    bounded_dom_sax sax(out);
    const char* first = text.data();
    const bool ok = json::sax_parse(first, first + text.size(), &sax);
    if (!ok) error = sax.error().empty() ? std::string("invalid JSON") : sax.error();
    return ok;
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// ---- reading fields ---------------------------------------------------------------------------

/// A bad field; thrown and caught only inside this file.
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

[[noreturn]] void fail(const where& w, std::string message) {
    throw field_error{w.str(), std::move(message)};
}

std::string wrong_type(std::string_view want, const json& got) {
    std::string s = "expected ";
    s += want;
    s += ", got ";
    s += got.type_name();
    return s;
}

/// A wire string quoted for an error message, cut short (it may be long).
std::string quote_short(std::string_view s) {
    constexpr std::size_t max = 64;
    std::string q = "\"";
    q += s.substr(0, max);
    if (s.size() > max) q += "...";
    q += '"';
    return q;
}

const std::string& to_str(const json& v, const where& w) {
    if (!v.is_string()) fail(w, wrong_type("string", v));
    return v.get_ref<const std::string&>();
}

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

double to_num(const json& v, const where& w) {
    if (!v.is_number()) fail(w, wrong_type("number", v));
    return v.get<double>();
}

bool to_bool(const json& v, const where& w) {
    if (!v.is_boolean()) fail(w, wrong_type("boolean", v));
    return v.get<bool>();
}

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

std::vector<sample> to_pcm(const json& v, const where& w) {
    std::vector<sample> pcm;
    if (!decode_base64_into(to_str(v, w), pcm)) {
        fail(w, "invalid base64 audio (bad character, length or padding, or odd byte count)");
    }
    return pcm;
}

std::optional<std::vector<std::string>> read_strings(const obj& o, std::string_view key) {
    std::vector<std::string> out;
    if (!o.each(key, false, [&](const json& e, const where& w) { out.push_back(to_str(e, w)); })) {
        return std::nullopt;
    }
    return out;
}

std::map<std::string, std::string> read_metadata(const obj& o, std::string_view key) {
    std::map<std::string, std::string> out;
    if (auto m = o.opt_obj(key)) {
        for (const auto& kv : m->members()) {
            out.emplace(kv.first, to_str(kv.second, m->at(kv.first)));
        }
    }
    return out;
}

// ---- decoding the shared pieces ---------------------------------------------------------------

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

/// `strict`: the top-level `error` event, where type and message must be there.
error_info read_error(const obj& o, bool strict) {
    error_info e;
    e.type = strict ? o.req_str("type") : o.str("type");
    e.code = o.str("code");
    e.message = strict ? o.req_str("message") : o.str("message");
    e.param = o.str("param");
    e.event_id = o.str("event_id");
    return e;
}

token_details read_token_details(const obj& o) {
    token_details d;
    d.text_tokens = o.int_or_zero<std::int64_t>("text_tokens");
    d.audio_tokens = o.int_or_zero<std::int64_t>("audio_tokens");
    d.image_tokens = o.int_or_zero<std::int64_t>("image_tokens");
    return d;
}

usage read_usage(const obj& o) {
    usage u;
    u.input_tokens = o.req_int<std::int64_t>("input_tokens");
    u.output_tokens = o.req_int<std::int64_t>("output_tokens");
    u.total_tokens = o.find("total_tokens") != nullptr ? o.req_int<std::int64_t>("total_tokens")
                                                       : u.input_tokens + u.output_tokens;
    if (const auto in = o.opt_obj("input_token_details")) {
        static_cast<token_details&>(u.input_details) = read_token_details(*in);
        u.input_details.cached_tokens = in->int_or_zero<std::int64_t>("cached_tokens");
        if (const auto cached = in->opt_obj("cached_tokens_details")) {
            u.input_details.cached_tokens_details = read_token_details(*cached);
        }
    }
    if (const auto out = o.opt_obj("output_token_details")) {
        u.output_details = read_token_details(*out);
    }
    return u;
}

response_info read_response(const obj& o) {
    response_info r;
    r.id = o.req_str("id");
    r.object = o.str("object");
    r.status = o.req_str("status");
    if (const auto d = o.opt_obj("status_details")) {
        status_details sd;
        sd.type = d->str("type");
        sd.reason = d->str("reason");
        if (const auto e = d->opt_obj("error")) sd.error = read_error(*e, false);
        r.details = std::move(sd);
    }
    o.each("output", false,
           [&](const json& e, const where& w) { r.output.push_back(read_item(obj::of(e, w))); });
    if (const auto u = o.opt_obj("usage")) r.usage = read_usage(*u);
    r.conversation_id = o.str("conversation_id");
    r.output_modalities = read_strings(o, "output_modalities");
    r.metadata = read_metadata(o, "metadata");
    return r;
}

response_overrides read_overrides(const obj& o) {
    response_overrides r;
    r.instructions = o.opt_str("instructions");
    r.tools = read_tools(o);
    r.tool_choice = read_tool_choice(o);
    r.output_modalities = read_strings(o, "output_modalities");
    if (const auto audio = o.opt_obj("audio")) {
        if (const auto out = audio->opt_obj("output")) r.voice = read_voice(*out);
    }
    r.max_output_tokens = read_max_tokens(o);
    r.conversation = o.opt_str("conversation");
    r.metadata = read_metadata(o, "metadata");
    return r;
}

// ---- decoding events: read_fields(obj, event&) for each event ---------------------------------

// client -> server
void read_fields(const obj& o, client::session_update& e) {
    e.session = read_session(o.req_obj("session"));
}
void read_fields(const obj& o, client::input_audio_buffer_append& e) {
    e.audio = to_pcm(o.need("audio"), o.at("audio"));
}
void read_fields(const obj&, client::input_audio_buffer_commit&) {}
void read_fields(const obj&, client::input_audio_buffer_clear&) {}
void read_fields(const obj& o, client::conversation_item_create& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, client::conversation_item_truncate& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
}
void read_fields(const obj& o, client::conversation_item_delete& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, client::conversation_item_retrieve& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, client::response_create& e) {
    if (const auto r = o.opt_obj("response")) e.response = read_overrides(*r);
}
void read_fields(const obj& o, client::response_cancel& e) {
    e.response_id = o.opt_str("response_id");
}

// server -> client
void read_fields(const obj& o, server::error& e) {
    e.error = read_error(o.req_obj("error"), true);
}
void read_fields(const obj& o, server::session_created& e) {
    e.session = read_session(o.req_obj("session"));
}
void read_fields(const obj& o, server::session_updated& e) {
    e.session = read_session(o.req_obj("session"));
}
template <class E>
void read_item_event(const obj& o, E& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::conversation_item_added& e) {
    read_item_event(o, e);
}
void read_fields(const obj& o, server::conversation_item_done& e) {
    read_item_event(o, e);
}
void read_fields(const obj& o, server::conversation_item_truncated& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
}
void read_fields(const obj& o, server::conversation_item_deleted& e) {
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::conversation_item_retrieved& e) {
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::input_transcription_delta& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::input_transcription_completed& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.transcript = o.req_str("transcript");
    if (const auto u = o.opt_obj("usage")) {
        // {type:"duration",seconds} (whisper-1) is not modelled: usage stays empty.
        if (u->str("type") != "duration") e.usage = read_usage(*u);
    }
}
void read_fields(const obj& o, server::input_transcription_failed& e) {
    e.item_id = o.req_str("item_id");
    e.content_index = o.req_int<int>("content_index");
    e.error = read_error(o.req_obj("error"), false);
}
void read_fields(const obj& o, server::speech_started& e) {
    e.audio_start_ms = o.req_int<std::int64_t>("audio_start_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::speech_stopped& e) {
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::input_audio_committed& e) {
    e.previous_item_id = o.opt_str("previous_item_id");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj&, server::input_audio_cleared&) {}
void read_fields(const obj& o, server::input_audio_timeout_triggered& e) {
    e.audio_start_ms = o.req_int<std::int64_t>("audio_start_ms");
    e.audio_end_ms = o.req_int<std::int64_t>("audio_end_ms");
    e.item_id = o.req_str("item_id");
}
void read_fields(const obj& o, server::response_created& e) {
    e.response = read_response(o.req_obj("response"));
}
void read_fields(const obj& o, server::response_done& e) {
    e.response = read_response(o.req_obj("response"));
}
template <class E>
void read_output_item(const obj& o, E& e) {
    e.response_id = o.req_str("response_id");
    e.output_index = o.req_int<int>("output_index");
    e.item = read_item(o.req_obj("item"));
}
void read_fields(const obj& o, server::output_item_added& e) {
    read_output_item(o, e);
}
void read_fields(const obj& o, server::output_item_done& e) {
    read_output_item(o, e);
}
/// The four ids/indexes every response.<part>.* event carries.
template <class E>
void read_part_address(const obj& o, E& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.content_index = o.req_int<int>("content_index");
}
void read_fields(const obj& o, server::content_part_added& e) {
    read_part_address(o, e);
    e.part = read_part(o.req_obj("part"));
}
void read_fields(const obj& o, server::content_part_done& e) {
    read_part_address(o, e);
    e.part = read_part(o.req_obj("part"));
}
void read_fields(const obj& o, server::output_audio_delta& e) {
    read_part_address(o, e);
    e.audio = to_pcm(o.need("delta"), o.at("delta"));  // decoded straight from the parsed text
}
void read_fields(const obj& o, server::output_audio_done& e) {
    read_part_address(o, e);
}
void read_fields(const obj& o, server::output_audio_transcript_delta& e) {
    read_part_address(o, e);
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::output_audio_transcript_done& e) {
    read_part_address(o, e);
    e.transcript = o.req_str("transcript");
}
void read_fields(const obj& o, server::output_text_delta& e) {
    read_part_address(o, e);
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::output_text_done& e) {
    read_part_address(o, e);
    e.text = o.req_str("text");
}
void read_fields(const obj& o, server::function_call_arguments_delta& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.call_id = o.req_str("call_id");
    e.delta = o.req_str("delta");
}
void read_fields(const obj& o, server::function_call_arguments_done& e) {
    e.response_id = o.req_str("response_id");
    e.item_id = o.req_str("item_id");
    e.output_index = o.req_int<int>("output_index");
    e.call_id = o.req_str("call_id");
    e.name = o.str("name");  // older servers left it out; output_item.done has it too
    e.arguments = o.req_str("arguments");
}
void read_fields(const obj& o, server::rate_limits_updated& e) {
    o.each("rate_limits", true, [&](const json& v, const where& w) {
        const obj r = obj::of(v, w);
        server::rate_limit l;
        l.name = r.req_str("name");
        l.limit = r.req_int<std::int64_t>("limit");
        l.remaining = r.req_int<std::int64_t>("remaining");
        l.reset_seconds = r.req_num("reset_seconds");
        e.rate_limits.push_back(std::move(l));
    });
}

// ---- decoding: dispatch on "type" -------------------------------------------------------------

template <class Variant>
using decoder_fn = Variant (*)(const obj&);

template <class Variant, class E>
Variant decode_as(const obj& o) {
    E ev{};
    ev.event_id = o.str("event_id");
    read_fields(o, ev);
    return Variant{std::in_place_type<E>, std::move(ev)};
}

template <class Variant>
struct decoder_entry {
    std::string_view type;
    decoder_fn<Variant> fn;
};

/// One entry per event alternative: every alternative but the last two (unknown_event and
/// decode_error), in variant order.
template <class Variant, std::size_t... I>
constexpr auto make_table(std::index_sequence<I...>) {
    return std::array<decoder_entry<Variant>, sizeof...(I)>{
        {{std::variant_alternative_t<I, Variant>::type,
          &decode_as<Variant, std::variant_alternative_t<I, Variant>>}...}};
}
template <class Variant>
constexpr auto event_table =
    make_table<Variant>(std::make_index_sequence<std::variant_size_v<Variant> - 2>{});

static_assert(
    std::is_same_v<std::variant_alternative_t<std::variant_size_v<client_event> - 2, client_event>,
                   unknown_event>);
static_assert(
    std::is_same_v<std::variant_alternative_t<std::variant_size_v<server_event> - 2, server_event>,
                   unknown_event>);

/// Retired beta names still seen in the SDK union, decoded as their GA events.
constexpr std::array<decoder_entry<server_event>, 7> server_aliases{{
    {"conversation.item.created", &decode_as<server_event, server::conversation_item_added>},
    {"response.audio.delta", &decode_as<server_event, server::output_audio_delta>},
    {"response.audio.done", &decode_as<server_event, server::output_audio_done>},
    {"response.audio_transcript.delta",
     &decode_as<server_event, server::output_audio_transcript_delta>},
    {"response.audio_transcript.done",
     &decode_as<server_event, server::output_audio_transcript_done>},
    {"response.text.delta", &decode_as<server_event, server::output_text_delta>},
    {"response.text.done", &decode_as<server_event, server::output_text_done>},
}};
constexpr std::array<decoder_entry<client_event>, 0> client_aliases{};

template <class Variant, std::size_t N>
decoder_fn<Variant> find_decoder(std::string_view type,
                                 const std::array<decoder_entry<Variant>, N>& aliases) {
    for (const auto& e : event_table<Variant>) {
        if (e.type == type) return e.fn;
    }
    for (const auto& e : aliases) {
        if (e.type == type) return e.fn;
    }
    return nullptr;
}

template <class Variant, std::size_t N>
Variant decode_any(std::string_view text,
                   const std::array<decoder_entry<Variant>, N>& aliases) noexcept {
    json root;  // outside the try: `type` views into it from the catch blocks
    std::string_view type;
    try {
        std::string error;
        if (!parse_bounded(text, root, error)) return decode_error{"", "", std::move(error)};
        if (!root.is_object()) {
            return decode_error{"", "", wrong_type("a JSON object (an event)", root)};
        }
        const obj o(root, std::string());
        const json* t = o.member("type");
        if (t == nullptr) return decode_error{"", "type", "missing required field"};
        if (!t->is_string()) return decode_error{"", "type", wrong_type("string", *t)};
        type = t->get_ref<const std::string&>();
        const decoder_fn<Variant> fn = find_decoder<Variant>(type, aliases);
        if (fn == nullptr) return unknown_event{std::string(type)};
        return fn(o);
    } catch (field_error& e) {
        return decode_error{std::string(type), std::move(e.field), std::move(e.message)};
    } catch (const std::exception& e) {
        return decode_error{std::string(type), "", std::string("decoder failed: ") + e.what()};
    } catch (...) {
        return decode_error{std::string(type), "", "decoder failed"};
    }
}

// ---- encoding the shared pieces ---------------------------------------------------------------

json object_with(std::string_view key, json value) {
    json j = json::object();
    j[std::string(key)] = std::move(value);
    return j;
}

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

std::string base64_string(core::pcm_view pcm) {
    std::string s;
    append_base64(s, pcm);
    return s;
}

bool is_audio_part(std::string_view type) {
    return type == "input_audio" || type == "output_audio" || type == "audio";
}

json part_json(const content_part& p) {
    json j = object_with("type", p.type);
    if (is_audio_part(p.type)) {
        if (!p.audio.empty()) j["audio"] = base64_string(p.audio);
        // The server always sends the transcript of its own audio; a client's input_audio
        // usually has none.
        if (p.type != "input_audio" || !p.transcript.empty()) j["transcript"] = p.transcript;
    } else {
        j["text"] = p.text;
        if (!p.transcript.empty()) j["transcript"] = p.transcript;
        if (!p.audio.empty()) j["audio"] = base64_string(p.audio);
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

/// `full`: the top-level error event, whose type and message are always there (decode insists).
json error_json(const error_info& e, bool full) {
    json j = object_with("type", e.type);
    if (!e.code.empty()) j["code"] = e.code;
    if (full || !e.message.empty()) j["message"] = e.message;
    if (!e.param.empty()) j["param"] = e.param;
    if (!e.event_id.empty()) j["event_id"] = e.event_id;
    return j;
}

json token_details_json(const token_details& d, bool with_image) {
    json j = object_with("text_tokens", d.text_tokens);
    j["audio_tokens"] = d.audio_tokens;
    if (with_image || d.image_tokens != 0) j["image_tokens"] = d.image_tokens;
    return j;
}

json usage_json(const usage& u) {
    json j = object_with("total_tokens", u.total_tokens);
    j["input_tokens"] = u.input_tokens;
    j["output_tokens"] = u.output_tokens;
    json in = token_details_json(u.input_details, true);
    in["cached_tokens"] = u.input_details.cached_tokens;
    in["cached_tokens_details"] = token_details_json(u.input_details.cached_tokens_details, true);
    j["input_token_details"] = std::move(in);
    j["output_token_details"] = token_details_json(u.output_details, false);
    return j;
}

json metadata_json(const std::map<std::string, std::string>& m) {
    json j = json::object();
    for (const auto& [k, v] : m) j[k] = v;
    return j;
}

json response_json(const response_info& r) {
    json j = object_with("id", r.id);
    if (!r.object.empty()) j["object"] = r.object;
    j["status"] = r.status;
    if (r.details) {
        json d = json::object();
        if (!r.details->type.empty()) d["type"] = r.details->type;
        if (!r.details->reason.empty()) d["reason"] = r.details->reason;
        if (r.details->error) d["error"] = error_json(*r.details->error, false);
        j["status_details"] = std::move(d);
    }
    json output = json::array();
    for (const item& it : r.output) output.push_back(item_json(it));
    j["output"] = std::move(output);
    if (!r.conversation_id.empty()) j["conversation_id"] = r.conversation_id;
    if (r.output_modalities) j["output_modalities"] = *r.output_modalities;
    if (r.usage) j["usage"] = usage_json(*r.usage);
    if (!r.metadata.empty()) j["metadata"] = metadata_json(r.metadata);
    return j;
}

json overrides_json(const response_overrides& r) {
    json j = json::object();
    if (r.conversation) j["conversation"] = *r.conversation;
    if (r.output_modalities) j["output_modalities"] = *r.output_modalities;
    if (r.instructions) j["instructions"] = *r.instructions;
    if (r.voice) j["audio"] = object_with("output", object_with("voice", voice_json(*r.voice)));
    if (r.tools) j["tools"] = tools_json(*r.tools);
    if (r.tool_choice) j["tool_choice"] = tool_choice_json(*r.tool_choice);
    if (r.max_output_tokens) j["max_output_tokens"] = max_tokens_json(*r.max_output_tokens);
    if (!r.metadata.empty()) j["metadata"] = metadata_json(r.metadata);
    return j;
}

// ---- encoding events: write_fields(json&, const event&) for each event ------------------------

// client -> server
void write_fields(json& j, const client::session_update& e) {
    j["session"] = session_json(e.session);
}
void write_fields(json&, const client::input_audio_buffer_commit&) {}
void write_fields(json&, const client::input_audio_buffer_clear&) {}
void write_fields(json& j, const client::conversation_item_create& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item"] = item_json(e.item);
}
template <class E>
void write_truncate(json& j, const E& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["audio_end_ms"] = e.audio_end_ms;
}
void write_fields(json& j, const client::conversation_item_truncate& e) {
    write_truncate(j, e);
}
void write_fields(json& j, const client::conversation_item_delete& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const client::conversation_item_retrieve& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const client::response_create& e) {
    if (e.response) j["response"] = overrides_json(*e.response);
}
void write_fields(json& j, const client::response_cancel& e) {
    if (e.response_id) j["response_id"] = *e.response_id;
}

// server -> client
void write_fields(json& j, const server::error& e) {
    j["error"] = error_json(e.error, true);
}
void write_fields(json& j, const server::session_created& e) {
    j["session"] = session_json(e.session);
}
void write_fields(json& j, const server::session_updated& e) {
    j["session"] = session_json(e.session);
}
template <class E>
void write_item_event(json& j, const E& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::conversation_item_added& e) {
    write_item_event(j, e);
}
void write_fields(json& j, const server::conversation_item_done& e) {
    write_item_event(j, e);
}
void write_fields(json& j, const server::conversation_item_truncated& e) {
    write_truncate(j, e);
}
void write_fields(json& j, const server::conversation_item_deleted& e) {
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::conversation_item_retrieved& e) {
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::input_transcription_delta& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::input_transcription_completed& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["transcript"] = e.transcript;
    if (e.usage) {
        // The ASR usage shape: {type:"tokens", input/output/total, input_token_details}.
        json u = object_with("type", "tokens");
        u["total_tokens"] = e.usage->total_tokens;
        u["input_tokens"] = e.usage->input_tokens;
        u["output_tokens"] = e.usage->output_tokens;
        u["input_token_details"] = token_details_json(e.usage->input_details, false);
        j["usage"] = std::move(u);
    }
}
void write_fields(json& j, const server::input_transcription_failed& e) {
    j["item_id"] = e.item_id;
    j["content_index"] = e.content_index;
    j["error"] = error_json(e.error, false);
}
void write_fields(json& j, const server::speech_started& e) {
    j["audio_start_ms"] = e.audio_start_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::speech_stopped& e) {
    j["audio_end_ms"] = e.audio_end_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::input_audio_committed& e) {
    if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
    j["item_id"] = e.item_id;
}
void write_fields(json&, const server::input_audio_cleared&) {}
void write_fields(json& j, const server::input_audio_timeout_triggered& e) {
    j["audio_start_ms"] = e.audio_start_ms;
    j["audio_end_ms"] = e.audio_end_ms;
    j["item_id"] = e.item_id;
}
void write_fields(json& j, const server::response_created& e) {
    j["response"] = response_json(e.response);
}
void write_fields(json& j, const server::response_done& e) {
    j["response"] = response_json(e.response);
}
template <class E>
void write_output_item(json& j, const E& e) {
    j["response_id"] = e.response_id;
    j["output_index"] = e.output_index;
    j["item"] = item_json(e.item);
}
void write_fields(json& j, const server::output_item_added& e) {
    write_output_item(j, e);
}
void write_fields(json& j, const server::output_item_done& e) {
    write_output_item(j, e);
}
template <class E>
void write_part_address(json& j, const E& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["content_index"] = e.content_index;
}
void write_fields(json& j, const server::content_part_added& e) {
    write_part_address(j, e);
    j["part"] = part_json(e.part);
}
void write_fields(json& j, const server::content_part_done& e) {
    write_part_address(j, e);
    j["part"] = part_json(e.part);
}
void write_fields(json& j, const server::output_audio_done& e) {
    write_part_address(j, e);
}
void write_fields(json& j, const server::output_audio_transcript_delta& e) {
    write_part_address(j, e);
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::output_audio_transcript_done& e) {
    write_part_address(j, e);
    j["transcript"] = e.transcript;
}
void write_fields(json& j, const server::output_text_delta& e) {
    write_part_address(j, e);
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::output_text_done& e) {
    write_part_address(j, e);
    j["text"] = e.text;
}
void write_fields(json& j, const server::function_call_arguments_delta& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["call_id"] = e.call_id;
    j["delta"] = e.delta;
}
void write_fields(json& j, const server::function_call_arguments_done& e) {
    j["response_id"] = e.response_id;
    j["item_id"] = e.item_id;
    j["output_index"] = e.output_index;
    j["call_id"] = e.call_id;
    if (!e.name.empty()) j["name"] = e.name;
    j["arguments"] = e.arguments;
}
void write_fields(json& j, const server::rate_limits_updated& e) {
    json limits = json::array();
    for (const server::rate_limit& l : e.rate_limits) {
        json r = object_with("name", l.name);
        r["limit"] = l.limit;
        r["remaining"] = l.remaining;
        r["reset_seconds"] = l.reset_seconds;
        limits.push_back(std::move(r));
    }
    j["rate_limits"] = std::move(limits);
}

// ---- encoding: the generic path and the two hot events ---------------------------------------

/// Appends `s` as a JSON string. Plain ASCII (ids, names) is copied as it is; anything else
/// goes through nlohmann for escaping and UTF-8 replacement.
void append_quoted(std::string& out, std::string_view s) {
    const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
        out += '"';
        out += s;
        out += '"';
    } else {
        out += dump(json(std::string(s)));
    }
}

template <class E>
std::string encode_one(const E& e) {
    json j = object_with("type", E::type);
    if (!e.event_id.empty()) j["event_id"] = e.event_id;
    write_fields(j, e);
    return dump(j);
}

std::string encode_one(const unknown_event& e) {
    return dump(object_with("type", e.type));
}

std::string encode_one(const decode_error& e) {
    json j = object_with("type", "decode_error");
    j["event_type"] = e.event_type;
    j["field"] = e.field;
    j["message"] = e.message;
    return dump(j);
}

std::string encode_one(const client::input_audio_buffer_append& e) {
    return encode_append(e.audio, e.event_id);
}

std::string encode_one(const server::output_audio_delta& e) {
    // {"type":...,"event_id":...,"response_id":...,"item_id":...,"output_index":N,
    //  "content_index":N,"delta":"<base64>"}: the shape the service sends.
    std::string out;
    out.reserve(160 + e.event_id.size() + e.response_id.size() + e.item_id.size() +
                base64_size(e.audio.size() * sizeof(sample)));
    out += R"({"type":"response.output_audio.delta")";
    if (!e.event_id.empty()) {
        out += R"(,"event_id":)";
        append_quoted(out, e.event_id);
    }
    out += R"(,"response_id":)";
    append_quoted(out, e.response_id);
    out += R"(,"item_id":)";
    append_quoted(out, e.item_id);
    out += R"(,"output_index":)";
    out += std::to_string(e.output_index);
    out += R"(,"content_index":)";
    out += std::to_string(e.content_index);
    out += R"(,"delta":")";
    append_base64(out, e.audio);
    out += "\"}";
    return out;
}

// ---- the output_audio.delta fast path ------------------------------------------------------

bool json_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/// One member of a flat JSON object as the fast path sees it.
struct flat_value {
    enum kind_t { string, integer, null } kind = null;
    std::string_view text;  ///< string contents (no escapes)
    std::int64_t number = 0;
};

constexpr bool plain_char(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
}

/// Decodes `response.output_audio.delta` (or its beta name) without building a JSON tree: the
/// service sends these in bursts, and the tree would copy the base64 text twice, one character
/// at a time. Accepts only the plain shape: a flat object whose values are strings without
/// escapes (ASCII), integers or null. Anything else, and any event that would be a
/// decode_error, returns nullopt so that the general path decodes it and names the problem:
/// both paths give the same result for every input the fast path accepts.
std::optional<server::output_audio_delta> fast_audio_delta(std::string_view s) {
    std::size_t i = 0;
    const auto skip_ws = [&] {
        while (i < s.size() && json_space(s[i])) ++i;
    };
    // Reads a string starting at s[i] == '"'. `checked`: every character must be plain (the
    // delta is not checked here: base64 decoding rejects anything outside its alphabet).
    const auto read_string = [&](bool checked, std::string_view& out) {
        const std::size_t begin = i + 1;
        const void* hit = std::memchr(s.data() + begin, '"', s.size() - begin);
        if (hit == nullptr) return false;
        const auto end = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        out = s.substr(begin, end - begin);
        if (checked && !std::all_of(out.begin(), out.end(), plain_char)) return false;
        i = end + 1;
        return true;
    };
    std::string_view type;
    std::optional<std::string_view> delta;
    std::optional<std::string_view> event_id;
    std::optional<std::string_view> response_id;
    std::optional<std::string_view> item_id;
    std::optional<std::int64_t> output_index;
    std::optional<std::int64_t> content_index;
    bool event_id_null = false;

    skip_ws();
    if (i >= s.size() || s[i] != '{') return std::nullopt;
    ++i;
    for (;;) {
        skip_ws();
        if (i >= s.size() || s[i] != '"') return std::nullopt;
        std::string_view key;
        if (!read_string(true, key)) return std::nullopt;
        skip_ws();
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        ++i;
        skip_ws();
        if (i >= s.size()) return std::nullopt;
        flat_value v;
        if (s[i] == '"') {
            v.kind = flat_value::string;
            if (!read_string(key != "delta", v.text)) return std::nullopt;
        } else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
            const std::size_t digits = i + (s[i] == '-' ? 1 : 0);
            // JSON has no leading zeros and no bare '-'.
            if (digits >= s.size() || s[digits] < '0' || s[digits] > '9') return std::nullopt;
            if (s[digits] == '0' && digits + 1 < s.size() && s[digits + 1] >= '0' &&
                s[digits + 1] <= '9') {
                return std::nullopt;
            }
            const auto [ptr, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v.number);
            if (ec != std::errc()) return std::nullopt;
            i = static_cast<std::size_t>(ptr - s.data());
            if (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) return std::nullopt;
            v.kind = flat_value::integer;
        } else if (s.substr(i, 4) == "null") {
            i += 4;
        } else {
            return std::nullopt;  // nested value, boolean, or not JSON: the general path
        }
        const bool str = v.kind == flat_value::string;
        const bool num = v.kind == flat_value::integer;
        if (key == "type") {
            if (!str) return std::nullopt;
            type = v.text;
        } else if (key == "delta") {
            if (!str) return std::nullopt;
            delta = v.text;
        } else if (key == "event_id") {
            if (num) return std::nullopt;
            event_id_null = !str;
            event_id = v.text;
        } else if (key == "response_id" || key == "item_id") {
            if (!str) return std::nullopt;
            (key == "item_id" ? item_id : response_id) = v.text;
        } else if (key == "output_index" || key == "content_index") {
            if (!num || v.number < std::numeric_limits<int>::min() ||
                v.number > std::numeric_limits<int>::max()) {
                return std::nullopt;
            }
            (key == "output_index" ? output_index : content_index) = v.number;
        }
        skip_ws();
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') {
            ++i;
            break;
        }
        return std::nullopt;
    }
    skip_ws();
    if (i != s.size()) return std::nullopt;
    if (type != "response.output_audio.delta" && type != "response.audio.delta")
        return std::nullopt;
    if (!response_id || !item_id || !output_index || !content_index || !delta) {
        return std::nullopt;
    }
    server::output_audio_delta ev;
    if (!decode_base64_into(*delta, ev.audio)) return std::nullopt;
    if (event_id && !event_id_null) ev.event_id = *event_id;
    ev.response_id = *response_id;
    ev.item_id = *item_id;
    ev.output_index = static_cast<int>(*output_index);
    ev.content_index = static_cast<int>(*content_index);
    return ev;
}

// ---- elide_audio --------------------------------------------------------------------------------

/// End of the JSON string whose opening quote is at `open` (index of the closing quote), or npos.
std::size_t string_end(std::string_view s, std::size_t open) noexcept {
    std::size_t pos = open + 1;
    while (pos < s.size()) {
        const void* hit = std::memchr(s.data() + pos, '"', s.size() - pos);
        if (hit == nullptr) return std::string_view::npos;
        const auto q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
        std::size_t backslashes = 0;
        while (q - backslashes > open + 1 && s[q - backslashes - 1] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return q;
        pos = q + 1;
    }
    return std::string_view::npos;
}

}  // namespace

// ---- public API
// -----------------------------------------------------------------------------------

std::string encode(const client_event& ev) {
    return std::visit([](const auto& e) { return encode_one(e); }, ev);
}

std::string encode(const server_event& ev) {
    return std::visit([](const auto& e) { return encode_one(e); }, ev);
}

std::string encode_append(core::pcm_view audio, std::string_view event_id) {
    constexpr std::string_view head = R"({"type":"input_audio_buffer.append")";
    std::string out;
    out.reserve(head.size() + 32 + event_id.size() + base64_size(audio.size_bytes()));
    out += head;
    if (!event_id.empty()) {
        out += R"(,"event_id":)";
        append_quoted(out, event_id);
    }
    out += R"(,"audio":")";
    append_base64(out, audio);
    out += "\"}";
    return out;
}

client_event decode_client(std::string_view json) noexcept {
    return decode_any<client_event>(json, client_aliases);
}

server_event decode_server(std::string_view json) noexcept {
    try {
        if (auto ev = fast_audio_delta(json)) return std::move(*ev);
    } catch (...) {
        // Only bad_alloc can get here; the general path reports whatever it finds.
    }
    return decode_any<server_event>(json, server_aliases);
}

std::string elide_audio(std::string_view in) {
    // One pass over the tokens that matter: strings (keys and values) and brackets (depth).
    struct span {
        std::size_t begin;  // opening quote of the value
        std::size_t end;    // one past its closing quote
    };
    std::vector<span> spans;
    std::optional<span> top_delta;
    std::string_view top_type;
    std::string_view pending_key;  // the key whose value comes next
    int pending_depth = -1;
    int depth = 0;
    for (std::size_t i = 0; i < in.size();) {
        const char c = in[i];
        if (c == '"') {
            const std::size_t close = string_end(in, i);
            if (close == std::string_view::npos) break;  // truncated text: stop scanning
            const std::string_view text = in.substr(i + 1, close - i - 1);
            std::size_t k = close + 1;
            while (k < in.size() && json_space(in[k])) ++k;
            if (k < in.size() && in[k] == ':') {  // a key
                pending_key = text;
                pending_depth = depth;
                i = k + 1;
                continue;
            }
            if (!pending_key.empty()) {  // a string value
                if (pending_key == "audio") spans.push_back({i, close + 1});
                if (pending_depth == 1 && pending_key == "delta") top_delta = span{i, close + 1};
                if (pending_depth == 1 && pending_key == "type") top_type = text;
            }
            pending_key = {};
            i = close + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            --depth;
        }
        if (!json_space(c)) pending_key = {};
        ++i;
    }
    if (top_delta &&
        (top_type == "response.output_audio.delta" || top_type == "response.audio.delta")) {
        spans.push_back(*top_delta);
        std::sort(spans.begin(), spans.end(),
                  [](const span& a, const span& b) { return a.begin < b.begin; });
    }
    if (spans.empty()) return std::string(in);
    std::string out;
    out.reserve(std::min<std::size_t>(in.size(), 512 + spans.size() * 24));
    std::size_t copied = 0;
    for (const span& s : spans) {
        out.append(in.substr(copied, s.begin - copied));
        out += "\"<";
        out += std::to_string(decoded_size(in.substr(s.begin + 1, s.end - s.begin - 2)));
        out += " bytes>\"";
        copied = s.end;
    }
    out.append(in.substr(copied));
    return out;
}

std::string base64_encode(core::pcm_view pcm) {
    return base64_string(pcm);
}

std::optional<std::vector<core::sample>> base64_decode_pcm(std::string_view b64) {
    std::vector<core::sample> pcm;
    if (!decode_base64_into(b64, pcm)) return std::nullopt;
    return pcm;
}

}  // namespace ava::realtime
