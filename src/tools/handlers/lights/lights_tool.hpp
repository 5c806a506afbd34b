// control_lights: Home Assistant's REST API with a long-lived access token.
//
// Lights come from GET /api/states (every `light.*` entity and its friendly name). Rooms come
// from Home Assistant's areas, read with one POST /api/template that renders areas(),
// area_name() and area_entities() as JSON. When the template API is unavailable (older or
// locked-down instances answer 4xx), a room is matched against the words of the lights'
// friendly names instead ("Kitchen Ceiling" is in the kitchen). Spoken names are matched
// tolerantly: case, punctuation, "the", plurals, the word "light(s)" and small typos.
// Actions go to POST /api/services/light/{turn_on,turn_off,toggle}.
#pragma once

#include <memory>
#include <string>

#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"
#include "support/http_client.hpp"

namespace ava::tools {

class lights_tool : public tool {
  public:
    /// Registers the token as a secret with ava::log.
    lights_tool(lights_settings settings, std::shared_ptr<const http_client> http);

    /// Why the settings cannot work ("no base_url", "no token"), or empty.
    static std::string config_problem(const lights_settings& settings);

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    lights_settings settings_;
    std::shared_ptr<const http_client> http_;
    tool_spec spec_;
};

}  // namespace ava::tools
