// The relay end to end: a scripted client (real sockets) through ava::relay::server to the
// Realtime simulator (real TLS WebSocket) and back. What the simulator received is checked
// against what the client sent (the speech itself, the truncation point, the session.update).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../fixtures/signal_match.hpp"
#include "../session/session_test_util.hpp"
#include "ava/relay/server.hpp"
#include "relay_client.hpp"

namespace ava::relay::test {
namespace {

namespace fs = std::filesystem;
using it::pcm;
using namespace std::chrono_literals;

constexpr const char* long_reply =
    "Sure. I am turning on the lights in the living room, the kitchen, the hall, the bedroom and "
    "the garden, one after the other, slowly and carefully, and then I will tell you about each "
    "of them in turn so that you know exactly what happened in every room of the house.";

/// A simulator and a relay in front of it, both on ephemeral loopback ports.
struct rig {
    explicit rig(it::json scenario, double pace = 20, options base = {}) : dir(it::temp_dir()) {
        sim::options so = it::sim_options(dir);
        so.pace = pace;
        so.record_dir = dir + "/rec";
        fs::create_directories(so.record_dir);
        so.scenario_file = it::write_scenario(dir, scenario);
        sim = std::make_unique<sim::server>(so);
        sim->start();
        options o = std::move(base);
        o.port = 0;
        o.make_session = [this](const stream_settings& st) {
            session_options s = it::session_options_for(*sim, "sk-test-key");
            if (st.voice) s.conversation.session.voice = *st.voice;
            return s;
        };
        if (!o.add_tools) {
            o.add_tools = [this](session& s) {
                s.add_tool({.name = "get_time", .description = "The time now."},
                           [this](std::string_view) {
                               ++tool_runs;
                               return std::string(R"({"time":"10:42"})");
                           });
            };
        }
        relay = std::make_unique<server>(std::move(o));
        relay->start();
    }
    ~rig() {
        relay->stop();
        sim->stop();
    }
    unsigned short port() const { return relay->port(); }
    std::string own_origin() const { return "http://127.0.0.1:" + std::to_string(port()); }

    std::string dir;
    std::unique_ptr<sim::server> sim;
    std::unique_ptr<server> relay;
    std::atomic<int> tool_runs{0};
};

it::json lights_scenario() {
    return {{"turns",
             {{{"user", "turn on the lights"}, {"reply", long_reply}},
              {{"user", "what time is it"},
               {"calls", {{{"name", "get_time"}, {"arguments", it::json::object()}}}},
               {"followup", "It is {output:get_time}."}}}}};
}

/// Streams `samples` as 20 ms binary frames, paced at `speed` times real time.
void stream_audio(stream_client& c, const pcm& samples, double speed = 4) {
    const auto period = std::chrono::microseconds(static_cast<int>(20000 / speed));
    auto next = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < samples.size(); i += 480) {
        const std::size_t n = std::min<std::size_t>(480, samples.size() - i);
        c.send_pcm(pcm(samples.begin() + static_cast<std::ptrdiff_t>(i),
                       samples.begin() + static_cast<std::ptrdiff_t>(i + n)));
        next += period;
        std::this_thread::sleep_until(next);
    }
}

/// Reads until a final transcript line of `role` arrives; returns it.
it::json final_line(stream_client& c, const std::string& role, std::chrono::milliseconds t = 15s) {
    const auto until = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < until) {
        it::json m = c.wait_for("transcript", t);
        if (m["role"] == role && m["final"] == true) return m;
    }
    throw std::runtime_error("no final " + role + " line");
}

