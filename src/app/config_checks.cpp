// The checks after all layers: files that must be readable or writable, values that only make
// sense together, the resolved system prompt, and the warnings the user should see.
#include <cerrno>
#include <cstdio>
#include <set>
#include <system_error>

#include "ava/core/error.hpp"
#include "ava/core/text.hpp"
#include "ava/realtime/provider.hpp"
#include "config_layers.hpp"
#include "config_values.hpp"

namespace ava::app::detail {
namespace {

namespace fs = std::filesystem;

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

/// A CA file must hold PEM certificates: anything else failed only at connect time (exit 1,
/// after the start), with OpenSSL's words.
void require_pem_certificates(const loaded_config& out, const std::string& key,
                              const std::string& path) {
    if (path.empty()) return;
    std::string text;
    try {
        text = read_text_file(path);
    } catch (const value_error& e) {
        throw config_error(origin_of(out, key) + ": " + key + " " + e.what());
    }
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        throw config_error(origin_of(out, key) + ": " + key + " '" + path +
                           "' holds no PEM certificate (a \"-----BEGIN CERTIFICATE-----\" "
                           "block); convert a DER file with: openssl x509 -inform der -in " +
                           path + " -out ca.pem");
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

}  // namespace

void finish(loaded_config& out) {
    config& c = out.cfg;
    // A tool whose own service is configured is on, unless the config says enabled = false:
    // setting a calendar source and then also having to find `enabled` is one step too many.
    const auto on_when_configured = [&](const char* key, bool configured, bool& enabled) {
        if (configured && out.origins[key] == "default") enabled = true;
    };
    on_when_configured("tools.calendar.enabled", !c.tools.calendar.source.empty(),
                       c.tools.calendar.enabled);
    on_when_configured("tools.lights.enabled", !c.tools.lights.base_url.empty(),
                       c.tools.lights.enabled);
    on_when_configured("tools.email.enabled", !c.tools.email.smtp_url.empty(),
                       c.tools.email.enabled);
    require_readable(out, "session.instructions_file", c.session.instructions_file);
    require_readable(out, "headless.input_wav", c.headless.input_wav);
    require_readable(out, "sim.scenario", c.sim.scenario);
    require_pem_certificates(out, "network.ca_file", c.network.ca_file);
    require_pem_certificates(out, "tools.http.ca_file", c.tools.http.ca_file);
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
    // Plain ws:// to another machine sends the key and the conversation in clear: refused here,
    // at start (exit 2), unless allowed; the connection would refuse it later anyway (exit 1).
    if (const std::string url = c.realtime_url();
        core::ascii_lower(url).starts_with("ws://") && !c.network.allow_plain_ws) {
        std::string host;
        try {
            host = realtime::parse_url(url).host;
        } catch (const std::exception&) {
            host.clear();  // a malformed URL is reported where it is used, with its own words
        }
        if (!host.empty() && !realtime::is_loopback_host(host)) {
            throw config_error(origin_of(out, c.provider.endpoint.empty() ? "openai.base_url"
                                                                          : "provider.endpoint") +
                               ": plain ws:// to " + host +
                               " would send the API key and the conversation unencrypted; use "
                               "wss://, or allow it with --allow-plain-ws "
                               "(network.allow_plain_ws)");
        }
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

}  // namespace ava::app::detail
