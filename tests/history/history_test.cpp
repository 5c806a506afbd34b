// The history store against real SQLite files.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ava/core/log.hpp"
#include "ava/history/memory_tools.hpp"
#include "ava/history/store.hpp"
#include "ava/history/writer.hpp"
#include "ava/tools/registry.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ava::history;
using ::testing::HasSubstr;

class history_test : public ::testing::Test {
  protected:
    void SetUp() override {
        dir = fs::temp_directory_path() /
              ("ava-history-test-" + std::to_string(::getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir);
        fs::create_directories(dir);
        path = dir / "sub" / "history.db";
    }
    void TearDown() override { fs::remove_all(dir); }

    store_options opts() {
        store_options o;
        o.path = path;
        o.on_warning = [this](const std::string& w) { warnings.push_back(w); };
        return o;
    }
    std::int64_t session_with(store& db,
                              const std::vector<std::pair<std::string, std::string>>& l) {
        const std::int64_t id = db.begin_session({now_ms(), "sim", "gpt-realtime", "marin", ""});
        std::int64_t seq = 0;
        for (const auto& [who, text] : l) {
            db.add_line({id, seq++, now_ms(), who, text, "", false, "item" + std::to_string(seq)});
        }
        return id;
    }

    fs::path dir;
    fs::path path;
    std::vector<std::string> warnings;
};

TEST_F(history_test, creates_the_file_in_wal_mode_private_to_the_user_at_the_current_version) {
    store db(opts());
    ASSERT_TRUE(db.available());
    EXPECT_TRUE(fs::exists(path));
    EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
    sqlite3_finalize(s);
    sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, nullptr);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(s, 0), store::schema_version);
    sqlite3_finalize(s);
    sqlite3_close(raw);
    EXPECT_TRUE(warnings.empty());
}

TEST_F(history_test, keeps_sessions_lines_tool_calls_and_reconnects) {
    store db(opts());
    const std::int64_t id = db.begin_session({1000, "openai", "gpt-realtime", "cedar", "de"});
    db.add_line({id, 0, 1100, "user", "What's the weather?", "", false, "i1"});
    db.add_line({id, 1, 1200, "assistant", "It is sunny and", " warm in Berlin.", true, "i2"});
    db.add_tool_call(
        {id, 1150, "check_weather", R"({"location":"Berlin"})", R"({"t":12})", 42, true});
    db.add_reconnect({id, 1300, "connection lost"});
    session_totals t;
    t.ended = 61000;
    t.user_turns = 1;
    t.responses = 2;
    t.interruptions = 1;
    t.tool_calls = 1;
    t.input_tokens = 900;
    t.cached_tokens = 128;
    t.output_tokens = 50;
    t.cost_usd = 0.0123;
    db.end_session(id, t);

    const auto s = db.session(id);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->start.provider, "openai");
    EXPECT_EQ(s->start.language, "de");
    EXPECT_EQ(s->totals.ended, 61000);
    EXPECT_EQ(s->totals.cached_tokens, 128);
    EXPECT_DOUBLE_EQ(s->totals.cost_usd, 0.0123);
    EXPECT_EQ(s->lines, 2);
    const auto lines = db.lines(id);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1].text, "It is sunny and");
    EXPECT_EQ(lines[1].unheard, " warm in Berlin.");
    EXPECT_TRUE(lines[1].unheard_estimated);
    const auto tools = db.tool_calls(id);
    ASSERT_EQ(tools.size(), 1u);
    EXPECT_EQ(tools[0].name, "check_weather");
    EXPECT_EQ(tools[0].duration_ms, 42);
    EXPECT_TRUE(tools[0].ok);
    ASSERT_EQ(db.reconnects(id).size(), 1u);
    EXPECT_EQ(db.sessions().front().id, id);
}

