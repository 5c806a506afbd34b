// Printing the effective config as TOML (--print-config), secrets redacted, origins as comments.
#include <sstream>

#include "ava/app/config.hpp"
#include "ava/core/log.hpp"
#include "config_keys.hpp"
#include "config_values.hpp"

namespace ava::app {

using namespace detail;

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
        // Redacted as the log is: a registered secret inside a value (a proxy URL's password).
        std::string value = log::redact(k.print(c));
        if (const std::string pw = url_password(value); !pw.empty()) {
            value.replace(value.find(pw, value.find("://")), pw.size(), "[redacted]");
        }
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
        os << "require_approval = " << (cmd.require_approval ? "true" : "false") << '\n';
    }
    const auto list = [](const std::vector<std::string>& v) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toml_quote(v[i]);
        return s + "]";
    };
    if (c.tools.mcp.empty()) {
        os << "\n# [[tools.mcp]]: none";
        if (with_origins) os << "  # " << origin("tools.mcp");
        os << '\n';
    }
    for (const auto& m : c.tools.mcp) {
        os << "\n[[tools.mcp]]";
        if (with_origins) os << "  # " << origin("tools.mcp");
        os << '\n';
        os << "name = " << toml_quote(m.name) << '\n';
        os << "command = " << list(m.command) << '\n';
        if (!m.cwd.empty()) os << "cwd = " << toml_quote(m.cwd) << '\n';
        os << "enabled = " << (m.enabled ? "true" : "false") << '\n';
        if (!m.allow.empty()) os << "allow = " << list(m.allow) << '\n';
        if (!m.deny.empty()) os << "deny = " << list(m.deny) << '\n';
        if (m.require_approval) {
            os << "require_approval = " << (*m.require_approval ? "true" : "false") << '\n';
        }
        os << "timeout_ms = " << m.timeout.count() << '\n';
        os << "start_timeout_ms = " << m.start_timeout.count() << '\n';
        if (!m.env.empty()) {
            // Values may be tokens: names only.
            os << "# env: ";
            bool first = true;
            for (const auto& [k, v] : m.env) {
                os << (first ? "" : ", ") << k << " = (set)";
                first = false;
            }
            os << '\n';
        }
    }
    return os.str();
}

}  // namespace ava::app
