// Bad input: every kind gives a decode_error naming the event and the field (or unknown_event),
// never an exception or a crash. Plus encode's promises on bad strings and bad schemas.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ava/realtime/codec_peer.hpp"
#include "test_util.hpp"

namespace ava::realtime {
namespace {

template <class Event>
decode_error expect_error(const Event& ev) {
    const auto* err = std::get_if<decode_error>(&ev);
    EXPECT_NE(err, nullptr) << "expected decode_error, got " << type_of(ev);
    return err != nullptr ? *err : decode_error{};
}

TEST(malformed, bad_json) {
    for (const char* text : {"", "   ", "{", R"({"type":)", R"({"type":"error",})", "nul",
                             R"({"type":"error"} trailing)", R"({'type':'error'})"}) {
        const decode_error e = expect_error(decode_server(text));
        EXPECT_EQ(e.event_type, "") << text;
        EXPECT_EQ(e.field, "") << text;
        EXPECT_NE(e.message.find("invalid JSON"), std::string::npos) << text << ": " << e.message;
        expect_error(decode_client(text));
    }
}

TEST(malformed, not_an_object) {
    for (const char* text : {"[1,2]", R"("error")", "42", "null", "true"}) {
        const decode_error e = expect_error(decode_server(text));
        EXPECT_NE(e.message.find("object"), std::string::npos) << text << ": " << e.message;
    }
}

TEST(malformed, missing_or_bad_type) {
    decode_error e = expect_error(decode_server(R"({"event_id":"x"})"));
    EXPECT_EQ(e.field, "type");
    EXPECT_EQ(e.message, "missing required field");
    e = expect_error(decode_client(R"({"type":5})"));
    EXPECT_EQ(e.field, "type");
    EXPECT_EQ(e.message, "expected string, got number");
    e = expect_error(decode_server(R"({"type":null})"));
    EXPECT_EQ(e.field, "type");
}

TEST(malformed, unknown_type_is_unknown_event) {
    EXPECT_EQ(decode_server(R"({"type":"response.frobnicated","x":1})"),
              server_event(unknown_event{"response.frobnicated"}));
    EXPECT_EQ(decode_client(R"({"type":"session.frobnicate"})"),
              client_event(unknown_event{"session.frobnicate"}));
    // A server event is not a client event and the other way round.
    EXPECT_EQ(decode_client(R"({"type":"response.done","response":{}})"),
              client_event(unknown_event{"response.done"}));
    EXPECT_EQ(decode_server(R"({"type":"response.create"})"),
              server_event(unknown_event{"response.create"}));
    // WebRTC-only events the WebSocket client never needs.
    EXPECT_EQ(decode_server(R"({"type":"output_audio_buffer.started","response_id":"r"})"),
              server_event(unknown_event{"output_audio_buffer.started"}));
}

TEST(malformed, missing_required_field_names_the_path) {
    decode_error e = expect_error(decode_server(
        R"({"type":"response.done","response":{"id":"r","status":"completed","output":[],
            "usage":{"output_tokens":3,"total_tokens":3}}})"));
    EXPECT_EQ(e.event_type, "response.done");
    EXPECT_EQ(e.field, "response.usage.input_tokens");
    EXPECT_EQ(e.message, "missing required field");

    e = expect_error(
        decode_client(R"({"type":"session.update","session":{"model":"gpt-realtime"}})"));
    EXPECT_EQ(e.event_type, "session.update");
    EXPECT_EQ(e.field, "session.type");

    e = expect_error(decode_server(
        R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0})"));
    EXPECT_EQ(e.field, "delta");

    e = expect_error(decode_server(
        R"({"type":"response.done","response":{"id":"r","status":"completed",
            "output":[{"type":"message","content":[{"text":"hi"}]}]}})"));
    EXPECT_EQ(e.field, "response.output[0].content[0].type");

    e = expect_error(
        decode_client(R"({"type":"conversation.item.truncate","item_id":"i","content_index":0})"));
    EXPECT_EQ(e.field, "audio_end_ms");

    e = expect_error(decode_server(R"({"type":"error","error":{"type":"server_error"}})"));
    EXPECT_EQ(e.field, "error.message");
}