TEST_F(history_test, utf8_round_trips_accents_cjk_and_right_to_left_text) {
    store db(opts());
    const std::vector<std::string> texts = {
        "Ça va? Déjà vu, naïve façade, Ærøskøbing, Straße",
        "東京の天気はどうですか？明日は雨が降りますか",
        "مرحبا، كيف حالك اليوم؟",
        "שלום, מה שלומך?",
        "emoji 🌂☔ and a zero-width joiner 👩‍💻",
    };
    const std::int64_t id = db.begin_session({now_ms(), "sim", "m", "v", "ja"});
    for (std::size_t i = 0; i < texts.size(); ++i) {
        db.add_line({id, static_cast<std::int64_t>(i), now_ms(), "user", texts[i], "", false, ""});
    }
    const auto lines = db.lines(id);
    ASSERT_EQ(lines.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(lines[i].text, texts[i]);
    // Accents folded: "deja" finds "Déjà"; CJK by substring; Arabic and Hebrew by word.
    EXPECT_EQ(db.search("deja vu").size(), 1u);
    const auto cjk = db.search("天気");
    ASSERT_EQ(cjk.size(), 1u);
    EXPECT_THAT(cjk[0].snippet, HasSubstr("[天気]"));
    EXPECT_EQ(db.search("مرحبا").size(), 1u);
    EXPECT_EQ(db.search("שלום").size(), 1u);
    EXPECT_EQ(db.search("🌂").size(), 1u);
}

TEST_F(history_test, search_finds_every_word_newest_first_with_a_marked_snippet) {
    store db(opts());
    const auto first = session_with(db, {{"user", "Do I need an umbrella tomorrow in Paris?"},
                                         {"assistant", "Yes, take an umbrella: rain from noon."}});
    const auto second = session_with(db, {{"user", "Umbrella stands are on sale"}});
    session_with(db, {{"user", "Nothing to see here"}});
    const auto hits = db.search("umbrella");
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].session_id, second);
    EXPECT_EQ(hits[2].session_id, first);
    EXPECT_THAT(hits[0].snippet, HasSubstr("[Umbrella]"));
    EXPECT_EQ(db.search("umbrella paris").size(), 1u);
    // The user's words are never FTS syntax.
    EXPECT_EQ(db.search("umbrella\"").size(), 3u);
    EXPECT_TRUE(db.search("\"umbrella OR NEAR(").empty());  // three words, not an FTS query
    EXPECT_TRUE(db.search("   ").empty());
    EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST_F(history_test, facts_are_kept_until_forgotten) {
    store db(opts());
    const auto a = db.add_fact("The user's sister is called Sarah.");
    const auto b = db.add_fact("The user prefers Celsius.");
    ASSERT_EQ(db.facts().size(), 2u);
    EXPECT_TRUE(db.forget_fact(a));
    EXPECT_FALSE(db.forget_fact(a));
    ASSERT_EQ(db.facts().size(), 1u);
    EXPECT_EQ(db.facts()[0].id, b);
}

TEST_F(history_test, forget_removes_a_session_everywhere_and_forget_all_leaves_nothing_readable) {
    const std::string secretish = "my locker code is 4711-zebra";
    {
        store db(opts());
        const auto gone = session_with(db, {{"user", secretish}});
        db.add_tool_call({gone, now_ms(), "t", "{}", "{}", 1, true});
        session_with(db, {{"user", "keep this one"}});
        EXPECT_TRUE(db.forget_session(gone));
        EXPECT_FALSE(db.forget_session(gone));
        EXPECT_TRUE(db.search("zebra").empty());
        EXPECT_TRUE(db.tool_calls(gone).empty());
        EXPECT_EQ(db.sessions().size(), 1u);
        db.add_fact("a fact");
        db.forget_all();
        EXPECT_TRUE(db.sessions().empty());
        EXPECT_TRUE(db.facts().empty());
        EXPECT_TRUE(db.search("keep").empty());
    }
    // secure_delete + checkpoint + VACUUM: the words are not in the file any more.
    std::string bytes;
    for (const char* suffix : {"", "-wal"}) {
        fs::path p = path;
        p += suffix;
        if (FILE* f = std::fopen(p.c_str(), "rb")) {
            char buf[65536];
            std::size_t n = 0;
            while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
            std::fclose(f);
        }
    }
    EXPECT_EQ(bytes.find("zebra"), std::string::npos);
    EXPECT_EQ(bytes.find("keep this one"), std::string::npos);
}

