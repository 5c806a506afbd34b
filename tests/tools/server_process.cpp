#include "server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "support/http_client.hpp"

extern char** environ;

namespace ava::tools::test {

server_process::server_process(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_fd_ = fds[0];
    if (rc != 0) {
        ::close(out_fd_);
        throw std::runtime_error("cannot start " + argv[0]);
    }
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (line.find('\n') == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{out_fd_, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char c = 0;
        if (::read(out_fd_, &c, 1) != 1) break;
        line += c;
    }
    if (line.rfind("PORT ", 0) != 0) {
        cleanup();
        throw std::runtime_error("server did not start: " + line);
    }
    port_ = std::atoi(line.c_str() + 5);
}

server_process::~server_process() {
    cleanup();
}

void server_process::cleanup() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    if (out_fd_ >= 0) {
        ::close(out_fd_);
        out_fd_ = -1;
    }
}

std::string server_process::url(const std::string& scheme) const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
}

std::string python3() {
    return AVA_PYTHON3;
}
std::string test_dir() {
    return AVA_TOOLS_TEST_DIR;
}

bool have_aiosmtpd() {
    static const bool have = [] {
        const std::string cmd = python3() + " -c 'import aiosmtpd' >/dev/null 2>&1";
        return std::system(cmd.c_str()) == 0;  // NOLINT: fixed command, test only
    }();
    return have;
}

std::string fetch(const std::string& url, const std::string& method) {
    ava::tools::http_client http;
    return http.request({.method = method, .url = url}).body;
}

}  // namespace ava::tools::test
