// The one explicit table of built-in tools. Adding a tool means adding a line here.
#include "ava/tools/builtin.hpp"

#include <chrono>

#include "calendar/calendar_tool.hpp"
#include "command/command_tool.hpp"
#include "email/email_tool.hpp"
#include "lights/lights_tool.hpp"
#include "support/http_client.hpp"
#include "weather/weather_tool.hpp"

namespace ava::tools {
namespace {

tool_options options(bool enabled, std::string problem, std::string hint = {}) {
    tool_options o;
    o.enabled = enabled;
    o.unavailable_reason = std::move(problem);
    o.enable_hint = std::move(hint);
    return o;
}

// What a user sets to turn each built-in tool on (shown by --list-tools when it is off).
constexpr const char* calendar_hint =
    "set [tools.calendar] source = \"~/calendar.ics\" (a file, or an https:// or webcal:// "
    "URL)";
constexpr const char* lights_hint =
    "set [tools.lights] base_url = \"http://homeassistant.local:8123\" and the token in "
    "HOME_ASSISTANT_TOKEN";
constexpr const char* weather_hint = "set [tools.weather] enabled = true";
constexpr const char* email_hint =
    "set [tools.email] smtp_url = \"smtp://host:587\", from = \"Me <me@example.com>\", "
    "username, and the password in AVA_SMTP_PASSWORD";

}  // namespace

void register_builtin_tools(registry& reg, const tools_settings& settings) {
    auto http = std::make_shared<const http_client>(settings.http);

    reg.add(std::make_shared<calendar_tool>(settings.calendar, http),
            options(settings.calendar.enabled, calendar_tool::config_problem(settings.calendar),
                    calendar_hint));

    reg.add(std::make_shared<lights_tool>(settings.lights, http),
            options(settings.lights.enabled, lights_tool::config_problem(settings.lights),
                    lights_hint));

    reg.add(std::make_shared<weather_tool>(settings.weather, http),
            options(settings.weather.enabled, weather_tool::config_problem(settings.weather),
                    weather_hint));

    reg.add(
        std::make_shared<email_tool>(settings.email, settings.http),
        options(settings.email.enabled, email_tool::config_problem(settings.email), email_hint));

    for (const auto& cmd : settings.commands) {
        auto opts = options(true, command_tool::config_problem(cmd));
        // The child is killed at its own timeout; the runner's backstop comes a little later
        // so the model hears "took longer than ..." from the tool itself.
        opts.timeout = cmd.timeout + std::chrono::milliseconds(500);
        opts.require_approval = cmd.require_approval;
        reg.add(std::make_shared<command_tool>(cmd), opts);
    }
}

}  // namespace ava::tools
