// The config file layer: a TOML file walked against the key table, [[tools.command]] and
// [[tools.mcp]] entries, unknown keys reported together in file order.
#include <algorithm>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "config_keys.hpp"
#include "config_layers.hpp"

namespace ava::app::detail {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

std::string where(const fs::path& file, const toml::source_region& src) {
    return file.string() + ":" + std::to_string(src.begin.line) + ":" +
           std::to_string(src.begin.column);
}

/// Unknown keys with their position, reported together in file order.
using unknown_list = std::vector<std::pair<toml::source_position, std::string>>;

std::vector<std::string> toml_strings(const toml::node& node) {
    const auto* arr = node.as_array();
    if (arr == nullptr) throw value_error("must be an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *arr) {
        if (e.as_string() == nullptr) throw value_error("must be an array of strings");
        out.push_back(e.as_string()->get());
    }
    return out;
}

bool toml_bool(const toml::node& node) {
    const auto* b = node.as_boolean();
    if (b == nullptr) throw value_error("must be true or false");
    return b->get();
}

milliseconds toml_ms(const toml::node& node) {
    const auto v = toml_int(node);
    if (v < 1 || v > max_ms) throw value_error("must be between 1 and 86400000");
    return milliseconds(v);
}

tools::command_tool_settings read_command(const toml::table& t, const fs::path& file,
                                          unknown_list& unknown) {
    tools::command_tool_settings cmd;
    auto fail = [&](const toml::node& n, const std::string& key, const std::string& msg) {
        throw config_error(where(file, n.source()) + ": tools.command." + key + " " + msg);
    };
    for (const auto& [key, node] : t) {
        const std::string name(key.str());
        try {
            if (name == "name") {
                cmd.name = toml_string(node);
                const bool ok = !cmd.name.empty() && cmd.name.size() <= 64 && bare_key_ok(cmd.name);
                if (!ok) throw value_error("must be 1-64 letters, digits, '_' or '-'");
            } else if (name == "description") {
                cmd.description = toml_string(node);
            } else if (name == "parameters") {
                cmd.parameters_json = toml_string(node);
                const auto j = nlohmann::json::parse(cmd.parameters_json, nullptr, false);
                if (j.is_discarded() || !j.is_object()) {
                    throw value_error("must be a JSON Schema object in a string");
                }
            } else if (name == "argv") {
                cmd.argv = toml_strings(node);
                if (cmd.argv.empty()) throw value_error("must name a program");
            } else if (name == "timeout_ms") {
                cmd.timeout = toml_ms(node);
            } else if (name == "require_approval") {
                cmd.require_approval = toml_bool(node);
            } else if (name == "max_output_bytes") {
                const auto v = toml_int(node);
                if (v < 1 || v > std::numeric_limits<std::int32_t>::max()) {
                    throw value_error("must be a positive number of bytes");
                }
                cmd.max_output_bytes = static_cast<std::size_t>(v);
            } else {
                unknown.emplace_back(
                    key.source().begin,
                    where(file, key.source()) + ": unknown key 'tools.command." + name + "'");
            }
        } catch (const value_error& e) {
            fail(node, name, e.what());
        }
    }
    if (cmd.name.empty() || cmd.argv.empty()) {
        throw config_error(where(file, t.source()) +
                           ": a [[tools.command]] needs at least name and argv");
    }
    return cmd;
}

tools::mcp_server_settings read_mcp(const toml::table& t, const fs::path& file,
                                    const apply_context& ctx, unknown_list& unknown) {
    tools::mcp_server_settings srv;
    for (const auto& [key, node] : t) {
        const std::string name(key.str());
        try {
            if (name == "name") {
                srv.name = toml_string(node);
                const bool ok = !srv.name.empty() && srv.name.size() <= 32 && bare_key_ok(srv.name);
                if (!ok) throw value_error("must be 1-32 letters, digits, '_' or '-'");
            } else if (name == "command") {
                srv.command = toml_strings(node);
                if (srv.command.empty() || srv.command[0].empty()) {
                    throw value_error("must name a program (an argv array; no shell is used)");
                }
            } else if (name == "env") {
                const auto* tab = node.as_table();
                if (tab == nullptr) throw value_error("must be a table of strings");
                for (const auto& [k, v] : *tab) {
                    if (v.as_string() == nullptr) {
                        throw value_error("entry '" + std::string(k.str()) + "' must be a string");
                    }
                    srv.env[std::string(k.str())] = v.as_string()->get();
                }
            } else if (name == "cwd") {
                srv.cwd = expand_path(toml_string(node), ctx);
            } else if (name == "enabled") {
                srv.enabled = toml_bool(node);
            } else if (name == "allow") {
                srv.allow = toml_strings(node);
            } else if (name == "deny") {
                srv.deny = toml_strings(node);
            } else if (name == "require_approval") {
                srv.require_approval = toml_bool(node);
            } else if (name == "timeout_ms") {
                srv.timeout = toml_ms(node);
            } else if (name == "start_timeout_ms") {
                srv.start_timeout = toml_ms(node);
            } else {
                unknown.emplace_back(
                    key.source().begin,
                    where(file, key.source()) + ": unknown key 'tools.mcp." + name + "'");
            }
        } catch (const value_error& e) {
            throw config_error(where(file, node.source()) + ": tools.mcp." + name + " " + e.what());
        }
    }
    if (srv.name.empty() || srv.command.empty()) {
        throw config_error(where(file, t.source()) +
                           ": a [[tools.mcp]] needs at least name and command");
    }
    return srv;
}

void walk_table(loaded_config& out, const toml::table& table, const std::string& prefix,
                const fs::path& file, const apply_context& ctx, unknown_list& unknown) {
    for (const auto& [key, node] : table) {
        const std::string path =
            prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
        const std::string at = where(file, key.source());
        if (path == "tools.command") {
            const auto* arr = node.as_array();
            if (arr == nullptr || !arr->is_array_of_tables()) {
                throw config_error(at + ": tools.command must be an array of tables " +
                                   "([[tools.command]]), not " + toml_type_name(node));
            }
            std::vector<tools::command_tool_settings> cmds;
            std::set<std::string> names;
            for (const auto& e : *arr) {
                cmds.push_back(read_command(*e.as_table(), file, unknown));
                if (!names.insert(cmds.back().name).second) {
                    throw config_error(where(file, e.source()) + ": a [[tools.command]] named '" +
                                       cmds.back().name + "' is defined twice");
                }
            }
            out.cfg.tools.commands = std::move(cmds);
            out.origins["tools.command"] =
                ctx.origin + ":" + std::to_string(key.source().begin.line);
            continue;
        }
        if (path == "tools.mcp") {
            const auto* arr = node.as_array();
            if (arr == nullptr || !arr->is_array_of_tables()) {
                throw config_error(at + ": tools.mcp must be an array of tables " +
                                   "([[tools.mcp]]), not " + toml_type_name(node));
            }
            std::vector<tools::mcp_server_settings> servers;
            std::set<std::string> names;
            for (const auto& e : *arr) {
                servers.push_back(read_mcp(*e.as_table(), file, ctx, unknown));
                if (!names.insert(servers.back().name).second) {
                    throw config_error(where(file, e.source()) + ": a [[tools.mcp]] named '" +
                                       servers.back().name + "' is defined twice");
                }
            }
            out.cfg.tools.mcp = std::move(servers);
            out.origins["tools.mcp"] = ctx.origin + ":" + std::to_string(key.source().begin.line);
            continue;
        }
        const key_def* k = find_key(path);
        if (k != nullptr && !k->info.repeated) {
            try {
                k->from_toml(out.cfg, node, ctx);
            } catch (const value_error& e) {
                throw config_error(where(file, node.source()) + ": " + path + " " + e.what());
            }
            register_if_secret(*k, out.cfg);
            const std::string origin = ctx.origin + ":" + std::to_string(key.source().begin.line);
            out.origins[k->info.name] = origin;  // an alias spelling sets its key's origin
            after_set(*k, out, origin);
            continue;
        }
        if (const auto* sub = node.as_table(); sub != nullptr && is_section(path)) {
            walk_table(out, *sub, path, file, ctx, unknown);
            continue;
        }
        if (leaf_of(path) == "api_key" || leaf_of(path) == "key") {
            throw config_error(at + ": '" + path +
                               "' is not read from config files (keys in files leak through "
                               "backups and dotfile repos); put the key in the environment, "
                               "e.g. OPENAI_API_KEY, or name the variable with "
                               "provider.api_key_env");
        }
        std::string msg = at + ": unknown key '" + path + "'";
        if (is_section(path)) {
            msg = at + ": '" + path + "' must be a table, not " + toml_type_name(node);
        } else if (const auto s = suggestion_for(path); !s.empty()) {
            msg += " (did you mean '" + s + "'?)";
        }
        unknown.emplace_back(key.source().begin, msg);
    }
}

}  // namespace

