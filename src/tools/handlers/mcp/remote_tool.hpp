// One MCP tool as a registry tool: its spec from tools/list, calls forwarded to its server.
#pragma once

#include <memory>
#include <string>

#include "ava/tools/tool.hpp"

namespace ava::tools::mcp {

class server;

class remote_tool : public tool {
  public:
    /// `server_tool` is the server's own name for it; `spec.name` the function name.
    remote_tool(std::weak_ptr<server> owner, std::string server_name, std::string server_tool,
                tool_spec spec);

    [[nodiscard]] const tool_spec& spec() const override { return spec_; }
    /// Throws tool_error when the server is down or gone (the bridge was destroyed).
    std::string call(std::string_view args_json, std::stop_token stop) override;

  private:
    std::weak_ptr<server> owner_;
    std::string server_name_;
    std::string server_tool_;
    tool_spec spec_;
};

}  // namespace ava::tools::mcp
