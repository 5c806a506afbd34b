// The terminal under ava-voice's UI: raw key input (termios) that is restored on every exit path,
// the window size, and a decoder that turns the bytes of a keypress into keys.
//
// Restoring: raw_mode's destructor restores the saved settings (normal exits and exceptions);
// install_fatal_signal_restore() covers crashes and aborts (SIGSEGV, SIGABRT, SIGBUS, SIGFPE,
// SIGILL, SIGHUP, SIGQUIT: the handler restores the terminal with async-signal-safe calls, then
// re-raises with the default action). SIGINT/SIGTERM are left to the runner, which turns them
// into a clean stop (and so into the destructor).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ava::app {

/// True when `fd` is a terminal.
bool is_terminal(int fd) noexcept;

/// Columns of the terminal on `fd`; `fallback` when it is not a terminal or does not say.
int terminal_columns(int fd, int fallback = 80) noexcept;

/// True when the locale's character set is UTF-8 (LC_ALL, LC_CTYPE, LANG), so block characters
/// may be drawn; otherwise the UI stays ASCII.
bool locale_is_utf8() noexcept;

/// RAII: puts a terminal into raw-ish key mode (no line buffering, no echo, Ctrl+Z disabled;
/// Ctrl+C still raises SIGINT so the runner's clean-stop path sees it) and restores the saved
/// settings plus a visible cursor when destroyed. Main thread. Does nothing when `fd` is not a
/// terminal (active() is then false).
class raw_mode {
  public:
    explicit raw_mode(int fd);
    ~raw_mode();
    raw_mode(const raw_mode&) = delete;
    raw_mode& operator=(const raw_mode&) = delete;

    [[nodiscard]] bool active() const noexcept { return active_; }
    /// Restores now (idempotent; the destructor then does nothing more).
    void restore() noexcept;

  private:
    int fd_;
    bool active_ = false;
};

/// Installs handlers for fatal signals that restore the terminal saved by the active raw_mode
/// (if any) and show the cursor before the process dies. Idempotent. Main thread, at startup.
void install_fatal_signal_restore() noexcept;

/// Restores the terminal saved by the active raw_mode, async-signal-safe (tcsetattr and write).
/// For signal handlers and last-resort paths; raw_mode's destructor is the normal way.
void restore_terminal_now() noexcept;

/// Waits up to `timeout_ms` for input on `fd` and returns what one read() gives: the bytes, an
/// empty string on timeout (or EINTR), nullopt at end of input or on an error. Key thread.
std::optional<std::string> read_input(int fd, int timeout_ms);

/// One decoded key.
struct key {
    enum class kind { character, enter, escape, backspace, ctrl_c, ctrl_d, other };
    kind k = kind::other;
    std::string text;  ///< kind::character: one UTF-8 character (may be several bytes)
};

/// Decodes keypress bytes as they arrive (possibly split across reads). Escape sequences (arrows,
/// function keys) become kind::other; a lone ESC at the end of a read becomes kind::escape.
/// One thread (the key reader).
class key_decoder {
  public:
    std::vector<key> feed(std::string_view bytes);

  private:
    std::string pending_;  ///< an incomplete UTF-8 character from the previous read
};

/// Removes the last UTF-8 character of `s` (the line editor's backspace).
void pop_utf8_char(std::string& s);

}  // namespace ava::app