TEST(malformed, null_for_a_required_field) {
    const decode_error e =
        expect_error(decode_server(R"({"type":"conversation.item.deleted","item_id":null})"));
    EXPECT_EQ(e.event_type, "conversation.item.deleted");
    EXPECT_EQ(e.field, "item_id");
    EXPECT_EQ(e.message, "required field is null");
}

TEST(malformed, wrong_types_name_the_path) {
    struct bad {
        const char* json;
        const char* field;
        const char* message;
    };
    const bad cases[] = {
        {R"({"type":"conversation.item.truncated","item_id":"i","content_index":"0","audio_end_ms":5})",
         "content_index", "expected integer, got string"},
        {R"({"type":"rate_limits.updated","rate_limits":[{"name":"requests","limit":1,"remaining":1,"reset_seconds":1},
             {"name":"tokens","limit":5,"remaining":"many","reset_seconds":1}]})",
         "rate_limits[1].remaining", "expected integer, got string"},
        {R"({"type":"rate_limits.updated","rate_limits":{"name":"requests"}})", "rate_limits",
         "expected array, got object"},
        {R"({"type":"session.created","session":[]})", "session", "expected object, got array"},
        {R"({"type":"session.updated","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"server_vad","threshold":"high"}}}}})",
         "session.audio.input.turn_detection.threshold", "expected number, got string"},
        {R"({"type":"session.updated","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"magic_vad"}}}}})",
         "session.audio.input.turn_detection.type", "unknown turn_detection type \"magic_vad\""},
        {R"({"type":"session.updated","session":{"type":"realtime","tools":[{"type":"function","name":"a"},{"type":"mcp","name":"b"}]}})",
         "session.tools[1].type", "unsupported tool type \"mcp\" (only \"function\")"},
        {R"({"type":"session.updated","session":{"type":"realtime","max_output_tokens":"lots"}})",
         "session.max_output_tokens", "expected an integer or \"inf\""},
        {R"({"type":"session.updated","session":{"type":"realtime","audio":{"output":{"speed":true}}}})",
         "session.audio.output.speed", "expected number, got boolean"},
        {R"({"type":"response.created","response":{"id":"r","status":"in_progress","metadata":{"k":1}}})",
         "response.metadata.k", "expected string, got number"},
        {R"({"type":"conversation.item.added","item":{"type":"message","content":"hello"}})",
         "item.content", "expected array, got string"},
    };
    for (const bad& b : cases) {
        const decode_error e = expect_error(decode_server(b.json));
        EXPECT_EQ(e.field, b.field) << b.json;
        EXPECT_EQ(e.message, b.message) << b.json;
        EXPECT_FALSE(e.event_type.empty()) << b.json;
    }
}

TEST(malformed, numbers_out_of_range) {
    const std::string head =
        R"({"type":"conversation.item.truncated","item_id":"i","audio_end_ms":5,"content_index":)";
    for (const char* n :
         {"99999999999", "-99999999999", "1.5", "18446744073709551616", "1e300", "-1e300"}) {
        const decode_error e = expect_error(decode_server(head + n + "}"));
        EXPECT_EQ(e.field, "content_index") << n;
    }
    // Too large even for a double: a parse error, not a crash.
    expect_error(decode_server(head + "1e400}"));
    // Integral floats are integers.
    const auto ok = decode_server(head + "3.0}");
    ASSERT_TRUE(std::holds_alternative<server::conversation_item_truncated>(ok));
    EXPECT_EQ(std::get<server::conversation_item_truncated>(ok).content_index, 3);
    // The full int64 range of audio_end_ms.
    const auto big = decode_server(
        R"({"type":"conversation.item.truncated","item_id":"i","content_index":0,"audio_end_ms":9223372036854775807})");
    ASSERT_TRUE(std::holds_alternative<server::conversation_item_truncated>(big));
    EXPECT_EQ(std::get<server::conversation_item_truncated>(big).audio_end_ms, INT64_MAX);
    const decode_error e = expect_error(decode_server(
        R"({"type":"conversation.item.truncated","item_id":"i","content_index":0,"audio_end_ms":9223372036854775808})"));
    EXPECT_EQ(e.field, "audio_end_ms");
}

