// check_weather: Open-Meteo (no key). Geocodes the place name, then fetches current conditions
// and today's forecast (with precipitation probability) in the configured units.
#pragma once

#include <memory>
#include <string>

#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"
#include "support/http_client.hpp"

namespace ava::tools {

class weather_tool : public tool {
  public:
    weather_tool(weather_settings settings, std::shared_ptr<const http_client> http);

    /// Why the settings cannot work ("units must be metric or imperial"), or empty.
    static std::string config_problem(const weather_settings& settings);

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    weather_settings settings_;
    std::shared_ptr<const http_client> http_;
    tool_spec spec_;
};

/// The words for a WMO weather interpretation code (Open-Meteo's weather_code), e.g. 61 ->
/// "slight rain"; "unknown conditions (code N)" for codes outside the table.
std::string wmo_code_words(int code);

}  // namespace ava::tools