void apply_file(loaded_config& out, const fs::path& file, const std::string& home) {
    std::string text;
    try {
        text = read_text_file(file);
    } catch (const value_error& e) {
        throw config_error(std::string("config file: ") + e.what());
    }
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
        throw config_error(where(file, e.source()) +
                           ": malformed TOML: " + std::string(e.description()));
    }
    // Both alternatives in one file is a contradiction, not a precedence question.
    const auto non_empty = [&](const char* path) {
        const auto* s = root.at_path(path).as_string();
        return s != nullptr && !s->get().empty();
    };
    if (non_empty("session.instructions") && non_empty("session.instructions_file")) {
        throw config_error(where(file, root.at_path("session.instructions_file").node()->source()) +
                           ": set either session.instructions or session.instructions_file, "
                           "not both");
    }
    apply_context ctx{"file " + file.string(), file.parent_path(), home};
    unknown_list unknown;
    walk_table(out, root, "", file, ctx, unknown);
    if (!unknown.empty()) {
        // toml++ iterates keys in sorted order; report them in file order.
        std::stable_sort(unknown.begin(), unknown.end(), [](const auto& a, const auto& b) {
            return std::pair(a.first.line, a.first.column) <
                   std::pair(b.first.line, b.first.column);
        });
        std::string msg;
        for (const auto& u : unknown) msg += (msg.empty() ? "" : "; ") + u.second;
        throw config_error(msg);
    }
    out.notes.push_back("config: read " + file.string());
}

}  // namespace ava::app::detail
