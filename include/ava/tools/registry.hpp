// The tool registry: every tool the app knows, whether it is offered to the model, and why not.
//
// Filled at startup (src/tools/handlers/builtin.cpp is the one explicit table; an embedding
// program may add its own tools too). A group of tools (one MCP server's) may be replaced later,
// from any thread, while others read: every member is thread-safe (one std::shared_mutex; reads
// share it). Entries are immutable once added, so what all() and find() hand out stays valid and
// unchanged however the registry changes afterwards.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ava/tools/schema.hpp"
#include "ava/tools/tool.hpp"

namespace ava::tools {

/// How a tool is registered.
struct tool_options {
    bool enabled = true;             ///< false: listed, but not offered ("disabled: <enable_hint>")
    std::string unavailable_reason;  ///< non-empty: not offered, and this says why
    std::optional<std::chrono::milliseconds> timeout;  ///< empty: the registry's default
    std::string group;              ///< the MCP server's name; empty for built-in/command tools
    bool require_approval = false;  ///< ask the user before each call
    std::string enable_hint;        ///< what to set to enable it (empty: "disabled in config")
};

/// One registered tool, as the runner and `--list-tools` see it.
struct registered_tool {
    std::shared_ptr<tool> handler;  ///< shared so a timed-out call can outlive the registry
    std::shared_ptr<const json_schema> schema;  ///< null when the schema itself is invalid
    std::chrono::milliseconds timeout{10000};
    bool offered = false;
    std::string reason;  ///< why it is not offered; empty when offered
    std::string group;   ///< as registered (tool_options::group)
    bool require_approval = false;

    [[nodiscard]] const tool_spec& spec() const { return handler->spec(); }
};

class registry {
  public:
    using tool_list = std::vector<std::shared_ptr<const registered_tool>>;

    explicit registry(std::chrono::milliseconds default_timeout = std::chrono::seconds(10));
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    /// Adds a tool. Throws ava::config_error for an empty handler, a name the Realtime API
    /// would refuse (1-64 of [A-Za-z0-9_-]) or a name already registered. A parameters schema
    /// the validator cannot check does not throw: the tool is listed as not offered, with why.
    void add(std::shared_ptr<tool> handler, tool_options opts = {});

    /// Removes every tool of `group` and adds `tools` (each option's group is set to `group`),
    /// where the group's first tool was (or at the end). Validated as add() does, except that a
    /// name already taken by a tool outside the group (or earlier in `tools`) is listed as not
    /// offered, with why, instead of throwing. Throws ava::config_error, changing nothing, for an
    /// empty handler or an invalid name. Then calls the change listener. Any thread.
    void replace_group(const std::string& group,
                       std::vector<std::pair<std::shared_ptr<tool>, tool_options>> tools);

    /// `fn` is called after each replace_group(), on the thread that made the change, outside
    /// the registry's lock (so it may read the registry). Set it before the changes may start.
    void set_on_change(std::function<void()> fn);

    /// Incremented on every change (add, replace_group).
    [[nodiscard]] std::uint64_t generation() const;

    /// The tools offered to the model, in registration order (for session.update).
    [[nodiscard]] std::vector<tool_spec> specs() const;

    /// Every tool, offered or not, in registration order: a snapshot.
    [[nodiscard]] tool_list all() const;

    /// The tool called `name` (the offered one when a clash left two), or null.
    [[nodiscard]] std::shared_ptr<const registered_tool> find(std::string_view name) const;

    /// The `--list-tools` table: one line per tool with its name (as the model sees it), its
    /// server (the group, "-" for built-in tools), "offered" or "not offered: <why>", its timeout
    /// and description, aligned in columns, ending in a newline.
    [[nodiscard]] std::string format_table() const;

    [[nodiscard]] std::chrono::milliseconds default_timeout() const { return default_timeout_; }

  private:
    [[nodiscard]] std::shared_ptr<registered_tool> make_entry(std::shared_ptr<tool> handler,
                                                              tool_options opts) const;
    [[nodiscard]] std::shared_ptr<const registered_tool> find_locked(std::string_view name) const;

    const std::chrono::milliseconds default_timeout_;
    mutable std::shared_mutex mutex_;
    tool_list tools_;                                         // guarded by mutex_
    std::uint64_t generation_ = 0;                            // guarded by mutex_
    std::shared_ptr<const std::function<void()>> on_change_;  // guarded by mutex_
};

}  // namespace ava::tools
