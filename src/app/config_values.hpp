// Config loader internals (private to src/app): the value error, small text helpers, TOML
// literals, reading a file, text values (flags, environment) and the enum names as they appear in
// config files. Used by the loader's parts only; startup, main thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ava/app/config.hpp"
#include "ava/core/text.hpp"

namespace ava::app::detail {

/// A value that does not fit its key. The caller adds where it came from and which key.
class value_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// ---- small text helpers -----------------------------------------------------------------------

bool starts_with(std::string_view s, std::string_view prefix);
/// `s` as a TOML basic string literal, quotes included.
std::string toml_quote(std::string_view s);
/// True when `k` can be a bare TOML key (letters, digits, '_', '-').
bool bare_key_ok(std::string_view k);
/// `k` as a TOML key: bare when it can be, quoted otherwise.
std::string toml_key(std::string_view k);
/// `v` as a TOML float (always with a dot or an exponent).
std::string format_double(double v);
/// "b" of "a.b" (the whole text when it has no dot).
std::string leaf_of(std::string_view dotted);
/// "a" of "a.b" (empty when it has no dot).
std::string section_of(std::string_view dotted);
std::string describe_errno(int err);
/// Reads a whole file; throws value_error naming the problem (missing, a directory, no access).
/// The password of "scheme://user:password@host...", or "" when it has none.
std::string url_password(std::string_view url);

/// The most read_text_file() takes by default: a config, .env or instructions file is a few KB.
inline constexpr std::size_t max_text_file_bytes = 1024 * 1024;
std::string read_text_file(const std::filesystem::path& p,
                           std::size_t max_bytes = max_text_file_bytes);
bool is_url(std::string_view s);
/// Throws value_error unless `v` is empty or starts with one of `schemes` + "://".
void check_scheme(std::string_view v, std::initializer_list<std::string_view> schemes);

// ---- text values (flags, environment, .env) ---------------------------------------------------

bool text_bool(std::string_view text);
std::int64_t text_int(std::string_view text);
double text_double(std::string_view text);

/// The largest duration any key accepts: a day; anything above is a typo.
inline constexpr std::int64_t max_ms = 24LL * 3600 * 1000;

// ---- enum names -------------------------------------------------------------------------------

template <class E>
struct enum_name {
    std::string_view name;
    E value;
};

inline constexpr enum_name<provider_kind> provider_names[] = {{"openai", provider_kind::openai},
                                                              {"azure", provider_kind::azure},
                                                              {"sim", provider_kind::sim}};
inline constexpr enum_name<vad_kind> vad_names[] = {
    {"server", vad_kind::server},     {"semantic", vad_kind::semantic},
    {"manual", vad_kind::manual},     {"none", vad_kind::manual},
    {"server_vad", vad_kind::server}, {"semantic_vad", vad_kind::semantic}};
inline constexpr enum_name<vad_eagerness> eagerness_names[] = {{"auto", vad_eagerness::automatic},
                                                               {"low", vad_eagerness::low},
                                                               {"medium", vad_eagerness::medium},
                                                               {"high", vad_eagerness::high}};
inline constexpr enum_name<noise_reduction_kind> noise_names[] = {
    {"near_field", noise_reduction_kind::near_field},
    {"far_field", noise_reduction_kind::far_field},
    {"off", noise_reduction_kind::off},
    {"none", noise_reduction_kind::off}};
inline constexpr enum_name<output_modality> modality_names[] = {{"audio", output_modality::audio},
                                                                {"text", output_modality::text}};
inline constexpr enum_name<tools::approval_mode> approval_names[] = {
    {"auto", tools::approval_mode::automatic},
    {"terminal", tools::approval_mode::terminal},
    {"voice", tools::approval_mode::voice}};
inline constexpr enum_name<echo_mode> echo_names[] = {{"auto", echo_mode::automatic},
                                                      {"aec", echo_mode::aec},
                                                      {"gate", echo_mode::gate},
                                                      {"half_duplex", echo_mode::gate},
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
    const std::string t = core::ascii_lower(core::trim(text));
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

}  // namespace ava::app::detail
