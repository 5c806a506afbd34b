// posix_spawnp with piped stdio, an environment, a working directory and a process group.
#include "mcp/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace ava::tools::mcp {

unique_fd& unique_fd::operator=(unique_fd&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = other.release();
    }
    return *this;
}

int unique_fd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void unique_fd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

namespace {

// Both ends close-on-exec: the child gets its ends through dup2 only, so no other child (or
// other MCP server) inherits them and holds a pipe open after this one has gone.
std::pair<unique_fd, unique_fd> cloexec_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

// Our environment with `extra` added or replacing entries of the same name.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
    std::vector<std::string> out;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        const std::string name(entry.substr(0, entry.find('=')));
        if (!extra.contains(name)) out.emplace_back(entry);
    }
    for (const auto& [name, value] : extra) out.push_back(name + "=" + value);
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// RAII for the two posix_spawn attribute objects.
struct spawn_setup {
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    spawn_setup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;
    ~spawn_setup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
};

}  // namespace

child spawn_child(const child_options& opts) {
    if (opts.argv.empty() || opts.argv[0].empty()) throw std::runtime_error("no command to run");
    auto [in_r, in_w] = cloexec_pipe();
    auto [out_r, out_w] = cloexec_pipe();
    auto [err_r, err_w] = cloexec_pipe();

    spawn_setup s;
    posix_spawn_file_actions_adddup2(&s.actions, in_r.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&s.actions, out_w.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&s.actions, err_w.get(), STDERR_FILENO);
    if (!opts.cwd.empty()) posix_spawn_file_actions_addchdir_np(&s.actions, opts.cwd.c_str());
    // Our threads may block signals (the I/O thread blocks SIGPIPE); the child starts clean.
    sigset_t mask;
    sigset_t defaults;
    sigemptyset(&mask);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&s.attr, &mask);
    posix_spawnattr_setsigdefault(&s.attr, &defaults);
    posix_spawnattr_setpgroup(&s.attr, 0);  // own group: Ctrl-C on our terminal is not its
    posix_spawnattr_setflags(
        &s.attr,
        static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

    std::vector<std::string> args = opts.argv;
    std::vector<std::string> env = merged_environment(opts.env);
    std::vector<char*> argv = c_strings(args);
    std::vector<char*> envp = c_strings(env);
    child c;
    const int rc = ::posix_spawnp(&c.pid, argv[0], &s.actions, &s.attr, argv.data(), envp.data());
    if (rc != 0) {
        std::string why = "cannot run '" + opts.argv[0] + "': " + std::strerror(rc);
        if (!opts.cwd.empty()) why += " (working directory '" + opts.cwd + "')";
        throw std::runtime_error(why);
    }
    c.in = std::move(in_w);
    c.out = std::move(out_r);
    c.err = std::move(err_r);
    for (int fd : {c.in.get(), c.out.get(), c.err.get()}) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return c;
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) {
        // posix_spawnp reports a failed exec (bad cwd with addchdir_np) as exit status 127.
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::sigabbrev_np(sig);
        return "killed by signal " + std::to_string(sig) +
               (name ? std::string(" (SIG") + name + ")" : std::string());
    }
    return "ended (status " + std::to_string(status) + ")";
}

}  // namespace ava::tools::mcp