TEST_F(history_test, migrates_a_version_1_file_and_keeps_its_data) {
    fs::create_directories(path.parent_path());
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
        // Version 1 exactly as it shipped (src/history/schema.cpp, step 1), with one session.
        const char* v1 = R"sql(
CREATE TABLE sessions(id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, ended_at INTEGER,
    provider TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '', voice TEXT NOT NULL DEFAULT '',
    user_turns INTEGER NOT NULL DEFAULT 0, responses INTEGER NOT NULL DEFAULT 0,
    interruptions INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL NOT NULL DEFAULT 0);
CREATE TABLE lines(id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    at INTEGER NOT NULL, speaker TEXT NOT NULL, text TEXT NOT NULL,
    unheard TEXT NOT NULL DEFAULT '', item_id TEXT NOT NULL DEFAULT '');
CREATE INDEX lines_by_session ON lines(session_id, seq);
CREATE TABLE tool_calls(id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, at INTEGER NOT NULL,
    name TEXT NOT NULL, arguments TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0, ok INTEGER NOT NULL);
CREATE INDEX tool_calls_by_session ON tool_calls(session_id);
INSERT INTO sessions(id, started_at, ended_at, provider, model, voice, user_turns, cost_usd)
    VALUES (7, 1000, 5000, 'openai', 'gpt-realtime', 'marin', 3, 0.5);
INSERT INTO lines(session_id, seq, at, speaker, text) VALUES (7, 0, 1100, 'user',
    'where did I leave the umbrella');
PRAGMA user_version = 1;
)sql";
        ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(raw);
    }
    store db(opts());
    ASSERT_TRUE(db.available());
    EXPECT_TRUE(warnings.empty());
    const auto s = db.session(7);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->totals.user_turns, 3);
    EXPECT_EQ(s->start.language, "");  // the new column, defaulted
    // The old lines are in the new full-text index, and the new tables work.
    ASSERT_EQ(db.search("umbrella").size(), 1u);
    EXPECT_GT(db.add_fact("new table works"), 0);
    db.add_reconnect({7, 2000, "x"});
    EXPECT_EQ(db.reconnects(7).size(), 1u);
}

TEST_F(history_test, a_corrupt_file_is_moved_aside_with_one_warning_and_a_new_one_started) {
    fs::create_directories(path.parent_path());
    {
        std::ofstream junk(path, std::ios::binary);
        junk << std::string(8192, 'x') << "this is not a database";
    }
    store db(opts());
    ASSERT_TRUE(db.available());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("moved it to"));
    ASSERT_TRUE(db.moved_aside());
    EXPECT_TRUE(fs::exists(*db.moved_aside()));
    EXPECT_THAT(db.moved_aside()->string(), HasSubstr(".corrupt-"));
    EXPECT_GT(session_with(db, {{"user", "fresh start"}}), 0);
    EXPECT_EQ(db.search("fresh").size(), 1u);
}

TEST_F(history_test, a_damaged_page_is_found_at_open_not_mid_conversation) {
    {
        store db(opts());
        for (int i = 0; i < 200; ++i) {
            session_with(db,
                         {{"user", "line number " + std::to_string(i) + std::string(300, 'y')}});
        }
    }
    // Scribble over the middle of the file (past the header page).
    {
        std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
        f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
        const std::string noise(4096, '\x5a');
        f.write(noise.data(), static_cast<std::streamsize>(noise.size()));
    }
    store db(opts());
    EXPECT_TRUE(db.available());
    ASSERT_EQ(warnings.size(), 1u) << (warnings.empty() ? "" : warnings[0]);
    EXPECT_THAT(warnings[0], HasSubstr("moved it to"));
    EXPECT_TRUE(db.sessions().empty());
}

TEST_F(history_test, a_file_from_a_newer_version_is_left_untouched_and_history_is_off) {
    fs::create_directories(path.parent_path());
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE future(x); PRAGMA user_version = 99;", nullptr,
                               nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(raw);
    }
    store db(opts());
    EXPECT_FALSE(db.available());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("newer ava-voice"));
    EXPECT_EQ(db.begin_session({}), 0);  // a no-op, not a crash
    EXPECT_TRUE(fs::exists(path));
}

TEST_F(history_test, an_unwritable_place_turns_history_off_with_a_warning) {
    store_options o = opts();
    o.path = "/proc/ava-voice-cannot-be-here/history.db";
    store db(o);
    EXPECT_FALSE(db.available());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_THAT(warnings[0], HasSubstr("history is off for this run"));
    EXPECT_TRUE(db.sessions().empty());
}

