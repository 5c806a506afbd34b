// Tool registry: lookup, duplicate-name check, offered/not-offered bookkeeping.
#include "ava/tools/registry.hpp"

#include <algorithm>
#include <sstream>

#include "ava/core/error.hpp"

namespace ava::tools {
namespace {

bool valid_name(std::string_view name) {
    // The Realtime API's function names: ^[a-zA-Z0-9_-]{1,64}$.
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

std::string seconds_text(std::chrono::milliseconds ms) {
    std::ostringstream out;
    out << static_cast<double>(ms.count()) / 1000.0 << " s";
    return out.str();
}

}  // namespace

registry::registry(std::chrono::milliseconds default_timeout) : default_timeout_(default_timeout) {}

void registry::add(std::shared_ptr<tool> handler, tool_options opts) {
    if (!handler) throw config_error("tool registry: a tool handler is missing");
    const std::string& name = handler->spec().name;
    if (!valid_name(name)) {
        throw config_error("tool name '" + name +
                           "' is invalid: use 1-64 letters, digits, '_' or '-'");
    }
    if (find(name)) throw config_error("tool '" + name + "' is registered twice");

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
            entry->reason = "disabled in config";
        } else {
            entry->reason = std::move(opts.unavailable_reason);
        }
    }
    entry->offered = entry->reason.empty();
    entry->handler = std::move(handler);
    tools_.push_back(std::move(entry));
}

std::vector<tool_spec> registry::specs() const {
    std::vector<tool_spec> out;
    for (const auto& t : tools_) {
        if (t->offered) out.push_back(t->spec());
    }
    return out;
}

std::shared_ptr<const registered_tool> registry::find(std::string_view name) const {
    for (const auto& t : tools_) {
        if (t->spec().name == name) return t;
    }
    return nullptr;
}

std::string registry::format_table() const {
    std::size_t name_w = 4;
    std::size_t status_w = 6;
    std::vector<std::string> statuses;
    for (const auto& t : tools_) {
        statuses.push_back(t->offered ? "offered" : "not offered: " + t->reason);
        name_w = std::max(name_w, t->spec().name.size());
        status_w = std::max(status_w, statuses.back().size());
    }
    std::ostringstream out;
    auto row = [&](std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
        out << a << std::string(name_w - a.size() + 2, ' ') << b
            << std::string(status_w - b.size() + 2, ' ') << c
            << std::string(c.size() < 8 ? 8 - c.size() + 2 : 2, ' ') << d << '\n';
    };
    row("NAME", "STATUS", "TIMEOUT", "DESCRIPTION");
    for (std::size_t i = 0; i < tools_.size(); ++i) {
        std::string desc = tools_[i]->spec().description;
        if (auto nl = desc.find('\n'); nl != std::string::npos) desc.resize(nl);
        if (desc.size() > 60) desc = desc.substr(0, 57) + "...";
        row(tools_[i]->spec().name, statuses[i], seconds_text(tools_[i]->timeout), desc);
    }
    if (tools_.empty()) out << "(no tools registered)\n";
    return out.str();
}

}  // namespace ava::tools
