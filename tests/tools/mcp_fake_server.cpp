// A misbehaving MCP server for tests/tools/mcp_test.cpp, over stdio (one JSON-RPC message per
// line). Each flag switches on one way to misbehave; without flags it is a well-behaved legacy
// (initialize-based) server.
//
//   --starts FILE        append "start <pid>" at start, "initialized", "cancelled <id>" and
//                        "ping" as they arrive (the test reads it to see restarts and cancels)
//   --crash-at-start     print to stderr and exit 3 before reading anything
//   --silent             read everything, answer nothing
//   --era legacy|modern  legacy (default): server/discover gets -32601; modern: server/discover
//                        answers, initialize is refused, and every request must carry the
//                        2026-07-28 _meta protocol version
//   --discover-silent    legacy, and no answer at all to server/discover
//   --version V          initialize answers protocolVersion V (default: the one asked for)
//   --garbage            before each answer, lines that are not JSON-RPC
//   --long-line N        before the first answer, a line of N bytes that is not JSON
//   --page-size N        tools/list pages of N tools, chained with nextCursor
//   --extra-tools N      N more tools, t0 ... t<N-1>
//
// Tools: echo{text}, fail (isError), rpc_error (a JSON-RPC error), crash (exits 7 mid-call),
// hang (never answers; keeps reading), freeze (stops reading and answering), add_tool (adds
// "extra" and sends notifications/tools/list_changed), media (every content type), structured
// (structuredContent only), env{name}, cwd, wipe (destructive), dotted.name (read-only).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

using json = nlohmann::json;