bool eventually(const std::function<bool()>& f, std::chrono::milliseconds t = 5s) {
    const auto until = std::chrono::steady_clock::now() + t;
    while (std::chrono::steady_clock::now() < until) {
        if (f()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return f();
}

// ---- the protocol -------------------------------------------------------------------------------

TEST(Relay, SessionStartAnswersWhereAndHowToStream) {
    rig r(lights_scenario());
    const http_reply h = http_request(r.port(), "POST", "/realtime/session/start", {}, "{}");
    ASSERT_EQ(h.status, 200) << h.body;
    EXPECT_EQ(h.content_type, "application/json");
    const it::json j = it::json::parse(h.body);
    EXPECT_EQ(j["status"], "ready");
    EXPECT_EQ(j["websocket_url"], "/realtime/stream");
    EXPECT_EQ(j["audio_format"],
              (it::json{{"encoding", "pcm16"}, {"sample_rate", 24000}, {"channels", 1}}));
    EXPECT_EQ(j["auth"], false);
    EXPECT_FALSE(j.contains("stream_token"));
    const http_reply g = http_request(r.port(), "GET", "/realtime/session/start");
    EXPECT_EQ(g.status, 405);
    const http_reply health = http_request(r.port(), "GET", "/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(it::json::parse(health.body)["status"], "ok");
    EXPECT_EQ(http_request(r.port(), "GET", "/nothing-here").status, 404);
    EXPECT_EQ(http_request(r.port(), "GET", "/../etc/passwd").status, 404);
}

// Speech in as binary frames: the simulator receives THIS speech; the reply comes back as audio
// announced by audio_start, with transcripts in order, and audio_end counts what was sent.
TEST(Relay, SpeechInReplyAudioAndTranscriptsOut) {
    rig r(lights_scenario());
    stream_client c(r.port());
    const it::json ready = c.wait_for("ready");
    EXPECT_EQ(ready["audio_format"]["sample_rate"], 24000);
    c.wait_for("upstream");
    const pcm spoken = it::speech();
    stream_audio(c, it::concat({it::silence(300), spoken, it::silence(900)}));
    const it::json start = c.wait_for("audio_start", 20s);
    const std::string item = start["item_id"];
    const it::json end = c.wait_for("audio_end", 20s);
    EXPECT_EQ(end["item_id"], item);
    EXPECT_EQ(c.audio_samples(item), end["samples"].get<std::int64_t>());
    EXPECT_GT(end["samples"].get<std::int64_t>(), 24000);  // seconds of speech
    // Played out in full: the client says so, and the line is final and whole.
    c.send_json(
        {{"type", "playback_position"}, {"item_id", item}, {"played_samples", end["samples"]}});
    const it::json reply = final_line(c, "assistant");
    EXPECT_EQ(reply["item_id"], item);
    it::json user;  // the simulator sends the user's transcript late, as the service does
    for (const auto& m : c.messages()) {
        if (m.value("type", "") == "transcript" && m["role"] == "user" && m["final"] == true) {
            user = m;
        }
    }
    ASSERT_TRUE(user.is_object()) << "no final user line";
    EXPECT_EQ(user["text"], "turn on the lights");
    EXPECT_EQ(reply["unheard"], "");
    EXPECT_GT(reply["position"].get<int>(), user["position"].get<int>());
    c.close();
    ASSERT_TRUE(eventually([&] { return r.relay->metrics().sessions_active == 0; }));
    r.sim->stop();  // writes the recorded input

    pcm received;
    for (const auto& e : fs::directory_iterator(r.dir + "/rec")) {
        received = it::read_wav(e.path().string());
    }
    ASSERT_FALSE(received.empty());
    const ava::test::signal_match m = ava::test::find_signal(spoken, received);
    EXPECT_GT(m.sample_corr, 0.99) << "the simulator did not receive the speech as sent";
}

TEST(Relay, TypedTextAndToolCallsAreRelayed) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_json({{"type", "text_input"}, {"text", "turn on the lights"}});
    c.wait_for("audio_end", 20s);
    c.send_json({{"type", "text_input"}, {"text", "what time is it"}});
    const it::json call = c.wait_for("tool_call", 20s);
    EXPECT_EQ(call["name"], "get_time");
    EXPECT_TRUE(call["arguments"].is_object());
    const it::json result = c.wait_for("tool_result");
    EXPECT_EQ(result["call_id"], call["call_id"]);
    EXPECT_EQ(result["ok"], true);
    EXPECT_EQ(result["output"]["time"], "10:42");
    EXPECT_EQ(r.tool_runs.load(), 1);
    const it::json usage = c.wait_for("usage", 20s);
    EXPECT_GT(usage["input_tokens"].get<int>(), 0);
    // The follow-up reads the result back.
    for (;;) {
        const it::json line = final_line(c, "assistant", 20s);
        if (line["text"].get<std::string>().find("10:42") != std::string::npos) break;
    }
    c.close();
}

// A barge-in truncates the reply at the position the client reports it played, not at the
// server's real-time estimate.
TEST(Relay, InterruptTruncatesAtThePositionTheClientReports) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_json({{"type", "text_input"}, {"text", "turn on the lights"}});
    const std::string item = c.wait_for("audio_start", 20s)["item_id"];
    std::this_thread::sleep_for(1200ms);  // the real-time model would say ~1.2 s were heard
    c.send_json({{"type", "interrupt"}});
    const it::json intr = c.wait_for("interrupted");
    EXPECT_EQ(intr["item_id"], item);
    constexpr int played_ms = 430;
    c.send_json({{"type", "playback_position"},
                 {"item_id", item},
                 {"played_ms", played_ms},
                 {"interrupted", true}});
    const it::json line = final_line(c, "assistant");
    EXPECT_EQ(line["item_id"], item);
    EXPECT_NE(line["unheard"], "");
    ASSERT_TRUE(eventually([&] { return !r.sim->get_summary().truncations.empty(); }));
    const sim::truncation_record t = r.sim->get_summary().truncations[0];
    EXPECT_EQ(t.item_id, item);
    EXPECT_TRUE(t.accepted);
    EXPECT_NEAR(static_cast<double>(t.audio_end_ms), played_ms, 1.0);
}

// A client that never reports: the truncation still happens, at the real-time estimate, within
// the wait (500 ms), and the conversation goes on.
TEST(Relay, InterruptWithoutAReportFallsBackToTheEstimate) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_json({{"type", "text_input"}, {"text", "turn on the lights"}});
    c.wait_for("audio_start", 20s);
    std::this_thread::sleep_for(800ms);
    const auto at = std::chrono::steady_clock::now();
    c.send_json({{"type", "interrupt"}});
    c.wait_for("interrupted");
    ASSERT_TRUE(eventually([&] { return !r.sim->get_summary().truncations.empty(); }, 3s));
    EXPECT_LT(std::chrono::steady_clock::now() - at, 1500ms);
    const sim::truncation_record t = r.sim->get_summary().truncations[0];
    EXPECT_GT(t.audio_end_ms, 500);
    EXPECT_LT(t.audio_end_ms, 2500);
    c.send_json({{"type", "ping"}});
    c.wait_for("pong");
}

