// The config loader: one table of keys drives parsing (TOML, environment, flags), validation,
// unknown-key detection and printing, so the four can never disagree about what a key is.
//
// Runs once on the main thread at startup; nothing here is used by the audio callback.
#include "ava/app/config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava_app_generated.hpp"

namespace ava::app {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

/// A value that does not fit its key. The caller adds where it came from and which key.
class value_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// ---- small text helpers -----------------------------------------------------------------------

std::string trim(std::string_view s) {
    const auto* ws = " \t\r\n";
    const auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(ws);
    return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::string toml_quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
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

std::string toml_type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        default:
            return "a date/time";
    }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
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

/// Reads a whole file; throws value_error naming the problem (missing, a directory, no access).
std::string read_text_file(const fs::path& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) throw value_error("'" + p.string() + "' is a directory");
    std::FILE* f = std::fopen(p.string().c_str(), "rb");
    if (f == nullptr)
        throw value_error("cannot read '" + p.string() + "': " + describe_errno(errno));
    std::string out;
    char buf[16384];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
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
        if (starts_with(lower(v), std::string(s) + "://")) return;
    }
    std::string list;
    for (const auto s : schemes) list += (list.empty() ? "" : ", ") + std::string(s) + "://";
    throw value_error("must be a URL starting with " + list + ", not '" + std::string(v) + "'");
}

// ---- enum names -------------------------------------------------------------------------------

template <class E>
struct enum_name {
    std::string_view name;
    E value;
};

constexpr enum_name<provider_kind> provider_names[] = {{"openai", provider_kind::openai},
                                                       {"azure", provider_kind::azure},
                                                       {"sim", provider_kind::sim}};
constexpr enum_name<vad_kind> vad_names[] = {
    {"server", vad_kind::server},     {"semantic", vad_kind::semantic},
    {"manual", vad_kind::manual},     {"none", vad_kind::manual},
    {"server_vad", vad_kind::server}, {"semantic_vad", vad_kind::semantic}};
constexpr enum_name<vad_eagerness> eagerness_names[] = {{"auto", vad_eagerness::automatic},
                                                        {"low", vad_eagerness::low},
                                                        {"medium", vad_eagerness::medium},
                                                        {"high", vad_eagerness::high}};
constexpr enum_name<noise_reduction_kind> noise_names[] = {
    {"near_field", noise_reduction_kind::near_field},
    {"far_field", noise_reduction_kind::far_field},
    {"off", noise_reduction_kind::off},
    {"none", noise_reduction_kind::off}};
constexpr enum_name<output_modality> modality_names[] = {{"audio", output_modality::audio},
                                                         {"text", output_modality::text}};
constexpr enum_name<echo_mode> echo_names[] = {{"auto", echo_mode::automatic},
                                               {"aec", echo_mode::aec},
                                               {"half_duplex", echo_mode::half_duplex},
                                               {"off", echo_mode::off}};

template <class E, std::size_t N>
std::string_view name_of(const enum_name<E> (&table)[N], E v) {
    for (const auto& e : table) {
        if (e.value == v) return e.name;  // the first name is the canonical one
    }
    return "?";
}

template <class E, std::size_t N>
E parse_enum(const enum_name<E> (&table)[N], std::string_view text) {
    const std::string t = lower(trim(text));
    for (const auto& e : table) {
        if (e.name == t) return e.value;
    }
    std::string choices;
    std::set<E> seen;
    for (const auto& e : table) {
        if (!seen.insert(e.value).second) continue;  // aliases stay quiet
        choices += (choices.empty() ? "" : ", ") + std::string(e.name);
    }
    throw value_error("has an unknown value '" + std::string(text) + "' (use " + choices + ")");
}

// ---- the key table ----------------------------------------------------------------------------

/// Where the value being applied comes from; relative paths in a file are relative to it.
struct apply_context {
    std::string origin;
    fs::path base_dir;  ///< empty: the working directory
    std::string home;   ///< for "~/" expansion
};

struct key_def {
    key_info info;
    std::function<void(config&, const toml::node&, const apply_context&)> from_toml;
    std::function<void(config&, std::string_view, const apply_context&)> from_text;
    std::function<std::string(config&)> print;  ///< the value as a TOML literal
};

std::string expand_path(std::string_view raw, const apply_context& ctx) {
    std::string v(raw);
    if (v.empty()) return v;
    if ((v == "~" || starts_with(v, "~/")) && !ctx.home.empty()) v = ctx.home + v.substr(1);
    if (!ctx.base_dir.empty() && fs::path(v).is_relative()) v = (ctx.base_dir / v).string();
    return v;
}

const std::string& toml_string(const toml::node& n) {
    if (const auto* s = n.as_string()) return s->get();
    throw value_error("must be a string, not " + toml_type_name(n));
}

std::int64_t toml_int(const toml::node& n) {
    if (const auto* i = n.as_integer()) return i->get();
    throw value_error("must be an integer, not " + toml_type_name(n));
}

double toml_double(const toml::node& n) {
    if (const auto* d = n.as_floating_point()) return d->get();
    if (const auto* i = n.as_integer()) return static_cast<double>(i->get());
    throw value_error("must be a number, not " + toml_type_name(n));
}

bool text_bool(std::string_view text) {
    const std::string t = lower(trim(text));
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off") return false;
    throw value_error("must be true or false, not '" + std::string(text) + "'");
}

std::int64_t text_int(std::string_view text) {
    const std::string t = trim(text);
    std::int64_t v = 0;
    const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size()) {
        throw value_error("must be a whole number, not '" + std::string(text) + "'");
    }
    return v;
}

double text_double(std::string_view text) {
    const std::string t = trim(text);
    double v = 0;
    const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || res.ec != std::errc() || res.ptr != t.data() + t.size()) {
        throw value_error("must be a number, not '" + std::string(text) + "'");
    }
    return v;
}

using string_check = void (*)(const std::string&);

template <class Acc>
key_def string_key(std::string name, Acc acc, string_check check = nullptr, bool secret = false) {
    key_def k;
    k.info = {std::move(name), secret};
    k.from_toml = [acc, check](config& c, const toml::node& n, const apply_context&) {
        const std::string v = toml_string(n);
        if (check != nullptr) check(v);
        acc(c) = v;
    };
    k.from_text = [acc, check](config& c, std::string_view t, const apply_context&) {
        const std::string v(t);
        if (check != nullptr) check(v);
        acc(c) = v;
    };
    k.print = [acc](config& c) { return toml_quote(acc(c)); };
    return k;
}

