// A real server process for the tool tests (python3 HTTP or SMTP server on loopback): spawned
// directly, waits for its "PORT <n>" line, killed (by its pid only) when the object goes.
#pragma once

#include <string>
#include <vector>

namespace ava::tools::test {

class server_process {
  public:
    /// Spawns `argv` and waits up to 10 s for "PORT <n>" on its stdout. Throws on failure.
    explicit server_process(const std::vector<std::string>& argv);
    server_process(const server_process&) = delete;
    server_process& operator=(const server_process&) = delete;
    ~server_process();

    [[nodiscard]] int port() const { return port_; }
    /// http://127.0.0.1:<port> (or https://).
    [[nodiscard]] std::string url(const std::string& scheme = "http") const;

  private:
    void cleanup();
    int pid_ = -1;
    int port_ = 0;
    int out_fd_ = -1;
};

/// The python3 interpreter CMake found (one with aiosmtpd when there is one).
std::string python3();
/// tests/tools in the source tree.
std::string test_dir();
/// Whether `python3()` can import aiosmtpd.
bool have_aiosmtpd();

/// A blocking GET/POST to the fake server's bookkeeping routes (/__requests, /__reset), through
/// the same http_client the tools use.
std::string fetch(const std::string& url, const std::string& method = "GET");

}  // namespace ava::tools::test
