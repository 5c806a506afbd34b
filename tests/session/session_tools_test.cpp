// End-to-end (#19): approval before risky calls (terminal and voice), the spoken filler while a
// slow tool runs, and cancelling a running tool, through ava::session against the simulator
// over real TLS. Each test checks both sides: what the session reported (lines, tool events,
// its events file) and what the simulator received and answered (no error at all, so never a
// second response while one was active).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "ava/session.hpp"
#include "ava/sim/server.hpp"
#include "session_test_util.hpp"

namespace ava::it {
namespace {

using namespace std::chrono_literals;
const std::string key = "sk-it-tools-key-0123456789abcdef";

/// The session's own `tool.approval` records: "decision by who", in order.
std::vector<std::string> approvals_in(const std::string& events_jsonl) {
    std::vector<std::string> out;
    for (const json& j : read_jsonl(events_jsonl)) {
        if (j.value("dir", "") == "local" && j.value("type", "") == "tool.approval") {
            out.push_back(j["event"].value("decision", "") + " by " + j["event"].value("by", ""));
        }
    }
    return out;
}

std::string line_with(const std::vector<std::string>& lines, const std::string& part) {
    for (const std::string& l : lines) {
        if (l.find(part) != std::string::npos) return l;
    }
    return {};
}

/// One turn that calls `delete_files` and reads its answer back.
json one_call_scenario(const json& args = json::object()) {
    return {{"turns",
             {{{"user", "delete my files"},
               {"calls", {{{"name", "delete_files"}, {"arguments", args}}}},
               {"followup", "Result: {output:delete_files}"}}}}};
}

struct risky_tool {
    std::atomic<int> runs{0};
    void add_to(session& s) {
        s.add_tool(
            {.name = "delete_files",
             .description = "Deletes the user's files.",
             .parameters_json = R"({"type":"object","properties":{}})"},
            [this](std::string_view) {
                ++runs;
                return std::string(R"({"deleted":3})");
            },
            tools::tool_options{.require_approval = true});
    }
};

class TerminalApproval : public ::testing::TestWithParam<int> {};

// 0: yes, 1: no, 2: no answer in time.
TEST_P(TerminalApproval, RunsOnlyAfterYesAndTheModelHearsEveryOtherOutcome) {
    const int answer = GetParam();
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(dir, one_call_scenario());
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    o.events_jsonl = dir + "/events.jsonl";
    o.approval_timeout = 1500ms;
    session_callbacks cb = obs.callbacks();
    std::mutex m;
    std::vector<approval_request> seen;
    session* sp = nullptr;
    cb.on_approval = [&](const approval_request& r) {
        {
            std::lock_guard lk(m);
            seen.push_back(r);
        }
        if (r.st == approval_request::state::pending && answer < 2) {
            sp->approve(answer == 0 ? r.call_id : std::string(), answer == 0);
        }
    };
    session s(std::move(o), std::move(cb));
    sp = &s;
    risky_tool tool;
    tool.add_to(s);
    s.start();
    s.send_text("delete my files");
    ASSERT_TRUE(obs.wait_for_assistant("Result:")) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    const std::string reply = line_with(obs.lines(), "Result:");
    std::vector<std::string> expected_log = {"asked by user (terminal)"};
    if (answer == 0) {
        EXPECT_EQ(tool.runs.load(), 1);
        EXPECT_NE(reply.find("deleted"), std::string::npos) << reply;
        expected_log.push_back("approved by user (terminal)");
    } else {
        EXPECT_EQ(tool.runs.load(), 0) << "a refused call ran";
        EXPECT_NE(reply.find(answer == 1 ? "the user declined" : "no answer from the user"),
                  std::string::npos)
            << reply;
        expected_log.push_back(answer == 1 ? "denied by user (terminal)" : "timed out by timeout");
    }
    EXPECT_EQ(approvals_in(dir + "/events.jsonl"), expected_log);
    {
        std::lock_guard lk(m);
        ASSERT_EQ(seen.size(), 2u);
        EXPECT_EQ(seen[0].st, approval_request::state::pending);
        EXPECT_EQ(seen[0].name, "delete_files");
        EXPECT_EQ(seen[1].st, answer == 0   ? approval_request::state::approved
                              : answer == 1 ? approval_request::state::denied
                                            : approval_request::state::timed_out);
    }
    EXPECT_EQ(srv.get_summary().errors_sent, 0);
}

INSTANTIATE_TEST_SUITE_P(YesNoTimeout, TerminalApproval, ::testing::Values(0, 1, 2));

TEST(VoiceApproval, TheModelReadsTheCallBackAndOnlyTheSameCallWithTheYesRuns) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    // Turn 1: the model calls without the yes and hears it must ask. Turn 2 ("yes"): the same
    // call with user_approved. Turn 3: a different call claiming a yes that was never asked.
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "delete my files"},
                 {"calls", {{{"name", "delete_files"}, {"arguments", {{"folder", "tmp"}}}}}},
                 {"followup", "Ask: {output:delete_files}"}},
                {{"user", "yes"},
                 {"calls",
                  {{{"name", "delete_files"},
                    {"arguments", {{"folder", "tmp"}, {"user_approved", true}}}}}},
                 {"followup", "Done: {output:delete_files}"}},
                {{"user", "and the photos"},
                 {"calls",
                  {{{"name", "delete_files"},
                    {"arguments", {{"folder", "photos"}, {"user_approved", true}}}}}},
                 {"followup", "Again: {output:delete_files}"}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    o.events_jsonl = dir + "/events.jsonl";
    session s(std::move(o), obs.callbacks());  // no on_approval: voice
    std::atomic<int> runs{0};
    std::string last_args;
    std::mutex m;
    s.add_tool(
        {.name = "delete_files",
         .description = "Deletes a folder.",
         .parameters_json = R"({"type":"object","properties":{"folder":{"type":"string"}},)"
                            R"("additionalProperties":false})"},
        [&](std::string_view args) {
            ++runs;
            std::lock_guard lk(m);
            last_args = std::string(args);
            return std::string(R"({"deleted":3})");
        },
        tools::tool_options{.require_approval = true});
    s.start();
    s.send_text("delete my files");
    ASSERT_TRUE(obs.wait_for_assistant("Ask:")) << ::testing::PrintToString(obs.lines());
    EXPECT_EQ(runs.load(), 0);
    s.send_text("yes");
    ASSERT_TRUE(obs.wait_for_assistant("Done:")) << ::testing::PrintToString(obs.lines());
    EXPECT_EQ(runs.load(), 1);
    s.send_text("and the photos");
    ASSERT_TRUE(obs.wait_for_assistant("Again:")) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    EXPECT_EQ(runs.load(), 1) << "a call that was never read back ran";
    {
        std::lock_guard lk(m);
        EXPECT_EQ(last_args, R"({"folder":"tmp"})") << "user_approved reached the handler";
    }
    const auto lines = obs.lines();
    EXPECT_NE(line_with(lines, "Ask:").find("needs_approval"), std::string::npos);
    EXPECT_NE(line_with(lines, "Again:").find("not read back to the user yet"), std::string::npos)
        << line_with(lines, "Again:");
    EXPECT_EQ(
        approvals_in(dir + "/events.jsonl"),
        (std::vector<std::string>{"asked by model (voice read-back)", "approved by user (voice)",
                                  "asked by model (voice read-back)"}));
    // The model was offered the tool with the extra field and told why.
    const sim::summary ss = srv.get_summary();
    const auto updates = sim_received(so.events_file, ss, 0, "session.update");
    ASSERT_FALSE(updates.empty());
    const json& tool0 = updates[0]["session"]["tools"][0];
    EXPECT_TRUE(tool0["parameters"]["properties"].contains("user_approved")) << tool0.dump();
    EXPECT_NE(tool0["description"].get<std::string>().find("NEEDS THE USER'S YES"),
              std::string::npos);
    EXPECT_EQ(ss.errors_sent, 0);
}

