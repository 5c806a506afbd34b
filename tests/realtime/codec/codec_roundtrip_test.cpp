// Round trips over every variant alternative, base64, the append fast path, elide_audio and
// type_of.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "ava/realtime/codec_peer.hpp"
#include "test_util.hpp"

namespace ava::realtime {
namespace {

// encode then decode gives the same event, for a default-constructed value of every
// alternative (but decode_error, which is not a wire event).
template <class Variant, class Decode, std::size_t... I>
void roundtrip_defaults(Decode decode, std::index_sequence<I...>) {
    (
        [&] {
            using E = std::variant_alternative_t<I, Variant>;
            if constexpr (!std::is_same_v<E, decode_error>) {
                Variant ev{std::in_place_index<I>, E{}};
                if constexpr (std::is_same_v<E, unknown_event>) {
                    std::get<I>(ev).type = "some.future_event";
                }
                const std::string text = encode(ev);
                EXPECT_EQ(decode(text), ev) << "alternative " << I << ": " << text;
            }
        }(),
        ...);
}

TEST(roundtrip, every_client_alternative_default_value) {
    roundtrip_defaults<client_event>(&decode_client,
                                     std::make_index_sequence<std::variant_size_v<client_event>>{});
}

TEST(roundtrip, every_server_alternative_default_value) {
    roundtrip_defaults<server_event>(&decode_server,
                                     std::make_index_sequence<std::variant_size_v<server_event>>{});
}

// Populated values: every alternative with all its fields set to something other than the
// default, so a field the encoder forgets (or the decoder drops) shows up.
TEST(roundtrip, populated_events) {
    session_config s;
    s.id = "sess_x";
    s.object = "realtime.session";
    s.expires_at = 1;
    s.model = "m";
    s.output_modalities = std::vector<std::string>{"text"};
    s.instructions = "line1\nline2 \"quoted\" \\ \t \u00e9";
    s.input_format = audio_format{.type = "audio/pcm", .rate = 24000};
    s.noise_reduction = "far_field";
    s.input_transcription =
        transcription{.model = "gpt-4o-transcribe", .language = "de", .prompt = "p"};
    s.turn = turn_detection{.type = vad_type::semantic_vad,
                            .eagerness = "high",
                            .create_response = false,
                            .interrupt_response = false};
    s.output_format = audio_format{.type = "audio/pcmu", .rate = std::nullopt};
    s.voice = "alloy";
    s.speed = 0.25;
    s.tools = std::vector<tool_def>{
        {.name = "a",
         .description = "b",
         .parameters_json = R"({"type":"object","properties":{"x":{"type":"integer"}}})"}};
    s.tool_choice = "a";
    s.max_output_tokens = 4096;
    s.truncation = "disabled";
    s.tracing = R"({"workflow_name":"w"})";
    const item msg{.id = "i1",
                   .object = "realtime.item",
                   .type = "message",
                   .status = "completed",
                   .role = "user",
                   .content = {{.type = "input_text", .text = "t"},
                               {.type = "input_audio", .transcript = "tr", .audio = {1, -2, 3}},
                               {.type = "output_text", .text = "o"},
                               {.type = "output_audio", .transcript = "heard"}}};
    const item call{.id = "i2",
                    .type = "function_call",
                    .status = "in_progress",
                    .call_id = "c",
                    .name = "n",
                    .arguments = "{}"};
    const item out{.type = "function_call_output", .call_id = "c", .output = "ok"};
    usage u;
    u.total_tokens = 9;
    u.input_tokens = 4;
    u.output_tokens = 5;
    u.input_details = {};
    u.input_details.text_tokens = 1;
    u.input_details.audio_tokens = 2;
    u.input_details.image_tokens = 1;
    u.input_details.cached_tokens = 3;
    u.input_details.cached_tokens_details = {1, 1, 1};
    u.output_details = {.text_tokens = 2, .audio_tokens = 3, .image_tokens = 0};
    const response_info r{
        .id = "r",
        .object = "realtime.response",
        .status = "incomplete",
        .details = status_details{.type = "incomplete", .reason = "max_output_tokens"},
        .output = {msg, call},
        .usage = u,
        .conversation_id = "conv",
        .output_modalities = std::vector<std::string>{"audio"},
        .metadata = {{"a", "1"}, {"b", "2"}}};
    const error_info err{.type = "invalid_request_error",
                         .code = "c",
                         .message = "m",
                         .param = "p",
                         .event_id = "e"};

    const std::vector<client_event> clients{
        client::session_update{"e1", s},
        client::input_audio_buffer_append{"e2", std::vector<core::sample>(480, -7)},
        client::input_audio_buffer_commit{"e3"},
        client::input_audio_buffer_clear{"e4"},
        client::conversation_item_create{"e5", "i0", msg},
        client::conversation_item_create{"e5b", std::nullopt, out},
        client::conversation_item_truncate{"e6", "i1", 2, 123456789012},
        client::conversation_item_delete{"e7", "i1"},
        client::conversation_item_retrieve{"e8", "i1"},
        client::response_create{
            "e9", response_overrides{.instructions = "x",
                                     .tools = s.tools,
                                     .tool_choice = "none",
                                     .output_modalities = std::vector<std::string>{"audio"},
                                     .voice = "voice_custom",
                                     .max_output_tokens = max_tokens_inf,
                                     .conversation = "auto",
                                     .metadata = {{"k", "v"}}}},
        client::response_cancel{"e10", "r"},
        unknown_event{"x"},
    };
    for (const client_event& ev : clients) EXPECT_EQ(decode_client(encode(ev)), ev) << encode(ev);

    const std::vector<server_event> servers{
        server::error{"s1", err},
        server::session_created{"s2", s},
        server::session_updated{"s3", s},
        server::conversation_item_added{"s4", "p", msg},
        server::conversation_item_done{"s5", std::nullopt, call},
        server::conversation_item_truncated{"s6", "i", 1, 2},
        server::conversation_item_deleted{"s7", "i"},
        server::conversation_item_retrieved{"s8", out},
        server::input_transcription_delta{"s9", "i", 1, "d"},
        server::input_transcription_completed{"s10", "i", 1, "t", std::nullopt},
        server::input_transcription_failed{"s11", "i", 1, err},
        server::speech_started{"s12", 5, "i"},
        server::speech_stopped{"s13", 6, "i"},
        server::input_audio_committed{"s14", std::nullopt, "i"},
        server::input_audio_cleared{"s15"},
        server::input_audio_timeout_triggered{"s16", 1, 2, "i"},
        server::response_created{"s17", r},
        server::response_done{"s18", r},
        server::output_item_added{"s19", "r", 1, msg},
        server::output_item_done{"s20", "r", 2, call},
        server::content_part_added{"s21", "r", "i", 1, 2,
                                   content_part{.type = "output_audio", .transcript = "x"}},
        server::content_part_done{"s22", "r", "i", 1, 2,
                                  content_part{.type = "output_text", .text = "x"}},
        server::output_audio_delta{"s23", "r", "i", 1, 2, std::vector<core::sample>(2400, 31000)},
        server::output_audio_done{"s24", "r", "i", 1, 2},
        server::output_audio_transcript_delta{"s25", "r", "i", 1, 2, "d"},
        server::output_audio_transcript_done{"s26", "r", "i", 1, 2, "t"},
        server::output_text_delta{"s27", "r", "i", 1, 2, "d"},
        server::output_text_done{"s28", "r", "i", 1, 2, "t"},
        server::function_call_arguments_delta{"s29", "r", "i", 1, "c", "{"},
        server::function_call_arguments_done{"s30", "r", "i", 1, "c", "n", "{}"},
        server::rate_limits_updated{"s31", {{"requests", 1, 0, 0.5}}},
        unknown_event{"y"},
    };
    std::vector<bool> covered(std::variant_size_v<server_event>, false);
    for (const server_event& ev : servers) {
        covered[ev.index()] = true;
        EXPECT_EQ(decode_server(encode(ev)), ev) << encode(ev);
    }
    for (std::size_t i = 0; i + 1 < covered.size(); ++i) EXPECT_TRUE(covered[i]) << i;
}

// ---- base64 ------------------------------------------------------------------------------------

TEST(base64, known_vectors) {
    EXPECT_EQ(base64_encode(test::pcm_a()), "AAABAP///38AgAABAP/oAw==");
    EXPECT_EQ(base64_encode(test::pcm_b()), "OTDHzwcA");
    EXPECT_EQ(base64_encode({}), "");
    const std::vector<core::sample> one{0x4241};  // bytes 'A' 'B' (little-endian)
    EXPECT_EQ(base64_encode(one), "QUI=");
    EXPECT_EQ(base64_decode_pcm("QUI="), one);
    EXPECT_EQ(base64_decode_pcm("AAABAP///38AgAABAP/oAw=="), test::pcm_a());
    EXPECT_EQ(base64_decode_pcm(""), std::vector<core::sample>{});
}

TEST(base64, roundtrip_every_padding_and_large) {
    for (std::size_t n = 0; n < 40; ++n) {
        std::vector<core::sample> pcm(n);
        for (std::size_t i = 0; i < n; ++i) pcm[i] = static_cast<core::sample>(i * 2654435761u);
        const std::string b64 = base64_encode(pcm);
        EXPECT_EQ(b64.size() % 4, 0u);
        EXPECT_EQ(base64_decode_pcm(b64), pcm) << n;
    }
    // Bigger than one EVP chunk (3 MiB of bytes): the chunks must join into one valid text.
    std::vector<core::sample> big(2 * 1024 * 1024 + 7);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<core::sample>(i * 40503u);
    const std::string b64 = base64_encode(big);
    EXPECT_EQ(b64.size(), (big.size() * 2 + 2) / 3 * 4);
    EXPECT_EQ(base64_decode_pcm(b64), big);
}

TEST(base64, rejects_invalid_input) {
    for (const char* bad :
         {"A", "AB", "ABC", "AB=C", "A===", "====", "QUI", "AA==", "AAAAAAA=", "QU I=", " QUI",
          "QUI=\n", "    QUI=", "QUI=QUI=", "QU*=", "QUI=====", "\xc3\xa9QUI"}) {
        EXPECT_EQ(base64_decode_pcm(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(base64_decode_pcm(std::string("QU\0=", 4)), std::nullopt);
}

TEST(append_fast_path, equals_the_generic_encoding) {
    const std::vector<core::sample> frame(core::frame_samples, 1234);
    const std::string fast = encode_append(frame, "evt_1");
    EXPECT_TRUE(test::json_equal(
        fast, R"({"type":"input_audio_buffer.append","event_id":"evt_1","audio":")" +
                  base64_encode(frame) + R"("})"));
    EXPECT_EQ(fast, encode(client::input_audio_buffer_append{"evt_1", frame}));
    EXPECT_EQ(encode_append({}, ""), R"({"type":"input_audio_buffer.append","audio":""})");
    const auto back = decode_client(fast);
    ASSERT_TRUE(std::holds_alternative<client::input_audio_buffer_append>(back));
    EXPECT_EQ(std::get<client::input_audio_buffer_append>(back).audio, frame);
}

TEST(output_audio_delta_fast_path, is_valid_json_with_escaped_ids) {
    const server::output_audio_delta d{"e\"1", "r\\1", "i\n1", 3, 4, {5, 6}};
    const std::string text = encode(server_event(d));
    EXPECT_TRUE(test::json_equal(
        text,
        R"({"type":"response.output_audio.delta","event_id":"e\"1","response_id":"r\\1","item_id":"i\n1","output_index":3,"content_index":4,"delta":"BQAGAA=="})"));
    EXPECT_EQ(decode_server(text), server_event(d));
}

// ---- elide_audio ------------------------------------------------------------------------------

TEST(elide_audio, replaces_append_audio_with_its_size) {
    const std::string text = encode_append(std::vector<core::sample>(480, 9), "e");
    const std::string out = elide_audio(text);
    EXPECT_EQ(out, R"({"type":"input_audio_buffer.append","event_id":"e","audio":"<960 bytes>"})");
}

TEST(elide_audio, replaces_output_audio_delta_but_not_text_deltas) {
    const std::string audio = encode(server_event(
        server::output_audio_delta{"e", "r", "i", 0, 0, std::vector<core::sample>(1201, 1)}));
    EXPECT_TRUE(test::json_equal(
        elide_audio(audio),
        R"({"type":"response.output_audio.delta","event_id":"e","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"<2402 bytes>"})"));
    // Type after the delta, beta name, spaces.
    EXPECT_EQ(elide_audio(R"({ "delta" : "QUI=", "type" : "response.audio.delta" })"),
              R"({ "delta" : "<2 bytes>", "type" : "response.audio.delta" })");
    const std::string transcript =
        R"({"type":"response.output_audio_transcript.delta","delta":"QUI="})";
    EXPECT_EQ(elide_audio(transcript), transcript);
    // A nested "delta" or "type" does not count: only the event's own.
    const std::string nested =
        R"({"type":"x","item":{"type":"response.output_audio.delta","delta":"QUI="}})";
    EXPECT_EQ(elide_audio(nested), nested);
}

TEST(elide_audio, nested_audio_strings_but_not_the_session_audio_object) {
    const std::string text = test::golden("server/conversation.item.retrieved.json");
    const std::string out = elide_audio(text);
    EXPECT_EQ(out.find("OTDHzwcA"), std::string::npos);
    EXPECT_NE(out.find(R"("audio": "<6 bytes>")"), std::string::npos) << out;
    EXPECT_NE(out.find("what's the weather"), std::string::npos);
    const std::string session = test::golden("client/session.update.full.json");
    EXPECT_EQ(elide_audio(session), session);
}

TEST(elide_audio, tricky_and_malformed_text) {
    // An escaped quote inside a string must not end it; a value "audio" is not a key.
    const std::string tricky =
        R"({"type":"x","text":"say \"audio\": \"QUI=\"","kind":"audio","audio":"QUI="})";
    EXPECT_EQ(
        elide_audio(tricky),
        R"({"type":"x","text":"say \"audio\": \"QUI=\"","kind":"audio","audio":"<2 bytes>"})");
    const std::string backslashes = R"({"a":"\\","audio":"QUI="})";
    EXPECT_EQ(elide_audio(backslashes), R"({"a":"\\","audio":"<2 bytes>"})");
    // Truncated text: returned as it is, no crash.
    for (const std::string t : {R"({"audio":"QUI)", R"({"audio":)", R"({"au)", "\"", "", "}}]]"}) {
        EXPECT_EQ(elide_audio(t), t);
    }
}

TEST(type_of, names_every_event) {
    EXPECT_EQ(type_of(client_event(client::response_cancel{})), "response.cancel");
    EXPECT_EQ(type_of(client_event(unknown_event{"x"})), "unknown");
    EXPECT_EQ(type_of(client_event(decode_error{})), "decode_error");
    EXPECT_EQ(type_of(server_event(server::output_audio_delta{})), "response.output_audio.delta");
    EXPECT_EQ(type_of(server_event(server::error{})), "error");
    EXPECT_EQ(type_of(server_event(unknown_event{"x"})), "unknown");
    EXPECT_EQ(type_of(server_event(decode_error{})), "decode_error");
}

}  // namespace
}  // namespace ava::realtime

namespace ava::realtime {
namespace {

// decode_server has a tree-free fast path for output_audio.delta. Texts that it accepts and
// texts that take the general path (escapes, floats, nested values, errors) must decode alike.
TEST(output_audio_delta_fast_path, agrees_with_the_general_path) {
    const server_event expected = server::output_audio_delta{"e1", "r1", "i1", 2, 3, {0x4241}};
    const char* same[] = {
        // plain: the fast path
        R"({"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"QUI="})",
        R"(  { "delta" : "QUI=" , "content_index":3,"output_index":2,"item_id":"i1","response_id":"r1","event_id":"e1","type":"response.audio.delta" } )",
        R"({"type":"x","type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"QUI=","extra":null,"n":-5})",
        // general: escapes, floats, nested unknown fields
        R"({"type":"response.output_audio.delta","event_id":"e\u0031","response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"QUI="})",
        R"({"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":2.0,"content_index":3,"delta":"QUI="})",
        R"({"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"QUI=","x":{"y":[true]}})",
        R"({"type":"response.output_audio.delta","event_id":"e1","response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"Q\u0055I="})",
    };
    for (const char* text : same) EXPECT_EQ(decode_server(text), expected) << text;

    const server_event null_id = decode_server(
        R"({"type":"response.output_audio.delta","event_id":null,"response_id":"r1","item_id":"i1","output_index":2,"content_index":3,"delta":"QUI="})");
    ASSERT_TRUE(std::holds_alternative<server::output_audio_delta>(null_id));
    EXPECT_EQ(std::get<server::output_audio_delta>(null_id).event_id, "");

    // What JSON or the event forbids is a decode_error, whichever path saw it first.
    struct bad {
        const char* text;
        const char* field;
    };
    const bad errors[] = {
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":01,"content_index":0,"delta":""})",
         ""},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":-,"content_index":0,"delta":""})",
         ""},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":""} x)",
         ""},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"QUI"})",
         "delta"},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"QU\"I="})",
         "delta"},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"QU\nI="})",
         "delta"},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"QU)"
         "\n"
         R"(I="})",
         ""},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":3000000000,"content_index":0,"delta":""})",
         "output_index"},
        {R"({"type":"response.output_audio.delta","response_id":7,"item_id":"i","output_index":0,"content_index":0,"delta":""})",
         "response_id"},
        {R"({"type":"response.output_audio.delta","event_id":5,"response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":""})",
         "event_id"},
        {R"({"type":"response.output_audio.delta","response_id":"r","output_index":0,"content_index":0,"delta":""})",
         "item_id"},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0})",
         "delta"},
        {R"({"type":"response.output_audio.delta","response_id":"r","item_id":"i","output_index":0,"content_index":0,"delta":"QUI="})"
         "\n\x01",
         ""},
    };
    for (const bad& b : errors) {
        const server_event got = decode_server(b.text);
        const auto* err = std::get_if<decode_error>(&got);
        ASSERT_NE(err, nullptr) << b.text;
        EXPECT_EQ(err->field, b.field) << b.text << ": " << err->message;
    }
}

}  // namespace
}  // namespace ava::realtime
