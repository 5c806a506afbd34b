// Config loader internals: text helpers, TOML literals, reading files, text values and the enum
// names. See config_values.hpp.
#include "config_values.hpp"

#include "ava/core/json_string.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <system_error>

namespace ava::app {
namespace detail {

namespace fs = std::filesystem;

// ---- small text helpers -----------------------------------------------------------------------

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

// A TOML basic string escapes exactly what a JSON string does (plus DEL, which json_string
// escapes too), so the one quoter serves both.
std::string toml_quote(std::string_view s) {
    return core::json_string(s);
}

bool bare_key_ok(std::string_view k) {
    if (k.empty()) return false;
    return std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

std::string toml_key(std::string_view k) {
    return bare_key_ok(k) ? std::string(k) : toml_quote(k);
}

std::string format_double(double v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, res.ptr);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // TOML floats need a dot
    return s;
}

std::string leaf_of(std::string_view dotted) {
    const auto dot = dotted.rfind('.');
    return std::string(dot == std::string_view::npos ? dotted : dotted.substr(dot + 1));
}

std::string section_of(std::string_view dotted) {
    const auto dot = dotted.rfind('.');
    return dot == std::string_view::npos ? std::string() : std::string(dotted.substr(0, dot));
}

std::string describe_errno(int err) {
    return std::generic_category().message(err);
}

/// The password of "scheme://user:password@host...", or "" when it has none.
std::string url_password(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    const std::string_view rest = url.substr(scheme + 3);
    const auto at = rest.rfind('@', rest.find('/'));
    if (at == std::string_view::npos) return {};
    const std::string_view userinfo = rest.substr(0, at);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) return {};
    return std::string(userinfo.substr(colon + 1));
}

/// Reads a whole file; throws value_error naming the problem (missing, a directory, no access,
/// over `max_bytes`: /dev/zero or a log given by mistake must not fill the memory).
std::string read_text_file(const fs::path& p, std::size_t max_bytes) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw value_error("'" + p.string() + "' is a directory");
    std::FILE* f = std::fopen(p.string().c_str(), "rb");
    if (f == nullptr)
        throw value_error("cannot read '" + p.string() + "': " + describe_errno(errno));
    std::string out;
    char buf[16384];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        if (out.size() + n > max_bytes) {
            std::fclose(f);
            throw value_error("'" + p.string() + "' is over the " +
                              std::to_string(max_bytes / 1024) +
                              " KiB limit for a text file (is it the right file?)");
        }
        out.append(buf, n);
    }
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) throw value_error("cannot read '" + p.string() + "': " + describe_errno(err));
    return out;
}

bool is_url(std::string_view s) {
    return s.find("://") != std::string_view::npos;
}

void check_scheme(std::string_view v, std::initializer_list<std::string_view> schemes) {
    if (v.empty()) return;
    for (const auto s : schemes) {
        if (starts_with(core::ascii_lower(v), std::string(s) + "://")) return;
    }
    std::string list;
    for (const auto s : schemes) list += (list.empty() ? "" : ", ") + std::string(s) + "://";
    throw value_error("must be a URL starting with " + list + ", not '" + std::string(v) + "'");
}

bool text_bool(std::string_view text) {
    const std::string t = core::ascii_lower(core::trim(text));
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    throw value_error("must be true or false, not '" + std::string(text) + "'");
}

std::int64_t text_int(std::string_view text) {
    const std::string_view t = core::trim(text);
    std::int64_t v = 0;
    const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size()) {
        throw value_error("must be a whole number, not '" + std::string(text) + "'");
    }
    return v;
}

double text_double(std::string_view text) {
    const std::string_view t = core::trim(text);
    double v = 0;
    const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size()) {
        throw value_error("must be a number, not '" + std::string(text) + "'");
    }
    return v;
}

}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

using namespace detail;

std::string_view to_string(provider_kind v) {
    return name_of(provider_names, v);
}
std::string_view to_string(vad_kind v) {
    return name_of(vad_names, v);
}
std::string_view to_string(vad_eagerness v) {
    return name_of(eagerness_names, v);
}
std::string_view to_string(noise_reduction_kind v) {
    return name_of(noise_names, v);
}
std::string_view to_string(output_modality v) {
    return name_of(modality_names, v);
}
std::string_view to_string(echo_mode v) {
    return name_of(echo_names, v);
}

}  // namespace ava::app
