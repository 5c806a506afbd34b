// The history store over the SQLite C API (Debian's libsqlite3).
#include "ava/history/store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "schema.hpp"

namespace ava::history {

unix_ms now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string local_time(unix_ms at, const char* format) {
    const auto t = static_cast<std::time_t>(at / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

namespace {

namespace fs = std::filesystem;

/// A failed SQLite call: its result code and message.
class sqlite_error : public std::runtime_error {
  public:
    sqlite_error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    [[nodiscard]] int code() const noexcept { return code_; }
    /// The file is not a database or is damaged: move it aside and start again.
    [[nodiscard]] bool corrupt() const noexcept {
        const int primary = code_ & 0xff;
        return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
    }

  private:
    int code_;
};

void check(sqlite3* db, int rc, std::string_view what) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    throw sqlite_error(rc,
                       std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

/// One prepared statement (finalized on scope exit).
class stmt {
  public:
    stmt(sqlite3* db, std::string_view sql) : db_(db) {
        check(db, sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &s_, nullptr),
              "prepare");
    }
    ~stmt() { sqlite3_finalize(s_); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;

    stmt& bind(int i, std::int64_t v) {
        check(db_, sqlite3_bind_int64(s_, i, v), "bind");
        return *this;
    }
    stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
    stmt& bind(int i, double v) {
        check(db_, sqlite3_bind_double(s_, i, v), "bind");
        return *this;
    }
    stmt& bind(int i, std::string_view v) {
        check(db_, sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT),
              "bind");
        return *this;
    }
    /// True while there is a row.
    bool step() {
        const int rc = sqlite3_step(s_);
        check(db_, rc, "step");
        return rc == SQLITE_ROW;
    }
    void run() {
        while (step()) {
        }
    }
    std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
    double dbl(int c) const { return sqlite3_column_double(s_, c); }
    std::string text(int c) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, c)))
                 : std::string();
    }

  private:
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

void exec(sqlite3* db, std::string_view sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    if (rc != SQLITE_OK) throw sqlite_error(rc, "exec: " + msg);
}

std::string stamp_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

/// A line's text shortened to about `width` characters around the first match of one of
/// `words` (case-insensitive for ASCII), the match in [brackets]. Cuts only at UTF-8 starts.
std::string snippet_of(const std::string& text, const std::vector<std::string>& words,
                       std::size_t width = 80) {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return static_cast<char>(c < 128 ? std::tolower(c) : c);
    });
    std::size_t at = std::string::npos;
    std::size_t len = 0;
    for (const std::string& w : words) {
        std::string lw = w;
        std::transform(lw.begin(), lw.end(), lw.begin(), [](unsigned char c) {
            return static_cast<char>(c < 128 ? std::tolower(c) : c);
        });
        const std::size_t p = lower.find(lw);
        if (p != std::string::npos && p < at) {
            at = p;
            len = lw.size();
        }
    }
    const auto utf8_start = [&](std::size_t i) {
        while (i > 0 && i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80)
            --i;
        return i;
    };
    if (at == std::string::npos) {
        if (text.size() <= width) return text;
        return text.substr(0, utf8_start(width)) + "...";
    }
    std::size_t from = at > width / 2 ? utf8_start(at - width / 2) : 0;
    std::size_t to = std::min(text.size(), at + len + width / 2);
    to = to < text.size() ? utf8_start(to) : to;
    std::string out = (from > 0 ? "..." : "") + text.substr(from, at - from) + "[" +
                      text.substr(at, len) + "]" + text.substr(at + len, to - at - len) +
                      (to < text.size() ? "..." : "");
    return out;
}

/// The words of a search, and the FTS5 query that matches lines holding all of them (each word
/// quoted, so the user's text is never FTS syntax).
std::pair<std::vector<std::string>, std::string> fts_query(std::string_view text) {
    std::vector<std::string> words;
    std::string cur;
    const auto flush = [&] {
        if (!cur.empty()) words.push_back(std::exchange(cur, {}));
    };
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 128 && !std::isalnum(u) && c != '\'') {
            flush();
        } else {
            cur += c;
        }
    }
    flush();
    std::string q;
    for (const std::string& w : words) {
        std::string quoted = "\"";
        for (const char c : w) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        q += (q.empty() ? "" : " ") + quoted + "\"";
    }
    return {words, q};
}

}  // namespace

