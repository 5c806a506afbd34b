// Memory and cost (issue 18), three figures:
//  1. input tokens billed per turn over a 40-turn conversation with the simulator (which bills
//     like the service: the whole retained history every turn, the unchanged prefix as cached),
//     without pruning and with context.keep_turns; the average of turns 5-10 against the last 10,
//     and the estimated cost of each run;
//  2. `ava-voice history search` over 10,000 stored sessions (a generated fixture): the
//     library call and the whole command (process start included), medians;
//  3. what writing history costs the session: post() on the io thread (median), and the
//     resident memory the store and its writer thread add after 2,000 lines.
//
//   ava-memory-bench [--turns N] [--keep-turns K] [--sessions N] [--ava-voice PATH]
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "ava/audio/wav_device.hpp"
#include "ava/history/store.hpp"
#include "ava/history/writer.hpp"
#include "ava/realtime/provider.hpp"
#include "ava/session.hpp"
#include "ava/sim/server.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

struct turn_usage {
    std::int64_t input = 0;
    std::int64_t cached = 0;
};

struct run_result {
    std::vector<turn_usage> turns;
    double cost = 0;
    int deleted = 0;
};

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

long rss_kb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return 0;
}

run_result conversation_run(const fs::path& dir, int turns, std::size_t keep_turns,
                            std::size_t prune_batch) {
    const fs::path scenario = dir / "chat.json";
    {
        std::ofstream f(scenario);
        f << R"({"name":"bench-chat","loop":true,"turns":[
{"reply":"Here is a short answer about that topic, with one detail you may find useful later on."},
{"reply":"That is a good question. The answer has two parts: first the background, then what it means for you today."},
{"reply":"Sure. In a few words: it depends on the details, but most people find the simple option works best."}]})";
    }
    ava::sim::options so;
    so.scenario_file = scenario.string();
    so.pace = 0;
    so.synth = "tone";
    so.quiet = true;
    ava::sim::server srv(so);
    srv.start();

    ava::session_options o;
    o.connection.target.provider = "custom";
    o.connection.target.url = ava::realtime::parse_url(srv.url());
    o.connection.target.headers = {{"Authorization", "Bearer bench"}};
    o.connection.proxy = "";
    // A system prompt of a realistic size: the prefix the cache can hold.
    std::string prompt = "You are AVA, a helpful voice assistant. ";
    while (prompt.size() < 4800) prompt += "Answer briefly and clearly, in a friendly tone. ";
    o.conversation.session.instructions = prompt;
    o.conversation.keep_turns = keep_turns;
    o.conversation.prune_batch = prune_batch;
    ava::audio::wav_device_options wo;
    wo.pacing = ava::audio::wav_pacing::fast;
    o.device = ava::audio::open_wav_device(wo);

    std::mutex m;
    std::condition_variable cv;
    run_result r;
    ava::session_callbacks cb;
    std::size_t replies_heard = 0;
    cb.on_transcript = [&](const ava::transcript_line& t) {
        if (!t.final || t.role != ava::realtime::speaker::assistant) return;
        const std::lock_guard lock(m);
        ++replies_heard;
        cv.notify_all();
    };
    cb.on_usage = [&](const ava::realtime::act::usage_metrics& u) {
        const std::lock_guard lock(m);
        r.turns.push_back({u.tokens.input_tokens, u.tokens.input_details.cached_tokens});
        r.cost = u.session_cost_usd;
        cv.notify_all();
    };
    ava::session s(std::move(o), std::move(cb));
    s.start();
    for (int i = 1; i <= turns; ++i) {
        s.send_text("Question " + std::to_string(i) +
                    ": please tell me something about topic number " + std::to_string(i) +
                    " and why it matters.");
        std::unique_lock lock(m);
        if (!cv.wait_for(lock, seconds(30),
                         [&] { return r.turns.size() >= static_cast<std::size_t>(i); })) {
            std::fprintf(stderr, "memory-bench: turn %d got no response.done in 30 s\n", i);
            std::exit(1);
        }
    }
    // Let the last prune go out before the totals are read.
    std::this_thread::sleep_for(milliseconds(300));
    r.deleted = s.summary().context_items_deleted;
    s.stop();
    s.wait();
    srv.stop();
    return r;
}

double avg(const std::vector<turn_usage>& t, std::size_t from, std::size_t to) {  // 1-based
    double sum = 0;
    for (std::size_t i = from; i <= to; ++i) sum += static_cast<double>(t[i - 1].input);
    return sum / static_cast<double>(to - from + 1);
}

