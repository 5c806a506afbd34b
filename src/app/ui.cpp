// The terminal UI renderer. See include/ava/app/ui.hpp.
//
// ANSI drawing: the footer is the last rows on the screen, with the cursor at the end of its last
// row. Each frame moves the cursor to the footer's first row, clears to the end of the screen,
// prints any new scrolling lines (they push the screen up like ordinary output), then the footer
// again. Footer rows are cut to the width minus one column so the terminal never wraps them,
// which keeps the row count, and so the cursor arithmetic, exact.
#include "ava/app/ui.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "ava/app/terminal.hpp"
#include "ava/core/log.hpp"
#include "ava/core/text.hpp"

namespace ava::app {
namespace {

constexpr auto hint_time = std::chrono::seconds(4);

std::string shorten(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    return std::string(s.substr(0, core::utf8_prefix(s, max))) + "...";  // never half a character
}

/// One displayed row of text from outside (the model, the server, a tool): newlines and tabs
/// would break the row arithmetic, and escape sequences would act on the terminal.
std::string one_line(std::string_view s) {
    return core::printable(s, true);
}

/// A notice, warning or error line: often a server's words, which may echo the key back.
std::string shown(std::string_view s) {
    return core::printable(log::redact(s));
}

std::string money(double usd) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.4f", usd);
    return buf;
}

}  // namespace

ui_renderer::ui_renderer(ui_options opts, ui_sink out, ui_sink err)
    : opts_(opts), out_(std::move(out)), err_(std::move(err)) {}

ui_renderer::~ui_renderer() {
    finish();
}

// ---- pure helpers ------------------------------------------------------------------------------

std::string_view ui_renderer::status_text(realtime::conv_status s) {
    switch (s) {
        case realtime::conv_status::connecting:
            return "connecting";
        case realtime::conv_status::listening:
            return "listening";
        case realtime::conv_status::user_speaking:
            return "you are speaking";
        case realtime::conv_status::thinking:
            return "thinking";
        case realtime::conv_status::assistant_speaking:
            return "AVA speaking";
        case realtime::conv_status::calling_tool:
            return "calling a tool";
        case realtime::conv_status::reconnecting:
            return "reconnecting";
    }
    return "?";
}

std::string ui_renderer::meter(float db, int cells, bool unicode) {
    // -60 dB (quiet room) .. 0 dB (full scale), linear in dB like a mixing desk.
    const float clamped = std::clamp(db, -60.0f, 0.0f);
    const auto lit =
        static_cast<int>(std::lround((clamped + 60.0f) / 60.0f * static_cast<float>(cells)));
    std::string out;
    for (int i = 0; i < cells; ++i) {
        if (unicode) {
            out += i < lit ? "\u2588" : "\u00b7";
        } else {
            out += i < lit ? '#' : '.';
        }
    }
    return out;
}

std::size_t ui_renderer::display_width(std::string_view s) {
    std::size_t w = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0x1b) {  // CSI ... final byte: no width
            ++i;
            if (i < s.size() && s[i] == '[') {
                while (i + 1 < s.size()) {
                    const auto b = static_cast<unsigned char>(s[++i]);
                    if (b >= 0x40 && b <= 0x7e) break;
                }
            }
            continue;
        }
        if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte
        ++w;
    }
    return w;
}

std::string ui_renderer::fit(std::string_view s, std::size_t cols, bool keep_tail) {
    if (display_width(s) <= cols) return std::string(s);
    if (cols <= 3) return std::string(cols, '.');
    // Works on plain text (no SGR codes): callers fit first, then paint.
    std::vector<std::size_t> starts;  // byte offset of each character
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    }
    const std::size_t keep = cols - 3;
    if (keep_tail) {
        return "..." + std::string(s.substr(starts[starts.size() - keep]));
    }
    return std::string(s.substr(0, starts[keep])) + "...";
}

// ---- events ------------------------------------------------------------------------------------

void ui_renderer::status(realtime::conv_status s) {
    const std::lock_guard lock(mutex_);
    status_ = s;
    draw_locked();
}