TEST_F(history_test, two_stores_on_one_file_write_at_the_same_time_without_losing_a_line) {
    // Two connections stand for two ava-voice processes: SQLite locks the file, not the object.
    store a(opts());
    store b(opts());
    const auto sa = a.begin_session({now_ms(), "sim", "m", "v", ""});
    const auto sb = b.begin_session({now_ms(), "sim", "m", "v", ""});
    constexpr int per_writer = 300;
    std::thread ta([&] {
        for (int i = 0; i < per_writer; ++i) {
            a.add_line({sa, i, now_ms(), "user", "from a " + std::to_string(i), "", false, ""});
        }
    });
    std::thread tb([&] {
        for (int i = 0; i < per_writer; ++i) {
            b.add_line({sb, i, now_ms(), "user", "from b " + std::to_string(i), "", false, ""});
        }
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a.lines(sa).size(), static_cast<std::size_t>(per_writer));
    EXPECT_EQ(a.lines(sb).size(), static_cast<std::size_t>(per_writer));
    EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST_F(history_test, recent_lines_are_the_newest_of_earlier_sessions_within_the_budget) {
    store db(opts());
    session_with(db, {{"user", "old one"}, {"assistant", "old answer"}});
    session_with(db, {{"user", "My sister is called Sarah."}, {"assistant", "Nice to know!"}});
    const auto current = session_with(db, {{"user", "this session"}});
    const auto all = db.recent_lines(1000, current);
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all.front().text, "old one");
    EXPECT_EQ(all.back().text, "Nice to know!");
    // 10 tokens ~ 40 characters: only the newest two lines fit.
    const auto few = db.recent_lines(10, current);
    ASSERT_EQ(few.size(), 2u);
    EXPECT_EQ(few[0].text, "My sister is called Sarah.");
}

TEST_F(history_test, the_writer_commits_each_record_and_redacts_secrets) {
    ava::log::add_secret("sk-test-history-secret-123456");
    auto db = std::make_shared<store>(opts());
    const auto id = db->begin_session({now_ms(), "sim", "m", "v", ""});
    {
        writer w(db);
        w.post(line_record{id, 0, now_ms(), "user", "my key is sk-test-history-secret-123456", "",
                           false, ""});
        w.post(tool_record{id, now_ms(), "t", R"({"k":"sk-test-history-secret-123456"})", "{}", 3,
                           true});
        EXPECT_TRUE(w.flush(std::chrono::seconds(5)));
        EXPECT_EQ(w.written(), 2);
        // Committed: another connection sees it while the writer is still open.
        store other(opts());
        ASSERT_EQ(other.lines(id).size(), 1u);
        EXPECT_EQ(other.lines(id)[0].text.find("sk-test-history"), std::string::npos);
        EXPECT_EQ(other.tool_calls(id)[0].arguments.find("sk-test-history"), std::string::npos);
        w.post(session_end{id, {.ended = now_ms(), .user_turns = 1}});
    }
    EXPECT_EQ(db->session(id)->totals.user_turns, 1);
}

TEST_F(history_test, remember_and_search_history_work_as_tools) {
    auto db = std::make_shared<store>(opts());
    session_with(*db, {{"user", "Should I take an umbrella to Lyon?"}});
    ava::tools::registry reg;
    register_memory_tools(reg, db);
    const auto remember = reg.find("remember");
    const auto search = reg.find("search_history");
    ASSERT_TRUE(remember && search);
    EXPECT_TRUE(remember->offered);
    EXPECT_TRUE(search->offered);
    const auto out = nlohmann::json::parse(
        remember->handler->call(R"({"fact":"The user's sister is called Sarah."})", {}));
    EXPECT_EQ(out["remembered"], "The user's sister is called Sarah.");
    ASSERT_EQ(db->facts().size(), 1u);
    const auto found = nlohmann::json::parse(search->handler->call(R"({"query":"umbrella"})", {}));
    ASSERT_EQ(found["matches"].size(), 1u);
    EXPECT_THAT(found["matches"][0]["text"].get<std::string>(), HasSubstr("[umbrella]"));
    EXPECT_FALSE(found["matches"][0]["date"].get<std::string>().empty());
    const auto none = nlohmann::json::parse(search->handler->call(R"({"query":"zeppelin"})", {}));
    EXPECT_TRUE(none["matches"].empty());
    // Without a store the tools are listed, and a call says why it cannot work.
    ava::tools::registry listed;
    register_memory_tools(listed, nullptr);
    EXPECT_THROW((void)listed.find("remember")->handler->call(R"({"fact":"x"})", {}),
                 ava::tools::tool_error);
}

}  // namespace
