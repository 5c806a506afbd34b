// Golden tests: every client and server event, both directions. Each case decodes its golden
// file and compares with the expected struct, and encodes the expected struct and compares the
// JSON value with the golden file. A coverage test checks that every event alternative has at
// least one case, so a new event in events.hpp fails here until it gets a golden file.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ava/realtime/codec_peer.hpp"
#include "test_util.hpp"

namespace ava::realtime {
namespace {

using test::golden;
using test::json_equal;
using test::pcm_a;
using test::pcm_b;

tool_def weather_tool() {
    return {.name = "get_weather",
            .description = "Current weather for a city",
            .parameters_json =
                R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"};
}

item function_call_item() {
    return {.id = "item_f1",
            .object = "realtime.item",
            .type = "function_call",
            .status = "completed",
            .call_id = "call_1",
            .name = "get_weather",
            .arguments = R"({"city":"Paris"})"};
}

usage full_usage() {
    usage u;
    u.total_tokens = 1234;
    u.input_tokens = 1000;
    u.output_tokens = 234;
    u.input_details.text_tokens = 400;
    u.input_details.audio_tokens = 550;
    u.input_details.image_tokens = 50;
    u.input_details.cached_tokens = 320;
    u.input_details.cached_tokens_details = {.text_tokens = 300, .audio_tokens = 20};
    u.output_details = {.text_tokens = 34, .audio_tokens = 200};
    return u;
}

struct client_case {
    std::string file;
    client_event expected;
};
struct server_case {
    std::string file;
    server_event expected;
};

// Test names and failures show the golden file, not the bytes of the case.
void PrintTo(const client_case& c, std::ostream* os) {
    *os << c.file;
}
void PrintTo(const server_case& c, std::ostream* os) {
    *os << c.file;
}

std::vector<client_case> client_cases() {
    std::vector<client_case> c;
    {
        session_config s;
        s.model = "gpt-realtime";
        s.output_modalities = std::vector<std::string>{"audio"};
        s.instructions = "Be brief.";
        s.input_format = audio_format{};
        s.noise_reduction = "near_field";
        s.input_transcription = transcription{.model = "gpt-4o-mini-transcribe", .language = "en"};
        s.turn = turn_detection{.type = vad_type::server_vad,
                                .threshold = 0.5,
                                .prefix_padding_ms = 300,
                                .silence_duration_ms = 500,
                                .create_response = true,
                                .interrupt_response = true};
        s.output_format = audio_format{};
        s.voice = "marin";
        s.speed = 1.0;
        s.tools = std::vector<tool_def>{weather_tool()};
        s.tool_choice = "auto";
        s.max_output_tokens = max_tokens_inf;
        s.tracing = "";
        s.truncation = "auto";
        c.push_back({"session.update.full", client::session_update{"evt_c1", s}});
    }
    {
        session_config s;
        s.noise_reduction = "";
        s.input_transcription = transcription{};
        s.turn = turn_detection{.type = vad_type::none};
        s.tools = std::vector<tool_def>{};
        s.tool_choice = "get_weather";
        s.max_output_tokens = 512;
        s.instructions = "";
        c.push_back({"session.update.manual", client::session_update{"", s}});
    }
    c.push_back(
        {"input_audio_buffer.append", client::input_audio_buffer_append{"evt_c2", pcm_a()}});
    c.push_back({"input_audio_buffer.commit", client::input_audio_buffer_commit{}});
    c.push_back({"input_audio_buffer.clear", client::input_audio_buffer_clear{"evt_c3"}});
    c.push_back({"conversation.item.create.text",
                 client::conversation_item_create{
                     .previous_item_id = "root",
                     .item = {.type = "message",
                              .role = "user",
                              .content = {{.type = "input_text",
                                           .text = "What's the weather in Paris?"}}}}});
    c.push_back({"conversation.item.create.audio",
                 client::conversation_item_create{
                     .item = {.type = "message",
                              .role = "user",
                              .content = {{.type = "input_audio", .audio = pcm_b()}}}}});
    c.push_back(
        {"conversation.item.create.function_call_output",
         client::conversation_item_create{.event_id = "evt_c4",
                                          .item = {.type = "function_call_output",
                                                   .call_id = "call_1",
                                                   .output = R"({"temp_c":18,"sky":"clear"})"}}});
    c.push_back(
        {"conversation.item.truncate", client::conversation_item_truncate{.event_id = "evt_c5",
                                                                          .item_id = "item_a1",
                                                                          .content_index = 0,
                                                                          .audio_end_ms = 1250}});
    c.push_back({"conversation.item.delete", client::conversation_item_delete{"", "item_a1"}});
    c.push_back(
        {"conversation.item.retrieve", client::conversation_item_retrieve{"evt_c6", "item_u1"}});
    c.push_back(
        {"response.create.overrides",
         client::response_create{
             .event_id = "evt_c7",
             .response = response_overrides{.instructions = "Summarise the call.",
                                            .tools = std::vector<tool_def>{weather_tool()},
                                            .tool_choice = "required",
                                            .output_modalities = std::vector<std::string>{"text"},
                                            .voice = "cedar",
                                            .max_output_tokens = 200,
                                            .conversation = "none",
                                            .metadata = {{"purpose", "summary"}, {"turn", "7"}}}}});
    c.push_back({"response.create.bare", client::response_create{}});
    c.push_back({"response.cancel", client::response_cancel{"", "resp_1"}});
    c.push_back({"response.cancel.bare", client::response_cancel{"evt_c8", std::nullopt}});
    return c;
}

std::vector<server_case> server_cases() {
    std::vector<server_case> c;
    c.push_back({"error", server::error{"evt_s1",
                                        {.type = "invalid_request_error",
                                         .code = "conversation_already_has_active_response",
                                         .message = "Conversation already has an active response "
                                                    "in progress: resp_1.",
                                         .event_id = "evt_c7"}}});
    c.push_back(
        {"error.session_expired",
         server::error{"evt_s2",
                       {.type = "invalid_request_error",
                        .code = "session_expired",
                        .message = "Your session hit the maximum duration of 60 minutes."}}});
    {
        session_config s;
        s.object = "realtime.session";
        s.id = "sess_1";
        s.expires_at = 1767225600;
        s.model = "gpt-realtime-2025-08-28";
        s.output_modalities = std::vector<std::string>{"audio"};
        s.instructions = "You are a helpful assistant.";
        s.input_format = audio_format{.type = "audio/pcmu", .rate = std::nullopt};
        s.noise_reduction = "";
        s.input_transcription = transcription{};
        s.turn = turn_detection{.type = vad_type::semantic_vad,
                                .eagerness = "auto",
                                .create_response = true,
                                .interrupt_response = false};
        s.output_format = audio_format{.type = "audio/pcma", .rate = std::nullopt};
        s.voice = "voice_abc123";
        s.speed = 1.25;
        s.tools = std::vector<tool_def>{};
        s.tool_choice = "auto";
        s.max_output_tokens = 4096;
        s.tracing = "auto";
        s.truncation =
            R"({"type":"retention_ratio","retention_ratio":0.8,"token_limits":{"post_instructions":8000}})";
        c.push_back({"session.created", server::session_created{"evt_s3", s}});
    }
    {
        session_config s;
        s.object = "realtime.session";
        s.id = "sess_1";
        s.expires_at = 1767225600;
        s.model = "gpt-realtime";
        s.output_modalities = std::vector<std::string>{"audio"};
        s.instructions = "Be brief.";
        s.input_format = audio_format{};
        s.noise_reduction = "far_field";
        s.input_transcription =
            transcription{.model = "whisper-1", .language = "fr", .prompt = "names: Ava"};
        s.turn = turn_detection{.type = vad_type::server_vad,
                                .threshold = 0.6,
                                .prefix_padding_ms = 300,
                                .silence_duration_ms = 650,
                                .create_response = true,
                                .interrupt_response = true,
                                .idle_timeout_ms = 6000};
        s.output_format = audio_format{};
        s.voice = "marin";
        s.speed = 1.0;
        s.tools = std::vector<tool_def>{weather_tool()};
        s.tool_choice = "auto";
        s.max_output_tokens = max_tokens_inf;
        s.tracing = "";
        s.truncation = "disabled";
        c.push_back({"session.updated", server::session_updated{"evt_s4", s}});
    }
    const item assistant_in_progress{.id = "item_a1",
                                     .object = "realtime.item",
                                     .type = "message",
                                     .status = "in_progress",
                                     .role = "assistant"};
    c.push_back({"conversation.item.added",
                 server::conversation_item_added{"evt_s5", "item_u1", assistant_in_progress}});
    c.push_back(
        {"conversation.item.done",
         server::conversation_item_done{
             "evt_s6", "item_u1",
             item{.id = "item_a1",
                  .object = "realtime.item",
                  .type = "message",
                  .status = "completed",
                  .role = "assistant",
                  .content = {{.type = "output_audio", .transcript = "It is sunny in Paris."}}}}});
    c.push_back({"conversation.item.truncated",
                 server::conversation_item_truncated{"evt_s7", "item_a1", 0, 1250}});
    c.push_back(
        {"conversation.item.deleted", server::conversation_item_deleted{"evt_s8", "item_a1"}});
    c.push_back({"conversation.item.retrieved",
                 server::conversation_item_retrieved{
                     "evt_s9", item{.id = "item_u1",
                                    .object = "realtime.item",
                                    .type = "message",
                                    .status = "completed",
                                    .role = "user",
                                    .content = {{.type = "input_audio",
                                                 .transcript = "what's the weather",
                                                 .audio = pcm_b()},
                                                {.type = "input_text", .text = "in Paris"}}}}});
    c.push_back({"conversation.item.input_audio_transcription.delta",
                 server::input_transcription_delta{"evt_s10", "item_u1", 0, "what's the"}});
    {
        usage u;
        u.total_tokens = 29;
        u.input_tokens = 20;
        u.output_tokens = 9;
        u.input_details.text_tokens = 2;
        u.input_details.audio_tokens = 18;
        c.push_back({"conversation.item.input_audio_transcription.completed",
                     server::input_transcription_completed{"evt_s11", "item_u1", 0,
                                                           "what's the weather", u}});
    }
    c.push_back({"conversation.item.input_audio_transcription.failed",
                 server::input_transcription_failed{
                     "evt_s12", "item_u1", 0,
                     error_info{.type = "transcription_error",
                                .code = "audio_unintelligible",
                                .message = "The audio could not be transcribed.",
                                .param = "item.content"}}});
    c.push_back(
        {"input_audio_buffer.speech_started", server::speech_started{"evt_s13", 1020, "item_u1"}});
    c.push_back(
        {"input_audio_buffer.speech_stopped", server::speech_stopped{"evt_s14", 2710, "item_u1"}});
    c.push_back({"input_audio_buffer.committed",
                 server::input_audio_committed{"evt_s15", "item_a0", "item_u1"}});
    c.push_back({"input_audio_buffer.cleared", server::input_audio_cleared{"evt_s16"}});
    c.push_back({"input_audio_buffer.timeout_triggered",
                 server::input_audio_timeout_triggered{"evt_s17", 8000, 14000, "item_u2"}});
    c.push_back(
        {"response.created",
         server::response_created{
             "evt_s18", response_info{.id = "resp_1",
                                      .object = "realtime.response",
                                      .status = "in_progress",
                                      .conversation_id = "conv_1",
                                      .output_modalities = std::vector<std::string>{"audio"}}}});
    c.push_back(
        {"response.done.failed",
         server::response_done{
             "evt_s19",
             response_info{
                 .id = "resp_1",
                 .object = "realtime.response",
                 .status = "failed",
                 .details = status_details{.type = "failed",
                                           .error = error_info{.type = "rate_limit_error",
                                                               .code = "rate_limit_exceeded"}},
                 .output = {function_call_item()},
                 .usage = full_usage(),
                 .conversation_id = "conv_1",
                 .output_modalities = std::vector<std::string>{"audio"},
                 .metadata = {{"turn", "3"}}}}});
    {
        usage u;
        u.total_tokens = 10;
        u.input_tokens = 8;
        u.output_tokens = 2;
        u.input_details.text_tokens = 8;
        u.output_details = {.text_tokens = 1, .audio_tokens = 1};
        c.push_back(
            {"response.done.cancelled",
             server::response_done{
                 "evt_s20",
                 response_info{
                     .id = "resp_2",
                     .object = "realtime.response",
                     .status = "cancelled",
                     .details = status_details{.type = "cancelled", .reason = "turn_detected"},
                     .output = {item{
                         .id = "item_a2",
                         .object = "realtime.item",
                         .type = "message",
                         .status = "incomplete",
                         .role = "assistant",
                         .content = {{.type = "output_audio", .transcript = "The weather in"}}}},
                     .usage = u,
                     .conversation_id = "conv_1"}}});
    }
    c.push_back(
        {"response.output_item.added", server::output_item_added{"evt_s21", "resp_1", 0,
                                                                 item{.id = "item_f1",
                                                                      .object = "realtime.item",
                                                                      .type = "function_call",
                                                                      .status = "in_progress",
                                                                      .call_id = "call_1",
                                                                      .name = "get_weather"}}});
    c.push_back({"response.output_item.done",
                 server::output_item_done{"evt_s22", "resp_1", 0, function_call_item()}});
    c.push_back({"response.content_part.added",
                 server::content_part_added{"evt_s23", "resp_1", "item_a1", 0, 0,
                                            content_part{.type = "output_audio"}}});
    c.push_back(
        {"response.content_part.done",
         server::content_part_done{"evt_s24", "resp_1", "item_a1", 0, 1,
                                   content_part{.type = "output_text", .text = "Sunny, 18 C."}}});
    c.push_back({"response.output_audio.delta",
                 server::output_audio_delta{"evt_s25", "resp_1", "item_a1", 0, 0, pcm_a()}});
    c.push_back({"response.output_audio.done",
                 server::output_audio_done{"evt_s26", "resp_1", "item_a1", 0, 0}});
    c.push_back(
        {"response.output_audio_transcript.delta",
         server::output_audio_transcript_delta{"evt_s27", "resp_1", "item_a1", 0, 0, "It is "}});
    c.push_back({"response.output_audio_transcript.done",
                 server::output_audio_transcript_done{"evt_s28", "resp_1", "item_a1", 0, 0,
                                                      "It is sunny in Paris."}});
    c.push_back({"response.output_text.delta",
                 server::output_text_delta{"evt_s29", "resp_1", "item_a1", 0, 0, "Sun"}});
    c.push_back(
        {"response.output_text.done", server::output_text_done{"evt_s30", "resp_1", "item_a1", 0, 0,
                                                               "Sunny, 18 \u00b0C \u2600"}});
    c.push_back({"response.function_call_arguments.delta",
                 server::function_call_arguments_delta{"evt_s31", "resp_1", "item_f1", 0, "call_1",
                                                       R"({"city":)"}});
    c.push_back({"response.function_call_arguments.done",
                 server::function_call_arguments_done{"evt_s32", "resp_1", "item_f1", 0, "call_1",
                                                      "get_weather", R"({"city":"Paris"})"}});
    c.push_back({"rate_limits.updated",
                 server::rate_limits_updated{
                     "evt_s33", {{"requests", 1000, 999, 0.06}, {"tokens", 50000, 48800, 1.44}}}});
    return c;
}

// Readable names for parameterised tests.
std::string case_name(const std::string& file) {
    std::string s;
    for (const char ch : file) s += (std::isalnum(static_cast<unsigned char>(ch)) != 0) ? ch : '_';
    return s;
}

class client_golden : public ::testing::TestWithParam<client_case> {};
class server_golden : public ::testing::TestWithParam<server_case> {};

TEST_P(client_golden, decodes_to_expected_struct) {
    const client_event got = decode_client(golden("client/" + GetParam().file + ".json"));
    if (const auto* err = std::get_if<decode_error>(&got)) {
        FAIL() << err->event_type << " " << err->field << ": " << err->message;
    }
    EXPECT_EQ(got, GetParam().expected);
}

TEST_P(client_golden, encodes_to_golden_json) {
    EXPECT_TRUE(
        json_equal(encode(GetParam().expected), golden("client/" + GetParam().file + ".json")));
}

TEST_P(server_golden, decodes_to_expected_struct) {
    const server_event got = decode_server(golden("server/" + GetParam().file + ".json"));
    if (const auto* err = std::get_if<decode_error>(&got)) {
        FAIL() << err->event_type << " " << err->field << ": " << err->message;
    }
    EXPECT_EQ(got, GetParam().expected);
}

TEST_P(server_golden, encodes_to_golden_json) {
    EXPECT_TRUE(
        json_equal(encode(GetParam().expected), golden("server/" + GetParam().file + ".json")));
}

INSTANTIATE_TEST_SUITE_P(all, client_golden, ::testing::ValuesIn(client_cases()),
                         [](const auto& p) { return case_name(p.param.file); });
INSTANTIATE_TEST_SUITE_P(all, server_golden, ::testing::ValuesIn(server_cases()),
                         [](const auto& p) { return case_name(p.param.file); });

// Every event alternative (all but unknown_event and decode_error) has a golden case, and each
// golden file is named after the wire type of its event.
TEST(golden_coverage, every_client_event_has_a_golden_case) {
    std::set<std::size_t> seen;
    for (const auto& c : client_cases()) {
        seen.insert(c.expected.index());
        EXPECT_TRUE(c.file.starts_with(type_of(c.expected))) << c.file;
    }
    for (std::size_t i = 0; i + 2 < std::variant_size_v<client_event>; ++i) {
        EXPECT_TRUE(seen.contains(i)) << "client_event alternative " << i << " has no golden case";
    }
}

TEST(golden_coverage, every_server_event_has_a_golden_case) {
    std::set<std::size_t> seen;
    for (const auto& c : server_cases()) {
        seen.insert(c.expected.index());
        EXPECT_TRUE(c.file.starts_with(type_of(c.expected))) << c.file;
    }
    for (std::size_t i = 0; i + 2 < std::variant_size_v<server_event>; ++i) {
        EXPECT_TRUE(seen.contains(i)) << "server_event alternative " << i << " has no golden case";
    }
}

// ---- beta aliases and shapes as the service sends them (decode only) ---------------------------

TEST(beta_alias, conversation_item_created_is_item_added) {
    const server_event got = decode_server(golden("beta/conversation.item.created.json"));
    const auto* ev = std::get_if<server::conversation_item_added>(&got);
    ASSERT_NE(ev, nullptr) << type_of(got);
    EXPECT_EQ(ev->event_id, "evt_b1");
    EXPECT_EQ(ev->previous_item_id, "item_u1");
    EXPECT_EQ(ev->item.id, "item_a1");
    EXPECT_EQ(ev->item.role, "assistant");
}

TEST(beta_alias, response_audio_delta_is_output_audio_delta) {
    const server_event got = decode_server(golden("beta/response.audio.delta.json"));
    ASSERT_TRUE(std::holds_alternative<server::output_audio_delta>(got)) << type_of(got);
    EXPECT_EQ(got, server_event(
                       server::output_audio_delta{"evt_b2", "resp_1", "item_a1", 0, 0, pcm_a()}));
    // Re-encoding gives the GA name.
    EXPECT_NE(encode(got).find(R"("type":"response.output_audio.delta")"), std::string::npos);
}

TEST(beta_alias, response_audio_transcript_delta_is_output_audio_transcript_delta) {
    const server_event got = decode_server(golden("beta/response.audio_transcript.delta.json"));
    EXPECT_EQ(got, server_event(server::output_audio_transcript_delta{"evt_b3", "resp_1", "item_a1",
                                                                      0, 0, "It is "}));
}

TEST(beta_alias, response_text_delta_is_output_text_delta) {
    const server_event got = decode_server(golden("beta/response.text.delta.json"));
    EXPECT_EQ(got,
              server_event(server::output_text_delta{"evt_b4", "resp_1", "item_a1", 0, 0, "Sun"}));
}

TEST(beta_alias, done_events_too) {
    EXPECT_TRUE(std::holds_alternative<server::output_audio_done>(decode_server(
        R"({"type":"response.audio.done","response_id":"r","item_id":"i","output_index":0,"content_index":0})")));
    EXPECT_TRUE(std::holds_alternative<server::output_audio_transcript_done>(decode_server(
        R"({"type":"response.audio_transcript.done","response_id":"r","item_id":"i","output_index":0,"content_index":0,"transcript":"t"})")));
    EXPECT_TRUE(std::holds_alternative<server::output_text_done>(decode_server(
        R"({"type":"response.text.done","response_id":"r","item_id":"i","output_index":0,"content_index":0,"text":"t"})")));
}

TEST(service_shapes, error_with_null_fields) {
    const server_event got = decode_server(golden("decode_only/error.nulls.json"));
    EXPECT_EQ(got, server_event(server::error{
                       "evt_d1",
                       {.type = "server_error",
                        .message = "The server had an error while processing your request."}}));
}

TEST(service_shapes, first_item_has_null_previous_item_and_unknown_fields_are_ignored) {
    const server_event got =
        decode_server(golden("decode_only/conversation.item.added.first.json"));
    EXPECT_EQ(got, server_event(server::conversation_item_added{
                       "evt_d2", std::nullopt,
                       item{.id = "item_u1",
                            .object = "realtime.item",
                            .type = "message",
                            .status = "completed",
                            .role = "user",
                            .content = {{.type = "input_audio"}}}}));
}

TEST(service_shapes, response_created_with_nulls) {
    const server_event got = decode_server(golden("decode_only/response.created.nulls.json"));
    EXPECT_EQ(
        got, server_event(server::response_created{
                 "evt_d3", response_info{.id = "resp_9",
                                         .object = "realtime.response",
                                         .status = "in_progress",
                                         .conversation_id = "conv_1",
                                         .output_modalities = std::vector<std::string>{"audio"}}}));
}

TEST(service_shapes, transcription_duration_usage_is_not_token_usage) {
    const server_event got = decode_server(
        golden("decode_only/conversation.item.input_audio_transcription.completed.duration.json"));
    EXPECT_EQ(got, server_event(server::input_transcription_completed{"evt_d4", "item_u1", 0,
                                                                      "hello", std::nullopt}));
}

}  // namespace
}  // namespace ava::realtime