TEST(Relay, BadControlMessagesGetErrorsNamingTheFieldAndTheStreamGoesOn) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_text("not json");
    EXPECT_EQ(c.wait_for("error")["code"], "bad_json");
    c.send_json({{"type", "settings"}, {"speed", 9}});
    const it::json e = c.wait_for("error");
    EXPECT_EQ(e["code"], "bad_message");
    EXPECT_NE(e["message"].get<std::string>().find("settings.speed"), std::string::npos);
    c.send_json({{"type", "fly"}});
    EXPECT_EQ(c.wait_for("error")["code"], "unknown_type");
    c.send_json({{"type", "playback_position"}, {"played_ms", 3}});
    EXPECT_NE(c.wait_for("error")["message"].get<std::string>().find("item_id"), std::string::npos);
    c.send_binary(std::string(3, '\0'));
    EXPECT_EQ(c.wait_for("error")["code"], "bad_audio");
    c.send_json({{"type", "ping"}});
    c.wait_for("pong");
}

TEST(Relay, SettingsGoOutAsASessionUpdate) {
    rig r(lights_scenario());
    stream_client c(r.port(), "/realtime/stream?voice=cedar");
    EXPECT_EQ(c.wait_for("ready")["voice"], "cedar");
    c.wait_for("upstream");
    c.send_json({{"type", "settings"},
                 {"speed", 1.2},
                 {"turn_detection", {{"type", "server_vad"}, {"silence_ms", 700}}}});
    c.send_json({{"type", "ping"}});
    c.wait_for("pong");
    c.close();
    ASSERT_TRUE(eventually([&] { return r.relay->metrics().sessions_active == 0; }));
    r.sim->stop();
    const auto updates =
        it::sim_received(r.dir + "/sim-events.jsonl", r.sim->get_summary(), 0, "session.update");
    ASSERT_GE(updates.size(), 2u);
    EXPECT_EQ(updates.front()["session"]["audio"]["output"]["voice"], "cedar");
    const it::json& last = updates.back()["session"];
    EXPECT_DOUBLE_EQ(last["audio"]["output"]["speed"].get<double>(), 1.2);
    EXPECT_EQ(last["audio"]["input"]["turn_detection"]["silence_duration_ms"], 700);
}

