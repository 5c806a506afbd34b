// End-to-end: ava::session against the Realtime simulator over real TLS (test CA, verification
// on) on loopback, with WAV devices or the embedder's own audio. Each test checks behaviour on
// both sides: what the session reported and what the simulator received.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/realtime/provider.hpp"
#include "ava/session.hpp"
#include "ava/sim/server.hpp"
#include "session_test_util.hpp"

namespace ava::it {
namespace {

using namespace std::chrono_literals;
const std::string key = "sk-it-test-key-0123456789abcdef";

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// ---- a conversation ---------------------------------------------------------------------------

// Two spoken turns from a WAV file, in fast mode (the gap after each question is long enough in
// file time for the reply to be played before the next question starts).
TEST(SessionIntegration, TwoTurnVoiceConversationWithOrderedTranscripts) {
    const std::string dir = temp_dir();
    const std::string in = dir + "/in.wav";
    write_wav(in,
              concat({silence(300), speech(), silence(9000), speech(0.25, 1.3), silence(9000)}));

    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "turn on the lights"}, {"reply", "Done, the lights are on."}},
                {{"user", "thank you"}, {"reply", "You are welcome."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav(in, dir + "/out.wav", audio::wav_pacing::fast);
    o.events_jsonl = dir + "/events.jsonl";
    o.record_wav = dir + "/record.wav";
    o.stop_when_input_done = true;
    auto s = std::make_unique<session>(std::move(o), obs.callbacks());
    s->start();
    auto r = s->wait_for(30s);
    ASSERT_TRUE(r.has_value()) << "the session did not end by itself";
    EXPECT_EQ(r->how, session_result::end::input_done) << r->message;
    const realtime::session_summary sum = s->summary();
    s.reset();

    EXPECT_EQ(obs.lines(),
              (std::vector<std::string>{"You: turn on the lights", "AVA: Done, the lights are on.",
                                        "You: thank you", "AVA: You are welcome."}));
    EXPECT_EQ(sum.user_turns, 2);
    EXPECT_EQ(sum.responses, 2);
    EXPECT_EQ(sum.interruptions, 0);
    EXPECT_EQ(sum.latencies.size(), 2u);

    const sim::summary ss = srv.get_summary();
    ASSERT_EQ(ss.sessions, 1);
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.responses, 2);
    EXPECT_EQ(ss.per_session[0].responses_cancelled, 0);
    EXPECT_GT(ss.per_session[0].input_audio_ms, 20000);  // the whole file went up

    // The output holds both replies; the recording has the mic left and the replies right.
    const pcm out = read_wav(dir + "/out.wav");
    std::size_t loud_out = 0;
    for (auto v : out) loud_out += std::abs(v) > 1000 ? 1u : 0u;
    EXPECT_GT(loud_out, 2400u);
    int channels = 0;
    const pcm rec = read_wav(dir + "/record.wav", &channels);
    ASSERT_EQ(channels, 2);
    std::size_t loud_l = 0;
    std::size_t loud_r = 0;
    for (std::size_t i = 0; i + 1 < rec.size(); i += 2) {
        loud_l += std::abs(rec[i]) > 1000 ? 1u : 0u;
        loud_r += std::abs(rec[i + 1]) > 1000 ? 1u : 0u;
    }
    EXPECT_GT(loud_l, 2400u) << "no microphone in the recording";
    EXPECT_GT(loud_r, 2400u) << "no assistant in the recording";
    expect_clean_event_log(dir + "/events.jsonl");
}

// ---- barge-in -----------------------------------------------------------------------------------

// The user speaks over the reply (real-time pacing: timing matters). The truncation sent must be
// what the output WAV actually received of that item: within 10 ms and never beyond.
void barge_in_truncates_at_what_was_played(audio::wav_pacing pacing) {
    const std::string dir = temp_dir();
    const std::string in = dir + "/in.wav";
    write_wav(in, concat({silence(200), speech(), silence(1300), speech(0.3, 1.3), silence(1600)}));

    sim::options so = sim_options(dir);
    so.pace = 20;
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "turn on the lights"},
                 {"reply",
                  "Sure. I am turning on the lights in the living room, the kitchen, the hall, "
                  "the bedroom and the garden, one after the other, slowly and carefully."}},
                {{"user", "stop"}, {"reply", "Okay."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav(in, dir + "/out.wav", pacing);
    o.events_jsonl = dir + "/events.jsonl";
    o.stop_when_input_done = true;
    auto s = std::make_unique<session>(std::move(o), obs.callbacks());
    s->start();
    auto r = s->wait_for(30s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->how, session_result::end::input_done) << r->message;
    const realtime::session_summary sum = s->summary();
    s.reset();  // the output WAV is complete once the device is gone

    EXPECT_EQ(sum.interruptions, 1);
    EXPECT_EQ(obs.interruptions(), 1);
    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.errors_sent, 0) << (ss.per_session.empty() || ss.per_session[0].error_codes.empty()
                                         ? ""
                                         : ss.per_session[0].error_codes[0]);
    ASSERT_EQ(ss.truncations.size(), 1u);
    const sim::truncation_record& t = ss.truncations[0];
    EXPECT_TRUE(t.accepted);
    EXPECT_GT(t.audio_end_ms, 0);
    EXPECT_LT(t.audio_end_ms, t.generated_ms);

    // Find the item in the output: its first audible 20 ms, then how far the output follows it
    // exactly, then the fade (the item's samples scaled down).
    const pcm item = obs.audio_of(t.item_id);
    const pcm out = read_wav(dir + "/out.wav");
    ASSERT_GT(item.size(), 4800u);
    std::size_t k = 0;
    while (k < item.size() && std::abs(item[k]) < 200) ++k;
    ASSERT_LT(k + 480, item.size());
    auto it = std::search(out.begin(), out.end(), item.begin() + static_cast<std::ptrdiff_t>(k),
                          item.begin() + static_cast<std::ptrdiff_t>(k + 480));
    ASSERT_NE(it, out.end()) << "the item's audio is not in the output";
    const auto start = static_cast<std::size_t>(it - out.begin()) - k;
    std::size_t played = 0;
    while (start + played < out.size() && played < item.size() &&
           out[start + played] == item[played]) {
        ++played;
    }
    // The flush fades over 8 ms (192 samples): the item's samples scaled down towards 0.
    std::size_t fade = 0;
    while (fade < 192 && start + played + fade < out.size() && played + fade < item.size()) {
        const int o_v = out[start + played + fade];
        const int i_v = item[played + fade];
        if (std::abs(o_v) > std::abs(i_v) || (o_v != 0 && (o_v > 0) != (i_v > 0))) break;
        ++fade;
    }
    // What the output file received of the item, in ms: the exact part plus the fade.
    const std::int64_t wav_ms = static_cast<std::int64_t>(played + fade) * 1000 / 24000;
    EXPECT_LE(t.audio_end_ms, wav_ms) << "truncated beyond what was played";
    EXPECT_GE(t.audio_end_ms, wav_ms - 10) << "played " << played << "+" << fade << " samples";
    EXPECT_LT(played + fade, item.size()) << "the item was not cut";

    // The interrupted line shows what was heard and marks the rest.
    bool found = false;
    for (const transcript_line& l : obs.finals()) {
        if (l.item_id == t.item_id) {
            found = true;
            EXPECT_FALSE(l.unheard.empty());
        }
    }
    EXPECT_TRUE(found);
    EXPECT_TRUE(obs.wait_for_assistant("Okay.", 0ms));
    expect_clean_event_log(dir + "/events.jsonl");
}

