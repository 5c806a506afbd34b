// The tool interface: what a handler implements and what the registry offers to the model.
//
// A handler is blocking code (HTTP, SMTP, files, a child process) and runs on a worker thread,
// never on the io_context thread and never on the audio thread. The runner that calls it
// (ava/tools/runner.hpp) enforces the timeout and posts the result back.
#pragma once

#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>

namespace ava::tools {

/// What the model sees: name, description and a JSON Schema for the arguments (as text).
struct tool_spec {
    std::string name;
    std::string description;
    std::string parameters_json = R"({"type":"object","properties":{}})";
};

/// A failure the model should hear about in words ("no light called 'porch'; lights are ...").
/// Any other exception is reported too, with a generic prefix.
class tool_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class tool {
  public:
    tool() = default;
    tool(const tool&) = delete;
    tool& operator=(const tool&) = delete;
    virtual ~tool() = default;

    [[nodiscard]] virtual const tool_spec& spec() const = 0;

    /// Runs the tool. Called on a worker thread with arguments already validated against
    /// spec().parameters_json. Returns the result for the model as JSON text. Throws tool_error
    /// (or any std::exception) on failure. Long operations should watch `stop`: it is requested
    /// when the call times out or the session ends.
    virtual std::string call(std::string_view args_json, std::stop_token stop) = 0;
};

}  // namespace ava::tools
