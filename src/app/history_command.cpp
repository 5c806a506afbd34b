// `ava-voice history`: see ava/app/history_command.hpp.
#include "ava/app/history_command.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ostream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/history/store.hpp"

namespace ava::app {
namespace {

using nlohmann::json;

struct painter {
    bool on;
    [[nodiscard]] std::string dim(std::string_view s) const { return wrap("2", s); }
    [[nodiscard]] std::string bold(std::string_view s) const { return wrap("1", s); }
    [[nodiscard]] std::string cyan(std::string_view s) const { return wrap("36", s); }
    [[nodiscard]] std::string green(std::string_view s) const { return wrap("32", s); }
    [[nodiscard]] std::string yellow(std::string_view s) const { return wrap("33", s); }
    [[nodiscard]] std::string wrap(std::string_view code, std::string_view s) const {
        if (!on) return std::string(s);
        return "\x1b[" + std::string(code) + "m" + std::string(s) + "\x1b[0m";
    }
};

using history::local_time;

std::string iso_time(history::unix_ms at) {
    return local_time(at, "%Y-%m-%dT%H:%M:%S%z");
}

std::string length_of(const history::session_info& s) {
    if (s.totals.ended == 0) return "unfinished";
    const std::int64_t secs = (s.totals.ended - s.start.started) / 1000;
    char buf[32];
    if (secs >= 3600) {
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                      static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
    } else {
        std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(secs / 60),
                      static_cast<long long>(secs % 60));
    }
    return buf;
}

std::string money(double usd) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "$%.4f", usd);
    return buf;
}

std::int64_t number_arg(const history_args& a, std::size_t i, std::string_view what) {
    if (a.words.size() <= i) {
        throw config_error("history " + a.words[0] + ": give the " + std::string(what) +
                           " (see `ava-voice history list`)");
    }
    const std::string& w = a.words[i];
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || p != w.data() + w.size() || v <= 0) {
        throw config_error("history " + a.words[0] + ": '" + w + "' is not a " + std::string(what));
    }
    return v;
}

void no_more(const history_args& a, std::size_t n) {
    if (a.words.size() > n) {
        throw config_error("history " + a.words[0] + ": unexpected '" + a.words[n] + "'");
    }
}

/// A session's lines, tool calls and reconnects in time order (lines by position).
struct entry {
    history::unix_ms at;
    const history::line_record* line = nullptr;
    const history::tool_record* tool = nullptr;
    const history::reconnect_record* reconnect = nullptr;
};
std::vector<entry> timeline(const std::vector<history::line_record>& lines,
                            const std::vector<history::tool_record>& tools,
                            const std::vector<history::reconnect_record>& reconnects) {
    std::vector<entry> out;
    // Lines are already in conversation order; tool calls and reconnects go before the first
    // line stored after them.
    std::size_t t = 0;
    std::size_t r = 0;
    for (const auto& l : lines) {
        while (t < tools.size() && tools[t].at <= l.at)
            out.push_back({tools[t].at, nullptr, &tools[t++]});
        while (r < reconnects.size() && reconnects[r].at <= l.at) {
            out.push_back({reconnects[r].at, nullptr, nullptr, &reconnects[r]});
            ++r;
        }
        out.push_back({l.at, &l});
    }
    for (; t < tools.size(); ++t) out.push_back({tools[t].at, nullptr, &tools[t]});
    for (; r < reconnects.size(); ++r)
        out.push_back({reconnects[r].at, nullptr, nullptr, &reconnects[r]});
    return out;
}

std::string shorten(const std::string& s, std::size_t n) {
    if (s.size() <= n) return s;
    std::size_t cut = n;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    return s.substr(0, cut) + "...";
}

int show(history::store& db, const history::session_info& s, const painter& p, std::ostream& out) {
    out << p.bold("session " + std::to_string(s.id)) << "  " << local_time(s.start.started) << "  "
        << length_of(s) << "  " << s.start.provider << " " << s.start.model << ", voice "
        << s.start.voice << (s.start.language.empty() ? "" : ", language " + s.start.language)
        << "\n";
    out << p.dim(std::to_string(s.totals.user_turns) + " turns, " +
                 std::to_string(s.totals.interruptions) + " interruptions, " +
                 std::to_string(s.totals.tool_calls) + " tool calls, " +
                 std::to_string(s.totals.input_tokens) + " tokens in (" +
                 std::to_string(s.totals.cached_tokens) + " cached), " +
                 std::to_string(s.totals.output_tokens) + " out, " + money(s.totals.cost_usd))
        << "\n\n";
    const auto lines = db.lines(s.id);
    const auto tools = db.tool_calls(s.id);
    const auto reconnects = db.reconnects(s.id);
    for (const entry& e : timeline(lines, tools, reconnects)) {
        const std::string when = p.dim(local_time(e.at, "%H:%M:%S"));
        if (e.line != nullptr) {
            const bool user = e.line->speaker == "user";
            out << when << "  " << (user ? p.cyan("you") : p.green("ava")) << ": " << e.line->text;
            if (!e.line->unheard.empty()) {
                out << " "
                    << p.yellow(std::string("[unheard") +
                                (e.line->unheard_estimated ? ", estimated" : "") + ": " +
                                e.line->unheard + "]");
            }
            out << "\n";
        } else if (e.tool != nullptr) {
            out << when << "  " << p.yellow("tool") << " " << e.tool->name << " "
                << shorten(e.tool->arguments, 200) << " -> " << (e.tool->ok ? "ok" : "FAILED")
                << " in " << e.tool->duration_ms << " ms: " << shorten(e.tool->result, 300) << "\n";
        } else {
            out << when << "  " << p.yellow("reconnect") << " " << e.reconnect->reason << "\n";
        }
    }
    if (lines.empty()) out << p.dim("(no lines)") << "\n";
    return 0;
}

