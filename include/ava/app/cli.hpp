// The command line of ava-voice (CLI11) and the front end around the conversation: parse flags,
// load the config, set up logging, answer the informational commands (--help, --version,
// --print-config, --list-*), or hand the config to the conversation.
//
// Exit codes: 0 success, 1 a runtime failure (no audio devices, a failed run), 2 bad usage or
// configuration (always one line on stderr starting "ava-voice: error: ").
//
// Threads: main thread only, once at startup.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/app/config.hpp"
#include "ava/app/history_command.hpp"

namespace ava::app {

/// What the command line asks for. Several info flags at once: the first in this order wins.
enum class command {
    run,
    help,
    version,
    print_config,
    list_devices,
    list_providers,
    list_tools,
    doctor,   ///< `ava-voice doctor [flags]`: the first argument
    history,  ///< `ava-voice history VERB ... [flags]`: the first argument
    serve,    ///< `ava-voice serve [flags]`: the relay and the browser console
};

struct command_line {
    command cmd = command::run;
    std::optional<std::filesystem::path> config_file;  ///< --config
    std::vector<setting> settings;                     ///< every flag that sets a config key
    std::string help;                                  ///< the --help text
    history_args history;                              ///< for command::history
};

/// Parses argv (argv[0] is the program name). Flags that set config keys become `settings` (as
/// text, validated by the loader, so flag and file errors read alike). Throws ava::config_error
/// for unknown flags, missing values and stray arguments. Never accepts an API key value.
command_line parse_command_line(int argc, const char* const* argv);

/// The config layers for this process: the platform user file (or --config), the process
/// environment, `.env` in the working directory, and the flags.
config_sources process_sources(const command_line& cl);

/// "0.1.0", from the CMake project version.
std::string_view version();

/// A few human lines: provider and URL, model, voice, turn detection, audio in/out, tools.
std::string summary(const config& cfg);

/// Starts the conversation with the effective config and returns the exit code.
using run_function = std::function<int(const config& cfg)>;

/// Runs `ava-voice doctor` with the loaded config, printing to `out`; returns the exit code.
using doctor_function = std::function<int(const loaded_config& loaded, std::ostream& out)>;

/// The whole front end (see the top of this file). `run` is called only for command::run, after
/// logging is set up and every secret is registered. Exceptions never escape: a config_error
/// exits 2, anything else exits 1, each as one "ava-voice: error: ..." line on `err`.
int main_entry(int argc, const char* const* argv, const run_function& run, std::ostream& out,
               std::ostream& err);
/// As above, with `doctor` for the doctor command (empty: "not built into this binary"). For
/// doctor, a config that does not load is reported as a failed check (exit 2).
int main_entry(int argc, const char* const* argv, const run_function& run,
               const doctor_function& doctor, std::ostream& out, std::ostream& err);
/// As above, with `serve` for `ava-voice serve` (empty: "not built into this binary").
int main_entry(int argc, const char* const* argv, const run_function& run,
               const doctor_function& doctor, const run_function& serve, std::ostream& out,
               std::ostream& err);

}  // namespace ava::app
