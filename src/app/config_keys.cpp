// Config loader internals: the one table of keys (TOML, text, printing) and lookups in it. See
// config_keys.hpp.
#include "config_keys.hpp"

#include "ava/audio/echo_room.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

namespace ava::app {
namespace detail {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

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
            if (const auto v = core::trim(item); !v.empty()) out.emplace_back(v);
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
/// HOST:PORT or [IPv6]:PORT, the host an IP address or "localhost", the port 0..65535.
void check_listen(const std::string& v) {
    if (!split_listen(v)) {
        throw value_error(
            "must be HOST:PORT with an IP address (127.0.0.1:8000, 0.0.0.0:8000, "
            "[::1]:8000), got '" +
            v + "'");
    }
}
void check_units(const std::string& v) {
    if (v != "metric" && v != "imperial") {
        throw value_error("has unknown units '" + v + "' (use metric or imperial)");
    }
}
void check_room(const std::string& v) {
    if (v.empty()) return;
    try {
        (void)audio::parse_echo_room(v);
    } catch (const std::invalid_argument& e) {
        throw value_error(e.what());
    }
}

void check_env_name(const std::string& v) {
    const bool ok = std::all_of(v.begin(), v.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
    if (!ok) throw value_error("must be an environment variable name, not '" + v + "'");
}
void check_language(const std::string& v) {
    // ISO-639-1 (or -3), optionally with a region: en, de, pt-BR, yue.
    const std::size_t dash = v.find('-');
    const std::string base = v.substr(0, dash);
    const bool ok = v.empty() || (base.size() >= 2 && base.size() <= 3 &&
                                  std::all_of(base.begin(), base.end(),
                                              [](char c) { return c >= 'a' && c <= 'z'; }) &&
                                  (dash == std::string::npos || v.size() - dash - 1 >= 2));
    if (!ok) {
        throw value_error(
            "must be a language code such as en, de or pt-BR (ISO-639-1, lower "
            "case), not '" +
            v + "'");
    }
}
void check_not_blank(const std::string& v) {
    if (core::trim(v).empty()) throw value_error("must not be empty");
}

// Key fields of one [[tools.command]] entry (validated when the entry is read).
const std::vector<std::string> command_fields = {
    "name",       "description",      "parameters",      "argv",
    "timeout_ms", "max_output_bytes", "require_approval"};
// Key fields of one [[tools.mcp]] entry.
const std::vector<std::string> mcp_fields = {
    "name",       "command",         "env", "cwd", "enabled", "allow", "deny", "require_approval",
    "timeout_ms", "start_timeout_ms"};

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
    k.push_back(double_key("session.max_cost_usd", AVA_FIELD(session.max_cost_usd), 0, 1e6));

    k.push_back(enum_key("vad.type", AVA_FIELD(vad.type), vad_names));
    k.push_back(double_key("vad.threshold", AVA_FIELD(vad.threshold), 0.0, 1.0));
    k.push_back(int_key("vad.prefix_padding_ms", AVA_FIELD(vad.prefix_padding), 0, 10000));
    k.push_back(int_key("vad.silence_duration_ms", AVA_FIELD(vad.silence_duration), 0, 10000));
    k.push_back(enum_key("vad.eagerness", AVA_FIELD(vad.eagerness), eagerness_names));
    k.push_back(bool_key("vad.create_response", AVA_FIELD(vad.create_response)));
    k.push_back(bool_key("vad.interrupt_response", AVA_FIELD(vad.interrupt_response)));
    k.push_back(int_key("vad.idle_timeout_ms", AVA_FIELD(vad.idle_timeout), 0, max_ms));

    k.push_back(string_key("transcription.model", AVA_FIELD(transcription.model)));
    k.push_back(
        string_key("transcription.language", AVA_FIELD(transcription.language), check_language));

    k.push_back(string_key("audio.input_device", AVA_FIELD(audio.input_device)));
    k.push_back(string_key("audio.output_device", AVA_FIELD(audio.output_device)));
    k.push_back(int_key("audio.frame_ms", AVA_FIELD(audio.frame), 5, 100));
    k.push_back(int_key("audio.playback_start_ms", AVA_FIELD(audio.playback_start), 0, 2000));
    k.push_back(int_key("audio.period_ms", AVA_FIELD(audio.period), 0, 100));
    k.push_back(enum_key("audio.echo", AVA_FIELD(audio.echo), echo_names));
    k.push_back(bool_key("audio.noise", AVA_FIELD(audio.noise)));
    k.push_back(bool_key("audio.gain", AVA_FIELD(audio.gain)));
    k.push_back(bool_key("audio.high_pass", AVA_FIELD(audio.high_pass)));
    k.push_back(string_key("audio.room", AVA_FIELD(audio.room), check_room));
    k.push_back(bool_key("audio.local_barge_in", AVA_FIELD(audio.local_barge_in)));
    k.push_back(int_key("audio.barge_in_window_ms", AVA_FIELD(audio.barge_in_window), 100, 5000));
    k.push_back(
        int_key("audio.barge_in_min_speech_ms", AVA_FIELD(audio.barge_in_min_speech), 0, 3000));

    k.push_back(path_key("headless.input_wav", AVA_FIELD(headless.input_wav)));
    k.push_back(path_key("headless.output_wav", AVA_FIELD(headless.output_wav)));
    k.push_back(path_key("headless.record_wav", AVA_FIELD(headless.record_wav)));
    k.push_back(path_key("headless.events_jsonl", AVA_FIELD(headless.events_jsonl)));
    k.push_back(bool_key("headless.fast", AVA_FIELD(headless.fast)));

    k.push_back(path_key("history.db", AVA_FIELD(history.db)));
    k.push_back(bool_key("history.incognito", AVA_FIELD(history.incognito)));
    k.push_back(bool_key("history.store_tool_arguments", AVA_FIELD(history.store_tool_arguments)));
    k.push_back(bool_key("history.store_email_bodies", AVA_FIELD(history.store_email_bodies)));
    k.push_back(bool_key("memory.enabled", AVA_FIELD(memory.enabled)));
    k.push_back(int_key("memory.seed_tokens", AVA_FIELD(memory.seed_tokens), 0, 100000));
    k.push_back(int_key("context.keep_turns", AVA_FIELD(context.keep_turns), 0, 10000));

    k.push_back(string_key("serve.listen", AVA_FIELD(serve.listen), check_listen));
    k.push_back(string_key("serve.token", AVA_FIELD(serve.token), nullptr, true));
    k.push_back(list_key("serve.allowed_origins", AVA_FIELD(serve.allowed_origins)));
    k.push_back(int_key("serve.max_sessions", AVA_FIELD(serve.max_sessions), 1, 10000));
    k.push_back(path_key("serve.tls_cert", AVA_FIELD(serve.tls_cert)));
    k.push_back(path_key("serve.tls_key", AVA_FIELD(serve.tls_key)));
    k.push_back(path_key("serve.console_dir", AVA_FIELD(serve.console_dir)));

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
    k.push_back(bool_key("network.allow_plain_ws", AVA_FIELD(network.allow_plain_ws)));
    k.push_back(string_key("network.proxy", AVA_FIELD(network.proxy), check_proxy));
    k.push_back(string_key("network.no_proxy", AVA_FIELD(network.no_proxy)));
    k.push_back(
        int_key("network.connect_timeout_ms", AVA_FIELD(network.connect_timeout), 1, max_ms));
    k.push_back(int_key("network.ping_interval_ms", AVA_FIELD(network.ping_interval), 0, max_ms));

    k.push_back(int_key("tools.timeout_ms", AVA_FIELD(tools.default_timeout), 1, max_ms));
    k.push_back(list_key("tools.require_approval", AVA_FIELD(tools.require_approval)));
    k.push_back(enum_key("tools.approval", AVA_FIELD(tools.approval), approval_names));
    k.push_back(
        int_key("tools.approval_timeout_ms", AVA_FIELD(tools.approval_timeout), 1000, max_ms));
    k.push_back(int_key("tools.filler_after_ms", AVA_FIELD(tools.filler_after), 0, 60000));
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

    // The fields of [[tools.command]] and [[tools.mcp]] entries: known names, but only settable
    // inside their entry (config_file.cpp reads them).
    const auto entry_fields = [&k](const std::string& table,
                                   const std::vector<std::string>& fields) {
        for (const auto& f : fields) {
            key_def field;
            field.info = {table + "." + f, false, true, false};
            field.from_toml = [](config&, const toml::node&, const apply_context&) {};
            field.from_text = [table](config&, std::string_view, const apply_context&) {
                throw value_error("belongs to a [[" + table +
                                  "]] entry; set it in the config file");
            };
            field.print = [](config&) { return std::string(); };
            k.push_back(std::move(field));
        }
    };
    entry_fields("tools.command", command_fields);
    entry_fields("tools.mcp", mcp_fields);
    return k;
}

#undef AVA_FIELD

}  // namespace

std::string expand_path(std::string_view raw, const apply_context& ctx) {
    std::string v(raw);
    if (v.empty()) return v;
    if ((v == "~" || starts_with(v, "~/")) && !ctx.home.empty()) v = ctx.home + v.substr(1);
    if (!ctx.base_dir.empty() && fs::path(v).is_relative()) v = (ctx.base_dir / v).string();
    return v;
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

const std::vector<key_def>& keys() {
    static const std::vector<key_def> table = build_keys();
    return table;
}

namespace {
/// The echo issue's spelling, `[audio.processing]` with echo, noise, gain and high_pass: the
/// same settings as those keys in [audio] (one key each; printed in [audio]).
constexpr std::string_view processing_prefix = "audio.processing.";
std::string_view processing_alias(std::string_view name) {
    if (!starts_with(std::string(name), std::string(processing_prefix))) return {};
    const std::string_view leaf = name.substr(processing_prefix.size());
    return leaf == "echo" || leaf == "noise" || leaf == "gain" || leaf == "high_pass" ? leaf : "";
}
}  // namespace

const key_def* find_key(std::string_view name) {
    if (const std::string_view leaf = processing_alias(name); !leaf.empty()) {
        return find_key("audio." + std::string(leaf));
    }
    for (const auto& k : keys()) {
        if (k.info.name == name) return &k;
    }
    return nullptr;
}

bool is_section(std::string_view path) {
    if (path == "audio.processing") return true;
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

}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

using namespace detail;

const std::vector<key_info>& known_keys() {
    static const std::vector<key_info> infos = [] {
        std::vector<key_info> v;
        for (const auto& k : keys()) v.push_back(k.info);
        return v;
    }();
    return infos;
}

}  // namespace ava::app
