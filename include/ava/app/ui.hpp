// The terminal UI of ava-voice: a renderer that keeps the conversation's visible state and draws
// it either as plain lines (a pipe, a log file, NO_COLOR) or as an ANSI screen: finished lines
// scroll up as usual, and a live footer below them shows partial transcripts updating in place,
// the status (connecting, listening, you are speaking, thinking, AVA speaking, calling a tool,
// reconnecting), input/output level meters, tokens and cost, the last turn's latency, and the
// keys (or the line editor while typing).
//
// Threads: every method may be called from any thread (the session's io thread for transcripts,
// tools and status; the refresh timer for meters; the key thread; the main thread for banners
// and the summary). One mutex guards the state and the output, and each call writes at most one
// frame, so the io thread never waits long on the terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/realtime/conversation_types.hpp"
#include "ava/session.hpp"

namespace ava::app {

struct ui_options {
    /// Draw the live footer with cursor movement (a terminal). false: plain lines only.
    bool ansi = false;
    /// Colour (SGR) codes; only with ansi or on their own for a coloured plain log.
    bool color = false;
    /// Block characters for meters (the locale is UTF-8); otherwise ASCII.
    bool unicode = false;
    /// Columns; 0 asks the terminal on stdout each frame (a resize takes effect at once).
    int width = 0;
    /// Turn-taking shown in the key hints: push-to-talk (manual) or voice activity.
    bool push_to_talk = false;
};

/// Where the renderer's bytes go (stdout in ava-voice, a string in tests). Called with the lock
/// held; must not call back into the renderer.
using ui_sink = std::function<void(std::string_view bytes)>;

/// The UI state and its drawing. See the top of this file.
class ui_renderer {
  public:
    /// `err`: where warnings and errors go in plain mode (stderr in ava-voice); empty: `out`.
    ui_renderer(ui_options opts, ui_sink out, ui_sink err = {});
    ~ui_renderer();
    ui_renderer(const ui_renderer&) = delete;
    ui_renderer& operator=(const ui_renderer&) = delete;

    // ---- events (any thread) ----
    void status(realtime::conv_status s);
    void transcript(const transcript_line& t);
    void tool(const tool_event& e);
    void interrupted();
    void turn(const realtime::act::turn_metrics& m);
    void usage(const realtime::act::usage_metrics& m);
    void levels(float input_db, float output_db);
    void muted(bool on);
    void talking(bool on);
    /// The line editor: the text typed so far, or nullopt when not editing.
    void editing(std::optional<std::string> text);
    /// A short message in the footer for a few seconds (a key hint, "muted").
    void hint(std::string text);
    /// A tool call waiting for the user's yes (pending), or settled: the footer shows the prompt
    /// until it is settled, and the decision scrolls up.
    void approval(const approval_request& r);
    /// The call id of the oldest approval still waiting for Y or N.
    [[nodiscard]] std::optional<std::string> pending_approval() const;
    /// Tool calls still running (the cancel key has something to cancel).
    [[nodiscard]] bool tools_running() const;

    // ---- lines that scroll (any thread) ----
    void line(std::string_view text);
    void banner(std::string_view text);
    void notice(std::string_view text);
    void warning(std::string_view text);
    void error(std::string_view text);

    /// Redraws the footer (the refresh timer calls this ~15 times a second for the meters).
    void refresh();
    /// Erases the footer and shows the cursor, leaving only the scrolled lines. Called once at
    /// the end, before the summary; later calls draw plain lines.
    void finish();

    // ---- pure helpers (exposed for tests) ----
    /// The status text ("listening", "you are speaking", "AVA speaking", ...).
    static std::string_view status_text(realtime::conv_status s);
    /// A level meter of `cells` cells for `db` (-60 dB empty .. 0 dB full).
    static std::string meter(float db, int cells, bool unicode);
    /// Display columns of `s` (UTF-8 aware, SGR codes count zero).
    static std::size_t display_width(std::string_view s);
    /// `s` cut to at most `cols` display columns; keep_tail keeps the end (partial text).
    static std::string fit(std::string_view s, std::size_t cols, bool keep_tail);

  private:
    std::string paint(std::string_view code, std::string_view text) const;
    std::string footer_locked(std::size_t cols) const;
    void commit_locked(std::string_view text);
    void draw_locked();
    int columns() const;

    ui_options opts_;
    ui_sink out_;
    ui_sink err_;
    mutable std::mutex mutex_;

    realtime::conv_status status_ = realtime::conv_status::connecting;
    std::string user_partial_;
    std::string assistant_partial_;
    std::string user_partial_id_;
    std::string assistant_partial_id_;
    std::optional<std::string> edit_;
    std::string hint_;
    std::chrono::steady_clock::time_point hint_until_{};
    std::optional<std::chrono::milliseconds> last_latency_;
    std::uint64_t tokens_ = 0;
    double cost_ = 0;
    float in_db_ = -120.0f;
    float out_db_ = -120.0f;
    bool muted_ = false;
    bool talking_ = false;
    int interruptions_ = 0;
    struct running_tool {
        std::string call_id;
        std::string name;
        std::chrono::steady_clock::time_point since;
    };
    std::vector<running_tool> running_tools_;  ///< in call order
    std::vector<approval_request> approvals_;  ///< pending, oldest first
    std::size_t footer_rows_ = 0;              ///< rows of the footer now on screen (0: none drawn)
    bool finished_ = false;
};

}  // namespace ava::app