/// A file path: "~/" expands, and a relative path in a config file is relative to that file.
template <class Acc>
key_def path_key(std::string name, Acc acc) {
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [acc](config& c, const toml::node& n, const apply_context& ctx) {
        acc(c) = expand_path(toml_string(n), ctx);
    };
    k.from_text = [acc](config& c, std::string_view t, const apply_context& ctx) {
        acc(c) = expand_path(t, ctx);
    };
    k.print = [acc](config& c) { return toml_quote(acc(c)); };
    return k;
}

template <class Acc>
key_def bool_key(std::string name, Acc acc) {
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [acc](config& c, const toml::node& n, const apply_context&) {
        if (const auto* b = n.as_boolean()) {
            acc(c) = b->get();
            return;
        }
        throw value_error("must be true or false, not " + toml_type_name(n));
    };
    k.from_text = [acc](config& c, std::string_view t, const apply_context&) {
        acc(c) = text_bool(t);
    };
    k.print = [acc](config& c) { return std::string(acc(c) ? "true" : "false"); };
    return k;
}

/// An integer field (int, size_t or milliseconds) with an inclusive range.
template <class Acc>
key_def int_key(std::string name, Acc acc, std::int64_t lo, std::int64_t hi) {
    using field_t = std::remove_reference_t<decltype(acc(std::declval<config&>()))>;
    auto store = [acc, lo, hi](config& c, std::int64_t v) {
        if (v < lo || v > hi) {
            if (v < 0 && lo >= 0) {
                throw value_error("must not be negative, got " + std::to_string(v));
            }
            throw value_error("must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi) + ", got " + std::to_string(v));
        }
        if constexpr (std::is_same_v<field_t, milliseconds>) {
            acc(c) = milliseconds(v);
        } else {
            acc(c) = static_cast<field_t>(v);
        }
    };
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [store](config& c, const toml::node& n, const apply_context&) {
        store(c, toml_int(n));
    };
    k.from_text = [store](config& c, std::string_view t, const apply_context&) {
        store(c, text_int(t));
    };
    k.print = [acc](config& c) {
        if constexpr (std::is_same_v<field_t, milliseconds>) {
            return std::to_string(acc(c).count());
        } else {
            return std::to_string(acc(c));
        }
    };
    return k;
}

template <class Acc>
key_def double_key(std::string name, Acc acc, double lo, double hi) {
    auto store = [acc, lo, hi](config& c, double v) {
        if (!(v >= lo && v <= hi)) {
            throw value_error("must be between " + format_double(lo) + " and " + format_double(hi) +
                              ", got " + format_double(v));
        }
        acc(c) = v;
    };
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [store](config& c, const toml::node& n, const apply_context&) {
        store(c, toml_double(n));
    };
    k.from_text = [store](config& c, std::string_view t, const apply_context&) {
        store(c, text_double(t));
    };
    k.print = [acc](config& c) { return format_double(acc(c)); };
    return k;
}

template <class E, std::size_t N, class Acc>
key_def enum_key(std::string name, Acc acc, const enum_name<E> (&table)[N]) {
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [acc, &table](config& c, const toml::node& n, const apply_context&) {
        acc(c) = parse_enum(table, toml_string(n));
    };
    k.from_text = [acc, &table](config& c, std::string_view t, const apply_context&) {
        acc(c) = parse_enum(table, t);
    };
    k.print = [acc, &table](config& c) { return toml_quote(name_of(table, acc(c))); };
    return k;
}

/// An array of strings; on the command line a comma-separated list.
template <class Acc>
key_def list_key(std::string name, Acc acc) {
    key_def k;
    k.info = {std::move(name), false};
    k.from_toml = [acc](config& c, const toml::node& n, const apply_context&) {
        const auto* arr = n.as_array();
        if (arr == nullptr)
            throw value_error("must be an array of strings, not " + toml_type_name(n));
        std::vector<std::string> out;
        for (const auto& e : *arr) {
            const auto* s = e.as_string();
            if (s == nullptr) {
                throw value_error("must be an array of strings, but holds " + toml_type_name(e));
            }
            out.push_back(s->get());
        }
        acc(c) = std::move(out);
    };
    k.from_text = [acc](config& c, std::string_view t, const apply_context&) {
        std::vector<std::string> out;
        std::stringstream ss{std::string(t)};
        std::string item;
        while (std::getline(ss, item, ',')) {
            if (auto v = trim(item); !v.empty()) out.push_back(std::move(v));
        }
        acc(c) = std::move(out);
    };
    k.print = [acc](config& c) {
        std::string s = "[";
        for (const auto& e : acc(c)) s += (s.size() > 1 ? ", " : "") + toml_quote(e);
        return s + "]";
    };
    return k;
}

void check_ws_url(const std::string& v) {
    check_scheme(v, {"ws", "wss"});
}
void check_http_url(const std::string& v) {
    check_scheme(v, {"http", "https"});
}
void check_base_url(const std::string& v) {
    if (v.empty()) throw value_error("must not be empty");
    check_scheme(v, {"https", "http", "wss", "ws"});
}
void check_any_url(const std::string& v) {
    check_scheme(v, {"https", "http", "wss", "ws"});
}
void check_smtp_url(const std::string& v) {
    check_scheme(v, {"smtp", "smtps"});
}
void check_proxy(const std::string& v) {
    if (is_url(v)) check_scheme(v, {"http", "https"});
}
void check_log_level(const std::string& v) {
    static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    if (levels.count(v) == 0) {
        throw value_error("has an unknown level '" + v +
                          "' (use trace, debug, info, warn, error, critical or off)");
    }
}
void check_units(const std::string& v) {
    if (v != "metric" && v != "imperial") {
        throw value_error("has unknown units '" + v + "' (use metric or imperial)");
    }
}
void check_env_name(const std::string& v) {
    const bool ok = std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
    if (!ok) throw value_error("must be an environment variable name, not '" + v + "'");
}
void check_not_blank(const std::string& v) {
    if (trim(v).empty()) throw value_error("must not be empty");
}

constexpr std::int64_t max_ms = 24LL * 3600 * 1000;  // a day: anything above is a typo

// Key fields of one [[tools.command]] entry (validated when the entry is read).
const std::vector<std::string> command_fields = {"name", "description", "parameters",
                                                 "argv", "timeout_ms",  "max_output_bytes"};

#define AVA_FIELD(member)     \
    [](config & c) -> auto& { \
        return c.member;      \
    }

std::vector<key_def> build_keys() {
    std::vector<key_def> k;
    k.push_back(enum_key("provider.name", AVA_FIELD(provider.kind), provider_names));
    k.push_back(string_key("provider.model", AVA_FIELD(provider.model), check_not_blank));
    k.push_back(string_key("provider.endpoint", AVA_FIELD(provider.endpoint), check_ws_url));
    k.push_back(
        string_key("provider.api_key_env", AVA_FIELD(provider.api_key_env), check_env_name));
    k.push_back(string_key("openai.base_url", AVA_FIELD(openai.base_url), check_base_url));
    k.push_back(string_key("azure.endpoint", AVA_FIELD(azure.endpoint), check_any_url));
    k.push_back(string_key("azure.deployment", AVA_FIELD(azure.deployment)));
    k.push_back(path_key("sim.scenario", AVA_FIELD(sim.scenario)));

    k.push_back(string_key("session.voice", AVA_FIELD(session.voice), check_not_blank));
    k.push_back(double_key("session.speed", AVA_FIELD(session.speed), 0.25, 1.5));
    k.push_back(string_key("session.instructions", AVA_FIELD(session.instructions)));
    k.push_back(path_key("session.instructions_file", AVA_FIELD(session.instructions_file)));
    k.push_back(enum_key("session.output_modality", AVA_FIELD(session.modality), modality_names));
    k.push_back(
        enum_key("session.noise_reduction", AVA_FIELD(session.noise_reduction), noise_names));

    k.push_back(enum_key("vad.type", AVA_FIELD(vad.type), vad_names));
    k.push_back(double_key("vad.threshold", AVA_FIELD(vad.threshold), 0.0, 1.0));
    k.push_back(int_key("vad.prefix_padding_ms", AVA_FIELD(vad.prefix_padding), 0, 10000));
    k.push_back(int_key("vad.silence_duration_ms", AVA_FIELD(vad.silence_duration), 0, 10000));
    k.push_back(enum_key("vad.eagerness", AVA_FIELD(vad.eagerness), eagerness_names));
    k.push_back(bool_key("vad.create_response", AVA_FIELD(vad.create_response)));
    k.push_back(bool_key("vad.interrupt_response", AVA_FIELD(vad.interrupt_response)));
    k.push_back(int_key("vad.idle_timeout_ms", AVA_FIELD(vad.idle_timeout), 0, max_ms));

    k.push_back(string_key("transcription.model", AVA_FIELD(transcription.model)));
    k.push_back(string_key("transcription.language", AVA_FIELD(transcription.language)));

    k.push_back(string_key("audio.input_device", AVA_FIELD(audio.input_device)));
    k.push_back(string_key("audio.output_device", AVA_FIELD(audio.output_device)));
    k.push_back(int_key("audio.frame_ms", AVA_FIELD(audio.frame), 5, 100));
    k.push_back(int_key("audio.playback_start_ms", AVA_FIELD(audio.playback_start), 0, 2000));
    k.push_back(int_key("audio.period_ms", AVA_FIELD(audio.period), 0, 100));
    k.push_back(enum_key("audio.echo", AVA_FIELD(audio.echo), echo_names));

    k.push_back(path_key("headless.input_wav", AVA_FIELD(headless.input_wav)));
    k.push_back(path_key("headless.output_wav", AVA_FIELD(headless.output_wav)));
    k.push_back(path_key("headless.record_wav", AVA_FIELD(headless.record_wav)));
    k.push_back(path_key("headless.events_jsonl", AVA_FIELD(headless.events_jsonl)));
    k.push_back(bool_key("headless.fast", AVA_FIELD(headless.fast)));

    k.push_back(string_key("logging.level", AVA_FIELD(logging.level), check_log_level));
    k.push_back(path_key("logging.file", AVA_FIELD(logging.file)));

    k.push_back(bool_key("ui.color", AVA_FIELD(ui.color)));

    constexpr double max_price = 1e6;
    k.push_back(double_key("prices.text_in", AVA_FIELD(prices.text_in), 0, max_price));
    k.push_back(
        double_key("prices.text_cached_in", AVA_FIELD(prices.text_cached_in), 0, max_price));
    k.push_back(double_key("prices.text_out", AVA_FIELD(prices.text_out), 0, max_price));
    k.push_back(double_key("prices.audio_in", AVA_FIELD(prices.audio_in), 0, max_price));
    k.push_back(
        double_key("prices.audio_cached_in", AVA_FIELD(prices.audio_cached_in), 0, max_price));
    k.push_back(double_key("prices.audio_out", AVA_FIELD(prices.audio_out), 0, max_price));

    k.push_back(
        int_key("reconnect.initial_backoff_ms", AVA_FIELD(reconnect.initial_backoff), 1, max_ms));
    k.push_back(int_key("reconnect.max_backoff_ms", AVA_FIELD(reconnect.max_backoff), 1, max_ms));
    k.push_back(int_key("reconnect.max_tries", AVA_FIELD(reconnect.max_tries), 0, 1000));

    k.push_back(path_key("network.ca_file", AVA_FIELD(network.ca_file)));
    k.push_back(bool_key("network.insecure_skip_verify", AVA_FIELD(network.insecure_skip_verify)));
    k.push_back(string_key("network.proxy", AVA_FIELD(network.proxy), check_proxy));
    k.push_back(string_key("network.no_proxy", AVA_FIELD(network.no_proxy)));
    k.push_back(
        int_key("network.connect_timeout_ms", AVA_FIELD(network.connect_timeout), 1, max_ms));
    k.push_back(int_key("network.ping_interval_ms", AVA_FIELD(network.ping_interval), 0, max_ms));

    k.push_back(int_key("tools.timeout_ms", AVA_FIELD(tools.default_timeout), 1, max_ms));
    k.push_back(int_key("tools.http.timeout_ms", AVA_FIELD(tools.http.timeout), 1, max_ms));
    k.push_back(int_key("tools.http.max_response_bytes", AVA_FIELD(tools.http.max_response_bytes),
                        1, std::numeric_limits<std::int32_t>::max()));
    k.push_back(path_key("tools.http.ca_file", AVA_FIELD(tools.http.ca_file)));
    k.push_back(string_key("tools.http.proxy", AVA_FIELD(tools.http.proxy), check_proxy));

    k.push_back(bool_key("tools.calendar.enabled", AVA_FIELD(tools.calendar.enabled)));
    {
        // A local .ics path (relative to the config file) or an URL (left alone).
        key_def src = path_key("tools.calendar.source", AVA_FIELD(tools.calendar.source));
        auto file_apply = src.from_toml;
        src.from_toml = [file_apply](config& c, const toml::node& n, const apply_context& ctx) {
            if (is_url(toml_string(n))) {
                check_scheme(toml_string(n), {"https", "http", "webcal"});
                c.tools.calendar.source = toml_string(n);
                return;
            }
            file_apply(c, n, ctx);
        };
        auto text_apply = src.from_text;
        src.from_text = [text_apply](config& c, std::string_view t, const apply_context& ctx) {
            if (is_url(t)) {
                check_scheme(t, {"https", "http", "webcal"});
                c.tools.calendar.source = std::string(t);
                return;
            }
            text_apply(c, t, ctx);
        };
        k.push_back(std::move(src));
    }
    k.push_back(string_key("tools.calendar.timezone", AVA_FIELD(tools.calendar.timezone)));

    k.push_back(bool_key("tools.lights.enabled", AVA_FIELD(tools.lights.enabled)));
    k.push_back(
        string_key("tools.lights.base_url", AVA_FIELD(tools.lights.base_url), check_http_url));
    k.push_back(string_key("tools.lights.token", AVA_FIELD(tools.lights.token), nullptr, true));

    k.push_back(bool_key("tools.weather.enabled", AVA_FIELD(tools.weather.enabled)));
    k.push_back(string_key("tools.weather.geocoding_url", AVA_FIELD(tools.weather.geocoding_url),
                           check_http_url));
    k.push_back(string_key("tools.weather.forecast_url", AVA_FIELD(tools.weather.forecast_url),
                           check_http_url));
    k.push_back(string_key("tools.weather.units", AVA_FIELD(tools.weather.units), check_units));
    k.push_back(
        string_key("tools.weather.default_location", AVA_FIELD(tools.weather.default_location)));

    k.push_back(bool_key("tools.email.enabled", AVA_FIELD(tools.email.enabled)));
    k.push_back(
        string_key("tools.email.smtp_url", AVA_FIELD(tools.email.smtp_url), check_smtp_url));
    k.push_back(string_key("tools.email.username", AVA_FIELD(tools.email.username)));
    k.push_back(string_key("tools.email.password", AVA_FIELD(tools.email.password), nullptr, true));
    k.push_back(string_key("tools.email.from", AVA_FIELD(tools.email.from)));
    k.push_back(bool_key("tools.email.require_tls", AVA_FIELD(tools.email.require_tls)));
    k.push_back(bool_key("tools.email.confirm", AVA_FIELD(tools.email.confirm)));
    k.push_back(list_key("tools.email.allowed_domains", AVA_FIELD(tools.email.allowed_domains)));

    {
        // [tools.email.address_book]: spoken name -> address. Only from files.
        key_def book;
        book.info = {"tools.email.address_book", false, false, true};
        book.from_toml = [](config& c, const toml::node& n, const apply_context&) {
            const auto* t = n.as_table();
            if (t == nullptr) throw value_error("must be a table, not " + toml_type_name(n));
            std::map<std::string, std::string> out;
            for (const auto& [name, v] : *t) {
                const auto* s = v.as_string();
                if (s == nullptr) {
                    throw value_error("entry '" + std::string(name.str()) +
                                      "' must be a string (an e-mail address), not " +
                                      toml_type_name(v));
                }
                if (s->get().find('@') == std::string::npos) {
                    throw value_error("entry '" + std::string(name.str()) + "' = '" + s->get() +
                                      "' is not an e-mail address");
                }
                out[std::string(name.str())] = s->get();
            }
            c.tools.email.address_book = std::move(out);
        };
        book.from_text = [](config&, std::string_view, const apply_context&) {
            throw value_error("is a table; set it in the config file");
        };
        book.print = [](config&) { return std::string(); };  // printed as its own table
        k.push_back(std::move(book));
    }

    for (const auto& f : command_fields) {
        key_def field;
        field.info = {"tools.command." + f, false, true, false};
        field.from_toml = [](config&, const toml::node&, const apply_context&) {};
        field.from_text = [](config&, std::string_view, const apply_context&) {
            throw value_error("belongs to a [[tools.command]] entry; set it in the config file");
        };
        field.print = [](config&) { return std::string(); };
        k.push_back(std::move(field));
    }
    return k;
}

#undef AVA_FIELD

const std::vector<key_def>& keys() {
    static const std::vector<key_def> table = build_keys();
    return table;
}

const key_def* find_key(std::string_view name) {
    for (const auto& k : keys()) {
        if (k.info.name == name) return &k;
    }
    return nullptr;
}

bool is_section(std::string_view path) {
    for (const auto& k : keys()) {
        if (starts_with(k.info.name, std::string(path) + ".")) return true;
    }
    return false;
}

std::string suggestion_for(std::string_view unknown) {
    std::string best;
    std::size_t best_d = std::numeric_limits<std::size_t>::max();
    for (const auto& k : keys()) {
        if (k.info.repeated) continue;
        const std::size_t d = edit_distance(unknown, k.info.name);
        if (d < best_d) {
            best_d = d;
            best = k.info.name;
        }
    }
    if (best_d <= std::max<std::size_t>(2, unknown.size() / 5)) return best;
    // Same key name, wrong section ("session.threshold" -> "vad.threshold").
    const std::string leaf = leaf_of(unknown);
    for (const auto& k : keys()) {
        if (!k.info.repeated && leaf_of(k.info.name) == leaf) return k.info.name;
    }
    return {};
}

// ---- applying values --------------------------------------------------------------------------

/// Keys whose values are secrets: registered for redaction the moment they are seen.
void register_if_secret(const key_def& k, config& c) {
    if (!k.info.secret) return;
    if (k.info.name == "tools.lights.token") log::add_secret(c.tools.lights.token);
    if (k.info.name == "tools.email.password") log::add_secret(c.tools.email.password);
}

/// Inline instructions and an instructions file are alternatives: the later layer's choice wins.
void after_set(const key_def& k, loaded_config& out, const std::string& origin) {
    auto& s = out.cfg.session;
    if (k.info.name == "session.instructions" && !s.instructions.empty() &&
        !s.instructions_file.empty()) {
        s.instructions_file.clear();
        out.origins["session.instructions_file"] = origin + " (replaced by session.instructions)";
    } else if (k.info.name == "session.instructions_file" && !s.instructions_file.empty() &&
               !s.instructions.empty()) {
        s.instructions.clear();
        out.origins["session.instructions"] = origin + " (replaced by session.instructions_file)";
    }
}

void apply_text(loaded_config& out, const key_def& k, std::string_view value,
                const apply_context& ctx) {
    try {
        k.from_text(out.cfg, value, ctx);
    } catch (const value_error& e) {
        throw config_error(ctx.origin + ": " + k.info.name + " " + e.what());
    }
    register_if_secret(k, out.cfg);
    out.origins[k.info.name] = ctx.origin;
    after_set(k, out, ctx.origin);
}

std::string where(const fs::path& file, const toml::source_region& src) {
    return file.string() + ":" + std::to_string(src.begin.line) + ":" +
           std::to_string(src.begin.column);
}

/// Unknown keys with their position, reported together in file order.
using unknown_list = std::vector<std::pair<toml::source_position, std::string>>;

tools::command_tool_settings read_command(const toml::table& t, const fs::path& file,
                                          unknown_list& unknown) {
    tools::command_tool_settings cmd;
    auto fail = [&](const toml::node& n, const std::string& key, const std::string& msg) {
        throw config_error(where(file, n.source()) + ": tools.command." + key + " " + msg);
    };
    for (const auto& [key, node] : t) {
        const std::string name(key.str());
        try {
            if (name == "name") {
                cmd.name = toml_string(node);
                const bool ok = !cmd.name.empty() && cmd.name.size() <= 64 && bare_key_ok(cmd.name);
                if (!ok) throw value_error("must be 1-64 letters, digits, '_' or '-'");
            } else if (name == "description") {
                cmd.description = toml_string(node);
            } else if (name == "parameters") {
                cmd.parameters_json = toml_string(node);
                const auto j = nlohmann::json::parse(cmd.parameters_json, nullptr, false);
                if (j.is_discarded() || !j.is_object()) {
                    throw value_error("must be a JSON Schema object in a string");
                }
            } else if (name == "argv") {
                const auto* arr = node.as_array();
                if (arr == nullptr) throw value_error("must be an array of strings");
                cmd.argv.clear();
                for (const auto& e : *arr) {
                    if (e.as_string() == nullptr) throw value_error("must be an array of strings");
                    cmd.argv.push_back(e.as_string()->get());
                }
                if (cmd.argv.empty()) throw value_error("must name a program");
            } else if (name == "timeout_ms") {
                const auto v = toml_int(node);
                if (v < 1 || v > max_ms) throw value_error("must be between 1 and 86400000");
                cmd.timeout = milliseconds(v);
            } else if (name == "max_output_bytes") {
                const auto v = toml_int(node);
                if (v < 1 || v > std::numeric_limits<std::int32_t>::max()) {
                    throw value_error("must be a positive number of bytes");
                }
                cmd.max_output_bytes = static_cast<std::size_t>(v);
            } else {
                unknown.emplace_back(
                    key.source().begin,
                    where(file, key.source()) + ": unknown key 'tools.command." + name + "'");
            }
        } catch (const value_error& e) {
            fail(node, name, e.what());
        }
    }
    if (cmd.name.empty() || cmd.argv.empty()) {
        throw config_error(where(file, t.source()) +
                           ": a [[tools.command]] needs at least name and argv");
    }
    return cmd;
}

void walk_table(loaded_config& out, const toml::table& table, const std::string& prefix,
                const fs::path& file, const apply_context& ctx, unknown_list& unknown) {
    for (const auto& [key, node] : table) {
        const std::string path =
            prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
        const std::string at = where(file, key.source());
        if (path == "tools.command") {
            const auto* arr = node.as_array();
            if (arr == nullptr || !arr->is_array_of_tables()) {
                throw config_error(at + ": tools.command must be an array of tables " +
                                   "([[tools.command]]), not " + toml_type_name(node));
            }
            std::vector<tools::command_tool_settings> cmds;
            std::set<std::string> names;
            for (const auto& e : *arr) {
                cmds.push_back(read_command(*e.as_table(), file, unknown));
                if (!names.insert(cmds.back().name).second) {
                    throw config_error(where(file, e.source()) + ": a [[tools.command]] named '" +
                                       cmds.back().name + "' is defined twice");
                }
            }
            out.cfg.tools.commands = std::move(cmds);
            out.origins["tools.command"] =
                ctx.origin + ":" + std::to_string(key.source().begin.line);
            continue;
        }
        const key_def* k = find_key(path);
        if (k != nullptr && !k->info.repeated) {
            try {
                k->from_toml(out.cfg, node, ctx);
            } catch (const value_error& e) {
                throw config_error(where(file, node.source()) + ": " + path + " " + e.what());
            }
            register_if_secret(*k, out.cfg);
            const std::string origin = ctx.origin + ":" + std::to_string(key.source().begin.line);
            out.origins[path] = origin;
            after_set(*k, out, origin);
            continue;
        }
        if (const auto* sub = node.as_table(); sub != nullptr && is_section(path)) {
            walk_table(out, *sub, path, file, ctx, unknown);
            continue;
        }
        if (leaf_of(path) == "api_key" || leaf_of(path) == "key") {
            throw config_error(at + ": '" + path +
                               "' is not read from config files (keys in files leak through "
                               "backups and dotfile repos); put the key in the environment, "
                               "e.g. OPENAI_API_KEY, or name the variable with "
                               "provider.api_key_env");
        }
        std::string msg = at + ": unknown key '" + path + "'";
        if (is_section(path)) {
            msg = at + ": '" + path + "' must be a table, not " + toml_type_name(node);
        } else if (const auto s = suggestion_for(path); !s.empty()) {
            msg += " (did you mean '" + s + "'?)";
        }
        unknown.emplace_back(key.source().begin, msg);
    }
}

void apply_file(loaded_config& out, const fs::path& file, const std::string& home) {
    std::string text;
    try {
        text = read_text_file(file);
    } catch (const value_error& e) {
        throw config_error(std::string("config file: ") + e.what());
    }
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
        throw config_error(where(file, e.source()) +
                           ": malformed TOML: " + std::string(e.description()));
    }
    // Both alternatives in one file is a contradiction, not a precedence question.
    const auto non_empty = [&](const char* path) {
        const auto* s = root.at_path(path).as_string();
        return s != nullptr && !s->get().empty();
    };
    if (non_empty("session.instructions") && non_empty("session.instructions_file")) {
        throw config_error(where(file, root.at_path("session.instructions_file").node()->source()) +
                           ": set either session.instructions or session.instructions_file, "
                           "not both");
    }
    apply_context ctx{"file " + file.string(), file.parent_path(), home};
    unknown_list unknown;
    walk_table(out, root, "", file, ctx, unknown);
    if (!unknown.empty()) {
        // toml++ iterates keys in sorted order; report them in file order.
        std::stable_sort(unknown.begin(), unknown.end(), [](const auto& a, const auto& b) {
            return std::pair(a.first.line, a.first.column) <
                   std::pair(b.first.line, b.first.column);
        });
        std::string msg;
        for (const auto& u : unknown) msg += (msg.empty() ? "" : "; ") + u.second;
        throw config_error(msg);
    }
    out.notes.push_back("config: read " + file.string());
}