TEST(malformed, invalid_utf8_is_rejected) {
    const std::string text =
        "{\"type\":\"response.output_text.delta\",\"response_id\":\"r\",\"item_id\":\"i\","
        "\"output_index\":0,\"content_index\":0,\"delta\":\"caf\xc3\x28\"}";
    const decode_error e = expect_error(decode_server(text));
    EXPECT_NE(e.message.find("invalid JSON"), std::string::npos) << e.message;
    // Valid multi-byte UTF-8 and escapes go through.
    const auto ok = decode_server(
        R"({"type":"response.output_text.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"caf\u00e9 \ud83d\ude00 \"q\""})");
    ASSERT_TRUE(std::holds_alternative<server::output_text_delta>(ok));
    EXPECT_EQ(std::get<server::output_text_delta>(ok).delta, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"");
}

TEST(malformed, deep_nesting_is_refused_without_recursion) {
    const std::size_t n = 200000;
    const std::string deep = std::string(n, '[') + std::string(n, ']');
    expect_error(decode_server(deep));
    const std::string in_event =
        R"({"type":"error","error":{"type":"t","message":"m","x":)" + std::string(n, '{') + "";
    expect_error(decode_server(in_event));
    // Deep inside a tool's parameters: refused with a message that says why.
    std::string params;
    for (int i = 0; i < 200; ++i) params += R"({"a":)";
    params += "1";
    params += std::string(200, '}');
    const decode_error e = expect_error(decode_client(
        R"({"type":"session.update","session":{"type":"realtime","tools":[{"type":"function","name":"f","parameters":)" +
        params + "}]}}"));
    EXPECT_NE(e.message.find("deeper"), std::string::npos) << e.message;
    // Ordinary schema depth is fine.
    EXPECT_TRUE(std::holds_alternative<client::session_update>(decode_client(
        R"({"type":"session.update","session":{"type":"realtime","tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"array","items":{"type":"string"}}}}}}}]}})")));
}

TEST(malformed, bad_base64_audio) {
    const std::string head =
        R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":")";
    for (const char* b64 : {"abc", "ab=c", "####", "AA==", "AAAA AAA", "AAAAAAA=A",
                            "A===", "QUJD\\n", "AAAA====", "\\u00e9AAA"}) {
        const decode_error e = expect_error(decode_server(head + b64 + "\"}"));
        EXPECT_EQ(e.event_type, "response.output_audio.delta") << b64;
        EXPECT_EQ(e.field, "delta") << b64;
    }
    const decode_error e =
        expect_error(decode_client(R"({"type":"input_audio_buffer.append","audio":"AA=="})"));
    EXPECT_EQ(e.field, "audio");
    const decode_error e2 =
        expect_error(decode_client(R"({"type":"input_audio_buffer.append","audio":7})"));
    EXPECT_EQ(e2.field, "audio");
    const decode_error e3 = expect_error(decode_client(
        R"({"type":"conversation.item.create","item":{"type":"message","content":[{"type":"input_audio","audio":"!!!!"}]}})"));
    EXPECT_EQ(e3.field, "item.content[0].audio");
}

