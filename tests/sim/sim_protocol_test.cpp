// ava-realtime-sim over real TLS WebSockets on loopback, driven by a raw Beast client: every
// protocol rule, error shape and fault of docs/simulator.md.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sndfile.h>

#include "ava/sim/server.hpp"
#include "sim_client.hpp"
#include "test_certs.hpp"

namespace ava::sim::test {
namespace {

namespace fs = std::filesystem;

const ava::test::test_certs& certs() {
    static const ava::test::test_certs c =
        ava::test::make_test_certs(ava::test::make_temp_dir("ava-sim-certs-"));
    return c;
}

options fast_options() {
    options o;
    o.tls_cert_file = certs().server_cert;
    o.tls_key_file = certs().server_key;
    o.pace = 50;  // fast, but still paced (events interleave with the client's)
    o.delta_ms = 100;
    o.synth = "tone";
    o.quiet = true;
    return o;
}

std::string write_file(const std::string& name, const std::string& text) {
    static const std::string dir = ava::test::make_temp_dir("ava-sim-files-");
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
}

const char* short_scenario = R"({
  "name": "short",
  "turns": [
    {"user": "hello there", "reply": "Hi there friend."},
    {"user": "turn on the lights", "reply": "One moment.",
     "calls": [{"name": "control_lights", "arguments": {"room": "kitchen", "on": true}}],
     "followup": "Done: {output:control_lights}"},
    {"reply": "Third reply is a little bit longer than the others, to give time."}
  ]
})";

struct sim_fixture : ::testing::Test {
    std::unique_ptr<server> srv;
    void start(options o) {
        srv = std::make_unique<server>(std::move(o));
        srv->start();
    }
    void start_default() { start(fast_options()); }
    /// The server notices a close a moment after the client does.
    void wait_ended(std::size_t session) {
        for (int i = 0; i < 200 && !srv->get_summary().per_session.at(session).ended; ++i)
            std::this_thread::sleep_for(10ms);
    }
    client_options copts(bool tls = true) const {
        client_options c;
        c.port = srv->port();
        c.tls = tls;
        c.ca_file = certs().ca_cert;
        return c;
    }
    std::unique_ptr<sim_client> connect(client_options c) {
        auto cl = std::make_unique<sim_client>(c);
        json created = cl->recv();
        EXPECT_EQ(created["type"], "session.created");
        return cl;
    }
    std::unique_ptr<sim_client> connect() { return connect(copts()); }

    static void update(sim_client& c, json session) {
        c.send({{"type", "session.update"}, {"session", std::move(session)}});
    }
    static json expect_error(sim_client& c, const std::string& code) {
        json ev = c.wait_for("error");
        EXPECT_EQ(ev["error"]["code"], code) << ev.dump();
        return ev;
    }
    static void append(sim_client& c, const std::vector<std::int16_t>& pcm, int chunk_ms = 20) {
        const std::size_t chunk = static_cast<std::size_t>(chunk_ms) * 24;
        for (std::size_t i = 0; i < pcm.size(); i += chunk) {
            std::vector<std::int16_t> part(
                pcm.begin() + static_cast<std::ptrdiff_t>(i),
                pcm.begin() + static_cast<std::ptrdiff_t>(std::min(pcm.size(), i + chunk)));
            c.send({{"type", "input_audio_buffer.append"}, {"audio", to_base64(part)}});
        }
    }
    static std::vector<std::int16_t> utterance(int lead_ms, int speech, int trail_ms) {
        auto v = silence_ms(lead_ms);
        auto s = speech_ms(speech);
        auto t = silence_ms(trail_ms);
        v.insert(v.end(), s.begin(), s.end());
        v.insert(v.end(), t.begin(), t.end());
        return v;
    }
    static std::vector<std::string> types(const std::vector<json>& evs) {
        std::vector<std::string> out;
        for (const json& e : evs) out.push_back(e.value("type", ""));
        return out;
    }
    static std::ptrdiff_t index_of(const std::vector<std::string>& v, const std::string& t) {
        auto it = std::find(v.begin(), v.end(), t);
        return it == v.end() ? -1 : it - v.begin();
    }
};

// ---- transport and upgrade -------------------------------------------------------------------

TEST_F(sim_fixture, tls_session_created_carries_full_ga_session) {
    start_default();
    EXPECT_EQ(srv->url().rfind("wss://127.0.0.1:", 0), 0u);
    sim_client c(copts());
    json ev = c.recv();
    ASSERT_EQ(ev["type"], "session.created");
    const json& s = ev["session"];
    EXPECT_EQ(s["type"], "realtime");
    EXPECT_EQ(s["object"], "realtime.session");
    EXPECT_EQ(s["id"].get<std::string>().rfind("sess_", 0), 0u);
    EXPECT_GT(s["expires_at"].get<std::int64_t>(), 1700000000);
    EXPECT_EQ(s["model"], "gpt-realtime");
    EXPECT_EQ(s["output_modalities"], json::array({"audio"}));
    EXPECT_EQ(s["audio"]["input"]["format"]["rate"], 24000);
    EXPECT_EQ(s["audio"]["input"]["turn_detection"]["type"], "server_vad");
    EXPECT_EQ(s["audio"]["input"]["turn_detection"]["threshold"], 0.5);
    EXPECT_EQ(s["audio"]["output"]["voice"], "marin");
    EXPECT_TRUE(ev["event_id"].is_string());
}