// ---- .env -------------------------------------------------------------------------------------

struct dotenv_value {
    std::string value;
    int line = 0;
};

std::map<std::string, dotenv_value> read_dotenv(const fs::path& file,
                                                std::vector<std::string>& warnings) {
    std::map<std::string, dotenv_value> out;
    std::string text;
    try {
        text = read_text_file(file);
    } catch (const value_error& e) {
        throw config_error(std::string(".env: ") + e.what());
    }
    std::stringstream ss(text);
    std::string raw;
    int line = 0;
    while (std::getline(ss, raw)) {
        ++line;
        std::string l = trim(raw);
        if (l.empty() || l[0] == '#') continue;
        if (starts_with(l, "export ")) l = trim(l.substr(7));
        const auto eq = l.find('=');
        const std::string name = eq == std::string::npos ? std::string() : trim(l.substr(0, eq));
        if (eq == std::string::npos || name.empty() ||
            name.find_first_of(" \t\"'") != std::string::npos) {
            warnings.push_back(file.string() + ":" + std::to_string(line) +
                               ": ignoring a line that is not NAME=value");
            continue;
        }
        std::string v = trim(l.substr(eq + 1));
        if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'')) {
            const char q = v[0];
            const auto end = v.find(q, 1);
            if (end == std::string::npos) {
                warnings.push_back(file.string() + ":" + std::to_string(line) +
                                   ": ignoring a value with no closing quote");
                continue;
            }
            std::string inner = v.substr(1, end - 1);
            if (q == '"') {
                std::string unescaped;
                for (std::size_t i = 0; i < inner.size(); ++i) {
                    if (inner[i] == '\\' && i + 1 < inner.size()) {
                        const char n = inner[++i];
                        unescaped += n == 'n' ? '\n' : n == 't' ? '\t' : n;
                    } else {
                        unescaped += inner[i];
                    }
                }
                inner = std::move(unescaped);
            }
            v = std::move(inner);
        } else if (const auto hash = v.find(" #"); hash != std::string::npos) {
            v = trim(v.substr(0, hash));  // unquoted: a comment after whitespace
        }
        out[name] = {std::move(v), line};
    }
    return out;
}