// Every golden file, damaged in many ways: decode returns (anything) and never throws or
// crashes; a damaged text that still decodes to an event re-encodes without throwing.
TEST(malformed, damaged_goldens_never_crash) {
    std::vector<std::string> texts;
    for (const char* rel :
         {"client/session.update.full.json", "client/response.create.overrides.json",
          "client/conversation.item.create.audio.json", "server/response.done.failed.json",
          "server/session.created.json", "server/rate_limits.updated.json",
          "server/response.output_audio.delta.json", "server/conversation.item.retrieved.json"}) {
        texts.push_back(test::golden(rel));
    }
    std::mt19937 rng(20240611);  // fixed seed: the same damage every run
    const std::string alphabet = "{}[]\":,0123456789.-+eE nulltruefalse\\\xff\xc3";
    int decoded = 0;
    for (const std::string& original : texts) {
        for (int round = 0; round < 300; ++round) {
            std::string t = original;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int k = 0; k < edits && !t.empty(); ++k) {
                const std::size_t pos = rng() % t.size();
                switch (rng() % 4) {
                    case 0:
                        t[pos] = alphabet[rng() % alphabet.size()];
                        break;
                    case 1:
                        t.erase(pos, 1 + rng() % 8);
                        break;
                    case 2:
                        t.insert(pos, 1, alphabet[rng() % alphabet.size()]);
                        break;
                    default:
                        t.resize(pos);
                        break;
                }
            }
            const server_event s = decode_server(t);
            const client_event c = decode_client(t);
            if (!std::holds_alternative<decode_error>(s)) {
                ++decoded;
                EXPECT_NO_THROW((void)encode(s));
            }
            if (!std::holds_alternative<decode_error>(c)) {
                EXPECT_NO_THROW((void)encode(c));
            }
            EXPECT_NO_THROW((void)elide_audio(t));
        }
    }
    EXPECT_GT(decoded, 0);  // some damage (inside strings) still decodes
}

TEST(encode_promises, invalid_utf8_is_replaced_not_thrown) {
    client::session_update ev;
    ev.session.instructions = std::string("caf\xc3\x28 \xff");
    std::string text;
    ASSERT_NO_THROW(text = encode(ev));
    const auto back = decode_client(text);
    ASSERT_TRUE(std::holds_alternative<client::session_update>(back)) << text;
    EXPECT_EQ(*std::get<client::session_update>(back).session.instructions,
              "caf\xef\xbf\xbd( \xef\xbf\xbd");
    // Same on the hot path's quoted ids.
    client::input_audio_buffer_append a{std::string("id\xff\"\n"), {1, 2}};
    const auto back2 = decode_client(encode(a));
    ASSERT_TRUE(std::holds_alternative<client::input_audio_buffer_append>(back2));
    EXPECT_EQ(std::get<client::input_audio_buffer_append>(back2).event_id, "id\xef\xbf\xbd\"\n");
}

TEST(encode_promises, invalid_parameters_json_is_sent_as_a_string) {
    client::session_update ev;
    ev.session.tools = std::vector<tool_def>{
        {.name = "broken", .description = "d", .parameters_json = "{not json"},
        {.name = "deep", .description = "d", .parameters_json = std::string(100000, '[')}};
    std::string text;
    ASSERT_NO_THROW(text = encode(ev));
    EXPECT_TRUE(test::json_equal(text,
                                 R"({"type":"session.update","session":{"type":"realtime","tools":[
            {"type":"function","name":"broken","description":"d","parameters":"{not json"},
            {"type":"function","name":"deep","description":"d","parameters":")" +
                                     std::string(100000, '[') + R"("}]}})"));
    // And it round-trips: the string comes back as the same text.
    EXPECT_EQ(decode_client(text), client_event(ev));
}

TEST(encode_promises, tool_parameters_are_embedded_as_json) {
    client::response_create ev;
    ev.response = response_overrides{};
    ev.response->tools = std::vector<tool_def>{
        {.name = "f", .description = "", .parameters_json = R"( { "type" : "object" } )"}};
    EXPECT_TRUE(test::json_equal(
        encode(ev),
        R"({"type":"response.create","response":{"tools":[{"type":"function","name":"f","description":"","parameters":{"type":"object"}}]}})"));
}

TEST(encode_promises, special_values) {
    session_config s;
    s.speed = std::nan("");
    s.max_output_tokens = max_tokens_inf;
    s.tool_choice = "none";
    EXPECT_TRUE(test::json_equal(
        encode(client::session_update{"", s}),
        R"({"type":"session.update","session":{"type":"realtime","audio":{"output":{"speed":null}},"tool_choice":"none","max_output_tokens":"inf"}})"));
    EXPECT_TRUE(test::json_equal(encode(client_event(unknown_event{"x.y"})), R"({"type":"x.y"})"));
    EXPECT_TRUE(
        test::json_equal(encode(server_event(decode_error{"t", "f", "m"})),
                         R"({"type":"decode_error","event_type":"t","field":"f","message":"m"})"));
}

}  // namespace
}  // namespace ava::realtime
