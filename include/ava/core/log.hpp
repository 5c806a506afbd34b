// Logging: named spdlog loggers per module, one place that redacts secrets.
//
// Never call from the audio callback (spdlog locks and allocates).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

namespace ava::log {

struct options {
    std::string level = "info";  ///< trace, debug, info, warn, error, critical, off
    std::string file;            ///< also log to this file when not empty
    bool to_stderr = true;       ///< log to stderr (coloured when it is a terminal)
};

/// Sets up the sinks and the module loggers ("app", "rt", "audio", "tools", "sim").
/// Throws ava::config_error for an unknown level or an unwritable file. May be called again.
void init(const options& opts);

/// The logger of a module; created on first use with the current sinks.
std::shared_ptr<spdlog::logger> get(std::string_view module);

/// Registers a secret (an API key, a token) that must never appear in any log line or dump.
/// Values shorter than 4 characters are ignored (they would redact ordinary words).
void add_secret(std::string_view secret);

/// Returns `text` with every registered secret, every `Authorization`/`api-key` header value and
/// anything shaped like an OpenAI key (`sk-…`, `ek_…`) replaced by "[redacted]".
std::string redact(std::string_view text);

}  // namespace ava::log
