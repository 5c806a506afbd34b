// The config loader: one table of keys drives parsing (TOML, environment, flags), validation,
// unknown-key detection and printing, so the four can never disagree about what a key is.
//
// Runs once on the main thread at startup; nothing here is used by the audio callback.
//
// The loader's parts: config_values (text helpers, TOML literals, enum names), config_keys (the
// key table), config_file (the TOML file layer), config_env (the environment and .env),
// config_checks (checks and warnings after all layers), config_print (--print-config). This file
// holds the layering itself and the URL derived from a config.
#include "ava/app/config.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <system_error>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "ava_app_generated.hpp"
#include "config_keys.hpp"
#include "config_layers.hpp"
#include "config_values.hpp"

namespace ava::app {
namespace detail {

// ---- applying values --------------------------------------------------------------------------

/// Keys whose values are secrets: registered for redaction the moment they are seen.
void register_if_secret(const key_def& k, config& c) {
    // A proxy URL is not secret, but its password is ("http://user:PASSWORD@host:port").
    if (k.info.name == "network.proxy") log::add_secret(url_password(c.network.proxy));
    if (k.info.name == "tools.http.proxy") log::add_secret(url_password(c.tools.http.proxy));
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

}  // namespace detail

namespace {

using namespace detail;
namespace fs = std::filesystem;

std::string to_ws(std::string url) {
    if (starts_with(core::ascii_lower(url), "https://")) url = "wss://" + url.substr(8);
    if (starts_with(core::ascii_lower(url), "http://")) url = "ws://" + url.substr(7);
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

std::string_view default_instructions() {
    return generated::default_instructions;
}

std::string config::realtime_url() const {
    if (!provider.endpoint.empty()) return provider.endpoint;
    switch (provider.kind) {
        case provider_kind::openai: {
            std::string base = to_ws(openai.base_url);
            if (base.size() < 9 || base.substr(base.size() - 9) != "/realtime") base += "/realtime";
            return base + "?model=" + core::url_encode(provider.model);
        }
        case provider_kind::azure: {
            if (azure.endpoint.empty()) return {};
            const std::string& deployment =
                azure.deployment.empty() ? provider.model : azure.deployment;
            return to_ws(azure.endpoint) +
                   "/openai/v1/realtime?model=" + core::url_encode(deployment);
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

std::string config::history_path() const {
    if (!history.db.empty()) return history.db;
    if (environment.data_dir.empty()) return {};
    return (std::filesystem::path(environment.data_dir) / "history.db").string();
}

loaded_config load_config(const config_sources& sources) {
    loaded_config out;
    for (const auto& k : keys()) out.origins[k.info.name] = "default";
    out.origins["tools.command"] = "default";
    out.origins["tools.mcp"] = "default";
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
    apply_env(out, env, home);
    pass_on_environment(out.cfg, sources.env);

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

std::optional<std::pair<std::string, unsigned short>> split_listen(std::string_view v) {
    std::string host;
    std::string_view port;
    if (!v.empty() && v.front() == '[') {
        const auto end = v.find("]:");
        if (end == std::string_view::npos) return std::nullopt;
        host = std::string(v.substr(1, end - 1));
        port = v.substr(end + 2);
        if (host.find(':') == std::string::npos) return std::nullopt;
    } else {
        const auto colon = v.rfind(':');
        if (colon == std::string_view::npos || colon == 0) return std::nullopt;
        host = std::string(v.substr(0, colon));
        port = v.substr(colon + 1);
        if (host == "localhost") host = "127.0.0.1";
        // IPv4 dotted quad: four numbers 0..255.
        int parts = 0;
        std::size_t i = 0;
        while (i <= host.size()) {
            const auto dot = std::min(host.find('.', i), host.size());
            const std::string_view part(host.data() + i, dot - i);
            if (part.empty() || part.size() > 3 ||
                part.find_first_not_of("0123456789") != std::string_view::npos ||
                std::stoi(std::string(part)) > 255) {
                return std::nullopt;
            }
            ++parts;
            i = dot + 1;
        }
        if (parts != 4) return std::nullopt;
    }
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    const int p = std::stoi(std::string(port));
    if (p > 65535) return std::nullopt;
    return std::make_pair(host, static_cast<unsigned short>(p));
}

}  // namespace ava::app