/// The environment layer: real environment first, then .env.
class env_layer {
  public:
    env_layer(const config_sources& src, std::vector<std::string>& warnings) : env_(src.env) {
        if (src.dotenv_file) {
            std::error_code ec;
            if (fs::exists(*src.dotenv_file, ec)) {
                dotenv_ = read_dotenv(*src.dotenv_file, warnings);
                dotenv_path_ = src.dotenv_file->string();
            }
        }
    }

    /// The value and its origin; unset (and empty) variables count as absent.
    std::optional<std::pair<std::string, std::string>> get(const std::string& name) const {
        if (env_) {
            if (auto v = env_(name); v && !v->empty()) return std::pair{*v, "env " + name};
        }
        if (const auto it = dotenv_.find(name); it != dotenv_.end() && !it->second.value.empty()) {
            return std::pair{it->second.value,
                             dotenv_path_ + ":" + std::to_string(it->second.line) + " " + name};
        }
        return std::nullopt;
    }

    std::string raw(const std::string& name) const {
        if (env_) {
            if (auto v = env_(name)) return *v;
        }
        return {};
    }

    bool has_dotenv() const { return !dotenv_path_.empty(); }
    const std::string& dotenv_path() const { return dotenv_path_; }

  private:
    env_lookup env_;
    std::map<std::string, dotenv_value> dotenv_;
    std::string dotenv_path_;
};