void ui_renderer::transcript(const transcript_line& t) {
    const std::lock_guard lock(mutex_);
    const bool user = t.role == realtime::speaker::user;
    if (!t.final) {
        if (user) {
            user_partial_ = t.text;
            user_partial_id_ = t.item_id;
        } else {
            assistant_partial_ = t.text;
            assistant_partial_id_ = t.item_id;
        }
        draw_locked();
        return;
    }
    if (user) {
        if (user_partial_id_ == t.item_id || user_partial_id_.empty()) user_partial_.clear();
        commit_locked(paint("1;36", "You: ") +
                      (t.failed ? paint("2", "[not transcribed]") : one_line(t.text)));
        return;
    }
    if (assistant_partial_id_ == t.item_id || assistant_partial_id_.empty()) {
        assistant_partial_.clear();
    }
    std::string out = paint("1;35", "AVA: ") + one_line(t.text);
    if (!t.unheard.empty()) {
        out += paint("2", std::string(t.text.empty() ? "" : " ") + "[interrupted; not heard" +
                              (t.unheard_estimated ? " (about)" : "") + ": " + one_line(t.unheard) +
                              "]");
    }
    commit_locked(out);
}

void ui_renderer::tool(const tool_event& e) {
    const std::lock_guard lock(mutex_);
    if (!e.finished) {
        running_tools_.push_back({e.call_id, e.name, std::chrono::steady_clock::now()});
        commit_locked(paint("33", "  -> ") + one_line(e.name) + " " +
                      one_line(shorten(e.arguments_json, 160)));
        return;
    }
    std::erase_if(running_tools_, [&](const running_tool& t) { return t.call_id == e.call_id; });
    commit_locked(
        paint("33", "  <- ") + one_line(e.name) + (e.ok ? " ok" : paint("31", " failed")) + " (" +
        std::to_string(e.elapsed.count()) + " ms) " + one_line(shorten(e.output_json, 200)));
}

void ui_renderer::approval(const approval_request& r) {
    const std::lock_guard lock(mutex_);
    std::erase_if(approvals_, [&](const approval_request& a) { return a.call_id == r.call_id; });
    switch (r.st) {
        case approval_request::state::pending:
            approvals_.push_back(r);
            if (!opts_.ansi) {
                commit_locked(paint("1;33", "  ? ") + one_line(r.name) + " " +
                              one_line(shorten(r.arguments_json, 160)) +
                              " needs your yes: press Y to run it, N to refuse (no answer in " +
                              std::to_string(r.timeout.count() / 1000) + " s = no)");
            }
            break;
        case approval_request::state::approved:
            commit_locked(paint("32", "  ok ") + one_line(r.name) + " approved");
            break;
        case approval_request::state::denied:
            commit_locked(paint("31", "  no ") + one_line(r.name) + " refused");
            break;
        case approval_request::state::timed_out:
            commit_locked(paint("31", "  no ") + one_line(r.name) + " not run: no answer in " +
                          std::to_string(r.timeout.count() / 1000) + " s");
            break;
        case approval_request::state::cancelled:
            commit_locked(paint("31", "  no ") + one_line(r.name) + " cancelled");
            break;
    }
    draw_locked();
}

std::optional<std::string> ui_renderer::pending_approval() const {
    const std::lock_guard lock(mutex_);
    if (approvals_.empty()) return std::nullopt;
    return approvals_.front().call_id;
}

bool ui_renderer::tools_running() const {
    const std::lock_guard lock(mutex_);
    return !running_tools_.empty();
}

void ui_renderer::interrupted() {
    const std::lock_guard lock(mutex_);
    ++interruptions_;
    if (opts_.ansi) {
        hint_ = "reply interrupted";
        hint_until_ = std::chrono::steady_clock::now() + hint_time;
        draw_locked();
    }
}

void ui_renderer::turn(const realtime::act::turn_metrics& m) {
    const std::lock_guard lock(mutex_);
    last_latency_ = m.latency;
    draw_locked();
}

void ui_renderer::usage(const realtime::act::usage_metrics& m) {
    const std::lock_guard lock(mutex_);
    tokens_ += static_cast<std::uint64_t>(std::max<std::int64_t>(0, m.tokens.total_tokens));
    cost_ = m.session_cost_usd;
    draw_locked();
}

void ui_renderer::levels(float input_db, float output_db) {
    const std::lock_guard lock(mutex_);
    in_db_ = input_db;
    out_db_ = output_db;
}

void ui_renderer::muted(bool on) {
    const std::lock_guard lock(mutex_);
    muted_ = on;
    draw_locked();
}

