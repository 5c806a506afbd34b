// get_calendar_events: events from an iCalendar source (a local .ics file, an http(s):// URL, or
// webcal://, fetched as https://) in a date range (default: today) in the user's time zone.
// Recurrences are expanded by libical (RRULE, RDATE, EXDATE); RECURRENCE-ID overrides replace
// the instance they name; cancelled events and instances are left out.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <string>

#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"
#include "support/http_client.hpp"

namespace ava::tools {

class calendar_tool : public tool {
  public:
    /// `now` gives the current time (tests fix it); defaults to the system clock.
    calendar_tool(calendar_settings settings, std::shared_ptr<const http_client> http,
                  std::function<std::time_t()> now = {});

    /// Why the settings cannot work ("no source", "unknown time zone 'X'"), or empty.
    static std::string config_problem(const calendar_settings& settings);

    /// The zone used when calendar_settings::timezone is empty: TZ, /etc/timezone, or the
    /// /etc/localtime link; "UTC" when none names an IANA zone.
    static std::string system_timezone();

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    std::string load(std::stop_token stop) const;

    calendar_settings settings_;
    std::shared_ptr<const http_client> http_;
    std::function<std::time_t()> now_;
    tool_spec spec_;
};

}  // namespace ava::tools
