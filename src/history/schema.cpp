// The migrations. Never edit a released step: add a new one (and raise store::schema_version).
#include "schema.hpp"

namespace ava::history::detail {

const std::vector<std::string_view>& migrations() {
    static const std::vector<std::string_view> steps = {
        // 1: sessions, their transcript lines and tool calls.
        R"sql(
CREATE TABLE sessions(
    id INTEGER PRIMARY KEY,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    provider TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    voice TEXT NOT NULL DEFAULT '',
    user_turns INTEGER NOT NULL DEFAULT 0,
    responses INTEGER NOT NULL DEFAULT 0,
    interruptions INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0);
CREATE TABLE lines(
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL,
    unheard TEXT NOT NULL DEFAULT '',
    item_id TEXT NOT NULL DEFAULT '');
CREATE INDEX lines_by_session ON lines(session_id, seq);
CREATE TABLE tool_calls(
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    ok INTEGER NOT NULL);
CREATE INDEX tool_calls_by_session ON tool_calls(session_id);
)sql",
        // 2: reconnects, remembered facts, the language, cached tokens and counts, the estimated
        // heard/unheard split, and full-text search over the lines (kept in step by triggers).
        R"sql(
ALTER TABLE sessions ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN reconnects INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tool_call_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE lines ADD COLUMN unheard_estimated INTEGER NOT NULL DEFAULT 0;
CREATE TABLE reconnects(
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '');
CREATE INDEX reconnects_by_session ON reconnects(session_id);
CREATE TABLE facts(
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    text TEXT NOT NULL);
CREATE VIRTUAL TABLE lines_fts USING fts5(
    text, content='lines', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER lines_fts_insert AFTER INSERT ON lines BEGIN
    INSERT INTO lines_fts(rowid, text) VALUES (new.id, new.text || ' ' || new.unheard);
END;
CREATE TRIGGER lines_fts_delete AFTER DELETE ON lines BEGIN
    INSERT INTO lines_fts(lines_fts, rowid, text)
        VALUES ('delete', old.id, old.text || ' ' || old.unheard);
END;
INSERT INTO lines_fts(rowid, text) SELECT id, text || ' ' || unheard FROM lines;
)sql",
    };
    return steps;
}

}  // namespace ava::history::detail