TEST_F(sim_fixture, plain_ws_without_tls) {
    options o = fast_options();
    o.tls_cert_file.clear();
    o.tls_key_file.clear();
    start(o);
    EXPECT_EQ(srv->url().rfind("ws://", 0), 0u);
    auto c = connect(copts(false));
    update(*c, {{"type", "realtime"}, {"instructions", "x"}});
    EXPECT_EQ(c->wait_for("session.updated")["session"]["instructions"], "x");
}

TEST_F(sim_fixture, auth_wrong_or_missing_key_is_http_401_with_json_body) {
    options o = fast_options();
    o.api_key = "sk-right-key";
    start(o);
    client_options c = copts();
    c.key = "sk-wrong-key";
    http_result r = probe_upgrade(c);
    EXPECT_EQ(r.status, 401);
    json body = json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], "invalid_api_key");
    EXPECT_EQ(r.body.find("sk-wrong-key"), std::string::npos) << "never echo a key";
    c.key.clear();
    EXPECT_EQ(probe_upgrade(c).status, 401);
    EXPECT_THROW(sim_client{c}, std::exception);
    c.key = "sk-right-key";
    auto ok = connect(c);
    EXPECT_EQ(srv->get_summary().rejected_upgrades, 3);
}

TEST_F(sim_fixture, azure_path_with_api_key_header) {
    options o = fast_options();
    o.api_key = "azure-key-123";
    start(o);
    client_options c = copts();
    c.key.clear();
    c.target = "/openai/v1/realtime?model=my-deployment";
    c.headers = {{"api-key", "azure-key-123"}};
    auto cl = connect(c);
    // api-key is an Azure header; on the OpenAI path only Bearer counts.
    c.target = "/v1/realtime?model=gpt-realtime";
    EXPECT_EQ(probe_upgrade(c).status, 401);
}

TEST_F(sim_fixture, unknown_path_404_missing_model_400_injected_403) {
    start_default();
    client_options c = copts();
    c.target = "/v1/chat";
    EXPECT_EQ(probe_upgrade(c).status, 404);
    c.target = "/v1/realtime";
    http_result r = probe_upgrade(c);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body)["error"]["param"], "model");
    srv.reset();
    options o = fast_options();
    o.reject_upgrade_status = 403;
    start(o);
    EXPECT_EQ(probe_upgrade(copts()).status, 403);
}

TEST_F(sim_fixture, beta_header_gets_upgrade_then_error_then_close) {
    start_default();
    client_options c = copts();
    c.headers = {{"OpenAI-Beta", "realtime=v1"}};
    sim_client cl(c);
    json ev = cl.recv();
    EXPECT_EQ(ev["type"], "error");
    EXPECT_EQ(ev["error"]["code"], "beta_api_shape_disabled");
    EXPECT_EQ(cl.wait_closed(), 1000);
}

TEST_F(sim_fixture, concurrent_sessions_are_independent) {
    start_default();
    std::vector<std::thread> threads;
    std::vector<int> ok(4, 0);
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&, i] {
            auto c = std::make_unique<sim_client>(copts());
            json created = c->recv();
            const std::string text = "session " + std::to_string(i);
            c->send({{"type", "session.update"},
                     {"session", {{"type", "realtime"}, {"instructions", text}}}});
            json upd = c->wait_for("session.updated");
            c->send({{"type", "response.create"}});
            json done = c->wait_for("response.done", 10s);
            ok[static_cast<std::size_t>(i)] = upd["session"]["instructions"] == text &&
                                              upd["session"]["id"] == created["session"]["id"] &&
                                              done["response"]["status"] == "completed";
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, std::vector<int>(4, 1));
    summary s = srv->get_summary();
    EXPECT_EQ(s.sessions, 4);
    std::vector<std::string> ids;
    for (const auto& ss : s.per_session) ids.push_back(ss.id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
}

// ---- session.update strictness ----------------------------------------------------------------

TEST_F(sim_fixture, session_update_requires_type) {
    start_default();
    auto c = connect();
    c->send(
        {{"type", "session.update"}, {"event_id", "ev1"}, {"session", {{"instructions", "x"}}}});
    json e = expect_error(*c, "missing_required_parameter");
    EXPECT_EQ(e["error"]["param"], "session.type");
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    EXPECT_EQ(e["error"]["event_id"], "ev1");
}

TEST_F(sim_fixture, session_update_rejects_beta_fields_with_their_path) {
    start_default();
    auto c = connect();
    const std::vector<std::pair<json, std::string>> cases = {
        {{{"type", "realtime"}, {"modalities", {"text", "audio"}}}, "session.modalities"},
        {{{"type", "realtime"}, {"input_audio_format", "pcm16"}}, "session.input_audio_format"},
        {{{"type", "realtime"}, {"voice", "alloy"}}, "session.voice"},
        {{{"type", "realtime"}, {"temperature", 0.8}}, "session.temperature"},
        {{{"type", "realtime"},
          {"audio", {{"input", {{"turn_detection", {{"type", "server_vad"}, {"foo", 1}}}}}}}},
         "session.audio.input.turn_detection.foo"},
    };
    for (const auto& [session, param] : cases) {
        update(*c, session);
        json e = expect_error(*c, "unknown_parameter");
        EXPECT_EQ(e["error"]["param"], param);
        EXPECT_NE(e["error"]["message"].get<std::string>().find(param), std::string::npos);
    }
}