TEST(SlowTool, AFillerIsSpokenThenTheAnswerWithNoSecondActiveResponse) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "weather please"},
                 {"calls", {{{"name", "slow_weather"}, {"arguments", json::object()}}}},
                 {"followup", "It is {output:slow_weather}."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    o.conversation.tool_filler_after = 1500ms;
    session s(std::move(o), obs.callbacks());
    s.add_tool({.name = "slow_weather", .description = "Takes 3 s."}, [](std::string_view) {
        std::this_thread::sleep_for(3s);
        return std::string(R"({"sky":"sunny"})");
    });
    s.start();
    s.send_text("weather please");
    ASSERT_TRUE(obs.wait_for_assistant("sunny", 20s)) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    const auto lines = obs.lines();
    ASSERT_EQ(lines.size(), 3u) << ::testing::PrintToString(lines);
    EXPECT_EQ(lines[1], "AVA: One moment, let me check that.");
    EXPECT_EQ(lines[2], R"(AVA: It is {"sky":"sunny"}.)");
    EXPECT_EQ(s.summary().tool_fillers, 1);
    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.errors_sent, 0) << "e.g. conversation_already_has_active_response";
    const auto creates = sim_received(so.events_file, ss, 0, "response.create");
    ASSERT_EQ(creates.size(), 3u);
    EXPECT_EQ(creates[1]["response"]["tool_choice"], "none");
}