TEST(SessionIntegration, BargeInTruncatesAtWhatWasActuallyPlayed) {
    barge_in_truncates_at_what_was_played(audio::wav_pacing::realtime);
}

// The same with the device's periods run by the session's io thread (headless ava-voice).
TEST(SessionIntegration, BargeInTruncatesAtWhatWasActuallyPlayedWithDrivenDevice) {
    barge_in_truncates_at_what_was_played(audio::wav_pacing::driven);
}

// Interrupted before a single sample was heard: the item is deleted, never truncated at 0 ms.
TEST(SessionIntegration, BargeInBeforeTheFirstSampleDeletesTheItem) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.pace = 1;  // real time: the start threshold below is never reached before the interrupt
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "tell me a story"},
                 {"reply", "Once upon a time there was a very long story that nobody heard."}},
                {{"user", "never mind"}, {"reply", "Fine."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);  // no device: embedder audio
    o.engine.start_threshold_ms = 2000;
    o.events_jsonl = dir + "/events.jsonl";
    session s(std::move(o), obs.callbacks());
    std::atomic<int> items{0};
    obs.on_first_audio = [&](const std::string&) {
        if (items++ == 0) s.interrupt();  // the first reply only
    };
    s.start();
    s.send_text("tell me a story");
    // Wait until the simulator saw the deletion.
    std::string deleted;
    for (int i = 0; i < 300 && deleted.empty(); ++i) {
        std::this_thread::sleep_for(10ms);
        const sim::summary ss = srv.get_summary();
        for (const json& e : sim_received(so.events_file, ss, 0, "conversation.item.delete")) {
            deleted = e.value("item_id", "");
        }
    }
    ASSERT_FALSE(deleted.empty()) << "no conversation.item.delete";
    ASSERT_FALSE(obs.audio_items().empty());
    EXPECT_EQ(deleted, obs.audio_items()[0]);

    // The conversation goes on.
    s.send_text("never mind");
    EXPECT_TRUE(obs.wait_for_assistant("Fine."));
    s.stop();
    s.wait();

    const sim::summary ss = srv.get_summary();
    EXPECT_TRUE(ss.truncations.empty()) << "audio_end_ms " << ss.truncations[0].audio_end_ms;
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.per_session[0].responses_cancelled, 1);
    EXPECT_EQ(s.summary().interruptions, 1);
    expect_clean_event_log(dir + "/events.jsonl");
}

