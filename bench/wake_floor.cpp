// ava-wake-floor: what the bare minimum of a 50 Hz streaming client costs on this machine.
//
// A realtime voice client wakes every 20 ms (one mic frame) and sends one append (~1.4 KB of
// JSON with base64 audio) over TCP. This program does exactly that and nothing else: a timerfd
// in an epoll loop, one send() per tick to a loopback TCP peer (a child process that reads and
// discards, as the simulator does), no TLS, no JSON, no audio. Its CPU time per minute is the
// floor under any client of the protocol's cadence here: on a virtual machine, a wake-up from
// idle alone can cost tens of microseconds. bench.py prints it beside ava-voice's figure so that
// the CPU ratio against the Node clients can be read against what is physically possible.
//
// Usage: ava-wake-floor [--seconds S] [--period-ms P] [--bytes N]
// Prints one line: "wake_floor cpu_s=... wall_s=... ticks=... period_ms=... bytes=...".
// Linux only (timerfd, epoll).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
    std::perror(what);
    std::exit(2);
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 30;
    long period_ms = 20;
    std::size_t bytes = 1400;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view a = argv[i];
        if (a == "--seconds") {
            seconds = std::atof(argv[i + 1]);
        } else if (a == "--period-ms") {
            period_ms = std::atol(argv[i + 1]);
        } else if (a == "--bytes") {
            bytes = static_cast<std::size_t>(std::atol(argv[i + 1]));
        } else {
            std::fprintf(stderr,
                         "usage: ava-wake-floor [--seconds S] [--period-ms P] [--bytes N]\n");
            return 2;
        }
    }
    if (seconds <= 0 || period_ms <= 0 || bytes == 0) {
        std::fprintf(stderr, "ava-wake-floor: bad arguments\n");
        return 2;
    }

    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(listener, 1) != 0) die("listen");
    if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");

    const pid_t reader = fork();
    if (reader < 0) die("fork");
    if (reader == 0) {  // the peer: reads and discards until the sender closes
        const int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(1);
        std::vector<char> buf(64 * 1024);
        while (read(c, buf.data(), buf.size()) > 0) {
        }
        _exit(0);
    }
    const int s = accept(listener, nullptr, nullptr);
    if (s < 0) die("accept");
    const int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    const int ep = epoll_create1(EPOLL_CLOEXEC);
    const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    if (ep < 0 || tfd < 0) die("epoll/timerfd");
    const timespec period{period_ms / 1000, (period_ms % 1000) * 1'000'000};
    const itimerspec its{period, period};
    if (timerfd_settime(tfd, 0, &its, nullptr) != 0) die("timerfd_settime");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = tfd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) != 0) die("epoll_ctl");

    const std::string msg(bytes, 'A');
    const auto ticks = static_cast<long>(seconds * 1000.0 / static_cast<double>(period_ms));
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < ticks; ++i) {
        epoll_event got{};
        if (epoll_wait(ep, &got, 1, -1) < 0) continue;
        std::uint64_t expirations = 0;
        if (read(tfd, &expirations, sizeof expirations) < 0) die("read timerfd");
        if (send(s, msg.data(), msg.size(), 0) < 0) die("send");
    }
    const double cpu = cpu_seconds() - cpu0;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    close(s);
    int status = 0;
    waitpid(reader, &status, 0);
    std::printf("wake_floor cpu_s=%.4f wall_s=%.2f ticks=%ld period_ms=%ld bytes=%zu\n", cpu, wall,
                ticks, period_ms, bytes);
    return 0;
}
