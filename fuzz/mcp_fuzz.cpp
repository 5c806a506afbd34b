// libFuzzer target: what ava-voice reads from an MCP server (src/tools/handlers/mcp): one line
// of JSON-RPC as the channel parses it (parse_line) and handles it (mirrored here: channel.cpp
// needs a child process), then its result as each reader takes it: a tools/list
// page (and each tool's input schema, as the registry builds it), a tools/call result, a
// server/discover answer and a discover error. The readers are lenient by design; they may
// throw only their own errors (tool_error for a failed call, config_error for a bad schema).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/tools/schema.hpp"
#include "ava/tools/tool.hpp"
#include "mcp/protocol.hpp"

namespace {

using json = nlohmann::json;
namespace mcp = ava::tools::mcp;

// What channel::handle_message does with a message before a reader sees it: a message that is
// not JSON-RPC 2.0 is dumped into the log line, an answer is copied into the waiting request.
void read_message(const json& msg) {
    if (!msg.is_object() || msg.value("jsonrpc", json()) != "2.0") {
        (void)msg.dump(-1, ' ', false, json::error_handler_t::replace);
        return;
    }
    const json copy = msg;  // it->second->response = msg
    (void)copy.value("params", json());
    const json result = msg.contains("result") ? msg["result"] : msg;
    const mcp::tools_page page = mcp::parse_tools_page(result);
    for (const auto& t : page.tools) {
        (void)mcp::function_name("fuzz", t.name);
        (void)mcp::hashed_function_name("fuzz", t.name);
        (void)mcp::default_approval(t);
        try {
            const ava::tools::json_schema schema(t.input_schema);
            (void)schema.validate("{}");
        } catch (const ava::config_error&) {
        }
    }
    try {
        (void)mcp::call_output(result, 4096);
    } catch (const ava::tools::tool_error&) {
    }
    (void)mcp::era_from_discover(result);
    if (const auto e = msg.find("error"); e != msg.end() && e->is_object()) {
        const auto code = e->find("code");
        const int c = code != e->end() && code->is_number_integer() &&
                              code->get<std::int64_t>() >= -(1LL << 31) &&
                              code->get<std::int64_t>() < (1LL << 31)
                          ? code->get<int>()
                          : 0;
        (void)mcp::era_from_discover_error(c, e->value("data", json()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    // As channel::handle_line takes a line: parse_line(), then a batch is an array.
    std::string problem;
    const std::optional<json> parsed = mcp::parse_line(line, problem);
    if (!parsed) return 0;
    const json& msg = *parsed;
    if (msg.is_array()) {
        for (const auto& one : msg) read_message(one);
    } else {
        read_message(msg);
    }
    return 0;
}
