// A long-lived child process with its three standard streams piped to us: argv run directly
// (posix_spawnp, never a shell), the inherited environment plus overrides, a working directory,
// its own process group (so stopping it stops what it started), SIGPIPE/SIGINT/SIGTERM at their
// defaults and no signal blocked. support/process.cpp runs a child to completion; this one keeps
// it running and hands the pipes to the caller (mcp/channel.cpp polls them).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ava::tools::mcp {

/// A file descriptor closed when it goes.
class unique_fd {
  public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
    unique_fd& operator=(unique_fd&& other) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] explicit operator bool() const { return fd_ >= 0; }
    int release();
    void reset();

  private:
    int fd_ = -1;
};

struct child_options {
    std::vector<std::string> argv;           ///< argv[0] is looked up in PATH when it has no '/'
    std::map<std::string, std::string> env;  ///< added to (or replacing in) our environment
    std::string cwd;                         ///< empty: ours
};

/// A running child. The pipe ends are non-blocking and close-on-exec.
struct child {
    pid_t pid = -1;
    unique_fd in;   ///< its stdin (we write)
    unique_fd out;  ///< its stdout (we read)
    unique_fd err;  ///< its stderr (we read)
};

/// Starts the child. Throws std::runtime_error saying why it cannot (no such program, a bad
/// working directory...).
child spawn_child(const child_options& opts);

/// How a waitpid() status reads in a log line: "exited with status 3", "killed by signal 9".
std::string describe_exit(int status);

}  // namespace ava::tools::mcp