TEST(Relay, EventsFromTheFirstOneWithEventsInTheUrl) {
    rig r(lights_scenario());
    stream_client c(r.port(), "/realtime/stream?events=1");
    c.wait_for("ready");
    bool created = false;
    bool update = false;
    while (!created || !update) {
        const it::json ev = c.wait_for("event");
        if (ev["dir"] == "recv" && ev["event_type"] == "session.created") created = true;
        if (ev["dir"] == "send" && ev["event_type"] == "session.update") update = true;
        // The key never reaches a client, even inside an event.
        EXPECT_EQ(ev.dump().find("sk-test-key"), std::string::npos);
    }
}

TEST(Relay, EventsStreamOnRequestWithAudioElided) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_json({{"type", "events"}, {"enabled", true}});
    c.send_json({{"type", "text_input"}, {"text", "turn on the lights"}});
    bool saw_delta = false;
    for (int i = 0; i < 400 && !saw_delta; ++i) {
        const it::json ev = c.wait_for("event", 20s);
        EXPECT_TRUE(ev.contains("dir"));
        EXPECT_TRUE(ev.contains("t_ms"));
        if (ev["event_type"] == "response.output_audio.delta") {
            saw_delta = true;
            EXPECT_EQ(ev["dir"], "recv");
            EXPECT_EQ(ev["event"].dump().find("\"delta\":\"AAA"), std::string::npos);
            EXPECT_LT(ev["event"].dump().size(), 1000u) << "audio is not elided";
        }
    }
    EXPECT_TRUE(saw_delta);
}

// ---- the end of a stream -----------------------------------------------------------------------

TEST(Relay, ClientGoneClosesItsUpstreamSession) {
    rig r(lights_scenario());
    {
        stream_client c(r.port());
        c.wait_for("ready");
        c.wait_for("upstream");
        EXPECT_EQ(r.relay->metrics().sessions_active, 1);
    }  // closed
    ASSERT_TRUE(eventually([&] {
        const auto s = r.sim->get_summary();
        return !s.per_session.empty() && s.per_session[0].ended;
    }));
    EXPECT_EQ(r.relay->metrics().sessions_active, 0);
}

