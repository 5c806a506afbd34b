// The one explicit table of built-in tools (STYLE.md habit 9: no static-initialiser tricks).
#pragma once

#include "ava/tools/registry.hpp"
#include "ava/tools/settings.hpp"

namespace ava::tools {

/// Registers get_calendar_events, control_lights, check_weather, send_email and every
/// [[tools.command]] from `settings`, in that order, sharing one HTTP client. A tool that is
/// disabled or misconfigured is still registered, so `--list-tools` shows it with the reason it
/// is not offered. Nothing is read from the environment: the app's config loader has already put
/// HOME_ASSISTANT_TOKEN and AVA_SMTP_PASSWORD into `settings`. Secrets are registered with
/// ava::log. Throws ava::config_error when a
/// command tool's name is invalid or already taken. Call once at startup, before the runner.
void register_builtin_tools(registry& reg, const tools_settings& settings);

}  // namespace ava::tools