TEST_F(sim_fixture, session_update_rejects_bad_values) {
    start_default();
    auto c = connect();
    const std::vector<std::pair<json, std::string>> cases = {
        {{{"type", "realtime"},
          {"audio",
           {{"input", {{"turn_detection", {{"type", "server_vad"}, {"threshold", 1.5}}}}}}}},
         "session.audio.input.turn_detection.threshold"},
        {{{"type", "realtime"}, {"audio", {{"output", {{"speed", 2.0}}}}}},
         "session.audio.output.speed"},
        {{{"type", "realtime"}, {"audio", {{"output", {{"speed", 0.1}}}}}},
         "session.audio.output.speed"},
        {{{"type", "realtime"},
          {"audio", {{"input", {{"format", {{"type", "audio/pcm"}, {"rate", 16000}}}}}}}},
         "session.audio.input.format.rate"},
        {{{"type", "realtime"}, {"audio", {{"output", {{"format", {{"type", "audio/opus"}}}}}}}},
         "session.audio.output.format.type"},
        {{{"type", "realtime"}, {"output_modalities", {"text", "audio"}}},
         "session.output_modalities"},
        {{{"type", "realtime"}, {"audio", {{"output", {{"voice", "nobody"}}}}}},
         "session.audio.output.voice"},
        {{{"type", "realtime"}, {"max_output_tokens", 5000}}, "session.max_output_tokens"},
    };
    for (const auto& [session, param] : cases) {
        update(*c, session);
        json e = expect_error(*c, "invalid_value");
        EXPECT_EQ(e["error"]["param"], param) << session.dump();
    }
    // Nothing of the rejected updates stuck.
    update(*c, {{"type", "realtime"}});
    json s = c->wait_for("session.updated")["session"];
    EXPECT_EQ(s["audio"]["output"]["speed"], 1.0);
    EXPECT_EQ(s["audio"]["input"]["turn_detection"]["threshold"], 0.5);
}

TEST_F(sim_fixture, partial_updates_merge_and_updated_carries_full_config) {
    start_default();
    auto c = connect();
    update(*c, {{"type", "realtime"}, {"instructions", "Be brief."}});
    json s1 = c->wait_for("session.updated")["session"];
    EXPECT_EQ(s1["instructions"], "Be brief.");
    update(*c, {{"type", "realtime"},
                {"audio",
                 {{"output", {{"voice", "cedar"}}},
                  {"input",
                   {{"turn_detection", {{"type", "server_vad"}, {"silence_duration_ms", 200}}}}}}},
                {"tools",
                 {{{"type", "function"},
                   {"name", "control_lights"},
                   {"parameters", {{"type", "object"}}}}}}});
    json s2 = c->wait_for("session.updated")["session"];
    EXPECT_EQ(s2["instructions"], "Be brief.");  // kept
    EXPECT_EQ(s2["audio"]["output"]["voice"], "cedar");
    EXPECT_EQ(s2["audio"]["output"]["speed"], 1.0);
    EXPECT_EQ(s2["audio"]["input"]["turn_detection"]["silence_duration_ms"], 200);
    EXPECT_EQ(s2["audio"]["input"]["turn_detection"]["threshold"], 0.5);  // type defaults
    EXPECT_EQ(s2["tools"].size(), 1u);
    EXPECT_EQ(s2["audio"]["input"]["format"]["type"], "audio/pcm");
    update(*c, {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}});
    EXPECT_TRUE(
        c->wait_for("session.updated")["session"]["audio"]["input"]["turn_detection"].is_null());
}

TEST_F(sim_fixture, voice_is_locked_after_first_audio) {
    start_default();
    auto c = connect();
    update(*c, {{"type", "realtime"}, {"audio", {{"output", {{"voice", "ash"}}}}}});
    c->wait_for("session.updated");
    c->send({{"type", "response.create"}});
    c->wait_for("response.done", 10s);
    update(*c, {{"type", "realtime"}, {"audio", {{"output", {{"voice", "coral"}}}}}});
    json e = expect_error(*c, "cannot_update_voice");
    EXPECT_EQ(e["error"]["param"], "session.audio.output.voice");
    // The same voice, or other fields, are still fine.
    update(*c, {{"type", "realtime"}, {"audio", {{"output", {{"voice", "ash"}}}}}});
    EXPECT_EQ(c->wait_for("session.updated")["session"]["audio"]["output"]["voice"], "ash");
}

// ---- turns ----------------------------------------------------------------------------------

TEST_F(sim_fixture, server_vad_idle_timeout_triggers_a_response) {
    // #20: the simulator accepted idle_timeout_ms and never acted on it.
    start_default();
    auto c = connect();
    update(
        *c,
        {{"type", "realtime"},
         {"audio",
          {{"input", {{"turn_detection", {{"type", "server_vad"}, {"idle_timeout_ms", 600}}}}}}}});
    c->wait_for("session.updated");
    append(*c, silence_ms(400));  // shorter than the timeout: nothing yet
    append(*c, silence_ms(400));
    json t = c->wait_for("input_audio_buffer.timeout_triggered");
    EXPECT_NEAR(t["audio_start_ms"].get<double>(), 0, 20);
    EXPECT_NEAR(t["audio_end_ms"].get<double>(), 600, 20);
    const std::string item_id = t["item_id"];
    EXPECT_EQ(c->wait_for("input_audio_buffer.committed")["item_id"], item_id);
    EXPECT_EQ(c->wait_for("response.created")["type"], "response.created");
    c->wait_for("response.done", 10s);
}