class store::impl {
  public:
    explicit impl(store_options o) : opts(std::move(o)) { open(); }
    ~impl() {
        if (db != nullptr) sqlite3_close_v2(db);
    }

    void warn(const std::string& text) const {
        if (opts.on_warning) opts.on_warning(text);
    }

    void open() {
        try {
            open_once();
        } catch (const sqlite_error& e) {
            close();
            if (!e.corrupt()) {
                warn("history is off for this run: " + opts.path.string() + ": " + e.what());
                return;
            }
            move_aside(e.what());
            try {
                open_once();
            } catch (const std::exception& e2) {
                close();
                warn("history is off for this run: " + opts.path.string() + ": " + e2.what());
            }
        } catch (const std::exception& e) {
            close();
            warn("history is off for this run: " + opts.path.string() + ": " + e.what());
        }
    }

    void open_once() {
        if (opts.must_exist && !fs::exists(opts.path)) return;
        std::error_code ec;
        if (opts.path.has_parent_path()) fs::create_directories(opts.path.parent_path(), ec);
        if (ec) {
            throw std::runtime_error("cannot create " + opts.path.parent_path().string() + ": " +
                                     ec.message());
        }
        const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
        const int rc = sqlite3_open_v2(opts.path.c_str(), &db, flags, nullptr);
        if (rc != SQLITE_OK) throw sqlite_error(rc, sqlite3_errstr(rc));
        // Only the user may read what they said.
        fs::permissions(opts.path, fs::perms::owner_read | fs::perms::owner_write,
                        fs::perm_options::replace, ec);
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, static_cast<int>(opts.busy_timeout.count()));
        // Reading the header is what finds a file that is not a database.
        int version = 0;
        {
            stmt s(db, "PRAGMA user_version");
            if (s.step()) version = static_cast<int>(s.i64(0));
        }
        {
            stmt s(db, "PRAGMA journal_mode=WAL");
            s.run();
        }
        exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;");
        // SQLite's page cache defaults to 2 MiB per connection and fills as the database grows:
        // in an hour-long run that showed as steady RSS growth. A history database's pages are
        // read rarely (search, the memory lines at start); 512 KiB is plenty.
        exec(db, "PRAGMA cache_size=-512;");
        if (version > schema_version) {
            throw std::runtime_error("written by a newer ava-voice (schema " +
                                     std::to_string(version) + ", this one knows " +
                                     std::to_string(schema_version) + "); left untouched");
        }
        if (version < schema_version) migrate();
        // A damaged page shows up here rather than in the middle of the conversation.
        stmt s(db, "PRAGMA quick_check(1)");
        if (s.step() && s.text(0) != "ok") {
            throw sqlite_error(SQLITE_CORRUPT, "integrity check: " + s.text(0));
        }
    }

    void migrate() {
        // IMMEDIATE: a second ava-voice starting at the same moment waits, then sees the new
        // version and skips the steps.
        exec(db, "BEGIN IMMEDIATE");
        try {
            int version = 0;
            {
                stmt s(db, "PRAGMA user_version");
                if (s.step()) version = static_cast<int>(s.i64(0));
            }
            const auto& steps = detail::migrations();
            for (int v = version; v < schema_version; ++v) {
                exec(db, steps[static_cast<std::size_t>(v)]);
            }
            exec(db, "PRAGMA user_version=" + std::to_string(schema_version));
            exec(db, "COMMIT");
        } catch (...) {
            sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    void close() {
        if (db != nullptr) sqlite3_close_v2(db);
        db = nullptr;
    }

    void move_aside(const std::string& why) {
        fs::path to = opts.path;
        to += ".corrupt-" + stamp_now();
        std::error_code ec;
        fs::rename(opts.path, to, ec);
        for (const char* side : {"-wal", "-shm"}) {
            fs::path p = opts.path;
            p += side;
            fs::path q = to;
            q += side;
            std::error_code ignored;
            if (fs::exists(p, ignored)) fs::rename(p, q, ignored);
        }
        if (ec) {
            warn("the history database " + opts.path.string() + " is unreadable (" + why +
                 ") and could not be moved aside: " + ec.message());
            return;
        }
        moved = to;
        warn("the history database " + opts.path.string() + " was unreadable (" + why +
             "); moved it to " + to.string() + " and started a new one");
    }

    /// Runs `fn` under the lock when the store is open; a failure is one warning per kind.
    template <class F, class R = std::invoke_result_t<F>>
    R guarded(std::string_view what, F&& fn, R fallback = R()) const {
        const std::lock_guard lock(mu);
        if (db == nullptr) return fallback;
        try {
            return fn();
        } catch (const std::exception& e) {
            const std::string key(what);
            if (warned.insert(key).second) warn("history: could not " + key + ": " + e.what());
            return fallback;
        }
    }

    session_info read_session(const stmt& s) const {
        session_info i;
        i.id = s.i64(0);
        i.start.started = s.i64(1);
        i.totals.ended = s.i64(2);
        i.start.provider = s.text(3);
        i.start.model = s.text(4);
        i.start.voice = s.text(5);
        i.start.language = s.text(6);
        i.totals.user_turns = static_cast<int>(s.i64(7));
        i.totals.responses = static_cast<int>(s.i64(8));
        i.totals.interruptions = static_cast<int>(s.i64(9));
        i.totals.reconnects = static_cast<int>(s.i64(10));
        i.totals.tool_calls = static_cast<int>(s.i64(11));
        i.totals.input_tokens = s.i64(12);
        i.totals.cached_tokens = s.i64(13);
        i.totals.output_tokens = s.i64(14);
        i.totals.cost_usd = s.dbl(15);
        i.lines = static_cast<int>(s.i64(16));
        return i;
    }

    static constexpr std::string_view session_columns =
        "SELECT s.id, s.started_at, coalesce(s.ended_at, 0), s.provider, s.model, s.voice, "
        "s.language, s.user_turns, s.responses, s.interruptions, s.reconnects, "
        "s.tool_call_count, s.input_tokens, s.cached_tokens, s.output_tokens, s.cost_usd, "
        "(SELECT count(*) FROM lines l WHERE l.session_id = s.id) FROM sessions s ";

    store_options opts;
    sqlite3* db = nullptr;
    std::optional<fs::path> moved;
    mutable std::mutex mu;
    mutable std::set<std::string> warned;
};

store::store(store_options opts) : impl_(std::make_unique<impl>(std::move(opts))) {}
store::~store() = default;

bool store::available() const noexcept {
    const std::lock_guard lock(impl_->mu);
    return impl_->db != nullptr;
}
const std::filesystem::path& store::path() const noexcept {
    return impl_->opts.path;
}
std::optional<std::filesystem::path> store::moved_aside() const {
    return impl_->moved;
}

std::int64_t store::begin_session(const session_start& s) {
    return impl_->guarded(
        "start the session",
        [&] {
            stmt q(impl_->db,
                   "INSERT INTO sessions(started_at, provider, model, voice, language) "
                   "VALUES (?, ?, ?, ?, ?)");
            q.bind(1, s.started).bind(2, s.provider).bind(3, s.model).bind(4, s.voice);
            q.bind(5, s.language).run();
            return static_cast<std::int64_t>(sqlite3_last_insert_rowid(impl_->db));
        },
        std::int64_t{0});
}

void store::end_session(std::int64_t id, const session_totals& t) {
    impl_->guarded("finish the session", [&] {
        stmt q(impl_->db,
               "UPDATE sessions SET ended_at = ?, user_turns = ?, responses = ?, "
               "interruptions = ?, reconnects = ?, tool_call_count = ?, input_tokens = ?, "
               "cached_tokens = ?, output_tokens = ?, cost_usd = ? WHERE id = ?");
        q.bind(1, t.ended).bind(2, t.user_turns).bind(3, t.responses).bind(4, t.interruptions);
        q.bind(5, t.reconnects).bind(6, t.tool_calls).bind(7, t.input_tokens);
        q.bind(8, t.cached_tokens).bind(9, t.output_tokens).bind(10, t.cost_usd).bind(11, id);
        q.run();
        return true;
    });
}

void store::add_line(const line_record& l) {
    impl_->guarded("store a transcript line", [&] {
        stmt q(impl_->db,
               "INSERT INTO lines(session_id, seq, at, speaker, text, unheard, "
               "unheard_estimated, item_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, l.session_id).bind(2, l.seq).bind(3, l.at).bind(4, l.speaker);
        q.bind(5, l.text).bind(6, l.unheard).bind(7, l.unheard_estimated ? 1 : 0);
        q.bind(8, l.item_id).run();
        return true;
    });
}

void store::add_tool_call(const tool_record& t) {
    impl_->guarded("store a tool call", [&] {
        stmt q(impl_->db,
               "INSERT INTO tool_calls(session_id, at, name, arguments, result, duration_ms, ok) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)");
        q.bind(1, t.session_id).bind(2, t.at).bind(3, t.name).bind(4, t.arguments);
        q.bind(5, t.result).bind(6, t.duration_ms).bind(7, t.ok ? 1 : 0).run();
        return true;
    });
}

void store::add_reconnect(const reconnect_record& r) {
    impl_->guarded("store a reconnect", [&] {
        stmt q(impl_->db, "INSERT INTO reconnects(session_id, at, reason) VALUES (?, ?, ?)");
        q.bind(1, r.session_id).bind(2, r.at).bind(3, r.reason).run();
        return true;
    });
}

std::int64_t store::add_fact(std::string_view text) {
    return impl_->guarded(
        "remember a fact",
        [&] {
            stmt q(impl_->db, "INSERT INTO facts(at, text) VALUES (?, ?)");
            q.bind(1, now_ms()).bind(2, text).run();
            return static_cast<std::int64_t>(sqlite3_last_insert_rowid(impl_->db));
        },
        std::int64_t{0});
}

bool store::forget_fact(std::int64_t id) {
    return impl_->guarded(
        "forget a fact",
        [&] {
            stmt q(impl_->db, "DELETE FROM facts WHERE id = ?");
            q.bind(1, id).run();
            return sqlite3_changes(impl_->db) > 0;
        },
        false);
}

bool store::forget_session(std::int64_t id) {
    return impl_->guarded(
        "forget a session",
        [&] {
            stmt q(impl_->db, "DELETE FROM sessions WHERE id = ?");
            q.bind(1, id).run();
            return sqlite3_changes(impl_->db) > 0;
        },
        false);
}

void store::forget_all() {
    impl_->guarded("forget everything", [&] {
        exec(impl_->db, "BEGIN IMMEDIATE");
        try {
            exec(impl_->db,
                 "DELETE FROM lines; DELETE FROM tool_calls; DELETE FROM reconnects; "
                 "DELETE FROM sessions; DELETE FROM facts; "
                 "INSERT INTO lines_fts(lines_fts) VALUES('rebuild'); COMMIT;");
        } catch (...) {
            sqlite3_exec(impl_->db, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        // Nothing of it left in the WAL or free pages either.
        exec(impl_->db, "PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
        return true;
    });
}

std::vector<session_info> store::sessions(int limit) const {
    return impl_->guarded("list sessions", [&] {
        stmt q(impl_->db, std::string(impl::session_columns) + "ORDER BY s.id DESC LIMIT ?");
        q.bind(1, limit);
        std::vector<session_info> out;
        while (q.step()) out.push_back(impl_->read_session(q));
        return out;
    });
}

std::optional<session_info> store::session(std::int64_t id) const {
    return impl_->guarded("read a session", [&]() -> std::optional<session_info> {
        stmt q(impl_->db, std::string(impl::session_columns) + "WHERE s.id = ?");
        q.bind(1, id);
        if (!q.step()) return std::nullopt;
        return impl_->read_session(q);
    });
}

std::vector<line_record> store::lines(std::int64_t session_id) const {
    return impl_->guarded("read the transcript", [&] {
        stmt q(impl_->db,
               "SELECT session_id, seq, at, speaker, text, unheard, unheard_estimated, item_id "
               "FROM lines WHERE session_id = ? ORDER BY seq, id");
        q.bind(1, session_id);
        std::vector<line_record> out;
        while (q.step()) {
            out.push_back({q.i64(0), q.i64(1), q.i64(2), q.text(3), q.text(4), q.text(5),
                           q.i64(6) != 0, q.text(7)});
        }
        return out;
    });
}

std::vector<tool_record> store::tool_calls(std::int64_t session_id) const {
    return impl_->guarded("read the tool calls", [&] {
        stmt q(impl_->db,
               "SELECT session_id, at, name, arguments, result, duration_ms, ok FROM tool_calls "
               "WHERE session_id = ? ORDER BY at, id");
        q.bind(1, session_id);
        std::vector<tool_record> out;
        while (q.step()) {
            out.push_back(
                {q.i64(0), q.i64(1), q.text(2), q.text(3), q.text(4), q.i64(5), q.i64(6) != 0});
        }
        return out;
    });
}

std::vector<reconnect_record> store::reconnects(std::int64_t session_id) const {
    return impl_->guarded("read the reconnects", [&] {
        stmt q(impl_->db,
               "SELECT session_id, at, reason FROM reconnects WHERE session_id = ? ORDER BY id");
        q.bind(1, session_id);
        std::vector<reconnect_record> out;
        while (q.step()) out.push_back({q.i64(0), q.i64(1), q.text(2)});
        return out;
    });
}

std::vector<fact> store::facts() const {
    return impl_->guarded("read the facts", [&] {
        stmt q(impl_->db, "SELECT id, at, text FROM facts ORDER BY id");
        std::vector<fact> out;
        while (q.step()) out.push_back({q.i64(0), q.i64(1), q.text(2)});
        return out;
    });
}

std::vector<search_hit> store::search(std::string_view text, int limit) const {
    const auto [words, query] = fts_query(text);
    if (words.empty()) return {};
    return impl_->guarded("search", [&, &words = words, &query = query] {
        std::vector<search_hit> out;
        {
            stmt q(impl_->db,
                   "SELECT l.session_id, l.at, l.speaker, l.text || "
                   "CASE WHEN l.unheard = '' THEN '' ELSE ' ' || l.unheard END "
                   "FROM lines_fts f JOIN lines l ON l.id = f.rowid "
                   "WHERE lines_fts MATCH ? ORDER BY l.at DESC, l.id DESC LIMIT ?");
            q.bind(1, query).bind(2, limit);
            while (q.step()) {
                out.push_back({q.i64(0), q.i64(1), q.text(2), snippet_of(q.text(3), words)});
            }
        }
        if (out.empty()) {
            // Text the tokenizer keeps as one run (Chinese, Japanese): a substring match.
            stmt q(impl_->db,
                   "SELECT session_id, at, speaker, text || "
                   "CASE WHEN unheard = '' THEN '' ELSE ' ' || unheard END FROM lines "
                   "WHERE instr(text || ' ' || unheard, ?) > 0 ORDER BY at DESC, id DESC LIMIT ?");
            q.bind(1, std::string(text)).bind(2, limit);
            while (q.step()) {
                out.push_back(
                    {q.i64(0), q.i64(1), q.text(2), snippet_of(q.text(3), {std::string(text)})});
            }
        }
        return out;
    });
}

std::vector<line_record> store::recent_lines(std::size_t max_tokens, std::int64_t current) const {
    return impl_->guarded("read the recent past", [&] {
        stmt q(impl_->db,
               "SELECT session_id, seq, at, speaker, text, unheard, unheard_estimated, item_id "
               "FROM lines WHERE session_id <> ? AND text <> '' "
               "ORDER BY session_id DESC, seq DESC, id DESC LIMIT 400");
        q.bind(1, current);
        std::vector<line_record> out;
        std::size_t chars = 0;
        while (q.step()) {
            line_record l{q.i64(0),  q.i64(1),  q.i64(2),      q.text(3),
                          q.text(4), q.text(5), q.i64(6) != 0, q.text(7)};
            chars += l.text.size();
            if (chars > max_tokens * 4) break;
            out.push_back(std::move(l));
        }
        std::reverse(out.begin(), out.end());
        return out;
    });
}

}  // namespace ava::history
