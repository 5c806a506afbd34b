// Config loader internals (private to src/app): the layers and what applies a value. The file
// layer is in config_file.cpp, the environment layer in config_env.cpp, the checks after all
// layers in config_checks.cpp, applying one value in config.cpp. Startup, main thread.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ava/app/config.hpp"
#include "config_keys.hpp"

namespace ava::app::detail {

// ---- applying values (config.cpp) -------------------------------------------------------------

/// Keys whose values are secrets: registered for redaction the moment they are seen.
void register_if_secret(const key_def& k, config& c);
/// Inline instructions and an instructions file are alternatives: the later layer's choice wins.
void after_set(const key_def& k, loaded_config& out, const std::string& origin);
/// Applies `value` (text, as from a flag or the environment) to `k` and records its origin.
void apply_text(loaded_config& out, const key_def& k, std::string_view value,
                const apply_context& ctx);

// ---- the file layer (config_file.cpp) ---------------------------------------------------------

/// Applies the TOML file `file`; throws config_error for malformed TOML, bad values and unknown
/// keys (all unknown keys in one message, in file order).
void apply_file(loaded_config& out, const std::filesystem::path& file, const std::string& home);

// ---- the environment layer (config_env.cpp) ---------------------------------------------------

struct dotenv_value {
    std::string value;
    int line = 0;
};

std::map<std::string, dotenv_value> read_dotenv(const std::filesystem::path& file,
                                                std::vector<std::string>& warnings);

/// The environment layer: real environment first, then .env.
class env_layer {
  public:
    env_layer(const config_sources& src, std::vector<std::string>& warnings) : env_(src.env) {
        if (src.dotenv_file) {
            std::error_code ec;
            if (std::filesystem::exists(*src.dotenv_file, ec)) {
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

    bool has_dotenv() const { return !dotenv_path_.empty(); }
    const std::string& dotenv_path() const { return dotenv_path_; }

  private:
    env_lookup env_;
    std::map<std::string, dotenv_value> dotenv_;
    std::string dotenv_path_;
};

/// Applies the mapped variables (env_mappings in config_env.cpp) and registers every key-like
/// variable as a secret.
void apply_env(loaded_config& out, const env_layer& env, const std::string& home);

/// Fills c.environment (values that are not keys) from the real environment `env`.
void pass_on_environment(config& c, const env_lookup& env);

// ---- after all layers (config_checks.cpp) -----------------------------------------------------

/// Checks files and combinations, resolves the system prompt and collects the warnings.
void finish(loaded_config& out);

}  // namespace ava::app::detail