TEST_F(sim_fixture, server_vad_turn_full_event_sequence_and_usage) {
    options o = fast_options();
    o.scenario_file = write_file("short.json", short_scenario);
    start(o);
    auto c = connect();
    update(*c, {{"type", "realtime"},
                {"audio",
                 {{"input",
                   {{"turn_detection",
                     {{"type", "server_vad"},
                      {"prefix_padding_ms", 200},
                      {"silence_duration_ms", 300}}}}}}}});
    c->wait_for("session.updated");
    append(*c, utterance(500, 800, 500));
    json started = c->wait_for("input_audio_buffer.speech_started");
    // Speech begins at 500 ms; with 200 ms of prefix padding the item starts at ~300 ms.
    EXPECT_NEAR(started["audio_start_ms"].get<double>(), 300, 20);
    const std::string item_id = started["item_id"];
    json stopped = c->wait_for("input_audio_buffer.speech_stopped");
    EXPECT_EQ(stopped["item_id"], item_id);
    EXPECT_NEAR(stopped["audio_end_ms"].get<double>(), 1300 + 300, 30);
    json committed = c->recv();
    EXPECT_EQ(committed["type"], "input_audio_buffer.committed");
    EXPECT_EQ(committed["item_id"], item_id);
    json added = c->recv();
    EXPECT_EQ(added["type"], "conversation.item.added");
    EXPECT_EQ(added["item"]["role"], "user");
    EXPECT_EQ(added["item"]["content"][0]["type"], "input_audio");
    EXPECT_EQ(c->recv()["type"], "conversation.item.done");
    json done = c->wait_for("response.done", 10s);
    EXPECT_EQ(done["response"]["status"], "completed");

    std::vector<std::string> t = types(c->history());
    const auto created = index_of(t, "response.created");
    ASSERT_GE(created, 0);
    EXPECT_EQ(t[static_cast<std::size_t>(created + 1)], "rate_limits.updated");
    const std::vector<std::string> order = {"response.created",
                                            "response.output_item.added",
                                            "conversation.item.added",
                                            "response.content_part.added",
                                            "response.output_audio.delta",
                                            "response.output_audio.done",
                                            "response.output_audio_transcript.done",
                                            "response.content_part.done",
                                            "response.output_item.done",
                                            "conversation.item.done",
                                            "response.done"};
    std::ptrdiff_t last = created - 1;
    for (const auto& name : order) {
        auto it = std::find(t.begin() + last + 1, t.end(), name);
        ASSERT_NE(it, t.end()) << name << " missing or out of order";
        last = it - t.begin();
    }
    // Audio and transcript deltas interleave; the transcript reassembles the scenario reply.
    std::string transcript;
    std::size_t audio_bytes = 0;
    bool interleaved = false;
    std::string prev;
    for (const json& e : c->history()) {
        const std::string ty = e["type"];
        if (ty == "response.output_audio_transcript.delta")
            transcript += e["delta"].get<std::string>();
        if (ty == "response.output_audio.delta") audio_bytes += from_base64(e["delta"]).size() * 2;
        if (!prev.empty() && prev != ty && ty.find("output_audio") != std::string::npos &&
            prev.find("output_audio") != std::string::npos &&
            ty.find(".delta") != std::string::npos && prev.find(".delta") != std::string::npos &&
            ty != prev && transcript.size() > 0 && audio_bytes > 0)
            interleaved = true;
        prev = ty;
    }
    EXPECT_EQ(transcript, "Hi there friend.");
    EXPECT_TRUE(interleaved);
    const json& usage = done["response"]["usage"];
    const double audio_s = static_cast<double>(audio_bytes) / 48000.0;
    EXPECT_NEAR(usage["output_token_details"]["audio_tokens"].get<double>(), audio_s * 20, 1.5);
    // The user said ~1.1 s (incl. padding and silence): ~10 tokens/s of input audio.
    EXPECT_NEAR(usage["input_token_details"]["audio_tokens"].get<double>(), 13, 2);
    EXPECT_EQ(usage["total_tokens"].get<int>(),
              usage["input_tokens"].get<int>() + usage["output_tokens"].get<int>());
    EXPECT_EQ(done["response"]["output"][0]["content"][0]["transcript"], "Hi there friend.");
}

TEST_F(sim_fixture, vad_threshold_ignores_quiet_audio) {
    start_default();
    auto c = connect();
    update(*c, {{"type", "realtime"},
                {"audio",
                 {{"input", {{"turn_detection", {{"type", "server_vad"}, {"threshold", 0.9}}}}}}}});
    c->wait_for("session.updated");
    // -26 dBFS tone: speech at threshold 0.5 (-40 dBFS) but not at 0.9 (-16 dBFS).
    auto quiet = speech_ms(600, 0.05);
    append(*c, quiet);
    append(*c, silence_ms(600));
    c->send({{"type", "input_audio_buffer.clear"}});
    c->wait_for("input_audio_buffer.cleared");
    for (const json& e : c->history()) EXPECT_NE(e["type"], "input_audio_buffer.speech_started");
    update(*c, {{"type", "realtime"},
                {"audio",
                 {{"input", {{"turn_detection", {{"type", "server_vad"}, {"threshold", 0.5}}}}}}}});
    c->wait_for("session.updated");
    append(*c, quiet);
    c->wait_for("input_audio_buffer.speech_started");
}

