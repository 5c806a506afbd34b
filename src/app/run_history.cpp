// The history side of a run: see run_history.hpp.
#include "run_history.hpp"

#include <utility>

#include <nlohmann/json.hpp>

#include "ava/history/memory_tools.hpp"

namespace ava::app {
namespace {

/// What is kept of a tool call's arguments under the settings.
std::string kept_arguments(const config& cfg, const tool_event& e) {
    if (!cfg.history.store_tool_arguments) return "(left out: history.store_tool_arguments)";
    if (e.name == "send_email" && !cfg.history.store_email_bodies) {
        auto j = nlohmann::json::parse(e.arguments_json, nullptr, false);
        if (j.is_object() && j.contains("body")) {
            j["body"] = "(left out: history.store_email_bodies)";
            return j.dump();
        }
    }
    return e.arguments_json;
}

}  // namespace

history_recorder::history_recorder(const config& cfg, std::function<void(const std::string&)> warn)
    : cfg_(cfg) {
    if (cfg.history.incognito) return;
    const std::string path = cfg.history_path();
    if (path.empty()) {
        warn(
            "history is off for this run: no data directory (HOME is not set); set "
            "history.db or --history-db FILE");
        return;
    }
    history::store_options so;
    so.path = path;
    so.on_warning = std::move(warn);
    db_ = std::make_shared<history::store>(std::move(so));
    if (!db_->available()) {
        db_.reset();
        return;
    }
    history::session_start st;
    st.started = history::now_ms();
    st.provider = std::string(to_string(cfg.provider.kind));
    st.model = cfg.provider.model;
    st.voice = cfg.session.voice;
    st.language = cfg.transcription.language;
    session_id_ = db_->begin_session(st);
    if (session_id_ == 0) {
        db_.reset();
        return;
    }
    memory_ = cfg.memory.enabled;
    writer_ = std::make_unique<history::writer>(db_);
}

history_recorder::~history_recorder() = default;

std::string history_recorder::describe() const {
    if (cfg_.history.incognito) return "incognito: nothing of this session is kept";
    if (!recording()) return "";
    std::string s = "history: " + db_->path().string();
    if (!memory_) return s + " (memory off for this run)";
    s += "; remembering " + std::to_string(seeded_lines_) + " earlier line" +
         (seeded_lines_ == 1 ? "" : "s") + " and " + std::to_string(facts_) + " fact" +
         (facts_ == 1 ? "" : "s");
    return s;
}

void history_recorder::apply(realtime::conversation_options& o) {
    o.keep_turns = cfg_.context.keep_turns;  // every turn: the flattest tokens (the benchmark)
    if (!memory_) return;
    const auto lines = db_->recent_lines(cfg_.memory.seed_tokens, session_id_);
    for (const auto& l : lines) {
        o.memory.push_back(
            {l.speaker == "assistant" ? realtime::speaker::assistant : realtime::speaker::user,
             l.text});
    }
    seeded_lines_ = o.memory.size();
    const auto facts = db_->facts();
    facts_ = facts.size();
    std::string note;
    if (!lines.empty()) {
        note +=
            "\n\nMemory: the first messages of this conversation are from earlier "
            "conversations with the user (the last on " +
            history::local_time(lines.back().at, "%A %Y-%m-%d") +
            "), not from now; do not repeat them, but use them when they help.";
    }
    if (!facts.empty()) {
        note += "\n\nThings the user asked you to remember:";
        for (const auto& f : facts) note += "\n- " + f.text;
    }
    if (!note.empty()) {
        o.session.instructions = o.session.instructions.value_or("") + note;
    }
}

void history_recorder::register_tools(tools::registry& reg) const {
    if (memory_) history::register_memory_tools(reg, db_);
}

void history_recorder::on_transcript(const transcript_line& t) {
    if (!writer_ || !t.final || (t.text.empty() && t.unheard.empty())) return;
    history::line_record l;
    l.session_id = session_id_;
    l.seq = static_cast<std::int64_t>(t.position);
    l.at = history::now_ms();
    l.speaker = t.role == realtime::speaker::assistant ? "assistant" : "user";
    l.text = t.text;
    l.unheard = t.unheard;
    l.unheard_estimated = t.unheard_estimated;
    l.item_id = t.item_id;
    writer_->post(std::move(l));
}

void history_recorder::on_tool(const tool_event& e) {
    if (!writer_ || !e.finished) return;
    history::tool_record r;
    r.session_id = session_id_;
    r.at = history::now_ms();
    r.name = e.name;
    r.arguments = kept_arguments(cfg_, e);
    r.result = e.output_json;
    r.duration_ms = e.elapsed.count();
    r.ok = e.ok;
    writer_->post(std::move(r));
}

void history_recorder::on_status(realtime::conv_status s) {
    if (!writer_) return;
    const bool now_reconnecting = s == realtime::conv_status::reconnecting;
    if (now_reconnecting && !reconnecting_) {
        writer_->post(history::reconnect_record{session_id_, history::now_ms(), "connection lost"});
    }
    reconnecting_ = now_reconnecting;
}

void history_recorder::finish(const realtime::session_summary& s) {
    if (!writer_) return;
    history::session_totals t;
    t.ended = history::now_ms();
    t.user_turns = s.user_turns;
    t.responses = s.responses;
    t.interruptions = s.interruptions;
    t.reconnects = s.reconnects;
    t.tool_calls = s.tool_calls_ok + s.tool_calls_failed;
    t.input_tokens = s.tokens.input_tokens;
    t.cached_tokens = s.tokens.input_details.cached_tokens;
    t.output_tokens = s.tokens.output_tokens;
    t.cost_usd = s.cost_usd;
    writer_->post(history::session_end{session_id_, t});
    writer_->flush(std::chrono::seconds(5));
}

}  // namespace ava::app
