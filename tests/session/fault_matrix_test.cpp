// The fault matrix (#20 item 4): the same short conversation once per injection point, through
// ava::session against ava::sim::server over real TLS on loopback.
//
// The conversation: three typed questions; the model answers each with a preamble and a call to
// `matrix_tool`, then a follow-up that quotes the tool's output (two responses per turn). A probe
// run without faults records which server event types the simulator sends in the second turn and
// how often; the matrix then injects one fault in the first connection's second turn, before the
// first and before the last event of each of those types, of each kind:
//   close abruptly (no close frame), close 1000, 1001, 1011 (recoverable), close 1008 (fatal),
//   malformed JSON, an unknown event, a 17 MiB frame (over the client's limit), a 1.5 s stall,
//   and a server error.
// Every cell must hold:
//   - outcome: recoverable and benign cells answer the third question and stop cleanly; a fatal
//     close ends the session by itself as fatal, naming the code (exit code 1), within 10 s;
//   - re-seeded: every connection after the first receives the first question as history;
//   - no user turn lost: each question reaches the service (as itself or as re-seeded history)
//     and gets an answer before the next one (at least the part heard before a drop; a question
//     whose answer was not heard at all is asked again on the new connection);
//   - no tool runs twice for one call (the handler's runs, the started events, the outputs the
//     service received per call id);
//   - the transcript stays in order: the user lines are the questions in the order asked, and
//     the final lines come in item order.
// The test prints the matrix (one row per injection point, one column per fault kind) with the
// count of cells run and survived, and fails on any cell that does not hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ava/core/error.hpp"
#include "session_test_util.hpp"

using namespace ava;
using namespace ava::it;
using namespace std::chrono_literals;

namespace {

const std::string key = "sk-fault-matrix-0123456789abcdef";
const std::vector<std::string> questions = {"first question", "second question", "third question"};
constexpr const char* tool_name = "matrix_tool";
constexpr const char* followup_mark = "The tool said";

struct fault_kind {
    std::string label;
    sim::fault f;  // kind and its fields; at/nth/turn/session are the cell's
    bool fatal = false;
};

std::vector<fault_kind> fault_kinds() {
    auto close = [](const std::string& label, int code, bool abrupt, bool fatal) {
        sim::fault f;
        f.kind = "close";
        f.code = code;
        f.abrupt = abrupt;
        f.reason = abrupt ? "" : "fault matrix";
        return fault_kind{label, f, fatal};
    };
    auto simple = [](const std::string& kind) {
        sim::fault f;
        f.kind = kind;
        f.ms = 1500;  // stall
        return fault_kind{kind, f, false};
    };
    return {close("drop", 0, true, false),
            close("close1000", 1000, false, false),
            close("close1001", 1001, false, false),
            close("close1011", 1011, false, false),
            close("close1008", 1008, false, true),
            simple("malformed_json"),
            simple("unknown_event"),
            simple("oversized_frame"),
            simple("stall"),
            simple("server_error")};
}

json scenario() {
    return {{"loop", true},
            {"turns",
             {{{"reply", "Let me check."},
               {"calls", {{{"name", tool_name}, {"arguments", {{"n", 1}}}}}},
               {"followup", std::string(followup_mark) + " {output:matrix_tool}."}}}}};
}

bool debug_lines = false;  // print each cell's transcript lines (AVA_FAULT_MATRIX_ONLY)

struct cell_result {
    bool ok = true;
    std::vector<std::string> failures;
    int connections = 0;
    void fail(std::string why) {
        ok = false;
        failures.push_back(std::move(why));
    }
};

/// Whether a follow-up (the answer after the tool) is final after the last line of question `q`.
bool answered(const std::vector<std::string>& lines, const std::string& q) {
    const auto at = std::find(lines.rbegin(), lines.rend(), "You: " + q);
    return at != lines.rend() && std::any_of(lines.rbegin(), at, [](const std::string& l) {
               return l.starts_with("AVA: ") && l.find(followup_mark) != l.npos;
           });
}

// Texts of the user's input_text items the service received in connection `index`.
std::vector<std::string> user_texts(const std::string& events, const sim::summary& ss,
                                    std::size_t index) {
    std::vector<std::string> out;
    for (const json& e : sim_received(events, ss, index, "conversation.item.create")) {
        const json& it = e.value("item", json::object());
        if (it.value("role", "") != "user") continue;
        for (const json& c : it.value("content", json::array())) {
            if (c.value("type", "") == "input_text") out.push_back(c.value("text", ""));
        }
    }
    return out;
}

/// Runs the conversation once, with `faults` in the simulator; returns what held and what not.
/// `probe` (optional) receives the server event types of the first connection's second turn.
cell_result run_cell(const std::vector<sim::fault>& faults, bool expect_fatal,
                     std::map<std::string, int>* probe = nullptr) {
    cell_result res;
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.faults = faults;
    so.scenario_file = write_scenario(dir, scenario());
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    // The status, to see when a re-established connection has nothing left to say.
    std::atomic<realtime::conv_status> status{realtime::conv_status::connecting};
    std::atomic<std::int64_t> status_since_ms{0};
    const auto now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    };
    session_callbacks cb = obs.callbacks();
    cb.on_status = [&, inner = cb.on_status](realtime::conv_status st) {
        status = st;
        status_since_ms = now_ms();
        if (inner) inner(st);
    };
    session s(std::move(o), std::move(cb));
    std::atomic<int> runs{0};
    s.add_tool({.name = tool_name,
                .description = "Counts its runs.",
                .parameters_json = R"({"type":"object","properties":{"n":{"type":"integer"}}})"},
               [&runs](std::string_view) {
                   const int n = ++runs;
                   return std::string(R"({"run":)") + std::to_string(n) + "}";
               });
    s.start();

