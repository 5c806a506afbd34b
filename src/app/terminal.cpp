// POSIX terminal handling (termios, ioctl, poll). See include/ava/app/terminal.hpp.
#include "ava/app/terminal.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

namespace ava::app {
namespace {

// The settings to restore, readable from a signal handler: a plain struct written before the
// flag is raised (the release store orders it), read only after the flag is seen set.
termios g_saved{};
std::atomic<int> g_saved_fd{-1};

constexpr char show_cursor[] = "\x1b[?25h";

void restore_from_signal(int sig) {
    restore_terminal_now();
    // SA_RESETHAND already put back the default action (core dump or exit with the signal's
    // status): raising again ends the process as if we had not been here.
    std::raise(sig);
}

/// Bytes in the UTF-8 character starting with `lead` (1 for anything invalid).
std::size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;
}

}  // namespace

bool is_terminal(int fd) noexcept {
    return isatty(fd) != 0;
}

int terminal_columns(int fd, int fallback) noexcept {
    winsize ws{};
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return fallback;
}

bool locale_is_utf8() noexcept {
    for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
        const char* v = std::getenv(name);
        if (v == nullptr || *v == '\0') continue;
        // The first variable that is set decides, as in setlocale().
        return std::strstr(v, "UTF-8") != nullptr || std::strstr(v, "utf8") != nullptr ||
               std::strstr(v, "utf-8") != nullptr || std::strstr(v, "UTF8") != nullptr;
    }
    return false;
}

raw_mode::raw_mode(int fd) : fd_(fd) {
    termios t{};
    if (isatty(fd) == 0 || tcgetattr(fd, &t) != 0) return;
    g_saved = t;
    g_saved_fd.store(fd, std::memory_order_release);
    termios raw = t;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL);
    // Ctrl+Z would stop us with the terminal still raw; Ctrl+C stays a signal (clean stop).
    raw.c_cc[VSUSP] = _POSIX_VDISABLE;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &raw) != 0) {
        g_saved_fd.store(-1, std::memory_order_release);
        return;
    }
    active_ = true;
}

raw_mode::~raw_mode() {
    restore();
}

void raw_mode::restore() noexcept {
    if (!active_) return;
    active_ = false;
    restore_terminal_now();
}

void restore_terminal_now() noexcept {
    const int fd = g_saved_fd.exchange(-1, std::memory_order_acq_rel);
    if (fd < 0) return;
    tcsetattr(fd, TCSANOW, &g_saved);
    // The UI hides the cursor while it draws; give it back. Best effort.
    const ssize_t n = write(STDOUT_FILENO, show_cursor, sizeof show_cursor - 1);
    (void)n;
}

void install_fatal_signal_restore() noexcept {
    static std::atomic<bool> installed{false};
    if (installed.exchange(true)) return;
    for (const int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGQUIT}) {
        struct sigaction sa {};
        sa.sa_handler = restore_from_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = static_cast<int>(SA_RESETHAND);
        sigaction(sig, &sa, nullptr);
    }
}

std::optional<std::string> read_input(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, timeout_ms);
    if (r < 0) {
        if (errno == EINTR) return std::string();
        return std::nullopt;
    }
    if (r == 0) return std::string();
    char buf[256];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) return std::string();
        return std::nullopt;
    }
    if (n == 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
}

std::vector<key> key_decoder::feed(std::string_view bytes) {
    std::vector<key> keys;
    std::string data = pending_ + std::string(bytes);
    pending_.clear();
    std::size_t i = 0;
    while (i < data.size()) {
        const auto c = static_cast<unsigned char>(data[i]);
        if (c == 0x1b) {
            // ESC alone (the last byte read) is the Escape key; ESC followed by more bytes in the
            // same read is a sequence the terminal sent for one key: skip it whole.
            if (i + 1 >= data.size()) {
                keys.push_back({key::kind::escape, {}});
                ++i;
                continue;
            }
            const char next = data[i + 1];
            i += 2;
            if (next == '[' || next == 'O') {
                // CSI/SS3: parameters, then one final byte in 0x40..0x7e.
                while (i < data.size()) {
                    const auto b = static_cast<unsigned char>(data[i++]);
                    if (b >= 0x40 && b <= 0x7e) break;
                }
            }
            keys.push_back({key::kind::other, {}});
            continue;
        }
        if (c == '\r' || c == '\n') {
            keys.push_back({key::kind::enter, {}});
            // CR LF from some terminals is one Enter.
            if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
            ++i;
            continue;
        }
        if (c == 0x7f || c == 0x08) {
            keys.push_back({key::kind::backspace, {}});
            ++i;
            continue;
        }
        if (c == 0x03) {
            keys.push_back({key::kind::ctrl_c, {}});
            ++i;
            continue;
        }
        if (c == 0x04) {
            keys.push_back({key::kind::ctrl_d, {}});
            ++i;
            continue;
        }
        if (c < 0x20) {
            keys.push_back({key::kind::other, {}});
            ++i;
            continue;
        }
        const std::size_t len = utf8_length(c);
        if (i + len > data.size()) {
            pending_ = data.substr(i);  // the rest of this character comes with the next read
            break;
        }
        keys.push_back({key::kind::character, data.substr(i, len)});
        i += len;
    }
    return keys;
}

void pop_utf8_char(std::string& s) {
    while (!s.empty()) {
        const auto c = static_cast<unsigned char>(s.back());
        s.pop_back();
        if ((c & 0xC0) != 0x80) break;  // removed the lead byte (or an ASCII character)
    }
}

}  // namespace ava::app