int export_session(history::store& db, const history::session_info& s, const std::string& format,
                   std::ostream& out) {
    const auto lines = db.lines(s.id);
    const auto tools = db.tool_calls(s.id);
    const auto reconnects = db.reconnects(s.id);
    if (format == "jsonl") {
        out << json{{"type", "session"},
                    {"id", s.id},
                    {"started", iso_time(s.start.started)},
                    {"ended", s.totals.ended ? json(iso_time(s.totals.ended)) : json(nullptr)},
                    {"provider", s.start.provider},
                    {"model", s.start.model},
                    {"voice", s.start.voice},
                    {"language", s.start.language},
                    {"user_turns", s.totals.user_turns},
                    {"interruptions", s.totals.interruptions},
                    {"input_tokens", s.totals.input_tokens},
                    {"cached_tokens", s.totals.cached_tokens},
                    {"output_tokens", s.totals.output_tokens},
                    {"cost_usd", s.totals.cost_usd}}
                   .dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
        for (const entry& e : timeline(lines, tools, reconnects)) {
            json j;
            if (e.line != nullptr) {
                j = {{"type", "line"},
                     {"at", iso_time(e.at)},
                     {"seq", e.line->seq},
                     {"speaker", e.line->speaker},
                     {"text", e.line->text},
                     {"unheard", e.line->unheard},
                     {"unheard_estimated", e.line->unheard_estimated}};
            } else if (e.tool != nullptr) {
                j = {{"type", "tool_call"},
                     {"at", iso_time(e.at)},
                     {"name", e.tool->name},
                     {"arguments", e.tool->arguments},
                     {"result", e.tool->result},
                     {"ok", e.tool->ok},
                     {"duration_ms", e.tool->duration_ms}};
            } else {
                j = {
                    {"type", "reconnect"}, {"at", iso_time(e.at)}, {"reason", e.reconnect->reason}};
            }
            out << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        }
        return 0;
    }
    out << "# ava-voice session " << s.id << ", " << local_time(s.start.started) << "\n\n"
        << "- length: " << length_of(s) << "\n- provider: " << s.start.provider << " "
        << s.start.model << ", voice " << s.start.voice << "\n- turns: " << s.totals.user_turns
        << ", interruptions: " << s.totals.interruptions << "\n- tokens: " << s.totals.input_tokens
        << " in (" << s.totals.cached_tokens << " cached), " << s.totals.output_tokens
        << " out; estimated cost " << money(s.totals.cost_usd) << "\n\n";
    for (const entry& e : timeline(lines, tools, reconnects)) {
        const std::string when = local_time(e.at, "%H:%M:%S");
        if (e.line != nullptr) {
            out << "**" << (e.line->speaker == "user" ? "You" : "AVA") << "** (" << when
                << "): " << e.line->text;
            if (!e.line->unheard.empty()) out << " ~~" << e.line->unheard << "~~ *(not heard)*";
            out << "\n\n";
        } else if (e.tool != nullptr) {
            out << "> tool `" << e.tool->name << "` " << (e.tool->ok ? "ok" : "failed") << " in "
                << e.tool->duration_ms << " ms (" << when << ")\n>\n> arguments: `"
                << e.tool->arguments << "`\n>\n> result: `" << shorten(e.tool->result, 2000)
                << "`\n\n";
        } else {
            out << "> reconnected (" << when << "): " << e.reconnect->reason << "\n\n";
        }
    }
    return 0;
}

}  // namespace