    std::optional<session_result> ended;
    for (std::size_t i = 0; i < questions.size() && !ended; ++i) {
        const int reconnects_before = s.summary().reconnects;
        s.send_text(questions[i]);
        // This turn is over when its follow-up is final, or when the fault broke the connection
        // and the new one has settled (listening for 200 ms: what it could still say, it said),
        // or when the session ended.
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        bool done = false;
        while (!done && std::chrono::steady_clock::now() < deadline) {
            if (answered(obs.lines(), questions[i])) done = true;
            if (s.summary().reconnects > reconnects_before &&
                status.load() == realtime::conv_status::listening &&
                now_ms() - status_since_ms.load() >= 200) {
                done = true;
            }
            if (!done) {
                ended = s.wait_for(20ms);
                done = ended.has_value();
            }
        }
        if (!done) res.fail("turn " + std::to_string(i + 1) + " neither ended nor broke in 15 s");
    }
    if (expect_fatal) {
        if (!ended) ended = s.wait_for(10s);
        if (!ended) {
            res.fail("a fatal close did not end the session");
            s.stop();
            ended = s.wait();
        } else if (ended->how != session_result::end::fatal || ended->code == errc::auth_failed ||
                   ended->code == errc::not_found || ended->code == errc::quota ||
                   ended->message.find("1008") == std::string::npos) {
            // ava-voice exits 1 for this (2 is for refused credentials or an unknown model).
            res.fail("ended " + std::to_string(static_cast<int>(ended->how)) + " (" +
                     ended->code.message() + ": " + ended->message +
                     "), not fatal naming the close code");
        }
    } else {
        if (ended) {
            res.fail("the session ended by itself: " + ended->message);
        } else {
            // The last question is answered after whatever happened before it.
            const auto deadline = std::chrono::steady_clock::now() + 15s;
            while (!answered(obs.lines(), questions.back()) &&
                   std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(20ms);
            }
            if (!answered(obs.lines(), questions.back()))
                res.fail("the third question was not answered");
            s.stop();
            ended = s.wait();
            if (ended->how != session_result::end::stopped) res.fail("stop() did not end it");
        }
    }
    srv.stop();
    if (debug_lines) {
        for (const std::string& l : obs.lines()) std::printf("  %s\n", l.c_str());
        for (const auto& [text, warning] : obs.notices())
            std::printf("  notice%s: %s\n", warning ? " (warning)" : "", text.c_str());
        std::printf("  last status %d\n", static_cast<int>(status.load()));
    }

