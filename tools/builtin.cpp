// The one explicit table of built-in tools. Adding a tool means adding a line here.
#include "ava/tools/builtin.hpp"

#include <chrono>
#include <cstdlib>

#include "ava/tools/http_client.hpp"
#include "calendar/calendar_tool.hpp"
#include "command/command_tool.hpp"
#include "email/email_tool.hpp"
#include "lights/lights_tool.hpp"
#include "weather/weather_tool.hpp"

namespace ava::tools {
namespace {

tool_options options(bool enabled, std::string problem) {
    return {.enabled = enabled, .unavailable_reason = std::move(problem)};
}

std::string env_or(const std::string& value, const char* name) {
    if (!value.empty()) return value;
    const char* v = std::getenv(name);
    return v == nullptr ? std::string{} : std::string(v);
}

}  // namespace

void register_builtin_tools(registry& reg, const tools_settings& settings) {
    auto http = std::make_shared<const http_client>(settings.http);

    reg.add(std::make_shared<calendar_tool>(settings.calendar, http),
            options(settings.calendar.enabled, calendar_tool::config_problem(settings.calendar)));

    lights_settings lights = settings.lights;
    lights.token = env_or(lights.token, "HOME_ASSISTANT_TOKEN");
    reg.add(std::make_shared<lights_tool>(lights, http),
            options(lights.enabled, lights_tool::config_problem(lights)));

    reg.add(std::make_shared<weather_tool>(settings.weather, http),
            options(settings.weather.enabled, weather_tool::config_problem(settings.weather)));

    email_settings email = settings.email;
    email.password = env_or(email.password, "AVA_SMTP_PASSWORD");
    reg.add(std::make_shared<email_tool>(email, settings.http),
            options(email.enabled, email_tool::config_problem(email)));

    for (const auto& cmd : settings.commands) {
        auto opts = options(true, command_tool::config_problem(cmd));
        // The child is killed at its own timeout; the runner's backstop comes a little later
        // so the model hears "took longer than ..." from the tool itself.
        opts.timeout = cmd.timeout + std::chrono::milliseconds(500);
        reg.add(std::make_shared<command_tool>(cmd), opts);
    }
}

}  // namespace ava::tools
