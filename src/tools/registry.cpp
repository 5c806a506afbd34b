// Tool registry: lookup, duplicate-name check, offered/not-offered bookkeeping, group
// replacement under a shared_mutex.
#include "ava/tools/registry.hpp"

#include <algorithm>
#include <mutex>
#include <sstream>

#include "ava/core/error.hpp"
#include "ava/core/text.hpp"

namespace ava::tools {
namespace {

bool valid_name(std::string_view name) {
    // The Realtime API's function names: ^[a-zA-Z0-9_-]{1,64}$.
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

void check_handler(const std::shared_ptr<tool>& handler) {
    if (!handler) throw config_error("tool registry: a tool handler is missing");
    const std::string& name = handler->spec().name;
    if (!valid_name(name)) {
        throw config_error("tool name '" + name +
                           "' is invalid: use 1-64 letters, digits, '_' or '-'");
    }
}

std::string seconds_text(std::chrono::milliseconds ms) {
    std::ostringstream out;
    out << static_cast<double>(ms.count()) / 1000.0 << " s";
    return out.str();
}

std::string owner_text(const std::string& group) {
    return group.empty() ? "a built-in tool" : "a tool of MCP server '" + group + "'";
}

}  // namespace

registry::registry(std::chrono::milliseconds default_timeout) : default_timeout_(default_timeout) {}

std::shared_ptr<registered_tool> registry::make_entry(std::shared_ptr<tool> handler,
                                                      tool_options opts) const {
    auto entry = std::make_shared<registered_tool>();
    entry->timeout = opts.timeout.value_or(default_timeout_);
    if (entry->timeout <= std::chrono::milliseconds::zero()) entry->timeout = default_timeout_;
    try {
        entry->schema = std::make_shared<const json_schema>(handler->spec().parameters_json);
    } catch (const config_error& e) {
        entry->reason = std::string("invalid parameters schema: ") + e.what();
    }
    if (entry->reason.empty()) {
        if (!opts.enabled) {
            entry->reason =
                opts.enable_hint.empty() ? "disabled in config" : "disabled: " + opts.enable_hint;
        } else {
            entry->reason = std::move(opts.unavailable_reason);
        }
    }
    entry->offered = entry->reason.empty();
    entry->group = std::move(opts.group);
    entry->require_approval = opts.require_approval;
    entry->handler = std::move(handler);
    return entry;
}

void registry::add(std::shared_ptr<tool> handler, tool_options opts) {
    check_handler(handler);
    // The schema is parsed outside the lock: only the list itself needs it.
    auto entry = make_entry(std::move(handler), std::move(opts));
    const std::unique_lock lock(mutex_);
    if (find_locked(entry->spec().name)) {
        throw config_error("tool '" + entry->spec().name + "' is registered twice");
    }
    tools_.push_back(std::move(entry));
    ++generation_;
}

void registry::replace_group(const std::string& group,
                             std::vector<std::pair<std::shared_ptr<tool>, tool_options>> tools) {
    for (const auto& [handler, opts] : tools) check_handler(handler);
    std::vector<std::shared_ptr<registered_tool>> entries;
    entries.reserve(tools.size());
    for (auto& [handler, opts] : tools) {
        opts.group = group;
        entries.push_back(make_entry(std::move(handler), std::move(opts)));
    }

    std::shared_ptr<const std::function<void()>> listener;
    {
        const std::unique_lock lock(mutex_);
        tool_list next;
        next.reserve(tools_.size() + entries.size());
        std::size_t at = tools_.size();  // where the group's tools go, in `next`
        for (const auto& t : tools_) {
            if (t->group != group) {
                next.push_back(t);
            } else if (at == tools_.size()) {
                at = next.size();
            }
        }
        if (at == tools_.size()) at = next.size();
        tool_list added;
        for (auto& e : entries) {
            const std::string& name = e->spec().name;
            auto same_name = [&](const auto& t) { return t->spec().name == name; };
            if (const auto it = std::find_if(next.begin(), next.end(), same_name);
                it != next.end()) {
                e->offered = false;
                e->reason = "name clash with " + owner_text((*it)->group);
            } else if (std::any_of(added.begin(), added.end(), same_name)) {
                e->offered = false;
                e->reason = "name clash with another tool of this server";
            }
            added.push_back(std::move(e));
        }
        next.insert(next.begin() + static_cast<std::ptrdiff_t>(at), added.begin(), added.end());
        tools_ = std::move(next);
        ++generation_;
        listener = on_change_;
    }
    if (listener && *listener) (*listener)();
}

void registry::set_on_change(std::function<void()> fn) {
    auto next = std::make_shared<const std::function<void()>>(std::move(fn));
    const std::unique_lock lock(mutex_);
    on_change_ = std::move(next);
}

std::uint64_t registry::generation() const {
    const std::shared_lock lock(mutex_);
    return generation_;
}

std::vector<tool_spec> registry::specs() const {
    const std::shared_lock lock(mutex_);
    std::vector<tool_spec> out;
    for (const auto& t : tools_) {
        if (t->offered) out.push_back(t->spec());
    }
    return out;
}

registry::tool_list registry::all() const {
    const std::shared_lock lock(mutex_);
    return tools_;
}

std::shared_ptr<const registered_tool> registry::find(std::string_view name) const {
    const std::shared_lock lock(mutex_);
    return find_locked(name);
}

std::shared_ptr<const registered_tool> registry::find_locked(std::string_view name) const {
    std::shared_ptr<const registered_tool> first;
    for (const auto& t : tools_) {
        if (t->spec().name != name) continue;
        if (t->offered) return t;
        if (!first) first = t;
    }
    return first;
}

std::string registry::format_table() const {
    const tool_list tools = all();
    std::size_t name_w = 4;
    std::size_t server_w = 6;
    std::size_t status_w = 6;
    // A reason too long for a column (what to set to enable a tool) becomes a numbered note
    // under the table, so the columns stay readable in a terminal.
    constexpr std::size_t max_status = 44;
    std::vector<std::string> statuses;
    std::vector<std::string> notes;
    for (const auto& t : tools) {
        std::string status = t->offered ? "offered" : "not offered: " + t->reason;
        if (status.size() > max_status) {
            notes.push_back(t->spec().name + ": " + t->reason);
            status = "not offered, see note " + std::to_string(notes.size());
        }
        statuses.push_back(std::move(status));
        name_w = std::max(name_w, t->spec().name.size());
        server_w = std::max(server_w, t->group.size());
        status_w = std::max(status_w, statuses.back().size());
    }
    std::ostringstream out;
    auto pad = [&](std::string_view s, std::size_t width) {
        out << s << std::string(width - s.size() + 2, ' ');
    };
    auto row = [&](std::string_view name, std::string_view server, std::string_view status,
                   std::string_view timeout, std::string_view desc) {
        pad(name, name_w);
        pad(server, server_w);
        pad(status, status_w);
        pad(timeout, std::max<std::size_t>(timeout.size(), 8));
        out << desc << '\n';
    };
    row("NAME", "SERVER", "STATUS", "TIMEOUT", "DESCRIPTION");
    for (std::size_t i = 0; i < tools.size(); ++i) {
        std::string desc = tools[i]->spec().description;
        if (auto nl = desc.find('\n'); nl != std::string::npos) desc.resize(nl);
        if (desc.size() > 60) desc = desc.substr(0, core::utf8_prefix(desc, 57)) + "...";
        row(tools[i]->spec().name, tools[i]->group.empty() ? "-" : tools[i]->group, statuses[i],
            seconds_text(tools[i]->timeout), desc);
    }
    if (tools.empty()) out << "(no tools registered)\n";
    if (!notes.empty()) out << '\n';
    for (std::size_t i = 0; i < notes.size(); ++i) {
        out << "note " << i + 1 << ": " << notes[i] << '\n';
    }
    return out.str();
}

}  // namespace ava::tools