// ---- tools -------------------------------------------------------------------------------------

TEST(SessionIntegration, ToolRoundTripWithTwoParallelCalls) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "weather and time please"},
                 {"calls",
                  {{{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}},
                   {{"name", "get_time"}, {"arguments", json::object()}}}},
                 {"followup", "Weather {output:get_weather} and time {output:get_time}."}}}}});
    sim::server srv(so);
    srv.start();

    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    auto slow = [&](std::string result) {
        return [&, result](std::string_view) {
            const int now = ++running;
            int prev = max_running.load();
            while (prev < now && !max_running.compare_exchange_weak(prev, now)) {
            }
            std::this_thread::sleep_for(300ms);
            --running;
            return result;
        };
    };

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.add_tool({.name = "get_weather",
                .description = "Weather in a city.",
                .parameters_json = R"({"type":"object","properties":{"city":{"type":"string"}},)"
                                   R"("required":["city"]})"},
               slow(R"({"sky":"sunny"})"));
    s.add_tool({.name = "get_time", .description = "The time."}, slow(R"({"time":"noon"})"));
    s.start();
    s.send_text("weather and time please");
    ASSERT_TRUE(obs.wait_for_assistant("sunny")) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    const std::vector<std::string> lines = obs.lines();
    ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
    EXPECT_EQ(lines[1], R"(AVA: Weather {"sky":"sunny"} and time {"time":"noon"}.)");
    EXPECT_EQ(max_running.load(), 2) << "the two calls did not run in parallel";
    int started = 0;
    int finished_ok = 0;
    for (const tool_event& t : obs.tool_events()) {
        if (!t.finished) ++started;
        if (t.finished && t.ok) ++finished_ok;
    }
    EXPECT_EQ(started, 2);
    EXPECT_EQ(finished_ok, 2);
    EXPECT_EQ(s.summary().tool_calls_ok, 2);

    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.responses, 2);
    const auto outputs = sim_received(so.events_file, ss, 0, "conversation.item.create");
    int fco = 0;
    for (const json& e : outputs) fco += e["item"].value("type", "") == "function_call_output";
    EXPECT_EQ(fco, 2);
    EXPECT_EQ(sim_received(so.events_file, ss, 0, "response.create").size(), 2u);
}

TEST(SessionIntegration, ThrowingAndHangingToolsDoNotStopTheConversation) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file =
        write_scenario(dir, {{"turns",
                              {{{"user", "do both"},
                                {"calls",
                                 {{{"name", "explode"}, {"arguments", json::object()}},
                                  {{"name", "hang"}, {"arguments", json::object()}}}},
                                {"followup", "First: {output:explode} Second: {output:hang}"}},
                               {{"user", "are you there"}, {"reply", "Still here."}}}}});
    sim::server srv(so);
    srv.start();

    auto release = std::make_shared<std::atomic<bool>>(false);
    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.add_tool(
        {.name = "explode", .description = "Always fails."},
        [](std::string_view) -> std::string { throw tools::tool_error("the widget exploded"); });
    s.add_tool(
        {.name = "hang", .description = "Never answers."},
        [release](std::string_view) -> std::string {
            while (!release->load()) std::this_thread::sleep_for(5ms);  // ignores its stop request
            return R"({"late":true})";
        },
        tools::tool_options{.timeout = 300ms});
    s.start();
    s.send_text("do both");
    ASSERT_TRUE(obs.wait_for_assistant("Second:")) << ::testing::PrintToString(obs.lines());
    s.send_text("are you there");
    EXPECT_TRUE(obs.wait_for_assistant("Still here."));
    release->store(true);
    s.stop();
    s.wait();

    std::string followup;
    for (const std::string& l : obs.lines()) {
        if (l.find("Second:") != std::string::npos) followup = l;
    }
    EXPECT_NE(followup.find("the widget exploded"), std::string::npos) << followup;
    EXPECT_NE(followup.find("timed out"), std::string::npos) << followup;
    EXPECT_EQ(followup.find("late"), std::string::npos) << "a late result reached the model";
    EXPECT_EQ(s.summary().tool_calls_failed, 2);
    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.responses, 3);
}

