// An MCP tool in the registry: forwards to its server, which may have gone.
#include "mcp/remote_tool.hpp"

#include "mcp/server.hpp"

namespace ava::tools::mcp {

remote_tool::remote_tool(std::weak_ptr<server> owner, std::string server_name,
                         std::string server_tool, tool_spec spec)
    : owner_(std::move(owner)),
      server_name_(std::move(server_name)),
      server_tool_(std::move(server_tool)),
      spec_(std::move(spec)) {}

std::string remote_tool::call(std::string_view args_json, std::stop_token stop) {
    const std::shared_ptr<server> owner = owner_.lock();
    if (!owner) throw tool_error("MCP server '" + server_name_ + "' has stopped");
    return owner->call(server_tool_, args_json, std::move(stop));
}

}  // namespace ava::tools::mcp