TEST_F(sim_fixture, late_input_transcript_arrives_after_response_started) {
    options o = fast_options();
    o.scenario_file = write_file("short2.json", short_scenario);
    start(o);
    auto c = connect();
    update(*c,
           {{"type", "realtime"},
            {"audio",
             {{"input",
               {{"transcription", {{"model", "gpt-4o-mini-transcribe"}}},
                {"turn_detection", {{"type", "server_vad"}, {"silence_duration_ms", 200}}}}}}}});
    c->wait_for("session.updated");
    append(*c, utterance(200, 600, 400));
    json tr = c->wait_for("conversation.item.input_audio_transcription.completed", 10s);
    EXPECT_EQ(tr["transcript"], "hello there");
    std::vector<std::string> t = types(c->history());
    const auto created = index_of(t, "response.created");
    const auto transcript_at = index_of(t, "conversation.item.input_audio_transcription.completed");
    ASSERT_GE(created, 0);
    EXPECT_GT(transcript_at, created) << "the transcript must land after the reply started";
    EXPECT_EQ(tr["item_id"], c->history()[static_cast<std::size_t>(
                                 index_of(t, "input_audio_buffer.committed"))]["item_id"]);
}

TEST_F(sim_fixture, manual_turns_commit_threshold_and_no_auto_response) {
    start_default();
    auto c = connect();
    update(*c, {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}});
    c->wait_for("session.updated");
    append(*c, speech_ms(60));
    c->send({{"type", "input_audio_buffer.commit"}});
    json e = expect_error(*c, "input_audio_buffer_commit_empty");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("100ms"), std::string::npos);
    append(*c, speech_ms(200));
    c->send({{"type", "input_audio_buffer.commit"}});
    json committed = c->wait_for("input_audio_buffer.committed");
    c->wait_for("conversation.item.done");
    c->send({{"type", "response.create"}});
    json done = c->wait_for("response.done", 10s);
    EXPECT_EQ(done["response"]["status"], "completed");
    for (const json& ev : c->history()) EXPECT_NE(ev["type"], "input_audio_buffer.speech_started");
    // 260 ms of user audio (60 ms uncommitted stayed in the buffer and went with the commit).
    c->send({{"type", "conversation.item.retrieve"}, {"item_id", committed["item_id"]}});
    json item = c->wait_for("conversation.item.retrieved")["item"];
    EXPECT_EQ(from_base64(item["content"][0]["audio"]).size(), 260u * 24);
}

TEST_F(sim_fixture, barge_in_cancels_response_with_turn_detected) {
    options o = fast_options();
    o.pace = 2;  // slow enough to talk over
    start(o);
    auto c = connect();
    update(*c,
           {{"type", "realtime"},
            {"audio",
             {{"input",
               {{"turn_detection", {{"type", "server_vad"}, {"silence_duration_ms", 200}}}}}}}});
    c->wait_for("session.updated");
    c->send({{"type", "response.create"}});
    c->wait_for("response.output_audio.delta");
    append(*c, speech_ms(200));
    json started = c->wait_for("input_audio_buffer.speech_started");
    json done = c->wait_for("response.done");
    EXPECT_EQ(done["response"]["status"], "cancelled");
    EXPECT_EQ(done["response"]["status_details"]["reason"], "turn_detected");
    EXPECT_EQ(done["response"]["output"][0]["status"], "incomplete");
    std::vector<std::string> t = types(c->history());
    EXPECT_LT(index_of(t, "input_audio_buffer.speech_started"), index_of(t, "response.done"));
    EXPECT_EQ(srv->get_summary().per_session[0].responses_cancelled, 1);
}

TEST_F(sim_fixture, text_input_and_text_modality) {
    options o = fast_options();
    o.scenario_file = write_file("short3.json", short_scenario);
    start(o);
    auto c = connect();
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"role", "user"},
               {"content", {{{"type", "input_text"}, {"text", "Hello there!"}}}}}}});
    json added = c->wait_for("conversation.item.added");
    EXPECT_TRUE(added["previous_item_id"].is_null());
    c->wait_for("conversation.item.done");
    // The real service does not auto-reply to item.create.
    c->send({{"type", "response.create"}, {"response", {{"output_modalities", {"text"}}}}});
    json done = c->wait_for("response.done", 10s);
    std::string text;
    for (const json& e : c->history()) {
        EXPECT_NE(e["type"], "response.output_audio.delta");
        if (e["type"] == "response.output_text.delta") text += e["delta"].get<std::string>();
    }
    EXPECT_EQ(text, "Hi there friend.");
    EXPECT_EQ(done["response"]["output"][0]["content"][0]["type"], "output_text");
    EXPECT_TRUE(srv->get_summary().per_session[0].expectation_mismatches.empty());
    // A second text that differs from the scenario's expectation is recorded.
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"role", "user"},
               {"content", {{{"type", "input_text"}, {"text", "what time is it"}}}}}}});
    c->wait_for("conversation.item.done");
    EXPECT_EQ(srv->get_summary().per_session[0].expectation_mismatches.size(), 1u);
}

TEST_F(sim_fixture, tool_call_round_trip_quotes_outputs) {
    options o = fast_options();
    o.scenario_file = write_file("short4.json", short_scenario);
    start(o);
    auto c = connect();
    c->send({{"type", "response.create"}});
    c->wait_for("response.done", 10s);
    c->send({{"type", "response.create"}});
    json args_done = c->wait_for("response.function_call_arguments.done", 10s);
    EXPECT_EQ(args_done["name"], "control_lights");
    EXPECT_EQ(json::parse(args_done["arguments"].get<std::string>()),
              json({{"room", "kitchen"}, {"on", true}}));
    json done = c->wait_for("response.done", 10s);
    const json& out = done["response"]["output"];
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0]["type"], "message");
    EXPECT_EQ(out[1]["type"], "function_call");
    EXPECT_EQ(out[1]["call_id"], args_done["call_id"]);
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"type", "function_call_output"},
               {"call_id", args_done["call_id"]},
               {"output", "{\"ok\":true}"}}}});
    c->wait_for("conversation.item.done");
    c->send({{"type", "response.create"}});
    json done2 = c->wait_for("response.done", 10s);
    EXPECT_EQ(done2["response"]["output"][0]["content"][0]["transcript"], "Done: {\"ok\":true}");
    EXPECT_EQ(srv->get_summary().turns, 2);
}

