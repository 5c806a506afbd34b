// Settings of the built-in tools, as plain data. The app's config loader fills these from the
// `[tools.*]` tables of the TOML file (and the environment); tools never parse config or read
// the environment.
#pragma once

#include <chrono>
#include <map>
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
    bool enabled = false;
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
};

struct tools_settings {
    std::chrono::milliseconds default_timeout{10000};
    http_settings http;
    calendar_settings calendar;
    lights_settings lights;
    weather_settings weather;
    email_settings email;
    std::vector<command_tool_settings> commands;
};

}  // namespace ava::tools