struct env_mapping {
    const char* variable;
    const char* key;
    const char* fixed_value;  ///< when set, the variable's presence means this value
};

constexpr env_mapping env_mappings[] = {
    {"OPENAI_BASE_URL", "openai.base_url", nullptr},
    {"AZURE_OPENAI_ENDPOINT", "azure.endpoint", nullptr},
    {"AZURE_OPENAI_DEPLOYMENT", "azure.deployment", nullptr},
    {"https_proxy", "network.proxy", nullptr},  // lower case first: upper case wins when both
    {"HTTPS_PROXY", "network.proxy", nullptr},
    {"no_proxy", "network.no_proxy", nullptr},
    {"NO_PROXY", "network.no_proxy", nullptr},
    {"NO_COLOR", "ui.color", "false"},  // https://no-color.org: any non-empty value
    {"AVA_LOG_LEVEL", "logging.level", nullptr},
    {"HOME_ASSISTANT_TOKEN", "tools.lights.token", nullptr},
    {"AVA_SMTP_PASSWORD", "tools.email.password", nullptr},
};

// ---- checks after all layers ------------------------------------------------------------------

const std::set<std::string> known_voices = {"alloy", "ash",     "ballad", "coral", "echo",
                                            "sage",  "shimmer", "verse",  "marin", "cedar"};

