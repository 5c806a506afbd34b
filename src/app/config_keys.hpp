// Config loader internals (private to src/app): the one table of keys that drives parsing (TOML,
// environment, flags), validation, unknown-key detection and printing, so the four can never
// disagree about what a key is; and reading TOML nodes. Startup, main thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "ava/app/config.hpp"
#include "config_values.hpp"

namespace ava::app::detail {

/// Where the value being applied comes from; relative paths in a file are relative to it.
struct apply_context {
    std::string origin;
    std::filesystem::path base_dir;  ///< empty: the working directory
    std::string home;                ///< for "~/" expansion
};

struct key_def {
    key_info info;
    std::function<void(config&, const toml::node&, const apply_context&)> from_toml;
    std::function<void(config&, std::string_view, const apply_context&)> from_text;
    std::function<std::string(config&)> print;  ///< the value as a TOML literal
};

/// Every key, in file order (the order of config/ava-voice.example.toml).
const std::vector<key_def>& keys();
/// The key named `name`, or nullptr.
const key_def* find_key(std::string_view name);
/// True when `path` is a table that holds keys ("vad", "tools.email").
bool is_section(std::string_view path);
/// The known key `unknown` was probably meant to be, or "".
std::string suggestion_for(std::string_view unknown);

// ---- TOML nodes -------------------------------------------------------------------------------

/// "a string", "an integer", ... for error messages.
std::string toml_type_name(const toml::node& n);
const std::string& toml_string(const toml::node& n);
std::int64_t toml_int(const toml::node& n);
double toml_double(const toml::node& n);
/// A path from config: "~/" expands to HOME, and a relative path is relative to the file's dir.
std::string expand_path(std::string_view raw, const apply_context& ctx);

}  // namespace ava::app::detail
