// The MCP rules ava-voice follows, without I/O: protocol versions and eras, the names tools get,
// reading tools/list pages, the approval default, and turning a tools/call result into the
// function output the model hears. mcp/server.cpp does the talking; tests/tools/mcp_test.cpp
// checks these directly.
//
// Versions (modelcontextprotocol/modelcontextprotocol schema/*): 2026-07-28 is the modern era
// (no initialize; every request carries _meta); 2025-11-25 and the three before it are the
// legacy, initialize-based era, which every npm reference server speaks today.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/tools/settings.hpp"

namespace ava::tools::mcp {

inline constexpr std::string_view modern_version = "2026-07-28";
/// Newest first; the first is what `initialize` asks for.
inline constexpr std::array<std::string_view, 4> legacy_versions{"2025-11-25", "2025-06-18",
                                                                 "2025-03-26", "2024-11-05"};
inline constexpr int unsupported_protocol_version = -32022;

enum class era { unknown, legacy, modern };

/// Deepest nesting of arrays/objects accepted in a line from a server (as the codec allows).
inline constexpr std::size_t max_line_depth = 128;

/// One line of a server's stdout as JSON (the channel's framing), or nullopt with `problem`
/// saying why not: "a line that is not JSON", or "JSON nested deeper than 128 levels". The
/// parse itself would take any depth, but dumping the value into a warning or copying it into
/// the waiting request recurses once per level: 100,000 '[' overflowed the I/O thread's stack.
/// Never throws but bad_alloc.
std::optional<nlohmann::json> parse_line(std::string_view line, std::string& problem);

/// What the server/discover probe says about the server.
struct era_choice {
    era chosen = era::legacy;
    std::string problem;  ///< non-empty: no version in common (the server cannot be used)
};
/// From a DiscoverResult (`supportedVersions`).
era_choice era_from_discover(const nlohmann::json& result);
/// From a JSON-RPC error to the probe: -32022 with data.supported is modern (or legacy, when it
/// lists only legacy versions); any other error means a legacy server.
era_choice era_from_discover_error(int code, const nlohmann::json& data);

/// "1.5 s", "20 s": a time limit as log lines and errors say it.
std::string duration_text(std::chrono::milliseconds ms);

/// Whether `version` (an initialize answer) is one ava-voice speaks.
bool legacy_version_ok(std::string_view version);

/// The `_meta` every modern request carries: protocol version, client capabilities and info.
nlohmann::json modern_meta();
/// clientInfo: {name: "ava-voice", version}.
nlohmann::json client_info();

/// The function name of `tool` of `server`: "<server>__<tool>", every byte outside
/// [A-Za-z0-9_-] replaced by '_'; when longer than 64, cut to 55 and "_<8 hex digits>" of a hash
/// of the server's and the tool's own names appended. Deterministic.
std::string function_name(std::string_view server, std::string_view tool);
/// The same, always with the hash suffix: the name for a tool whose plain name clashes with
/// another tool of the same server ("a.b" and "a_b").
std::string hashed_function_name(std::string_view server, std::string_view tool);

/// One tool as tools/list describes it.
struct tool_info {
    std::string name;                 ///< the server's own name for it
    std::string description;          ///< its description (or title, or a generated line)
    std::string input_schema;         ///< JSON text; {"type":"object"} when the server gave none
    std::optional<bool> read_only;    ///< annotations.readOnlyHint
    std::optional<bool> destructive;  ///< annotations.destructiveHint
};

struct tools_page {
    std::vector<tool_info> tools;
    std::string next_cursor;            ///< empty: the last page
    std::vector<std::string> problems;  ///< entries skipped, and why
};
/// Reads one tools/list result.
tools_page parse_tools_page(const nlohmann::json& result);

/// Whether the user must approve calls to `t` when the config does not say: the annotations say
/// it is destructive, or say it is not read-only. No annotations: no.
bool default_approval(const tool_info& t);

/// Whether the entry's allow/deny lists let `tool` (the server's own name) be offered.
bool allowed(const mcp_server_settings& s, std::string_view tool);

/// The function output for a tools/call result: {"result": "<text>"} with the text content items
/// joined by newlines (images, audio and blobs summarised, embedded resource text included,
/// resource links as their URI), or {"result": <structuredContent>} when there is no text; cut
/// to `max_bytes`. Throws tool_error with that text when isError is true (a non-boolean isError
/// counts as false), or when the server
/// wants input ava-voice cannot give (a 2026-07-28 InputRequiredResult).
std::string call_output(const nlohmann::json& result, std::size_t max_bytes);

}  // namespace ava::tools::mcp