std::string origin_of(const loaded_config& out, const std::string& key) {
    const auto it = out.origins.find(key);
    return it == out.origins.end() ? "default" : it->second;
}

void require_readable(const loaded_config& out, const std::string& key, const std::string& path) {
    if (path.empty()) return;
    try {
        std::FILE* f = nullptr;
        std::error_code ec;
        if (fs::is_directory(path, ec)) throw value_error("'" + path + "' is a directory");
        f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) throw value_error("cannot read '" + path + "': " + describe_errno(errno));
        std::fclose(f);
    } catch (const value_error& e) {
        throw config_error(origin_of(out, key) + ": " + key + " " + e.what());
    }
}

void require_parent_dir(const loaded_config& out, const std::string& key, const std::string& path) {
    if (path.empty()) return;
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        throw config_error(origin_of(out, key) + ": " + key + " '" + path + "' is a directory");
    }
    if (!parent.empty() && !fs::is_directory(parent, ec)) {
        throw config_error(origin_of(out, key) + ": " + key + " cannot write '" + path +
                           "': directory '" + parent.string() + "' does not exist");
    }
}

void finish(loaded_config& out) {
    config& c = out.cfg;
    require_readable(out, "session.instructions_file", c.session.instructions_file);
    require_readable(out, "headless.input_wav", c.headless.input_wav);
    require_readable(out, "sim.scenario", c.sim.scenario);
    require_readable(out, "network.ca_file", c.network.ca_file);
    require_readable(out, "tools.http.ca_file", c.tools.http.ca_file);
    if (c.tools.calendar.enabled && !is_url(c.tools.calendar.source)) {
        require_readable(out, "tools.calendar.source", c.tools.calendar.source);
    }
    require_parent_dir(out, "headless.output_wav", c.headless.output_wav);
    require_parent_dir(out, "headless.record_wav", c.headless.record_wav);
    require_parent_dir(out, "headless.events_jsonl", c.headless.events_jsonl);
    require_parent_dir(out, "logging.file", c.logging.file);

    if (c.reconnect.initial_backoff > c.reconnect.max_backoff) {
        throw config_error(origin_of(out, "reconnect.initial_backoff_ms") +
                           ": reconnect.initial_backoff_ms (" +
                           std::to_string(c.reconnect.initial_backoff.count()) +
                           ") is larger than reconnect.max_backoff_ms (" +
                           std::to_string(c.reconnect.max_backoff.count()) + ")");
    }

    if (!c.session.instructions_file.empty()) {
        try {
            c.session.resolved_instructions = read_text_file(c.session.instructions_file);
        } catch (const value_error& e) {
            throw config_error(origin_of(out, "session.instructions_file") +
                               ": session.instructions_file " + e.what());
        }
    } else if (!c.session.instructions.empty()) {
        c.session.resolved_instructions = c.session.instructions;
    } else {
        c.session.resolved_instructions = std::string(default_instructions());
    }

    if (known_voices.count(c.session.voice) == 0 && !starts_with(c.session.voice, "voice_")) {
        out.warnings.push_back("voice '" + c.session.voice +
                               "' is not a built-in voice (alloy, ash, ballad, coral, echo, sage, "
                               "shimmer, verse, marin, cedar); using it as a custom voice");
    }
    if (c.network.insecure_skip_verify) {
        out.warnings.push_back(
            "TLS CERTIFICATE VERIFICATION IS OFF (network.insecure_skip_verify, from " +
            origin_of(out, "network.insecure_skip_verify") +
            "): anyone on the network path can read your API key and conversation. Use "
            "--ca-file for a private CA instead.");
    }
    if (c.provider.kind == provider_kind::azure && c.provider.endpoint.empty() &&
        c.azure.endpoint.empty()) {
        out.warnings.push_back(
            "provider azure has no endpoint: set AZURE_OPENAI_ENDPOINT or azure.endpoint");
    }
    if (c.tools.lights.enabled && c.tools.lights.token.empty()) {
        out.warnings.push_back("tools.lights is enabled but has no token (HOME_ASSISTANT_TOKEN)");
    }
    if (c.tools.email.enabled && !c.tools.email.require_tls) {
        out.warnings.push_back("tools.email.require_tls is off: mail may be sent in clear text");
    }
}