    const sim::summary ss = srv.get_summary();
    res.connections = ss.sessions;
    const int reconnects = s.summary().reconnects;
    if (reconnects != std::max(0, ss.sessions - 1)) {
        res.fail("the client counted " + std::to_string(reconnects) + " reconnects for " +
                 std::to_string(ss.sessions) + " connections");
    }

    // Re-seeded: every later connection got the first question as history.
    std::set<std::string> reached;
    for (std::size_t i = 0; i < ss.per_session.size(); ++i) {
        const std::vector<std::string> texts = user_texts(so.events_file, ss, i);
        reached.insert(texts.begin(), texts.end());
        if (i > 0 && std::find(texts.begin(), texts.end(), questions[0]) == texts.end()) {
            res.fail("connection " + std::to_string(i + 1) + " was not re-seeded");
        }
    }
    // No user turn lost (a fatal cell: the questions asked before the end).
    const std::vector<std::string> lines = obs.lines();
    std::vector<std::string> user_lines;
    for (const std::string& l : lines) {
        if (l.starts_with("You: ")) user_lines.push_back(l.substr(5));
    }
    for (const std::string& q : user_lines) {
        if (!reached.contains(q)) res.fail("'" + q + "' never reached the service");
    }
    if (!expect_fatal && user_lines != questions) {
        res.fail("user lines " + ::testing::PrintToString(user_lines));
    }
    // Every question got an answer, at least the part of it heard before a drop: one whose
    // connection dropped before any of the answer was heard is asked again on the new one.
    if (!expect_fatal) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (!lines[i].starts_with("You: ")) continue;
            std::size_t j = i + 1;
            while (j < lines.size() && !lines[j].starts_with("AVA: ")) ++j;
            if (j == lines.size() || (j > i + 1 && lines[i + 1].starts_with("You: "))) {
                res.fail("'" + lines[i] + "' got no answer " + ::testing::PrintToString(lines));
                break;
            }
        }
    }
    if (expect_fatal &&
        !std::equal(user_lines.begin(), user_lines.end(), questions.begin(),
                    questions.begin() + static_cast<std::ptrdiff_t>(
                                            std::min(user_lines.size(), questions.size())))) {
        res.fail("user lines " + ::testing::PrintToString(user_lines));
    }
    // Final lines in item order.
    std::size_t last_pos = 0;
    for (const transcript_line& l : obs.finals()) {
        if (l.position < last_pos) {
            res.fail("transcript out of order at '" + l.text + "'");
            break;
        }
        last_pos = l.position;
    }

    // No tool ran twice for one call.
    std::map<std::string, int> started;
    for (const tool_event& e : obs.tool_events()) {
        if (!e.finished) started[e.call_id]++;
    }
    for (const auto& [id, n] : started) {
        if (n > 1) res.fail("call " + id + " started " + std::to_string(n) + " times");
    }
    if (runs.load() > static_cast<int>(started.size())) {
        res.fail(std::to_string(runs.load()) + " tool runs for " + std::to_string(started.size()) +
                 " calls");
    }
    std::map<std::string, int> outputs;
    for (std::size_t i = 0; i < ss.per_session.size(); ++i) {
        for (const json& e : sim_received(so.events_file, ss, i, "conversation.item.create")) {
            const json& it = e.value("item", json::object());
            if (it.value("type", "") == "function_call_output") outputs[it.value("call_id", "")]++;
        }
    }
    for (const auto& [id, n] : outputs) {
        if (n > 1) res.fail("call " + id + " answered " + std::to_string(n) + " times");
    }

    if (!res.ok) {  // what the user saw, for the report
        for (const std::string& l : obs.lines()) res.failures.push_back("  " + l);
        res.failures.push_back("  last status " + std::to_string(static_cast<int>(status.load())));
    }
    if (probe != nullptr) {
        // The second turn: from the third response.created (turn 1 had two responses) to the
        // fifth, in the first connection; the simulator counts a turn's events the same way.
        int created = 0;
        const std::string first_id = ss.per_session.empty() ? "" : ss.per_session[0].id;
        for (const json& j : read_jsonl(so.events_file)) {
            if (j.value("dir", "") != "out" || j.value("session", "") != first_id) continue;
            const std::string type = j.value("type", "");
            if (type == "response.created") ++created;
            if (created >= 3 && created < 5) (*probe)[type]++;
        }
    }
    return res;
}

}  // namespace