// ---- one response at a time ------------------------------------------------------------------

TEST(SessionIntegration, TextTypedDuringAnActiveResponseIsQueued) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.pace = 10;
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "first"},
                 {"reply", "This is the first answer and it takes a little while to say."}},
                {{"user", "second"}, {"reply", "Second answer."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    std::atomic<bool> typed{false};
    obs.on_first_audio = [&](const std::string&) {
        if (!typed.exchange(true)) s.send_text("second");  // the first response is active now
    };
    s.start();
    s.send_text("first");
    ASSERT_TRUE(obs.wait_for_assistant("Second answer.")) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    const sim::summary ss = srv.get_summary();
    ASSERT_EQ(ss.sessions, 1);
    const auto& codes = ss.per_session[0].error_codes;
    EXPECT_EQ(std::count(codes.begin(), codes.end(), "conversation_already_has_active_response"),
              0);
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.responses, 2);
    EXPECT_EQ(ss.per_session[0].responses_cancelled, 0);
    EXPECT_TRUE(ss.per_session[0].expectation_mismatches.empty());
    EXPECT_EQ(obs.lines(),
              (std::vector<std::string>{
                  "You: first", "AVA: This is the first answer and it takes a little while to say.",
                  "You: second", "AVA: Second answer."}));
}

// ---- faults ------------------------------------------------------------------------------------