std::string url_encode(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += c;
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned>(u));
            out += buf;
        }
    }
    return out;
}

std::string to_ws(std::string url) {
    if (starts_with(lower(url), "https://")) url = "wss://" + url.substr(8);
    if (starts_with(lower(url), "http://")) url = "ws://" + url.substr(7);
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

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

std::string_view default_instructions() {
    return generated::default_instructions;
}

std::string config::realtime_url() const {
    if (!provider.endpoint.empty()) return provider.endpoint;
    switch (provider.kind) {
        case provider_kind::openai: {
            std::string base = to_ws(openai.base_url);
            if (base.size() < 9 || base.substr(base.size() - 9) != "/realtime") base += "/realtime";
            return base + "?model=" + url_encode(provider.model);
        }
        case provider_kind::azure: {
            if (azure.endpoint.empty()) return {};
            const std::string& deployment =
                azure.deployment.empty() ? provider.model : azure.deployment;
            return to_ws(azure.endpoint) + "/openai/v1/realtime?model=" + url_encode(deployment);
        }
        case provider_kind::sim:
            return {};
    }
    return {};
}

std::string config::api_key_variable() const {
    if (!provider.api_key_env.empty()) return provider.api_key_env;
    return provider.kind == provider_kind::azure ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY";
}

env_lookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
}

std::optional<fs::path> default_config_path(const env_lookup& env) {
    const auto get = [&](const char* n) -> std::string {
        if (!env) return {};
        auto v = env(n);
        return v ? *v : std::string();
    };
#if defined(_WIN32)
    const std::string appdata = get("APPDATA");
    if (appdata.empty()) return std::nullopt;
    return fs::path(appdata) / "ava-voice" / "config.toml";
#elif defined(__APPLE__)
    const std::string home = get("HOME");
    if (home.empty()) return std::nullopt;
    return fs::path(home) / "Library" / "Application Support" / "ava-voice" / "config.toml";
#else
    // XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    const std::string xdg = get("XDG_CONFIG_HOME");
    if (!xdg.empty() && fs::path(xdg).is_absolute()) {
        return fs::path(xdg) / "ava-voice" / "config.toml";
    }
    const std::string home = get("HOME");
    if (home.empty()) return std::nullopt;
    return fs::path(home) / ".config" / "ava-voice" / "config.toml";
#endif
}

