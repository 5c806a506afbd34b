// The JSON helpers the codec's two directions share (codec_json.hpp).
//
// Decoding: the text is parsed into a tree by nlohmann's DOM builder wrapped in a SAX handler
// that bounds the nesting depth (so nothing that walks the tree later, e.g. dumping a tool's
// parameters, can run out of stack on hostile input).
//
// Base64 PCM goes through core::base64 (OpenSSL EVP, strict decoding); the wire is
// little-endian s16, so big-endian hosts swap the bytes around it.
#include "codec_json.hpp"

#include <algorithm>
#include <bit>
#include <span>
#include <utility>

#include "ava/core/base64.hpp"
#include "ava/realtime/codec.hpp"

namespace ava::realtime::codec_detail {
namespace {

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

void byteswap_samples(std::span<sample> s) noexcept {
    for (sample& v : s) {
        const auto u = static_cast<std::uint16_t>(v);
        v = static_cast<sample>(static_cast<std::uint16_t>((u >> 8) | (u << 8)));
    }
}

}  // namespace

// ---- parsing with a depth bound ---------------------------------------------------------------

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

double to_num(const json& v, const where& w) {
    if (!v.is_number()) fail(w, wrong_type("number", v));
    return v.get<double>();
}

bool to_bool(const json& v, const where& w) {
    if (!v.is_boolean()) fail(w, wrong_type("boolean", v));
    return v.get<bool>();
}

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

// ---- writing ----------------------------------------------------------------------------------

json object_with(std::string_view key, json value) {
    json j = json::object();
    j[std::string(key)] = std::move(value);
    return j;
}

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

// ---- base64 PCM -------------------------------------------------------------------------------

void append_base64(std::string& out, core::pcm_view pcm) {
    if constexpr (std::endian::native == std::endian::big) {
        std::vector<sample> swapped(pcm.begin(), pcm.end());  // the wire is little-endian
        byteswap_samples(swapped);
        core::base64_append(out, std::as_bytes(std::span(swapped)));
    } else {
        core::base64_append(out, std::as_bytes(pcm));
    }
}

bool decode_base64_into(std::string_view b64, std::vector<sample>& out) {
    // core::base64_decode_to writes whole 3-byte groups: room for all of them, in samples.
    out.resize((b64.size() / 4 * 3 + 1) / 2);
    const auto bytes = core::base64_decode_to(b64, std::as_writable_bytes(std::span(out)));
    if (!bytes || *bytes % 2 != 0) return false;  // s16 samples: an odd byte count is not PCM
    out.resize(*bytes / 2);
    if constexpr (std::endian::native == std::endian::big) byteswap_samples(out);
    return true;
}

}  // namespace ava::realtime::codec_detail

namespace ava::realtime {

std::string base64_encode(core::pcm_view pcm) {
    std::string s;
    codec_detail::append_base64(s, pcm);
    return s;
}

std::optional<std::vector<core::sample>> base64_decode_pcm(std::string_view b64) {
    std::vector<core::sample> pcm;
    if (!codec_detail::decode_base64_into(b64, pcm)) return std::nullopt;
    return pcm;
}

}  // namespace ava::realtime