TEST(SessionIntegration, DropMidResponseReconnectsReseedsAndContinues) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.pace = 10;
    so.scenario_file = write_scenario(
        dir, {{"turns",
               {{{"user", "alpha question"}, {"reply", "Alpha answer."}},
                {{"user", "beta question"},
                 {"reply", "Beta answer, which is long enough to be cut by a dropped connection."},
                 {"faults",
                  {{{"kind", "close"},
                    {"abrupt", true},
                    {"at", "response.output_audio.delta"},
                    {"nth", 2}}}}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.start();
    s.send_text("alpha question");
    ASSERT_TRUE(obs.wait_for_assistant("Alpha answer."));
    s.send_text("beta question");
    for (int i = 0; i < 500 && s.summary().reconnects < 1; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(s.summary().reconnects, 1);
    s.send_text("gamma question");
    // The second simulator session starts its script again: its first reply is "Alpha answer."
    const auto enough = [&] {
        int n = 0;
        for (const std::string& l : obs.lines()) n += l == "AVA: Alpha answer.";
        return n >= 2;
    };
    for (int i = 0; i < 1500 && !enough(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(enough()) << ::testing::PrintToString(obs.lines());
    s.stop();
    s.wait();

    const sim::summary ss = srv.get_summary();
    ASSERT_EQ(ss.sessions, 2);
    EXPECT_EQ(ss.errors_sent, 0);
    // The new session was re-seeded with the earlier conversation as text.
    std::vector<std::string> seeded;
    for (const json& e : sim_received(so.events_file, ss, 1, "conversation.item.create")) {
        for (const json& c : e["item"].value("content", json::array())) {
            if (c.contains("text")) seeded.push_back(c["text"].get<std::string>());
        }
    }
    EXPECT_TRUE(contains(seeded, "alpha question")) << ::testing::PrintToString(seeded);
    EXPECT_TRUE(contains(seeded, "Alpha answer.")) << ::testing::PrintToString(seeded);
    EXPECT_TRUE(contains(seeded, "gamma question")) << ::testing::PrintToString(seeded);
}

struct benign_fault {
    const char* name;
    sim::fault f;
};

void PrintTo(const benign_fault& f, std::ostream* os) {
    *os << f.name;
}

class SessionFault : public ::testing::TestWithParam<benign_fault> {};

// Faults after which the session must simply go on: same socket, the reply completes.
TEST_P(SessionFault, ConversationGoesOnOnTheSameConnection) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.faults = {GetParam().f};
    so.scenario_file = write_scenario(
        dir, {{"turns", {{{"user", "hello"}, {"reply", "Hello there, nothing went wrong."}}}}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    o.events_jsonl = dir + "/events.jsonl";
    session s(std::move(o), obs.callbacks());
    s.start();
    s.send_text("hello");
    EXPECT_TRUE(obs.wait_for_assistant("Hello there, nothing went wrong."))
        << ::testing::PrintToString(obs.lines());
    s.stop();
    const session_result r = s.wait();
    EXPECT_EQ(r.how, session_result::end::stopped);

    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.sessions, 1);
    EXPECT_EQ(ss.faults_injected, 1);
    EXPECT_EQ(s.summary().reconnects, 0);
    if (GetParam().f.kind == "malformed_json") {
        bool warned = false;
        for (const auto& [text, warning] : obs.notices()) {
            warned = warned || (warning && text.find("could not read") != std::string::npos);
        }
        EXPECT_TRUE(warned);
    }
    expect_clean_event_log(dir + "/events.jsonl");
}

sim::fault make_fault(const std::string& kind) {
    sim::fault f;
    f.kind = kind;
    f.at = "response.output_audio.delta";
    f.nth = 2;
    f.ms = 800;
    f.bytes = 2u << 20;  // within the connection's message limit
    return f;
}

INSTANTIATE_TEST_SUITE_P(
    Faults, SessionFault,
    ::testing::Values(benign_fault{"malformed_json", make_fault("malformed_json")},
                      benign_fault{"unknown_event", make_fault("unknown_event")},
                      benign_fault{"oversized_frame", make_fault("oversized_frame")},
                      benign_fault{"stall", make_fault("stall")}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(SessionIntegration, SessionExpiredReconnectsAndContinues) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.session_cap_s = 1.0;
    so.scenario_file = write_scenario(
        dir, {{"turns", {{{"user", "still there"}, {"reply", "Yes."}}}}, {"loop", true}});
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    // With a 1 s cap the client would roll over proactively at once (cap - margin is already
    // past); a margin beyond the cap lets the server's session_expired path run instead.
    o.conversation.rollover_margin = -std::chrono::milliseconds(30000);
    session s(std::move(o), obs.callbacks());
    s.start();
    for (int i = 0; i < 500 && s.summary().reconnects < 1; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_GE(s.summary().reconnects, 1);
    s.send_text("still there");
    EXPECT_TRUE(obs.wait_for_assistant("Yes.", 10s));
    s.stop();
    s.wait();

    const sim::summary ss = srv.get_summary();
    ASSERT_GE(ss.sessions, 2);
    EXPECT_EQ(ss.per_session[0].close_reason, "session_expired");
    EXPECT_TRUE(contains(ss.per_session[0].error_codes, "session_expired"));
}

// ---- authentication and secrets ---------------------------------------------------------------

TEST(SessionIntegration, BadKeyIsOneClearFatalResultWithoutRetries) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.api_key = key;
    sim::server srv(so);
    srv.start();

    observer obs;
    session_options o = session_options_for(srv, "sk-it-wrong-key-9876543210");
    o.device = wav("", "", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.start();
    const auto r = s.wait_for(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->how, session_result::end::fatal);
    EXPECT_NE(r->message.find("401"), std::string::npos) << r->message;
    EXPECT_EQ(r->code, make_error_code(errc::auth_failed));
    std::this_thread::sleep_for(300ms);  // a retry storm would show up now
    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.rejected_upgrades, 1);
    EXPECT_EQ(ss.sessions, 0);
}

TEST(SessionIntegration, PipedTextThenEndOfInputEndsAfterTheAnswerWithASoundCardToo) {
    // #20 defect: typed lines piped on stdin did not end the session at EOF when a sound
    // device was in use. A WAV device without an input file is such a device (never exhausted).
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.scenario_file = write_scenario(dir, {{"turns", {{{"user", "hello"}, {"reply", "Hi."}}}}});
    sim::server srv(so);
    srv.start();
    observer obs;
    session_options o = session_options_for(srv, key);
    o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
    session s(std::move(o), obs.callbacks());
    s.start();
    s.send_text("hello");
    s.end_input();
    const auto r = s.wait_for(20s);
    ASSERT_TRUE(r.has_value()) << "the session did not end at the end of its input";
    EXPECT_EQ(r->how, session_result::end::input_done) << r->message;
    EXPECT_TRUE(obs.wait_for_assistant("Hi.", 0ms));
}

TEST(SessionIntegration, InputThatEndsBeforeAnyConnectionIsAFailureNotSuccess) {
    // #20 probe 11: a headless run that never reached the service exited 0.
    const std::string dir = temp_dir();
    sim::server srv(sim_options(dir));
    srv.start();
    session_options o = session_options_for(srv, key);
    srv.stop();  // nothing listens on that port any more: every connect is refused
    write_wav(dir + "/in.wav", silence(300));
    o.device = wav(dir + "/in.wav", "", audio::wav_pacing::fast);
    o.stop_when_input_done = true;
    o.conversation.reconnect.max_attempts = 0;  // never gives up by itself: the end must come
    observer obs;
    session s(std::move(o), obs.callbacks());
    s.start();
    const auto r = s.wait_for(30s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->how, session_result::end::fatal) << r->message;
    EXPECT_NE(r->message.find("before the service could be reached"), std::string::npos)
        << r->message;
}

TEST(SessionIntegration, ApiKeyNeverReachesOutputLogsOrEventLogs) {
    const std::string dir = temp_dir();
    const std::string secret = "sk-proj-IntegrationSecret-0123456789";
    sim::options so = sim_options(dir);
    so.api_key = secret;
    so.scenario_file =
        write_scenario(dir, {{"turns", {{{"user", "hello"}, {"reply", "Hi, the key works."}}}}});
    sim::server srv(so);
    srv.start();

    log::init({.level = "debug", .file = dir + "/ava.log", .to_stderr = true});
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    {
        realtime::provider_settings ps;
        ps.provider = "custom";
        ps.endpoint_url = srv.url();
        ps.api_key = secret;
        observer obs;
        session_options o = session_options_for(srv, "");
        o.connection.target = realtime::build_endpoint(ps);  // registers the key with the log
        o.device = wav("", dir + "/out.wav", audio::wav_pacing::fast);
        o.events_jsonl = dir + "/events.jsonl";
        session s(std::move(o), obs.callbacks());
        s.start();
        s.send_text("hello");
        EXPECT_TRUE(obs.wait_for_assistant("Hi, the key works."));  // the key was really used
        s.stop();
        s.wait();
    }
    const std::string err = ::testing::internal::GetCapturedStderr();
    const std::string out = ::testing::internal::GetCapturedStdout();
    log::init({});
    EXPECT_FALSE(read_file(dir + "/ava.log").empty());
    for (const auto& [what, text] : std::vector<std::pair<std::string, std::string>>{
             {"stderr", err},
             {"stdout", out},
             {"log file", read_file(dir + "/ava.log")},
             {"events", read_file(dir + "/events.jsonl")},
             {"sim events", read_file(so.events_file)}}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << "the key is in the " << what;
        EXPECT_EQ(text.find("IntegrationSecret"), std::string::npos) << "key part in " << what;
    }
}

// ---- the embedding example ----------------------------------------------------------------------

#ifdef AVA_EMBED_MINIMAL
TEST(SessionIntegration, EmbedMinimalExampleAnswersWithItsTool) {
    const std::string dir = temp_dir();
    sim::options so = sim_options(dir);
    so.api_key = key;
    so.scenario_file =
        write_scenario(dir, {{"turns",
                              {{{"user", "What is 2 plus 3?"},
                                {"calls", {{{"name", "add"}, {"arguments", {{"a", 2}, {"b", 3}}}}}},
                                {"followup", "The sum is {output:add}."}}}}});
    sim::server srv(so);
    srv.start();

    const std::string cmd = "OPENAI_API_KEY=" + key + " '" + AVA_EMBED_MINIMAL + "' '" + srv.url() +
                            "' --ca-file '" + ca_file() + "' --timeout 20 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
    const int status = pclose(p);
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("You: What is 2 plus 3?"), std::string::npos) << output;
    EXPECT_NE(output.find("[tool] add -> {\"sum\":5}"), std::string::npos) << output;
    EXPECT_NE(output.find("AVA: The sum is {\"sum\":5}."), std::string::npos) << output;
    EXPECT_EQ(output.find(key), std::string::npos);
    const sim::summary ss = srv.get_summary();
    EXPECT_EQ(ss.errors_sent, 0);
    EXPECT_EQ(ss.responses, 2);
}
#endif

}  // namespace
}  // namespace ava::it