// ---- strictness -----------------------------------------------------------------------------

TEST_F(sim_fixture, truncate_rules) {
    start_default();
    auto c = connect();
    c->send({{"type", "response.create"}});
    json done = c->wait_for("response.done", 10s);
    const std::string item = done["response"]["output"][0]["id"];
    std::size_t bytes = 0;
    for (const json& e : c->history())
        if (e["type"] == "response.output_audio.delta") bytes += from_base64(e["delta"]).size() * 2;
    const auto generated_ms = static_cast<std::int64_t>(bytes / 48);
    ASSERT_GT(generated_ms, 1000);

    c->send({{"type", "conversation.item.truncate"},
             {"item_id", item},
             {"content_index", 0},
             {"audio_end_ms", generated_ms + 85}});
    json e = c->wait_for("error");
    EXPECT_EQ(e["error"]["message"], "Audio content of " + std::to_string(generated_ms) +
                                         "ms is already shorter than " +
                                         std::to_string(generated_ms + 85) + "ms");
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");

    c->send({{"type", "conversation.item.truncate"},
             {"item_id", item},
             {"content_index", 0},
             {"audio_end_ms", 0}});
    EXPECT_EQ(c->wait_for("error")["error"]["message"],
              "Only model output audio messages can be truncated");
    c->send({{"type", "conversation.item.truncate"},
             {"item_id", item},
             {"content_index", 0},
             {"audio_end_ms", -5}});
    expect_error(*c, "integer_below_min_value");
    c->send({{"type", "conversation.item.truncate"},
             {"item_id", "item_nope"},
             {"content_index", 0},
             {"audio_end_ms", 10}});
    expect_error(*c, "item_not_found");

    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"role", "user"},
               {"content", {{{"type", "input_text"}, {"text", "hi"}}}}}}});
    const std::string user_item = c->wait_for("conversation.item.done")["item"]["id"];
    c->send({{"type", "conversation.item.truncate"},
             {"item_id", user_item},
             {"content_index", 0},
             {"audio_end_ms", 10}});
    EXPECT_EQ(c->wait_for("error")["error"]["message"],
              "Only model output audio messages can be truncated");

    const std::int64_t half = generated_ms / 2;
    c->send({{"type", "conversation.item.truncate"},
             {"item_id", item},
             {"content_index", 0},
             {"audio_end_ms", half}});
    json tr = c->wait_for("conversation.item.truncated");
    EXPECT_EQ(tr["audio_end_ms"], half);
    c->send({{"type", "conversation.item.retrieve"}, {"item_id", item}});
    json got = c->wait_for("conversation.item.retrieved")["item"];
    EXPECT_EQ(from_base64(got["content"][0]["audio"]).size(), static_cast<std::size_t>(half * 24));
    const std::string full = done["response"]["output"][0]["content"][0]["transcript"];
    const std::string cut = got["content"][0]["transcript"];
    EXPECT_LT(cut.size(), full.size());
    EXPECT_GT(cut.size(), full.size() / 4);
    EXPECT_EQ(full.rfind(cut, 0), 0u) << "the transcript keeps its beginning";

    summary s = srv->get_summary();
    ASSERT_EQ(s.truncations.size(), 4u);  // beyond, zero, user item, accepted
    EXPECT_FALSE(s.truncations[0].accepted);
    EXPECT_EQ(s.truncations[0].generated_ms, generated_ms);
    EXPECT_TRUE(s.truncations.back().accepted);
    EXPECT_EQ(s.truncations.back().audio_end_ms, half);
}

TEST_F(sim_fixture, one_response_at_a_time_and_cancel_rules) {
    options o = fast_options();
    o.pace = 2;
    start(o);
    auto c = connect();
    c->send({{"type", "response.cancel"}, {"event_id", "c1"}});
    json e = expect_error(*c, "response_cancel_not_active");
    EXPECT_EQ(e["error"]["event_id"], "c1");
    c->send({{"type", "response.create"}});
    const std::string rid = c->wait_for("response.created")["response"]["id"];
    c->send({{"type", "response.create"}});
    json busy = expect_error(*c, "conversation_already_has_active_response");
    EXPECT_NE(busy["error"]["message"].get<std::string>().find(rid), std::string::npos);
    c->send({{"type", "response.cancel"}});
    json done = c->wait_for("response.done");
    EXPECT_EQ(done["response"]["status"], "cancelled");
    EXPECT_EQ(done["response"]["status_details"]["reason"], "client_cancelled");
    c->send({{"type", "response.create"}});
    EXPECT_EQ(c->wait_for("response.created")["type"], "response.created");
}

