// ava::history::store: every conversation kept in one SQLite file (WAL mode), and what the user
// asked the assistant to remember.
//
// The schema has a version (PRAGMA user_version) and migrations from every older one
// (src/history/schema.cpp). A file that is not a database, or is corrupt, is moved aside
// (`history.db.corrupt-YYYYmmdd-HHMMSS`) with one warning and a new one is started; a file that
// cannot be opened at all, or that a newer ava-voice wrote, leaves the store unavailable (one
// warning) and every call a no-op: the conversation never fails because of its history.
// Deleted rows are overwritten (secure_delete), so `forget` leaves nothing readable behind.
//
// Threads: every member is thread-safe (one mutex around the one connection). A second process
// may use the same file at the same time: writers wait for each other up to the busy timeout.
// Text is stored as given (UTF-8); callers redact secrets before (the writer does).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ava::history {

/// Milliseconds since the Unix epoch (what every timestamp column holds).
using unix_ms = std::int64_t;
unix_ms now_ms();
/// `at` in local time with a strftime format ("%Y-%m-%d %H:%M" unless told).
std::string local_time(unix_ms at, const char* format = "%Y-%m-%d %H:%M");

/// A session as it starts.
struct session_start {
    unix_ms started = 0;
    std::string provider;
    std::string model;
    std::string voice;
    std::string language;
};

/// A session's figures as it ends.
struct session_totals {
    unix_ms ended = 0;
    int user_turns = 0;
    int responses = 0;
    int interruptions = 0;
    int reconnects = 0;
    int tool_calls = 0;
    std::int64_t input_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t output_tokens = 0;
    double cost_usd = 0;
};

/// One stored session (a row of `history list`).
struct session_info {
    std::int64_t id = 0;
    session_start start;
    session_totals totals;  ///< ended = 0 while running (or when the process died)
    int lines = 0;
};

/// One final transcript line. For an interrupted assistant reply `text` is what was heard and
/// `unheard` the cut-off tail.
struct line_record {
    std::int64_t session_id = 0;
    std::int64_t seq = 0;  ///< position in conversation order
    unix_ms at = 0;
    std::string speaker;  ///< "user" or "assistant"
    std::string text;
    std::string unheard;
    bool unheard_estimated = false;
    std::string item_id;
};

struct tool_record {
    std::int64_t session_id = 0;
    unix_ms at = 0;
    std::string name;
    std::string arguments;  ///< JSON text, or "(left out)" when the setting says so
    std::string result;
    std::int64_t duration_ms = 0;
    bool ok = false;
};

struct reconnect_record {
    std::int64_t session_id = 0;
    unix_ms at = 0;
    std::string reason;
};

struct fact {
    std::int64_t id = 0;
    unix_ms at = 0;
    std::string text;
};

struct search_hit {
    std::int64_t session_id = 0;
    unix_ms at = 0;
    std::string speaker;
    std::string snippet;  ///< the matching line, shortened around the match ([...] marks it)
};

struct store_options {
    std::filesystem::path path;
    /// How long a write waits for another process holding the lock.
    std::chrono::milliseconds busy_timeout{5000};
    /// Told (once per problem) when the file is moved aside, unusable, or a write fails.
    std::function<void(const std::string&)> on_warning;
    /// Open only when the file exists, never create or migrate it (`history` listing commands).
    bool must_exist = false;
};

class store {
  public:
    static constexpr int schema_version = 2;

    explicit store(store_options opts);
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// False when the file could not be opened (the warning said why): every call is a no-op.
    [[nodiscard]] bool available() const noexcept;
    [[nodiscard]] const std::filesystem::path& path() const noexcept;
    /// Where a corrupt file was moved, when it was.
    [[nodiscard]] std::optional<std::filesystem::path> moved_aside() const;

    // ---- writing (each call is one transaction, committed before it returns) ----
    std::int64_t begin_session(const session_start& s);
    void end_session(std::int64_t id, const session_totals& t);
    void add_line(const line_record& l);
    void add_tool_call(const tool_record& t);
    void add_reconnect(const reconnect_record& r);
    std::int64_t add_fact(std::string_view text);
    /// False when there is no such fact / session.
    bool forget_fact(std::int64_t id);
    bool forget_session(std::int64_t id);
    /// Every session, line, tool call and fact.
    void forget_all();

    // ---- reading ----
    /// Newest first.
    std::vector<session_info> sessions(int limit = 50) const;
    std::optional<session_info> session(std::int64_t id) const;
    /// In conversation order.
    std::vector<line_record> lines(std::int64_t session_id) const;
    std::vector<tool_record> tool_calls(std::int64_t session_id) const;
    std::vector<reconnect_record> reconnects(std::int64_t session_id) const;
    std::vector<fact> facts() const;
    /// Full-text search (FTS5, accents folded) over every line; newest first. Words that the
    /// tokenizer cannot split (CJK) fall back to a substring match.
    std::vector<search_hit> search(std::string_view text, int limit = 20) const;
    /// The newest lines of sessions other than `current`, within about `max_tokens` (4
    /// characters a token), in conversation order: the memory seed.
    std::vector<line_record> recent_lines(std::size_t max_tokens, std::int64_t current) const;

  private:
    class impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace ava::history