void ui_renderer::talking(bool on) {
    const std::lock_guard lock(mutex_);
    talking_ = on;
    draw_locked();
}

void ui_renderer::editing(std::optional<std::string> text) {
    const std::lock_guard lock(mutex_);
    edit_ = std::move(text);
    draw_locked();
}

void ui_renderer::hint(std::string text) {
    const std::lock_guard lock(mutex_);
    if (!opts_.ansi) {
        commit_locked(paint("2", text));
        return;
    }
    hint_ = std::move(text);
    hint_until_ = std::chrono::steady_clock::now() + hint_time;
    draw_locked();
}

// ---- scrolling lines ---------------------------------------------------------------------------

void ui_renderer::line(std::string_view text) {
    const std::lock_guard lock(mutex_);
    commit_locked(text);
}

void ui_renderer::banner(std::string_view text) {
    const std::lock_guard lock(mutex_);
    commit_locked(paint("2", text));
}

void ui_renderer::notice(std::string_view text) {
    const std::lock_guard lock(mutex_);
    commit_locked(paint("2", "ava-voice: " + shown(text)));
}

void ui_renderer::warning(std::string_view text) {
    const std::lock_guard lock(mutex_);
    if (!opts_.ansi && err_) {
        err_(paint("33", "ava-voice: warning: ") + shown(text) + "\n");
        return;
    }
    commit_locked(paint("33", "ava-voice: warning: ") + shown(text));
}

void ui_renderer::error(std::string_view text) {
    const std::lock_guard lock(mutex_);
    if ((!opts_.ansi || finished_) && err_) {
        err_(paint("31", "ava-voice: error: ") + shown(text) + "\n");
        return;
    }
    commit_locked(paint("31", "ava-voice: error: ") + shown(text));
}

void ui_renderer::refresh() {
    const std::lock_guard lock(mutex_);
    draw_locked();
}

void ui_renderer::finish() {
    const std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    if (!opts_.ansi) return;
    std::string out;
    if (footer_rows_ > 0) {
        out += "\r";
        if (footer_rows_ > 1) out += "\x1b[" + std::to_string(footer_rows_ - 1) + "A";
        out += "\x1b[J";
        footer_rows_ = 0;
    }
    out += "\x1b[?25h";
    out_(out);
}

// ---- drawing -----------------------------------------------------------------------------------