TEST(Relay, UpstreamDropReconnectsAndTellsTheClient) {
    sim::fault f;
    f.kind = "close";
    f.turn = 1;
    f.code = 1011;
    f.abrupt = true;
    const std::string dir = it::temp_dir();
    rig r(lights_scenario());
    // A second simulator with the fault: the relay's sessions go there.
    sim::options so = it::sim_options(dir);
    so.pace = 20;
    so.faults = {f};
    so.scenario_file = it::write_scenario(dir, lights_scenario());
    sim::server faulty(so);
    faulty.start();
    options o;
    o.port = 0;
    o.make_session = [&faulty](const stream_settings&) {
        return it::session_options_for(faulty, "sk-test-key");
    };
    server relay(std::move(o));
    relay.start();
    stream_client c(relay.port());
    c.wait_for("ready");
    c.send_json({{"type", "text_input"}, {"text", "turn on the lights"}});
    bool reconnecting = false;
    for (int i = 0; i < 200; ++i) {
        const it::json s = c.wait_for("status", 20s);
        if (s["state"] == "reconnecting") reconnecting = true;
        if (reconnecting && s["state"] == "listening") break;
    }
    EXPECT_TRUE(reconnecting);
    EXPECT_GE(relay.metrics().reconnects, 1u);
    // The simulator counts the new session when its upgrade completes, which can be just after
    // the client hears the status change.
    EXPECT_TRUE(eventually([&] { return faulty.get_summary().sessions >= 2; }))
        << faulty.get_summary().sessions << " sessions";
    c.close();
    relay.stop();
    faulty.stop();
}

// ---- security ----------------------------------------------------------------------------------

TEST(RelaySecurity, AnotherSitesPageCannotOpenTheStream) {
    options base;
    base.allowed_origins = {"https://console.example"};
    rig r(lights_scenario(), 20, base);
    EXPECT_THROW(stream_client(r.port(), "/realtime/stream", {{"Origin", "https://evil.example"}}),
                 std::runtime_error);
    const http_reply p = http_request(r.port(), "POST", "/realtime/session/start",
                                      {{"Origin", "https://evil.example"}}, "{}");
    EXPECT_EQ(p.status, 403);
    EXPECT_NO_THROW(stream_client(r.port(), "/realtime/stream", {{"Origin", r.own_origin()}}));
    EXPECT_NO_THROW(
        stream_client(r.port(), "/realtime/stream", {{"Origin", "https://console.example"}}));
    // DNS rebinding: a page whose name now points at 127.0.0.1 sends its own name as Host.
    const http_reply reb = http_request(r.port(), "POST", "/realtime/session/start",
                                        {{"Host", "evil.example:8000"}}, "{}");
    EXPECT_EQ(reb.status, 403);
    EXPECT_GE(r.relay->metrics().refused, 3u);
}

TEST(RelaySecurity, BeyondTheLoopbackATokenIsRequired) {
    options o;
    o.host = "0.0.0.0";
    o.make_session = [](const stream_settings&) { return session_options{}; };
    EXPECT_THROW(server{o}, std::system_error);
}

TEST(RelaySecurity, TokenOnSessionStartAndStreamAndOneTimeStreamTokens) {
    options base;
    base.token = "relay-test-token-0123456789";
    rig r(lights_scenario(), 20, base);
    EXPECT_EQ(http_request(r.port(), "POST", "/realtime/session/start", {}, "{}").status, 401);
    EXPECT_EQ(http_request(r.port(), "POST", "/realtime/session/start",
                           {{"Authorization", "Bearer wrong"}}, "{}")
                  .status,
              401);
    const http_reply ok = http_request(r.port(), "POST", "/realtime/session/start",
                                       {{"Authorization", "Bearer " + base.token}}, "{}");
    ASSERT_EQ(ok.status, 200);
    const it::json j = it::json::parse(ok.body);
    EXPECT_EQ(j["auth"], true);
    const std::string st = j["stream_token"];
    EXPECT_EQ(ok.body.find(base.token), std::string::npos);
    EXPECT_THROW(stream_client(r.port()), std::runtime_error);
    EXPECT_THROW(stream_client(r.port(), "/realtime/stream?token=nope"), std::runtime_error);
    {
        stream_client c(r.port(), "/realtime/stream?token=" + st);
        c.wait_for("ready");
    }
    EXPECT_THROW(stream_client(r.port(), "/realtime/stream?token=" + st), std::runtime_error)
        << "a stream token works once";
    EXPECT_NO_THROW(
        stream_client(r.port(), "/realtime/stream", {{"Authorization", "Bearer " + base.token}}));
    EXPECT_EQ(http_request(r.port(), "GET", "/metrics").status, 401);
}

