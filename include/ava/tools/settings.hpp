// Settings of the built-in tools, as plain data. The app's config loader fills these from the
// `[tools.*]` tables of the TOML file (and the environment); tools never parse config or read
// the environment.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ava::tools {

/// Shared HTTP settings for every tool (one client: TLS verified, proxy-aware, bounded).
struct http_settings {
    std::chrono::milliseconds timeout{8000};
    std::size_t max_response_bytes = 4 * 1024 * 1024;
    std::string ca_file;  ///< extra CA bundle; the system store is always used
    std::string proxy;    ///< empty: HTTPS_PROXY/https_proxy/NO_PROXY from the environment
};

struct calendar_settings {
    bool enabled = false;
    std::string source;    ///< a local .ics path, or an https:// (or webcal://) URL
    std::string timezone;  ///< IANA name, e.g. "Europe/Berlin"; empty = the system's zone
};

struct lights_settings {
    bool enabled = false;
    std::string base_url;  ///< Home Assistant, e.g. http://homeassistant.local:8123
    std::string token;  ///< long-lived access token (secret); the loader maps HOME_ASSISTANT_TOKEN
};

struct weather_settings {
    bool enabled = true;  ///< Open-Meteo needs no key: on by default
    std::string geocoding_url = "https://geocoding-api.open-meteo.com/v1/search";
    std::string forecast_url = "https://api.open-meteo.com/v1/forecast";
    std::string units = "metric";  ///< metric or imperial
    std::string default_location;  ///< used when the user names no place
};

struct email_settings {
    bool enabled = false;
    std::string smtp_url;  ///< smtp://host:587 (STARTTLS) or smtps://host:465 (implicit TLS)
    std::string username;
    std::string password;     ///< secret; the loader maps AVA_SMTP_PASSWORD
    std::string from;         ///< "Name <addr@example.com>"
    bool require_tls = true;  ///< refuse to send without TLS (only loopback may turn it off)
    bool confirm = true;      ///< read back recipient and subject; send only when confirmed
    std::map<std::string, std::string> address_book;  ///< spoken name -> address
    std::vector<std::string> allowed_domains;         ///< empty = any; never bypassed
};

/// A tool defined in config: runs argv directly (no shell), JSON arguments on stdin, the answer
/// on stdout.
struct command_tool_settings {
    std::string name;
    std::string description;
    std::string parameters_json = R"({"type":"object","properties":{}})";
    std::vector<std::string> argv;
    std::chrono::milliseconds timeout{10000};
    std::size_t max_output_bytes = 64 * 1024;
    bool require_approval = false;  ///< ask the user before each call
};

/// One `[[tools.mcp]]` entry: a Model Context Protocol server started as a child process (no
/// shell) and spoken to over its stdin/stdout (JSON-RPC 2.0, one message per line). Its tools are
/// offered as function tools named `<name>__<tool>`.
struct mcp_server_settings {
    std::string name;                        ///< 1-32 of [A-Za-z0-9_-]; the tools' prefix
    std::vector<std::string> command;        ///< argv; argv[0] looked up in PATH
    std::map<std::string, std::string> env;  ///< added to (or replacing in) the environment
    std::string cwd;                         ///< empty: ava-voice's working directory
    bool enabled = true;
    std::vector<std::string> allow;                  ///< the server's tool names; empty = all
    std::vector<std::string> deny;                   ///< never offered, even when allowed
    std::optional<bool> require_approval;            ///< unset: from the tool's annotations
    std::chrono::milliseconds timeout{30000};        ///< per call
    std::chrono::milliseconds start_timeout{20000};  ///< start + handshake + first tools/list
};

/// Who says yes to a tool that needs approval: `terminal` asks with a Y/N prompt, `voice` has
/// the model ask and call again with user_approved=true; `automatic` picks terminal when the
/// run has an interactive terminal, voice otherwise (headless and relay runs).
enum class approval_mode { automatic, terminal, voice };

struct tools_settings {
    std::chrono::milliseconds default_timeout{10000};
    approval_mode approval = approval_mode::automatic;
    std::chrono::milliseconds approval_timeout{30000};  ///< no answer in time counts as no
    /// A call still running after this long gets the model a chance to say a short filler;
    /// zero turns that off.
    std::chrono::milliseconds filler_after{1500};
    http_settings http;
    calendar_settings calendar;
    lights_settings lights;
    weather_settings weather;
    email_settings email;
    std::vector<command_tool_settings> commands;
    std::vector<mcp_server_settings> mcp;
    /// Function names (built-in, command or `<server>__<tool>`) that need the user's yes.
    std::vector<std::string> require_approval;
};

}  // namespace ava::tools