void make_fixture(const fs::path& db, int sessions) {
    {
        ava::history::store_options so;
        so.path = db;
        ava::history::store init(so);  // the real schema
    }
    sqlite3* raw = nullptr;
    sqlite3_open(db.c_str(), &raw);
    sqlite3_exec(raw, "BEGIN", nullptr, nullptr, nullptr);
    sqlite3_stmt* ss = nullptr;
    sqlite3_stmt* ls = nullptr;
    sqlite3_prepare_v2(raw,
                       "INSERT INTO sessions(started_at, ended_at, provider, model, voice, "
                       "user_turns, cost_usd) VALUES (?, ?, 'openai', 'gpt-realtime', 'marin', 3, "
                       "0.02)",
                       -1, &ss, nullptr);
    sqlite3_prepare_v2(
        raw, "INSERT INTO lines(session_id, seq, at, speaker, text) VALUES (?, ?, ?, ?, ?)", -1,
        &ls, nullptr);
    static const char* words[] = {"weather", "calendar", "lights", "email",  "recipe",
                                  "train",   "meeting",  "music",  "garden", "birthday",
                                  "coffee",  "holiday",  "tax",    "doctor", "football"};
    const std::int64_t t0 = 1'700'000'000'000;
    for (int s = 1; s <= sessions; ++s) {
        const std::int64_t at = t0 + static_cast<std::int64_t>(s) * 3'600'000;
        sqlite3_bind_int64(ss, 1, at);
        sqlite3_bind_int64(ss, 2, at + 120'000);
        sqlite3_step(ss);
        sqlite3_reset(ss);
        const std::int64_t id = sqlite3_last_insert_rowid(raw);
        for (int l = 0; l < 6; ++l) {
            const std::string w = words[(s * 7 + l) % 15];
            std::string text =
                (l % 2 == 0 ? "Can you help me with the " + w + " for next week, and the " +
                                  words[(s + l) % 15] + " too?"
                            : "Of course. For the " + w +
                                  " I found three options; the first one looks best "
                                  "because it is closest and cheapest.");
            if (s == sessions / 2 && l == 0) text = "Should I take an umbrella to Lyon tomorrow?";
            sqlite3_bind_int64(ls, 1, id);
            sqlite3_bind_int(ls, 2, l);
            sqlite3_bind_int64(ls, 3, at + l * 10'000);
            sqlite3_bind_text(ls, 4, l % 2 == 0 ? "user" : "assistant", -1, SQLITE_STATIC);
            sqlite3_bind_text(ls, 5, text.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_step(ls);
            sqlite3_reset(ls);
        }
    }
    sqlite3_finalize(ss);
    sqlite3_finalize(ls);
    sqlite3_exec(raw, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(raw);
}

}  // namespace

int main(int argc, char** argv) {
    int turns = 40;
    std::size_t keep = 6;
    int sessions = 10000;
    std::string ava_voice;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--turns") turns = std::atoi(argv[i + 1]);
        if (a == "--keep-turns") keep = static_cast<std::size_t>(std::atoi(argv[i + 1]));
        if (a == "--sessions") sessions = std::atoi(argv[i + 1]);
        if (a == "--ava-voice") ava_voice = argv[i + 1];
    }
    if (turns < 20) turns = 20;
    const fs::path dir =
        fs::temp_directory_path() / ("ava-memory-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);

    // ---- 1. tokens per turn ----
    const run_result full = conversation_run(dir, turns, 0, 0);
    const run_result each = conversation_run(dir, turns, keep, 0);
    // Batches of keep/2 turns (conversation_options::prune_batch), for comparison.
    const std::size_t batch = std::max<std::size_t>(1, keep / 2);
    const run_result pruned = conversation_run(dir, turns, keep, batch);
    std::printf("== input tokens billed per turn (%d turns; simulator billing, cached in ())\n",
                turns);
    std::printf("turn  keep-all        keep=%zu each turn  keep=%zu batch=%zu\n", keep, keep,
                batch);
    for (std::size_t i = 0; i < static_cast<std::size_t>(turns); ++i) {
        std::printf("%4zu  %6lld (%5lld)  %6lld (%5lld)  %6lld (%5lld)\n", i + 1,
                    static_cast<long long>(full.turns[i].input),
                    static_cast<long long>(full.turns[i].cached),
                    static_cast<long long>(each.turns[i].input),
                    static_cast<long long>(each.turns[i].cached),
                    static_cast<long long>(pruned.turns[i].input),
                    static_cast<long long>(pruned.turns[i].cached));
    }
    const auto n = static_cast<std::size_t>(turns);
    for (const auto& [name, r] : {std::pair<const char*, const run_result&>{"keep-all", full},
                                  {"each-turn", each},
                                  {"batched", pruned}}) {
        const double early = avg(r.turns, 5, 10);
        const double late = avg(r.turns, n - 9, n);
        std::printf(
            "%-9s turns 5-10 avg %.0f, last 10 avg %.0f, last10/early %.2f, "
            "estimated cost $%.4f, items deleted %d\n",
            name, early, late, late / early, r.cost, r.deleted);
    }
    std::printf(
        "cost ratio to keep-all: each-turn %.2f, batched %.2f (target: with pruning, "
        "the last 10 turns within 20%% of turns 5-10)\n",
        each.cost / full.cost, pruned.cost / full.cost);

    // ---- 2. history search over N sessions ----
    const fs::path db = dir / "history.db";
    const auto f0 = steady_clock::now();
    make_fixture(db, sessions);
    std::printf(
        "\n== history search over %d sessions (%d lines; fixture built in %.1f s, %.1f MB)\n",
        sessions, sessions * 6, duration<double>(steady_clock::now() - f0).count(),
        static_cast<double>(fs::file_size(db)) / 1e6);
    {
        ava::history::store_options so;
        so.path = db;
        ava::history::store st(so);
        std::vector<double> lib_ms;
        std::size_t hits = 0;
        for (const char* q :
             {"umbrella", "garden", "birthday football", "meeting next week", "umbrella lyon",
              "coffee", "tax", "doctor options", "train", "holiday", "recipe", "music"}) {
            const auto t = steady_clock::now();
            hits += st.search(q, 20).size();
            lib_ms.push_back(duration<double, std::milli>(steady_clock::now() - t).count());
        }
        std::printf(
            "library search (20 results): median %.2f ms, max %.2f ms over %zu queries "
            "(%zu hits)\n",
            median(lib_ms), *std::max_element(lib_ms.begin(), lib_ms.end()), lib_ms.size(), hits);
    }
    if (!ava_voice.empty()) {
        std::vector<double> cli_ms;
        for (int i = 0; i < 11; ++i) {
            const std::string cmd = "'" + ava_voice + "' history search umbrella --history-db '" +
                                    db.string() + "' >/dev/null";
            const auto t = steady_clock::now();
            const int rc = std::system(cmd.c_str());
            cli_ms.push_back(duration<double, std::milli>(steady_clock::now() - t).count());
            if (rc != 0) {
                std::fprintf(stderr, "memory-bench: `%s` failed\n", cmd.c_str());
                return 1;
            }
        }
        std::printf(
            "`ava-voice history search umbrella` (whole process): median %.1f ms over %zu "
            "runs (target < 50 ms)\n",
            median(cli_ms), cli_ms.size());
    }

    // ---- 3. the writer's cost to the session ----
    {
        const long before = rss_kb();
        ava::history::store_options so;
        so.path = dir / "writer.db";
        auto st = std::make_shared<ava::history::store>(so);
        const auto id = st->begin_session({ava::history::now_ms(), "sim", "m", "v", ""});
        std::vector<double> post_us;
        {
            ava::history::writer w(st);
            for (int i = 0; i < 2000; ++i) {
                ava::history::line_record l{id,
                                            i,
                                            ava::history::now_ms(),
                                            "user",
                                            "A transcript line of ordinary length, number " +
                                                std::to_string(i) + ", said by the user.",
                                            "",
                                            false,
                                            "item"};
                const auto t = steady_clock::now();
                w.post(std::move(l));
                post_us.push_back(duration<double, std::micro>(steady_clock::now() - t).count());
                if (i % 50 == 0) std::this_thread::sleep_for(milliseconds(1));
            }
            const auto t = steady_clock::now();
            w.flush(seconds(60));
            std::printf(
                "\n== writing history\npost() on the io thread: median %.2f us, max %.1f "
                "us over %zu lines; drained the rest in %.0f ms\n",
                median(post_us), *std::max_element(post_us.begin(), post_us.end()), post_us.size(),
                duration<double, std::milli>(steady_clock::now() - t).count());
            std::printf(
                "resident memory added by the store + writer after 2000 lines: %ld KB "
                "(target < 2048 KB)\n",
                rss_kb() - before);
        }
    }
    fs::remove_all(dir);
    return 0;
}
