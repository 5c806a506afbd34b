// The tool registry: every tool the app knows, whether it is offered to the model, and why not.
//
// Filled once at startup (src/tools/handlers/builtin.cpp is the one explicit table; an
// embedding program may add its own tools too), then read-only. add() must not race with
// anything else; after that, every const member may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/tools/schema.hpp"
#include "ava/tools/tool.hpp"

namespace ava::tools {

/// How a tool is registered.
struct tool_options {
    bool enabled = true;             ///< false: listed, but not offered ("disabled in config")
    std::string unavailable_reason;  ///< non-empty: not offered, and this says why
    std::optional<std::chrono::milliseconds> timeout;  ///< empty: the registry's default
};

/// One registered tool, as the runner and `--list-tools` see it.
struct registered_tool {
    std::shared_ptr<tool> handler;  ///< shared so a timed-out call can outlive the registry
    std::shared_ptr<const json_schema> schema;  ///< null when the schema itself is invalid
    std::chrono::milliseconds timeout{10000};
    bool offered = false;
    std::string reason;  ///< why it is not offered; empty when offered

    [[nodiscard]] const tool_spec& spec() const { return handler->spec(); }
};

class registry {
  public:
    explicit registry(std::chrono::milliseconds default_timeout = std::chrono::seconds(10));

    /// Adds a tool. Throws ava::config_error for an empty handler, a name the Realtime API
    /// would refuse (1-64 of [A-Za-z0-9_-]) or a name already registered. A parameters schema
    /// the validator cannot check does not throw: the tool is listed as not offered, with why.
    void add(std::shared_ptr<tool> handler, tool_options opts = {});

    /// The tools offered to the model, in registration order (for session.update).
    [[nodiscard]] std::vector<tool_spec> specs() const;

    /// Every tool, offered or not, in registration order.
    [[nodiscard]] const std::vector<std::shared_ptr<const registered_tool>>& all() const {
        return tools_;
    }

    /// The tool called `name`, or null.
    [[nodiscard]] std::shared_ptr<const registered_tool> find(std::string_view name) const;

    /// The `--list-tools` table: one line per tool with its name, "offered" or "not offered:
    /// <why>", its timeout and description, aligned in columns, ending in a newline.
    [[nodiscard]] std::string format_table() const;

    [[nodiscard]] std::chrono::milliseconds default_timeout() const { return default_timeout_; }

  private:
    std::chrono::milliseconds default_timeout_;
    std::vector<std::shared_ptr<const registered_tool>> tools_;
};

}  // namespace ava::tools
