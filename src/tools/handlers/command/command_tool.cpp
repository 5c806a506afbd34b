#include "command/command_tool.hpp"

#include <csignal>
#include <cstring>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace ava::tools {

command_tool::command_tool(command_tool_settings settings) : settings_(std::move(settings)) {
    spec_.name = settings_.name;
    spec_.description = settings_.description;
    spec_.parameters_json = settings_.parameters_json;
}

std::string command_tool::config_problem(const command_tool_settings& s) {
    if (s.argv.empty() || s.argv[0].empty()) return "command tool '" + s.name + "' has no argv";
    if (s.description.empty()) return "command tool '" + s.name + "' has no description";
    if (s.max_output_bytes == 0) return "command tool '" + s.name + "' has max_output_bytes = 0";
    return {};
}

std::string command_tool::call(std::string_view args_json, std::stop_token stop) {
    const std::string input = args_json.empty() ? std::string("{}") : std::string(args_json);
    // The tool's own timeout is the child's deadline; the runner's timeout (normally the same,
    // set from this value by builtin.cpp) is the backstop.
    const auto r = detail::run_process({.argv = settings_.argv,
                                        .stdin_data = input,
                                        .timeout = settings_.timeout,
                                        .max_output_bytes = settings_.max_output_bytes},
                                       stop);
    const std::string& name = settings_.name;
    if (r.timed_out) {
        throw tool_error(name + " took longer than " + std::to_string(settings_.timeout.count()) +
                         " ms and was stopped");
    }
    if (r.cancelled) throw tool_error(name + " was cancelled");
    if (r.too_much_output) {
        throw tool_error(name + " wrote more than " + std::to_string(settings_.max_output_bytes) +
                         " bytes and was stopped");
    }
    std::string first_err = r.err.substr(0, r.err.find('\n'));
    if (first_err.size() > 300) first_err.resize(300);
    if (!r.exited) {
        throw tool_error(name + " was killed by signal " + std::to_string(r.signal) +
                         (first_err.empty() ? "" : ": " + first_err));
    }
    if (r.exit_code != 0) {
        throw tool_error(name + " failed (exit status " + std::to_string(r.exit_code) + ")" +
                         (first_err.empty() ? "" : ": " + first_err));
    }
    const auto parsed = nlohmann::json::parse(r.out, nullptr, false);
    if (!parsed.is_discarded() && (parsed.is_object() || parsed.is_array())) return r.out;
    std::string text = r.out;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return nlohmann::json{{"output", text}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

}  // namespace ava::tools