/// A handler that takes a minute unless asked to stop.
struct minute_tool final : tools::tool {
    tools::tool_spec s{.name = "backup", .description = "Takes a minute."};
    std::atomic<bool> saw_stop{false};
    const tools::tool_spec& spec() const override { return s; }
    std::string call(std::string_view, std::stop_token stop) override {
        for (int i = 0; i < 6000 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(10ms);
        saw_stop = stop.stop_requested();
        return "{}";
    }
};

TEST(SlowTool, TheCancelKeyEndsARunningToolAndTheModelHearsIt) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file =
        write_scenario(dir, {{"turns",
                              {{{"user", "backup"},
                                {"calls", {{{"name", "backup"}, {"arguments", json::object()}}}},
                                {"followup", "Backup: {output:backup}"}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    o.events_jsonl = dir + "/events.jsonl";
    session s(std::move(o), obs.callbacks());
    auto tool = std::make_shared<minute_tool>();
    s.tools().add(tool, tools::tool_options{.timeout = 120s});
    s.start();
    const auto t0 = std::chrono::steady_clock::now();
    s.send_text("backup");
    bool started = false;
    for (int i = 0; i < 1500 && !started; ++i) {  // the observer's events, polled (15 s)
        started = !obs.tool_events().empty();
        if (!started) std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(started);
    std::this_thread::sleep_for(200ms);
    s.cancel_tools();
    ASSERT_TRUE(obs.wait_for_assistant("Backup:")) << ::testing::PrintToString(obs.lines());
    const auto took = std::chrono::steady_clock::now() - t0;
    s.stop();
    s.wait();

    EXPECT_LT(took, 10s);
    EXPECT_NE(line_with(obs.lines(), "Backup:").find("backup was cancelled by the user"),
              std::string::npos)
        << line_with(obs.lines(), "Backup:");
    for (int i = 0; i < 100 && !tool->saw_stop.load(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(tool->saw_stop.load()) << "the handler was not asked to stop";
    EXPECT_EQ(s.summary().tool_calls_failed, 1);
    EXPECT_EQ(srv.get_summary().errors_sent, 0);
    bool recorded = false;
    for (const json& j : read_jsonl(dir + "/events.jsonl")) {
        recorded = recorded || j.value("type", "") == "tool.cancel";
    }
    EXPECT_TRUE(recorded);
}

TEST(ToolList, AServerWhoseToolsChangeIsSentASessionUpdateOfTheToolsAlone) {
    // An MCP server's notifications/tools/list_changed ends in registry::replace_group; the
    // model must see the new list without a reconnect.
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(dir, {{"turns", {{{"user", "hi"}, {"reply", "Hello."}}}}});
    sim::server srv(so);
    srv.start();
    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.start();
    s.send_text("hi");
    ASSERT_TRUE(obs.wait_for_assistant("Hello."));
    std::vector<std::pair<std::shared_ptr<tools::tool>, tools::tool_options>> group;
    group.emplace_back(std::make_shared<minute_tool>(), tools::tool_options{});
    s.tools().replace_group("srv", std::move(group));
    std::vector<json> updates;
    for (int i = 0; i < 500 && updates.size() < 2; ++i) {
        std::this_thread::sleep_for(10ms);
        updates = sim_received(so.events_file, srv.get_summary(), 0, "session.update");
    }
    s.stop();
    s.wait();
    ASSERT_EQ(updates.size(), 2u);
    const json& second = updates[1]["session"];
    ASSERT_TRUE(second.contains("tools")) << second.dump();
    EXPECT_EQ(second["tools"].size(), 1u);
    EXPECT_EQ(second["tools"][0]["name"], "backup");
    EXPECT_FALSE(second.contains("instructions")) << "only the tools are re-sent";
    EXPECT_EQ(srv.get_summary().errors_sent, 0);
}

}  // namespace
}  // namespace ava::it