TEST_F(sim_fixture, unknown_event_malformed_json_and_oversized_append) {
    start_default();
    auto c = connect();
    c->send({{"type", "response.created"}});
    json e = expect_error(*c, "invalid_value");
    EXPECT_EQ(e["error"]["param"], "type");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("'response.created'"),
              std::string::npos);
    c->send_raw("{\"type\": \"session.update\", ");
    json bad = c->wait_for("error");
    EXPECT_EQ(bad["error"]["type"], "invalid_request_error");
    EXPECT_EQ(bad["error"]["code"], "invalid_json");
    c->send({{"type", "conversation.item.truncate"}, {"item_id", 42}, {"audio_end_ms", 10}});
    expect_error(*c, "invalid_type");
    c->send({{"type", "conversation.item.create"}, {"item", {{"type", "message"}, {"role", 7}}}});
    c->wait_for("error");
    c->send({{"type", "input_audio_buffer.append"}, {"audio", "not base64!"}});
    expect_error(*c, "invalid_value");
    std::string huge((15u << 20) / 3 * 4 + 8, 'A');
    c->send({{"type", "input_audio_buffer.append"}, {"audio", huge}});
    EXPECT_EQ(expect_error(*c, "string_above_max_length")["error"]["param"], "audio");
    // Still open and working.
    update(*c, {{"type", "realtime"}, {"instructions", "still here"}});
    EXPECT_EQ(c->wait_for("session.updated")["session"]["instructions"], "still here");
}

TEST_F(sim_fixture, item_create_delete_retrieve) {
    start_default();
    auto c = connect();
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"id", "item_a"},
               {"type", "message"},
               {"role", "user"},
               {"content", {{{"type", "input_text"}, {"text", "one"}}}}}}});
    c->wait_for("conversation.item.done");
    c->send({{"type", "conversation.item.create"},
             {"previous_item_id", "root"},
             {"item",
              {{"id", "item_b"},
               {"type", "message"},
               {"role", "system"},
               {"content", {{{"type", "input_text"}, {"text", "zero"}}}}}}});
    json added = c->wait_for("conversation.item.added");
    EXPECT_TRUE(added["previous_item_id"].is_null());
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"type", "message"},
               {"role", "assistant"},
               {"content", {{{"type", "output_audio"}, {"transcript", "x"}}}}}}});
    expect_error(*c, "invalid_value");
    c->send({{"type", "conversation.item.create"},
             {"item",
              {{"id", "item_a"},
               {"type", "message"},
               {"role", "user"},
               {"content", {{{"type", "input_text"}, {"text", "dup"}}}}}}});
    expect_error(*c, "invalid_value");
    c->send({{"type", "conversation.item.retrieve"}, {"item_id", "item_a"}});
    EXPECT_EQ(c->wait_for("conversation.item.retrieved")["item"]["content"][0]["text"], "one");
    c->send({{"type", "conversation.item.delete"}, {"item_id", "item_a"}});
    EXPECT_EQ(c->wait_for("conversation.item.deleted")["item_id"], "item_a");
    c->send({{"type", "conversation.item.retrieve"}, {"item_id", "item_a"}});
    expect_error(*c, "item_not_found");
}

TEST_F(sim_fixture, session_cap_sends_session_expired_then_1001) {
    options o = fast_options();
    o.session_cap_s = 0.3;
    start(o);
    auto c = connect();
    json e = c->wait_for("error", 5s);
    EXPECT_EQ(e["error"]["type"], "invalid_request_error");
    EXPECT_EQ(e["error"]["code"], "session_expired");
    EXPECT_EQ(c->wait_closed(), 1001);
    wait_ended(0);
    EXPECT_EQ(srv->get_summary().per_session[0].close_reason, "session_expired");
}

// ---- faults -----------------------------------------------------------------------------------

TEST_F(sim_fixture, fault_close_with_code_at_nth_delta) {
    options o = fast_options();
    fault f;
    f.kind = "close";
    f.turn = 1;
    f.at = "response.output_audio.delta";
    f.nth = 3;
    f.code = 1011;
    f.reason = "injected";
    o.faults.push_back(f);
    start(o);
    auto c = connect();
    c->send({{"type", "response.create"}});
    EXPECT_EQ(c->wait_closed(), 1011);
    int deltas = 0;
    for (const json& e : c->history()) deltas += e["type"] == "response.output_audio.delta";
    EXPECT_EQ(deltas, 2);
    summary s = srv->get_summary();
    EXPECT_EQ(s.faults_injected, 1);
    EXPECT_EQ(s.per_session[0].faults, std::vector<std::string>{"close"});
}

TEST_F(sim_fixture, fault_abrupt_close_has_no_close_frame) {
    options o = fast_options();
    o.faults.push_back(parse_fault("kind=close,abrupt=1,at=response.created"));
    start(o);
    auto c = connect();
    c->send({{"type", "response.create"}});
    EXPECT_EQ(c->wait_closed(), 1006);
}

TEST_F(sim_fixture, fault_malformed_unknown_server_error_stall_in_scenario) {
    options o = fast_options();
    o.scenario_file =
        write_file("faults.json", R"({"turns": [{"reply": "Faulty turn with words.", "faults": [
        {"kind": "malformed_json", "at": "response.created"},
        {"kind": "unknown_event", "at": "response.output_item.added"},
        {"kind": "server_error", "at": "response.content_part.added"},
        {"kind": "stall", "ms": 300, "at": "response.output_audio.delta", "nth": 2}]}]})");
    start(o);
    auto c = connect();
    c->send({{"type", "response.create"}});
    EXPECT_THROW(c->recv(), std::exception) << "first frame is not JSON";
    EXPECT_EQ(c->recv()["type"], "response.created");
    c->wait_for("sim.unknown_event");
    json err = c->wait_for("error");
    EXPECT_EQ(err["error"]["type"], "server_error");
    c->wait_for("response.output_audio.delta");
    const auto before = std::chrono::steady_clock::now();
    c->wait_for("response.output_audio.delta");
    EXPECT_GE(std::chrono::steady_clock::now() - before, 250ms) << "the stall held the stream";
    EXPECT_EQ(c->wait_for("response.done", 10s)["response"]["status"], "completed");
    EXPECT_EQ(srv->get_summary().faults_injected, 4);
}

