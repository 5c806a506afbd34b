// The relay's control messages: strict where acted on, every error naming its field.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "protocol.hpp"

namespace ava::relay::proto {
namespace {

template <class T>
T as(const control& c) {
    if (const auto* b = std::get_if<bad>(&c)) ADD_FAILURE() << b->code << ": " << b->message;
    EXPECT_TRUE(std::holds_alternative<T>(c));
    return std::holds_alternative<T>(c) ? std::get<T>(c) : T{};
}

bad err(const control& c) {
    EXPECT_TRUE(std::holds_alternative<bad>(c));
    return std::holds_alternative<bad>(c) ? std::get<bad>(c) : bad{};
}

TEST(RelayProtocol, ReadsEachMessage) {
    EXPECT_EQ(as<text_input>(parse_control(R"({"type":"text_input","text":"hi","x":1})")).text,
              "hi");
    as<interrupt>(parse_control(R"({"type":"interrupt"})"));
    EXPECT_TRUE(as<mute>(parse_control(R"({"type":"mute"})")).on);
    EXPECT_FALSE(as<mute>(parse_control(R"({"type":"unmute"})")).on);
    EXPECT_TRUE(as<talk>(parse_control(R"({"type":"talk","pressed":true})")).pressed);
    const auto p = as<playback_position>(parse_control(
        R"({"type":"playback_position","item_id":"i1","played_ms":250,"interrupted":true})"));
    EXPECT_EQ(p.item_id, "i1");
    EXPECT_EQ(p.played_samples, 6000);
    EXPECT_TRUE(p.interrupted);
    EXPECT_EQ(as<playback_position>(parse_control(R"({"type":"playback_position","item_id":"i",)"
                                                  R"("played_ms":1,"played_samples":31})"))
                  .played_samples,
              31);
    const auto s = as<settings>(parse_control(
        R"({"type":"settings","voice":"sage","speed":1.1,)"
        R"("turn_detection":{"type":"server_vad","threshold":0.6,"silence_ms":400,"prefix_ms":200}})"));
    EXPECT_EQ(s.patch.voice, "sage");
    EXPECT_DOUBLE_EQ(*s.patch.speed, 1.1);
    ASSERT_TRUE(s.patch.turn);
    EXPECT_EQ(s.patch.turn->type, realtime::vad_type::server_vad);
    EXPECT_DOUBLE_EQ(*s.patch.turn->threshold, 0.6);
    EXPECT_EQ(*s.patch.turn->silence_duration_ms, 400);
    EXPECT_EQ(*s.patch.turn->prefix_padding_ms, 200);
    EXPECT_EQ(as<settings>(parse_control(R"({"type":"settings","turn_detection":{"type":"none"}})"))
                  .patch.turn->type,
              realtime::vad_type::none);
    EXPECT_FALSE(as<events>(parse_control(R"({"type":"events","enabled":false})")).enabled);
    as<ping>(parse_control(R"({"type":"ping"})"));
}

TEST(RelayProtocol, ErrorsNameTheField) {
    EXPECT_EQ(err(parse_control("nope")).code, "bad_json");
    EXPECT_EQ(err(parse_control("[1]")).code, "bad_message");
    EXPECT_EQ(err(parse_control("{}")).message, "type: missing");
    EXPECT_EQ(err(parse_control(R"({"type":3})")).message, "type: must be a string");
    EXPECT_EQ(err(parse_control(R"({"type":"fly"})")).code, "unknown_type");
    EXPECT_EQ(err(parse_control(R"({"type":"text_input"})")).message, "text_input.text: missing");
    EXPECT_EQ(err(parse_control(R"({"type":"text_input","text":""})")).message,
              "text_input.text: empty");
    EXPECT_EQ(err(parse_control(R"({"type":"talk","pressed":"yes"})")).message,
              "talk.pressed: must be true or false");
    EXPECT_EQ(err(parse_control(R"({"type":"settings","speed":2})")).message,
              "settings.speed: must be within 0.25..1.5");
    EXPECT_EQ(err(parse_control(R"({"type":"settings"})")).message,
              "settings: give voice, speed or turn_detection");
    EXPECT_EQ(err(parse_control(R"({"type":"settings","turn_detection":{"type":"x"}})")).message,
              "settings.turn_detection.type: must be server_vad, semantic_vad or none");
    EXPECT_EQ(
        err(parse_control(
                R"({"type":"settings","turn_detection":{"type":"server_vad","threshold":"high"}})"))
            .message,
        "settings.turn_detection.threshold: must be a number");
    EXPECT_EQ(err(parse_control(R"({"type":"playback_position","played_ms":1})")).message,
              "playback_position.item_id: missing");
    EXPECT_EQ(err(parse_control(R"({"type":"playback_position","item_id":"i"})")).message,
              "playback_position.played_ms: missing");
    EXPECT_EQ(
        err(parse_control(R"({"type":"playback_position","item_id":"i","played_ms":-1})")).message,
        "playback_position.played_ms: must be within 0..8.64e+07");
    std::string deep(200, '[');
    EXPECT_EQ(err(parse_control(deep)).code, "bad_json");
}

}  // namespace
}  // namespace ava::relay::proto
