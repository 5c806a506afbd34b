// Child processes for command tools: posix_spawnp, pipes, poll, a deadline, SIGKILL.
#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "ava/tools/tool.hpp"

extern char** environ;

namespace ava::tools::detail {
namespace {

using clock = std::chrono::steady_clock;

struct fd_guard {
    int fd = -1;
    fd_guard() = default;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

void make_pipe(fd_guard& r, fd_guard& w) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw tool_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    r.fd = fds[0];
    w.fd = fds[1];
}

// Writing to a pipe whose reader has gone raises SIGPIPE, which would kill the whole app unless
// it ignores the signal. Block it on this thread and swallow a pending one afterwards.
class sigpipe_blocker {
  public:
    sigpipe_blocker() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    sigpipe_blocker(const sigpipe_blocker&) = delete;
    sigpipe_blocker& operator=(const sigpipe_blocker&) = delete;
    ~sigpipe_blocker() {
        timespec zero{};
        while (sigtimedwait(&set_, nullptr, &zero) > 0) {
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

  private:
    sigset_t set_{};
    sigset_t old_{};
};

}  // namespace

process_result run_process(const process_options& opts, std::stop_token stop) {
    if (opts.argv.empty() || opts.argv[0].empty()) throw tool_error("no program to run");
    fd_guard in_r, in_w, out_r, out_w, err_r, err_w;
    make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);  // own group: a timeout kills its children too
    posix_spawnattr_setflags(
        &attr,
        static_cast<short>(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));

    std::vector<char*> argv;
    for (const auto& a : opts.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw tool_error("cannot run '" + opts.argv[0] + "': " + std::strerror(rc));
    }
    in_r.reset();
    out_w.reset();
    err_w.reset();
    for (int fd : {in_w.fd, out_r.fd, err_r.fd}) ::fcntl(fd, F_SETFL, O_NONBLOCK);

    process_result res;
    const auto deadline = clock::now() + opts.timeout;
    std::size_t written = 0;
    if (opts.stdin_data.empty()) in_w.reset();
    sigpipe_blocker no_sigpipe;
    bool kill_it = false;

    while (out_r.fd >= 0 || err_r.fd >= 0) {
        if (stop.stop_requested()) {
            res.cancelled = kill_it = true;
            break;
        }
        const auto now = clock::now();
        if (now >= deadline) {
            res.timed_out = kill_it = true;
            break;
        }
        pollfd fds[3];
        nfds_t n = 0;
        for (int fd : {out_r.fd, err_r.fd}) {
            if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
        }
        if (in_w.fd >= 0) fds[n++] = {in_w.fd, POLLOUT, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        // Wake at least every 50 ms to notice a stop request.
        const int wait_ms = static_cast<int>(std::min<long long>(left.count() + 1, 50));
        if (::poll(fds, n, wait_ms) < 0 && errno != EINTR) break;
        for (nfds_t i = 0; i < n; ++i) {
            if (fds[i].revents == 0) continue;
            if (fds[i].fd == in_w.fd) {
                const ssize_t w = ::write(in_w.fd, opts.stdin_data.data() + written,
                                          opts.stdin_data.size() - written);
                if (w > 0) written += static_cast<std::size_t>(w);
                if ((w < 0 && errno != EAGAIN) || written == opts.stdin_data.size()) in_w.reset();
                continue;
            }
            char buf[8192];
            const ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
            if (r > 0) {
                const auto got = static_cast<std::size_t>(r);
                if (fds[i].fd == out_r.fd) {
                    if (res.out.size() + got > opts.max_output_bytes) {
                        res.too_much_output = kill_it = true;
                    } else {
                        res.out.append(buf, got);
                    }
                } else if (res.err.size() < 4096) {
                    res.err.append(buf, std::min<std::size_t>(got, 4096 - res.err.size()));
                }
            } else if (r == 0 || errno != EAGAIN) {
                (fds[i].fd == out_r.fd ? out_r : err_r).reset();
            }
        }
        if (kill_it) break;
    }
    in_w.reset();

    // The pipes are closed (or we gave up on them); wait for the exit, still under the deadline.
    int status = 0;
    for (;;) {
        if (!kill_it) {
            if (stop.stop_requested()) {
                res.cancelled = kill_it = true;
            } else if (clock::now() >= deadline) {
                res.timed_out = kill_it = true;
            }
        }
        if (kill_it) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status)) {
        res.exited = true;
        res.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res.signal = WTERMSIG(status);
    }
    return res;
}

}  // namespace ava::tools::detail