TEST_F(sim_fixture, fault_oversized_frame) {
    options o = fast_options();
    o.faults.push_back(parse_fault("kind=oversized_frame,bytes=20000000,at=response.created"));
    start(o);
    auto c = connect();
    c->send({{"type", "response.create"}});
    std::string frame = c->recv_raw(10s);
    EXPECT_EQ(frame.size(), 20000000u);
    EXPECT_EQ(json::parse(frame)["type"], "sim.oversized");
}

// ---- observation ------------------------------------------------------------------------------

TEST_F(sim_fixture, deeply_nested_frame_is_refused_and_the_logger_survives) {
    // #20 probe 1: one 200 KB frame of '[' x 100,000 then ']' x 100,000 killed the simulator
    // with --events (its logger copied the tree recursively). Now: an error, and it goes on.
    options o = fast_options();
    const std::string dir = ava::test::make_temp_dir("ava-sim-deep-");
    o.events_file = dir + "/events.jsonl";
    start(o);
    auto c = connect();
    c->send_raw(std::string(100000, '[') + std::string(100000, ']'));
    json bad = c->wait_for("error");
    EXPECT_EQ(bad["error"]["code"], "invalid_json");
    EXPECT_NE(bad["error"]["message"].get<std::string>().find("deeper than"), std::string::npos);
    // Brackets inside a string do not count; a real event still works on the same socket.
    c->send({{"type", "session.update"},
             {"session", {{"type", "realtime"}, {"instructions", std::string(500, '[')}}}});
    EXPECT_EQ(c->wait_for("session.updated")["session"]["instructions"], std::string(500, '['));
    c->close();
    srv->stop();
}

TEST_F(sim_fixture, events_log_and_wav_record) {
    options o = fast_options();
    o.api_key = "sk-secret-value-1234";
    const std::string dir = ava::test::make_temp_dir("ava-sim-rec-");
    o.events_file = dir + "/events.jsonl";
    o.record_dir = dir;
    start(o);
    client_options co = copts();
    co.key = "sk-secret-value-1234";
    auto c = connect(co);
    update(*c, {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}});
    c->wait_for("session.updated");
    append(*c, speech_ms(500));
    c->send({{"type", "input_audio_buffer.commit"}});
    c->send({{"type", "response.create"}});
    c->wait_for("response.done", 10s);
    const std::string sid = c->history()[0]["session"]["id"];
    c->close();
    srv->stop();

    std::ifstream in(o.events_file);
    std::string line;
    std::int64_t last_t = 0;
    int appends = 0, deltas = 0, in_count = 0, out_count = 0;
    std::string all;
    while (std::getline(in, line)) {
        all += line;
        json rec = json::parse(line);
        EXPECT_GE(rec["t_mono_us"].get<std::int64_t>(), last_t);
        last_t = rec["t_mono_us"];
        if (rec["dir"] == "in") ++in_count;
        if (rec["dir"] == "out") ++out_count;
        if (rec["dir"] == "in" || rec["dir"] == "out") {
            EXPECT_EQ(rec["session"], sid);
        }
        if (rec["type"] == "input_audio_buffer.append") {
            ++appends;
            EXPECT_EQ(rec["audio_bytes"], 960);
            EXPECT_EQ(rec["event"]["audio"], 960);
        }
        if (rec["type"] == "response.output_audio.delta") {
            ++deltas;
            EXPECT_TRUE(rec["event"]["delta"].is_number());
        }
    }
    EXPECT_EQ(appends, 25);
    EXPECT_GT(deltas, 3);
    EXPECT_GT(in_count, 25);
    EXPECT_GT(out_count, 10);
    EXPECT_EQ(all.find("sk-secret-value-1234"), std::string::npos);

    SF_INFO info{};
    SNDFILE* f = sf_open((dir + "/" + sid + "-input.wav").c_str(), SFM_READ, &info);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(info.samplerate, 24000);
    EXPECT_EQ(info.frames, 500 * 24);
    std::vector<short> pcm(static_cast<std::size_t>(info.frames));
    sf_read_short(f, pcm.data(), info.frames);
    sf_close(f);
    const auto expected = speech_ms(500);
    EXPECT_TRUE(std::equal(pcm.begin(), pcm.end(), expected.begin()));
    summary s = srv->get_summary();
    EXPECT_EQ(s.per_session[0].input_audio_ms, 500);
    EXPECT_TRUE(s.per_session[0].ended);
    EXPECT_NE(format_summary(s).find("turns: 1"), std::string::npos);
}

TEST_F(sim_fixture, stop_closes_sessions_with_1001) {
    start_default();
    auto c = connect();
    std::thread stopper([&] { srv->stop(); });
    EXPECT_EQ(c->wait_closed(), 1001);
    stopper.join();
}

TEST_F(sim_fixture, g711_session_returns_g711_audio) {
    start_default();
    auto c = connect();
    update(*c,
           {{"type", "realtime"}, {"audio", {{"output", {{"format", {{"type", "audio/pcmu"}}}}}}}});
    EXPECT_EQ(c->wait_for("session.updated")["session"]["audio"]["output"]["format"]["type"],
              "audio/pcmu");
    c->send({{"type", "response.create"}});
    json d = c->wait_for("response.output_audio.delta");
    // 100 ms at 8 kHz, one byte per sample.
    EXPECT_EQ(from_base64(d["delta"]).size() * 2, 800u);
}

}  // namespace
}  // namespace ava::sim::test
