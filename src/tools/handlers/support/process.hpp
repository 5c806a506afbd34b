// Runs a child process to completion without a shell: argv directly (posix_spawnp), a string
// on stdin, stdout and stderr collected, a deadline, an output cap. Used by command tools.
#pragma once

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <vector>

namespace ava::tools::detail {

struct process_options {
    std::vector<std::string> argv;  ///< argv[0] is looked up in PATH when it has no '/'
    std::string stdin_data;
    std::chrono::milliseconds timeout{10000};
    std::size_t max_output_bytes = 64 * 1024;  ///< stdout cap; stderr keeps its first 4 KiB
};

struct process_result {
    int exit_code = -1;  ///< valid when exited
    int signal = 0;      ///< the signal that ended it, when not exited
    bool exited = false;
    bool timed_out = false;        ///< killed at the deadline
    bool too_much_output = false;  ///< killed when stdout passed the cap
    bool cancelled = false;        ///< killed because stop was requested
    std::string out;
    std::string err;
};

/// Blocks until the child ends or is killed (SIGKILL to its own process group, so its children
/// go too). Throws tool_error when it cannot be started (e.g. no such program). Worker threads
/// only: it blocks SIGPIPE on the calling thread while writing stdin.
process_result run_process(const process_options& opts, std::stop_token stop);

}  // namespace ava::tools::detail