int history_command(const config& cfg, const history_args& a, bool color, std::ostream& out,
                    std::ostream& err) {
    if (a.words.empty()) {
        throw config_error(
            "history: say what to do: list, show ID, search TEXT, export ID, forget ID, "
            "forget --all, facts or forget-fact N");
    }
    const std::string& verb = a.words[0];
    static const std::vector<std::string> verbs = {"list",   "show",  "search",     "export",
                                                   "forget", "facts", "forget-fact"};
    if (std::find(verbs.begin(), verbs.end(), verb) == verbs.end()) {
        throw config_error("history: unknown command '" + verb +
                           "' (use list, show, search, export, forget, facts or forget-fact)");
    }
    if (a.format != "md" && a.format != "jsonl") {
        throw config_error("history export --format: use md or jsonl, not '" + a.format + "'");
    }
    const std::string path = cfg.history_path();
    if (path.empty()) {
        err << "ava-voice: error: no history database (HOME is not set); give --history-db FILE\n";
        return 1;
    }
    const painter p{color};
    bool failed_open = false;
    history::store_options so;
    so.path = path;
    so.must_exist = true;
    so.on_warning = [&err, &failed_open](const std::string& w) {
        err << "ava-voice: warning: " << w << "\n";
        failed_open = true;
    };
    history::store db(std::move(so));
    if (!db.available()) {
        if (failed_open) return 1;
        // Nothing kept yet: every listing is empty, and there is nothing to forget.
        if (verb == "show" || verb == "export" || verb == "forget-fact" ||
            (verb == "forget" && !a.all)) {
            err << "ava-voice: error: no history yet (" << path << ")\n";
            return 1;
        }
        out << "no history yet (" << path << ")\n";
        return 0;
    }

    if (verb == "list") {
        no_more(a, 1);
        const auto sessions = db.sessions(a.limit);
        if (sessions.empty()) {
            out << "no sessions yet (" << path << ")\n";
            return 0;
        }
        char head[128];
        std::snprintf(head, sizeof head, "%6s  %-16s  %10s  %5s  %5s  %9s  %s", "id", "date",
                      "length", "turns", "lines", "cost", "model");
        out << p.bold(head) << "\n";
        for (const auto& s : sessions) {
            char row[256];
            std::snprintf(row, sizeof row, "%6lld  %-16s  %10s  %5d  %5d  %9s  %s",
                          static_cast<long long>(s.id), local_time(s.start.started).c_str(),
                          length_of(s).c_str(), s.totals.user_turns, s.lines,
                          money(s.totals.cost_usd).c_str(), s.start.model.c_str());
            out << row << "\n";
        }
        return 0;
    }
    if (verb == "show" || verb == "export") {
        const std::int64_t id = number_arg(a, 1, "session id");
        no_more(a, 2);
        const auto s = db.session(id);
        if (!s) {
            err << "ava-voice: error: no session " << id << " (see `ava-voice history list`)\n";
            return 1;
        }
        return verb == "show" ? show(db, *s, p, out) : export_session(db, *s, a.format, out);
    }
    if (verb == "search") {
        std::string text;
        for (std::size_t i = 1; i < a.words.size(); ++i) text += (i > 1 ? " " : "") + a.words[i];
        if (text.empty()) throw config_error("history search: give the words to look for");
        const auto hits = db.search(text, a.limit);
        if (hits.empty()) {
            out << "nothing matches '" << text << "'\n";
            return 0;
        }
        for (const auto& h : hits) {
            out << p.dim("#" + std::to_string(h.session_id)) << "  " << local_time(h.at) << "  "
                << (h.speaker == "user" ? p.cyan("you") : p.green("ava")) << ": " << h.snippet
                << "\n";
        }
        return 0;
    }
    if (verb == "forget") {
        if (a.all) {
            no_more(a, 1);
            db.forget_all();
            out << "forgot every session and fact in " << path << "\n";
            return 0;
        }
        const std::int64_t id = number_arg(a, 1, "session id");
        no_more(a, 2);
        if (!db.forget_session(id)) {
            err << "ava-voice: error: no session " << id << " (see `ava-voice history list`)\n";
            return 1;
        }
        out << "forgot session " << id << "\n";
        return 0;
    }
    if (verb == "facts") {
        no_more(a, 1);
        const auto facts = db.facts();
        if (facts.empty()) {
            out << "nothing remembered yet (say \"remember that ...\" in a conversation)\n";
            return 0;
        }
        for (const auto& f : facts) {
            out << p.bold(std::to_string(f.id) + ".") << " " << f.text << "  "
                << p.dim("(" + local_time(f.at) + ")") << "\n";
        }
        return 0;
    }
    // forget-fact
    const std::int64_t id = number_arg(a, 1, "fact number");
    no_more(a, 2);
    if (!db.forget_fact(id)) {
        err << "ava-voice: error: no fact " << id << " (see `ava-voice history facts`)\n";
        return 1;
    }
    out << "forgot fact " << id << "\n";
    return 0;
}

}  // namespace ava::app