TEST(FaultMatrix, EveryInjectionPointRecovers) {
    // The probe: no faults, all three turns answered, and the second turn's event types.
    std::map<std::string, int> types;
    const cell_result probe = run_cell({}, false, &types);
    ASSERT_TRUE(probe.ok) << ::testing::PrintToString(probe.failures);
    ASSERT_EQ(probe.connections, 1);
    ASSERT_TRUE(types.contains("response.created")) << "no second turn seen";
    ASSERT_TRUE(types.contains("response.function_call_arguments.done"))
        << ::testing::PrintToString(types);

    struct point {
        std::string at;
        int nth;
    };
    std::vector<point> points;
    for (const auto& [type, n] : types) {
        points.push_back({type, 1});
        if (n > 1) points.push_back({type, n});
    }
    const std::vector<fault_kind> kinds = fault_kinds();

    struct cell {
        std::size_t point, kind;
        cell_result result;
    };
    // AVA_FAULT_MATRIX_ONLY="kind@type#nth" runs that one cell (to debug it) and prints its lines.
    const char* only_env = std::getenv("AVA_FAULT_MATRIX_ONLY");
    const std::string only = only_env != nullptr ? only_env : "";
    std::vector<cell> cells;
    for (std::size_t p = 0; p < points.size(); ++p) {
        for (std::size_t k = 0; k < kinds.size(); ++k) {
            const std::string name =
                kinds[k].label + "@" + points[p].at + "#" + std::to_string(points[p].nth);
            if (only.empty() || only == name) cells.push_back({p, k, {}});
        }
    }
    if (!only.empty()) {
        ASSERT_EQ(cells.size(), 1u) << "no cell " << only;
        debug_lines = true;
    }
    std::atomic<std::size_t> next{0};
    auto worker = [&] {
        for (std::size_t i = next++; i < cells.size(); i = next++) {
            cell& c = cells[i];
            sim::fault f = kinds[c.kind].f;
            f.at = points[c.point].at;
            f.nth = points[c.point].nth;
            f.turn = 2;
            f.session = 1;
            try {
                c.result = run_cell({f}, kinds[c.kind].fatal);
            } catch (const std::exception& e) {
                c.result.fail(std::string("threw: ") + e.what());
            }
        }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t) pool.emplace_back(worker);
    for (std::thread& t : pool) t.join();

    // The matrix: one row per injection point, one column per kind ("ok" or "FAIL").
    const std::size_t columns = only.empty() ? kinds.size() : 1;
    std::size_t survived = 0;
    std::printf(
        "fault matrix (fault in the second turn of the first connection; cell = "
        "connections used, or FAIL)\n%-46s",
        "before event #n");
    for (const fault_kind& k : kinds) {
        if (only.empty() || k.label == kinds[cells[0].kind].label)
            std::printf(" %-9.9s", k.label.c_str());
    }
    std::printf("\n");
    for (std::size_t p = 0; p < points.size(); ++p) {
        if (!only.empty() && p != cells[0].point) continue;
        const std::string row = points[p].at + " #" + std::to_string(points[p].nth);
        std::printf("%-46s", row.c_str());
        for (std::size_t k = 0; k < columns; ++k) {
            const cell_result& r =
                only.empty() ? cells[p * kinds.size() + k].result : cells[0].result;
            survived += r.ok ? 1 : 0;
            const std::string text = r.ok ? "ok/" + std::to_string(r.connections) : "FAIL";
            std::printf(" %-9s", text.c_str());
        }
        std::printf("\n");
    }
    std::printf("fault matrix: %zu cells run, %zu survived\n", cells.size(), survived);
    std::fflush(stdout);
    for (const cell& c : cells) {
        EXPECT_TRUE(c.result.ok) << kinds[c.kind].label << " before " << points[c.point].at << " #"
                                 << points[c.point].nth << ": "
                                 << ::testing::PrintToString(c.result.failures);
    }
    EXPECT_EQ(survived, cells.size());
}