std::string ui_renderer::paint(std::string_view code, std::string_view text) const {
    if (!opts_.color) return std::string(text);
    return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

int ui_renderer::columns() const {
    if (opts_.width > 0) return opts_.width;
    return terminal_columns(STDOUT_FILENO, 80);
}

std::string ui_renderer::footer_locked(std::size_t cols) const {
    const std::size_t usable = cols > 1 ? cols - 1 : 1;
    std::vector<std::string> rows;
    if (!user_partial_.empty()) {
        rows.push_back(paint("36", "You: ") +
                       paint("2", fit(one_line(user_partial_), usable > 5 ? usable - 5 : 1, true)));
    }
    if (!assistant_partial_.empty()) {
        rows.push_back(paint("35", "AVA: ") + paint("2", fit(one_line(assistant_partial_),
                                                             usable > 5 ? usable - 5 : 1, true)));
    }

    // The status row: each part is added while it fits, most important first.
    const bool speaking = status_ == realtime::conv_status::user_speaking;
    const bool ava = status_ == realtime::conv_status::assistant_speaking;
    const char* status_color = speaking ? "1;36"
                               : ava    ? "1;35"
                               : status_ == realtime::conv_status::reconnecting ||
                                       status_ == realtime::conv_status::connecting
                                   ? "1;33"
                                   : "1";
    std::string label(status_text(status_));
    if (talking_) label = "talking (SPACE ends the turn)";
    std::vector<std::pair<std::string, std::string>> parts;  // {plain, painted}
    const std::string dot = opts_.unicode ? "\u25cf " : "* ";
    parts.emplace_back(dot + label, paint(status_color, dot + label));
    if (muted_) parts.emplace_back("MUTED", paint("1;31", "MUTED"));
    const std::string mic = "mic " + meter(muted_ ? -120.0f : in_db_, 8, opts_.unicode);
    parts.emplace_back(mic, paint("36", mic));
    const std::string spk = "out " + meter(out_db_, 8, opts_.unicode);
    parts.emplace_back(spk, paint("35", spk));
    parts.emplace_back("tokens " + std::to_string(tokens_) + " " + money(cost_),
                       "tokens " + std::to_string(tokens_) + " " + money(cost_));
    const std::string lat =
        "last turn " + (last_latency_ ? std::to_string(last_latency_->count()) + " ms" : "-");
    parts.emplace_back(lat, lat);
    if (interruptions_ > 0) {
        const std::string in = "interrupted " + std::to_string(interruptions_);
        parts.emplace_back(in, in);
    }
    std::string row;
    std::size_t width = 0;
    for (const auto& [plain, painted] : parts) {
        const std::size_t w = display_width(plain) + (row.empty() ? 0 : 3);
        if (width + w > usable) break;
        row += (row.empty() ? "" : paint("2", " | ")) + painted;
        width += w;
    }
    rows.push_back(row);

    // Running tools with their elapsed time (and a waiting approval, which takes the keys).
    const auto now = std::chrono::steady_clock::now();
    if (!running_tools_.empty()) {
        std::string tools_row;
        for (const auto& t : running_tools_) {
            if (std::any_of(approvals_.begin(), approvals_.end(),
                            [&](const approval_request& a) { return a.call_id == t.call_id; })) {
                continue;
            }
            const auto tenths =
                std::chrono::duration_cast<std::chrono::milliseconds>(now - t.since).count() / 100;
            tools_row += (tools_row.empty() ? "" : ", ") + one_line(t.name) + " " +
                         std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
        }
        if (!tools_row.empty()) {
            rows.push_back(
                paint("33", fit("running: " + tools_row + "  (C cancels)", usable, false)));
        }
    }
    if (!approvals_.empty() && !edit_) {
        const approval_request& a = approvals_.front();
        rows.push_back(paint("1;33", fit("Run " + one_line(a.name) + " " +
                                             one_line(shorten(a.arguments_json, 120)) + "?",
                                         usable, false)));
        rows.push_back(paint("1;33", "Y") + " run it  " + paint("1;33", "N") +
                       " refuse  (no answer = no)");
    } else if (edit_) {
        const std::string prompt = "Type: ";
        const std::string tail = "  (Enter sends, Esc cancels)";
        std::size_t room =
            usable > prompt.size() + tail.size() + 1 ? usable - prompt.size() - tail.size() - 1 : 1;
        rows.push_back(paint("1;32", prompt) + fit(*edit_, room, true) + paint("7", " ") +
                       paint("2", tail));
    } else if (!hint_.empty() && std::chrono::steady_clock::now() < hint_until_) {
        rows.push_back(paint("33", fit(one_line(hint_), usable, false)));
    } else {
        const std::string keys = std::string(opts_.push_to_talk ? "SPACE talk/end turn  " : "") +
                                 "M mute  C cancel reply/tool  T type  Q quit";
        rows.push_back(paint("2", fit(keys, usable, false)));
    }
    std::string out;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (i > 0) out += '\n';
        out += rows[i];
    }
    return out;
}

void ui_renderer::commit_locked(std::string_view text) {
    if (!opts_.ansi || finished_) {
        out_(std::string(text) + "\n");
        return;
    }
    std::string out;
    if (footer_rows_ > 0) {
        out += "\r";
        if (footer_rows_ > 1) out += "\x1b[" + std::to_string(footer_rows_ - 1) + "A";
        out += "\x1b[J";
    } else {
        out += "\x1b[?25l";
    }
    out += text;
    out += "\x1b[0m\n";
    const std::string footer = footer_locked(static_cast<std::size_t>(columns()));
    out += footer;
    footer_rows_ = static_cast<std::size_t>(std::count(footer.begin(), footer.end(), '\n')) + 1;
    out_(out);
}

void ui_renderer::draw_locked() {
    if (!opts_.ansi || finished_) return;
    std::string out;
    if (footer_rows_ > 0) {
        out += "\r";
        if (footer_rows_ > 1) out += "\x1b[" + std::to_string(footer_rows_ - 1) + "A";
        out += "\x1b[J";
    } else {
        out += "\x1b[?25l";
    }
    const std::string footer = footer_locked(static_cast<std::size_t>(columns()));
    out += footer;
    footer_rows_ = static_cast<std::size_t>(std::count(footer.begin(), footer.end(), '\n')) + 1;
    out_(out);
}

}  // namespace ava::app
