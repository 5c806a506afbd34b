// The environment layer: the real environment, then a .env file, mapped onto keys; and the
// platform's user config path.
#include <cstdlib>
#include <sstream>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "config_keys.hpp"
#include "config_layers.hpp"

namespace ava::app {

namespace fs = std::filesystem;

namespace detail {

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
        std::string l(core::trim(raw));
        if (l.empty() || l[0] == '#') continue;
        if (starts_with(l, "export ")) l = std::string(core::trim(l.substr(7)));
        const auto eq = l.find('=');
        const std::string name =
            eq == std::string::npos ? std::string() : std::string(core::trim(l.substr(0, eq)));
        if (eq == std::string::npos || name.empty() ||
            name.find_first_of(" \t\"'") != std::string::npos) {
            warnings.push_back(file.string() + ":" + std::to_string(line) +
                               ": ignoring a line that is not NAME=value");
            continue;
        }
        std::string v(core::trim(l.substr(eq + 1)));
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
            v = std::string(core::trim(v.substr(0, hash)));  // unquoted: a comment after whitespace
        }
        out[name] = {std::move(v), line};
    }
    return out;
}

namespace {

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
    {"AVA_SERVE_TOKEN", "serve.token", nullptr},
};

}  // namespace

void apply_env(loaded_config& out, const env_layer& env, const std::string& home) {
    // Every key-like variable is a secret whether or not this run uses it.
    for (const char* v : {"OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "HOME_ASSISTANT_TOKEN",
                          "AVA_SMTP_PASSWORD", "GEMINI_API_KEY", "AVA_SERVE_TOKEN"}) {
        if (auto got = env.get(v)) log::add_secret(got->first);
    }
    for (const auto& m : env_mappings) {
        const auto got = env.get(m.variable);
        if (!got) continue;
        const key_def* k = find_key(m.key);
        apply_text(out, *k, m.fixed_value != nullptr ? m.fixed_value : got->first,
                   apply_context{got->second, {}, home});
    }
}

void pass_on_environment(config& c, const env_lookup& env) {
    if (!env) return;
    c.environment.samples_dir = env("AVA_SAMPLES_DIR");
    if (const auto dir = default_data_dir(env)) c.environment.data_dir = dir->string();
    for (const char* v : {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                          "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
        if (auto got = env(v); got && !got->empty()) c.environment.proxy_variables[v] = *got;
    }
}

}  // namespace detail

// ---- public API -------------------------------------------------------------------------------

env_lookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    };
}

namespace {

/// The platform's per-user directory for ava-voice's config (data = false) or data files:
/// XDG_CONFIG_HOME / XDG_DATA_HOME (~/.config, ~/.local/share) on Linux, ~/Library/Application
/// Support on macOS, %APPDATA% on Windows. nullopt when no base dir is known.
std::optional<fs::path> platform_dir(const env_lookup& env, bool data) {
    const auto get = [&](const char* n) -> std::string {
        if (!env) return {};
        auto v = env(n);
        return v ? *v : std::string();
    };
#if defined(_WIN32)
    (void)data;
    const std::string appdata = get("APPDATA");
    if (appdata.empty()) return std::nullopt;
    return fs::path(appdata) / "ava-voice";
#elif defined(__APPLE__)
    (void)data;
    const std::string home = get("HOME");
    if (home.empty()) return std::nullopt;
    return fs::path(home) / "Library" / "Application Support" / "ava-voice";
#else
    // XDG Base Directory spec: a relative XDG_*_HOME is invalid and must be ignored.
    const std::string xdg = get(data ? "XDG_DATA_HOME" : "XDG_CONFIG_HOME");
    if (!xdg.empty() && fs::path(xdg).is_absolute()) return fs::path(xdg) / "ava-voice";
    const std::string home = get("HOME");
    if (home.empty()) return std::nullopt;
    return data ? fs::path(home) / ".local" / "share" / "ava-voice"
                : fs::path(home) / ".config" / "ava-voice";
#endif
}

}  // namespace

std::optional<fs::path> default_config_path(const env_lookup& env) {
    if (auto dir = platform_dir(env, false)) return *dir / "config.toml";
    return std::nullopt;
}

std::optional<fs::path> default_data_dir(const env_lookup& env) {
    return platform_dir(env, true);
}

}  // namespace ava::app