namespace {

struct config {
    std::string starts;
    bool crash_at_start = false;
    bool silent = false;
    bool modern = false;
    bool discover_silent = false;
    std::string version;
    bool garbage = false;
    std::size_t long_line = 0;
    std::size_t page_size = 0;
    int extra_tools = 0;
};

config cfg;
bool extra_added = false;

void note(const std::string& line) {
    if (cfg.starts.empty()) return;
    std::ofstream(cfg.starts, std::ios::app) << line << '\n';
}

void send(const json& msg) {
    if (cfg.garbage) {
        std::cout << "hello, this is not JSON\n"
                  << R"({"json":"but not JSON-RPC"})" << '\n'
                  << "[1, 2\n"
                  << "\x1b]0;retitled\x07 escape\n"
                  << '\n';
    }
    if (cfg.long_line > 0) {
        std::cout << std::string(cfg.long_line, 'x') << '\n';
        cfg.long_line = 0;
    }
    std::cout << msg.dump() << '\n' << std::flush;
}

void answer(const json& id, json result) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void error(const json& id, int code, const std::string& message, json data = nullptr) {
    json e = {{"code", code}, {"message", message}};
    if (!data.is_null()) e["data"] = std::move(data);
    send({{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}});
}

json text(const std::string& t) {
    return {{"type", "text"}, {"text", t}};
}

json tool(const std::string& name, json props = json::object(), json annotations = nullptr) {
    json t = {{"name", name},
              {"description", "The fake " + name + " tool."},
              {"inputSchema",
               {{"$schema", "http://json-schema.org/draft-07/schema#"},
                {"type", "object"},
                {"properties", std::move(props)}}}};
    if (!annotations.is_null()) t["annotations"] = std::move(annotations);
    return t;
}

json all_tools() {
    json tools = json::array();
    tools.push_back(tool("echo", {{"text", {{"type", "string"}}}},
                         {{"readOnlyHint", true}, {"destructiveHint", false}}));
    for (const char* name : {"fail", "rpc_error", "crash", "hang", "freeze", "add_tool", "media",
                             "structured", "cwd"}) {
        tools.push_back(tool(name));
    }
    tools.push_back(tool("env", {{"name", {{"type", "string"}}}}));
    tools.push_back(tool("wipe", json::object(), {{"destructiveHint", true}}));
    tools.push_back(tool("dotted.name", json::object(), {{"readOnlyHint", true}}));
    for (int i = 0; i < cfg.extra_tools; ++i) tools.push_back(tool("t" + std::to_string(i)));
    if (extra_added) tools.push_back(tool("extra"));
    return tools;
}

void list_tools(const json& id, const json& params) {
    const json tools = all_tools();
    if (cfg.page_size == 0) return answer(id, {{"tools", tools}});
    std::size_t from = 0;
    if (params.contains("cursor")) from = std::stoul(params["cursor"].get<std::string>().substr(5));
    json page = json::array();
    for (std::size_t i = from; i < tools.size() && i < from + cfg.page_size; ++i) {
        page.push_back(tools[i]);
    }
    json result = {{"tools", page}};
    if (from + cfg.page_size < tools.size()) {
        result["nextCursor"] = "page-" + std::to_string(from + cfg.page_size);
    }
    answer(id, result);
}

void call_tool(const json& id, const json& params) {
    const std::string name = params.value("name", "");
    const json args = params.value("arguments", json::object());
    if (name == "echo") return answer(id, {{"content", {text("echo: " + args.value("text", ""))}}});
    if (name == "fail") {
        return answer(id, {{"content", {text("it went wrong")}}, {"isError", true}});
    }
    if (name == "rpc_error") return error(id, -32602, "bad arguments for rpc_error");
    if (name == "crash") {
        std::cerr << "fake: crashing mid-call" << std::endl;
        std::_Exit(7);
    }
    if (name == "hang") return;
    if (name == "freeze") {
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (name == "add_tool") {
        extra_added = true;
        answer(id, {{"content", {text("added")}}});
        send({{"jsonrpc", "2.0"}, {"method", "notifications/tools/list_changed"}});
        return;
    }
    if (name == "media") {
        return answer(
            id,
            {{"content",
              {text("first"),
               {{"type", "image"}, {"data", "iVBORw0KGgo="}, {"mimeType", "image/png"}},
               {{"type", "audio"}, {"data", "AAAA"}, {"mimeType", "audio/wav"}},
               {{"type", "resource"},
                {"resource", {{"uri", "file:///a.txt"}, {"text", "inside a.txt"}}}},
               {{"type", "resource"},
                {"resource",
                 {{"uri", "file:///b.bin"}, {"mimeType", "application/zip"}, {"blob", "AAA="}}}},
               {{"type", "resource_link"}, {"uri", "file:///c.txt"}, {"name", "c"}}}}});
    }
    if (name == "structured") {
        return answer(id, {{"content", json::array()}, {"structuredContent", {{"temp", 21}}}});
    }
    if (name == "env") {
        const char* v = std::getenv(args.value("name", "").c_str());
        return answer(id, {{"content", {text(v ? v : "(unset)")}}});
    }
    if (name == "cwd") {
        char buf[4096];
        return answer(id, {{"content", {text(::getcwd(buf, sizeof buf) ? buf : "?")}}});
    }
    if (name == "wipe" || name == "dotted.name" || name == "extra" || name.starts_with("t")) {
        return answer(id, {{"content", {text(name + " done")}}});
    }
    error(id, -32602, "Unknown tool: " + name);
}

void handle(const json& msg) {
    const std::string method = msg.value("method", "");
    const json params = msg.value("params", json::object());
    if (!msg.contains("id")) {
        if (method == "notifications/initialized") note("initialized");
        if (method == "notifications/cancelled") {
            note("cancelled " + params.value("requestId", json()).dump());
        }
        return;
    }
    const json id = msg["id"];
    if (cfg.silent) return;
    if (method == "server/discover") {
        if (cfg.discover_silent) return;
        if (!cfg.modern) return error(id, -32601, "Method not found");
        return answer(id, {{"supportedVersions", {"2026-07-28"}},
                           {"capabilities", {{"tools", json::object()}}},
                           {"serverInfo", {{"name", "fake"}, {"version", "1"}}}});
    }
    if (cfg.modern) {
        if (method == "initialize") return error(id, -32601, "initialize is gone in 2026-07-28");
        const json meta = params.value("_meta", json::object());
        if (meta.value("io.modelcontextprotocol/protocolVersion", "") != "2026-07-28") {
            return error(id, -32022, "Unsupported protocol version",
                         {{"supported", {"2026-07-28"}}, {"requested", nullptr}});
        }
    } else if (method == "initialize") {
        const std::string v = cfg.version.empty()
                                  ? params.value("protocolVersion", std::string("2025-11-25"))
                                  : cfg.version;
        return answer(id, {{"protocolVersion", v},
                           {"capabilities", {{"tools", {{"listChanged", true}}}}},
                           {"serverInfo", {{"name", "fake"}, {"version", "1"}}}});
    }
    if (method == "ping") {
        note("ping");
        return answer(id, json::object());
    }
    if (method == "tools/list") return list_tools(id, params);
    if (method == "tools/call") return call_tool(id, params);
    error(id, -32601, "Method not found");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&] { return i + 1 < args.size() ? args[++i] : std::string(); };
        if (a == "--starts")
            cfg.starts = value();
        else if (a == "--crash-at-start")
            cfg.crash_at_start = true;
        else if (a == "--silent")
            cfg.silent = true;
        else if (a == "--era")
            cfg.modern = value() == "modern";
        else if (a == "--discover-silent")
            cfg.discover_silent = true;
        else if (a == "--version")
            cfg.version = value();
        else if (a == "--garbage")
            cfg.garbage = true;
        else if (a == "--long-line")
            cfg.long_line = std::stoul(value());
        else if (a == "--page-size")
            cfg.page_size = std::stoul(value());
        else if (a == "--extra-tools")
            cfg.extra_tools = std::stoi(value());
    }
    note("start " + std::to_string(::getpid()));
    std::cerr << "fake MCP server starting" << std::endl;
    if (cfg.crash_at_start) {
        std::cerr << "fake: crashing at start" << std::endl;
        return 3;
    }
    std::string line;
    while (std::getline(std::cin, line)) {
        const json msg = json::parse(line, nullptr, false);
        if (msg.is_object()) handle(msg);
    }
    return 0;
}