const std::vector<key_info>& known_keys() {
    static const std::vector<key_info> infos = [] {
        std::vector<key_info> v;
        for (const auto& k : keys()) v.push_back(k.info);
        return v;
    }();
    return infos;
}

loaded_config load_config(const config_sources& sources) {
    loaded_config out;
    for (const auto& k : keys()) out.origins[k.info.name] = "default";
    out.origins["tools.command"] = "default";
    std::string home;
    if (sources.env) home = sources.env("HOME").value_or("");

    // Layer 1: the TOML file.
    if (sources.explicit_file) {
        std::error_code ec;
        if (!fs::exists(*sources.explicit_file, ec)) {
            throw config_error("--config: '" + sources.explicit_file->string() +
                               "' does not exist");
        }
        apply_file(out, *sources.explicit_file, home);
    } else if (sources.user_file) {
        std::error_code ec;
        if (fs::exists(*sources.user_file, ec)) {
            apply_file(out, *sources.user_file, home);
        } else {
            out.notes.push_back("config: no user config at " + sources.user_file->string());
        }
    }

    // Layer 2: the environment (real first, then .env).
    env_layer env(sources, out.warnings);
    if (env.has_dotenv()) out.notes.push_back("config: read " + env.dotenv_path());
    // Every key-like variable is a secret whether or not this run uses it.
    for (const char* v : {"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "HOME_ASSISTANT_TOKEN",
                          "AVA_SMTP_PASSWORD", "GEMINI_API_KEY"}) {
        if (auto got = env.get(v)) log::add_secret(got->first);
    }
    for (const auto& m : env_mappings) {
        const auto got = env.get(m.variable);
        if (!got) continue;
        const key_def* k = find_key(m.key);
        apply_text(out, *k, m.fixed_value != nullptr ? m.fixed_value : got->first,
                   apply_context{got->second, {}, home});
    }

    // Layer 3: flags.
    for (const auto& f : sources.flags) {
        const key_def* k = find_key(f.key);
        if (k == nullptr || k->info.repeated) {
            std::string msg = f.origin + ": unknown key '" + f.key + "'";
            if (const auto s = suggestion_for(f.key); !s.empty()) {
                msg += " (did you mean '" + s + "'?)";
            }
            throw config_error(msg);
        }
        apply_text(out, *k, f.value, apply_context{f.origin, {}, home});
    }

    // The API key: only ever from the environment, from the variable chosen above.
    const std::string var = out.cfg.api_key_variable();
    if (auto got = env.get(var)) {
        out.cfg.provider.api_key = got->first;
        log::add_secret(out.cfg.provider.api_key);
        out.origins["provider.api_key"] = got->second;
    } else {
        out.origins["provider.api_key"] = "not set";
        if (out.cfg.provider.kind != provider_kind::sim) {
            out.notes.push_back("config: no API key in " + var);
        }
    }

    finish(out);
    return out;
}

std::string to_toml(const loaded_config& loaded, bool with_origins) {
    config c = loaded.cfg;  // the accessors take a mutable config
    std::ostringstream os;
    const auto origin = [&](const std::string& key) {
        const auto it = loaded.origins.find(key);
        return it == loaded.origins.end() ? std::string("default") : it->second;
    };
    const auto emit = [&](const std::string& line, const std::string& key) {
        os << line;
        if (with_origins) os << "  # " << origin(key);
        os << '\n';
    };

    os << "# ava-voice effective configuration. Secrets are shown as [redacted].\n";
    const std::string url = c.realtime_url();
    os << "# realtime URL: " << (url.empty() ? "(in-process simulator)" : url) << '\n';
    os << "# API key (" << c.api_key_variable()
       << "): " << (c.provider.api_key.empty() ? "(not set)" : "[redacted]");
    if (with_origins && !c.provider.api_key.empty()) {
        os << "  # " << origin("provider.api_key");
    }
    os << '\n';

    std::string section = "\x01";
    for (const auto& k : keys()) {
        if (k.info.repeated) continue;
        if (k.info.map) {
            os << "\n[" << k.info.name << "]";
            if (with_origins) os << "  # " << origin(k.info.name);
            os << '\n';
            for (const auto& [name, addr] : c.tools.email.address_book) {
                os << toml_key(name) << " = " << toml_quote(addr) << '\n';
            }
            section = k.info.name;
            continue;
        }
        const std::string sec = section_of(k.info.name);
        if (sec != section) {
            os << "\n[" << sec << "]\n";
            section = sec;
        }
        std::string value = k.print(c);
        if (k.info.secret && value != "\"\"") value = "\"[redacted]\"";
        if (k.info.secret && value == "\"\"" && with_origins) {
            os << leaf_of(k.info.name) << " = \"\"  # (not set) " << origin(k.info.name) << '\n';
            continue;
        }
        emit(leaf_of(k.info.name) + " = " + value, k.info.name);
    }

    if (c.tools.commands.empty()) {
        os << "\n# [[tools.command]]: none";
        if (with_origins) os << "  # " << origin("tools.command");
        os << '\n';
    }
    for (const auto& cmd : c.tools.commands) {
        os << "\n[[tools.command]]";
        if (with_origins) os << "  # " << origin("tools.command");
        os << '\n';
        os << "name = " << toml_quote(cmd.name) << '\n';
        os << "description = " << toml_quote(cmd.description) << '\n';
        os << "parameters = " << toml_quote(cmd.parameters_json) << '\n';
        os << "argv = [";
        for (std::size_t i = 0; i < cmd.argv.size(); ++i) {
            os << (i ? ", " : "") << toml_quote(cmd.argv[i]);
        }
        os << "]\n";
        os << "timeout_ms = " << cmd.timeout.count() << '\n';
        os << "max_output_bytes = " << cmd.max_output_bytes << '\n';
    }
    return os.str();
}

}  // namespace ava::app