TEST(RelaySecurity, OversizedFrameClosesTheStream) {
    rig r(lights_scenario());
    stream_client c(r.port());
    c.wait_for("ready");
    c.send_binary(std::string(100 * 1024, '\0'));
    // 1009 when the close frame reaches the client; the frame's unread rest can make the
    // server's kernel reset the connection instead (1006).
    const int code = c.wait_closed();
    EXPECT_TRUE(code == 1009 || code == 1006) << code;
    EXPECT_TRUE(eventually([&] { return r.relay->metrics().sessions_active == 0; }));
}

TEST(RelaySecurity, SessionLimitRefusesTheNextStream) {
    options base;
    base.max_sessions = 1;
    rig r(lights_scenario(), 20, base);
    stream_client first(r.port());
    first.wait_for("ready");
    EXPECT_THROW(stream_client(r.port()), std::runtime_error);
    EXPECT_EQ(http_request(r.port(), "POST", "/realtime/session/start", {}, "{}").status, 503);
}

// A client that stops reading is closed once its queue is full; another client's conversation
// goes on meanwhile.
TEST(RelaySecurity, SlowReaderIsClosedAndOthersAreNotHeldUp) {
    options base;
    base.max_send_queue = 64 * 1024;
    const std::string longer = std::string(long_reply) + " " + long_reply + " " + long_reply;
    it::json sc = {{"turns", {{{"user", "talk"}, {"reply", longer}}}}, {"loop", true}};
    rig r(sc, 4, base);  // audio at 4x real time, as a fast service sends it
    stream_client slow(r.port(), "/realtime/stream", {}, 4096);
    slow.wait_for("ready");
    slow.send_json({{"type", "events"}, {"enabled", true}});
    slow.send_json({{"type", "text_input"}, {"text", "talk"}});
    slow.wait_for("audio_start", 20s);
    stream_client other(r.port());
    other.wait_for("ready");
    other.send_json({{"type", "text_input"}, {"text", "talk"}});
    // `slow` reads nothing now.
    ASSERT_TRUE(eventually([&] { return r.relay->metrics().sessions_active == 1; }, 20s));
    EXPECT_NO_THROW(other.wait_for("audio_end", 30s));
    EXPECT_GE(r.relay->metrics().errors, 1u);
    const int code = slow.wait_closed(20s);
    EXPECT_NE(code, 0);
}

TEST(RelayMetrics, PrometheusTextCountsWhatHappened) {
    rig r(lights_scenario());
    {
        stream_client c(r.port());
        c.wait_for("ready");
        stream_audio(c, it::concat({it::silence(200), it::speech(), it::silence(900)}));
        c.wait_for("audio_end", 20s);
        c.send_json({{"type", "text_input"}, {"text", "what time is it"}});
        c.wait_for("tool_result", 20s);
        c.wait_for("turn", 20s);
    }
    const http_reply m = http_request(r.port(), "GET", "/metrics");
    ASSERT_EQ(m.status, 200);
    EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
    const auto has = [&](const std::string& s) { return m.body.find(s) != std::string::npos; };
    EXPECT_TRUE(has("# TYPE ava_relay_sessions_total counter\nava_relay_sessions_total 1\n"));
    EXPECT_TRUE(has("ava_relay_tool_calls_total 1\n"));
    EXPECT_TRUE(has("# TYPE ava_relay_turn_latency_seconds histogram"));
    EXPECT_TRUE(has("ava_relay_turn_latency_seconds_bucket{le=\"+Inf\"}"));
    EXPECT_FALSE(has("ava_relay_turn_latency_seconds_count 0\n"));
    EXPECT_FALSE(has("ava_relay_messages_received_total{kind=\"audio\"} 0\n"));
    EXPECT_FALSE(has("ava_relay_messages_sent_total{kind=\"audio\"} 0\n"));
}

}  // namespace
}  // namespace ava::relay::test
