// A tool defined in config ([[tools.command]]): argv is run directly (posix_spawnp, never a
// shell), the model's arguments go to its stdin as JSON, and its stdout is the answer (JSON, or
// text that is wrapped as {"output": "..."}). The child is killed (with its process group) at
// the timeout, when its stdout passes max_output_bytes, or when the call is cancelled. A
// non-zero exit is reported to the model with the first line of stderr.
#pragma once

#include <string>

#include "ava/tools/settings.hpp"
#include "ava/tools/tool.hpp"

namespace ava::tools {

class command_tool : public tool {
  public:
    explicit command_tool(command_tool_settings settings);

    /// Why the settings cannot work (no argv, no description...), or empty. The parameters
    /// schema is checked by the registry.
    static std::string config_problem(const command_tool_settings& settings);

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    command_tool_settings settings_;
    tool_spec spec_;
};

}  // namespace ava::tools
