// Unit tests of the simulator's pieces: scenario files, the GA schema, VAD, base64, voice.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "ava/core/base64.hpp"
#include "ava/sim/server.hpp"
#include "scenario.hpp"
#include "session_schema.hpp"
#include "voice.hpp"
#include "wire_audio.hpp"

namespace ava::sim::detail {
namespace {

TEST(sim_scenario, shipped_examples_load) {
    const std::filesystem::path dir = std::filesystem::path(AVA_SOURCE_DIR) / "sim" / "scenarios";
    int n = 0;
    bool saw_tools = false;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        scenario s = load_scenario(entry.path().string());
        EXPECT_FALSE(s.turns.empty()) << entry.path();
        for (const auto& t : s.turns)
            for (const auto& c : t.calls) {
                EXPECT_TRUE(nlohmann::json::accept(c.arguments)) << c.arguments;
                saw_tools = saw_tools || c.name == "send_email";
            }
        ++n;
    }
    EXPECT_GE(n, 2);
    EXPECT_TRUE(saw_tools) << "a shipped scenario exercises the tools";
}

TEST(sim_scenario, strict_parse_names_the_bad_key) {
    try {
        parse_scenario_json(R"({"turns":[{"reply":"x","replly":"y"}]})", "t.json");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("turns[1].replly"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_scenario_json(R"({"turns":[{"calls":[{"name":"f"}]}]})", "t"),
                 std::runtime_error);  // calls need a followup
    EXPECT_THROW(
        parse_scenario_json(R"({"turns":[{"reply":"x","faults":[{"kind":"explode"}]}]})", "t"),
        std::runtime_error);
    EXPECT_THROW(parse_scenario_json("{", "t"), std::runtime_error);
}

TEST(sim_scenario, toml_and_placeholders) {
    const std::string path =
        (std::filesystem::temp_directory_path() / "ava-sim-unit.toml").string();
    std::ofstream(path)
        << "loop = true\n[[turns]]\nuser = \"hi\"\nreply = \"one\"\n"
           "followup = \"It is {output:check_weather}; {output:unknown}.\"\n"
           "[[turns.calls]]\nname = \"check_weather\"\narguments = { city = \"Oslo\" }\n";
    scenario s = load_scenario(path);
    ASSERT_EQ(s.turns.size(), 1u);
    EXPECT_TRUE(s.loop);
    EXPECT_EQ(nlohmann::json::parse(s.turns[0].calls[0].arguments)["city"], "Oslo");
    EXPECT_EQ(substitute_outputs(s.turns[0].followup, {{"check_weather", "sunny"}}),
              "It is sunny; {output:unknown}.");
    std::ofstream(path) << "turns = [ { reply = 1 } ]\n";
    EXPECT_THROW(load_scenario(path), std::runtime_error);
    std::ofstream(path) << "this is not toml\n";
    EXPECT_THROW(load_scenario(path), std::runtime_error);
}

TEST(sim_schema, defaults_validate_against_themselves) {
    nlohmann::json s = default_session("gpt-realtime", "marin");
    nlohmann::json update = s;
    update.erase("object");
    EXPECT_FALSE(validate_session_update(update, s).has_value());
    update["audio"]["input"]["turn_detection"] = turn_detection_defaults("semantic_vad");
    EXPECT_FALSE(validate_session_update(update, s).has_value());
    update["model"] = "gpt-other";
    EXPECT_EQ(validate_session_update(update, s)->param, "session.model");
}

TEST(sim_vad, threshold_mapping_and_timing) {
    EXPECT_NEAR(20 * std::log10(energy_vad::level_for_threshold(0.5)), -40, 1e-9);
    EXPECT_NEAR(20 * std::log10(energy_vad::level_for_threshold(0.0)), -70, 1e-9);
    EXPECT_NEAR(20 * std::log10(energy_vad::level_for_threshold(1.0)), -10, 1e-9);
    energy_vad vad;
    vad.configure({.threshold = 0.5, .prefix_padding_ms = 100, .silence_duration_ms = 200});
    std::vector<std::int16_t> loud(240, 8000), quiet(240, 0);
    std::int64_t pos = 0;
    int started_at = -1, stopped_at = -1;
    for (int i = 0; i < 100; ++i) {
        const bool speech = i >= 50 && i < 70;  // 500..700 ms
        pos += 240;
        auto ev = vad.feed_block(speech ? loud.data() : quiet.data(), 240, pos);
        if (ev == energy_vad::event::started) started_at = i;
        if (ev == energy_vad::event::stopped) stopped_at = i;
    }
    EXPECT_EQ(started_at, 52);  // after 30 ms of speech
    EXPECT_EQ(vad.start_sample(), (500 - 100) * 24);
    EXPECT_EQ(stopped_at, 89);  // 200 ms of silence after 700 ms
}

// The simulator's base64 is core::base64 (strict decoding, as the simulator needs).
TEST(sim_base64, roundtrip_and_strictness) {
    const std::string text = "hello, wire";
    for (std::size_t n = 0; n <= text.size(); ++n) {
        const std::string enc = core::base64_encode(std::string_view(text.data(), n));
        auto dec = core::base64_decode(enc);
        ASSERT_TRUE(dec.has_value());
        EXPECT_EQ(std::string(dec->begin(), dec->end()), text.substr(0, n));
    }
    EXPECT_FALSE(core::base64_decode("abc").has_value());
    EXPECT_FALSE(core::base64_decode("ab!d").has_value());
    EXPECT_FALSE(core::base64_decode("a=bc").has_value());
}

TEST(sim_g711, roundtrip_keeps_the_signal) {
    std::vector<std::int16_t> pcm(2400);
    for (std::size_t i = 0; i < pcm.size(); ++i)
        pcm[i] = static_cast<std::int16_t>(8000 * std::sin(static_cast<double>(i) * 0.05));
    for (bool ulaw : {true, false}) {
        auto enc = pcm24k_to_g711(pcm.data(), pcm.size(), ulaw);
        EXPECT_EQ(enc.size(), 800u);
        auto back = g711_to_pcm24k(enc, ulaw);
        ASSERT_EQ(back.size(), pcm.size());
        double err = 0, sig = 0;
        for (std::size_t i = 30; i < pcm.size(); ++i) {
            err += std::pow(back[i] - pcm[i > 3 ? i - 3 : 0], 2);
            sig += std::pow(pcm[i], 2);
        }
        EXPECT_LT(err / sig, 0.1) << (ulaw ? "ulaw" : "alaw");
    }
}

TEST(sim_voice, both_engines_are_audible_and_sized_like_speech) {
    auto tone = synthesize("one two three four", "marin", 1.0, "tone");
    ASSERT_FALSE(tone->empty());
    EXPECT_NEAR(static_cast<double>(tone->size()) / 24000.0, 4 * 0.19, 0.05);
    double peak = 0;
    for (auto s : *tone) peak = std::max(peak, std::abs(static_cast<double>(s)));
    EXPECT_GT(peak, 5000);
    if (espeak_available()) {
        auto speech = synthesize("turn off the living room lights", "marin", 1.0, "espeak");
        const double seconds = static_cast<double>(speech->size()) / 24000.0;
        EXPECT_GT(seconds, 1.0);
        EXPECT_LT(seconds, 4.0);
        auto fast = synthesize("turn off the living room lights", "marin", 1.5, "espeak");
        EXPECT_LT(fast->size(), speech->size());
        EXPECT_EQ(synthesize("turn off the living room lights", "marin", 1.0, "espeak").get(),
                  speech.get())
            << "cached";
    }
}

TEST(sim_faults, parse_fault_specs) {
    fault f =
        parse_fault("kind=close,turn=2,at=response.output_audio.delta,nth=3,code=4000,abrupt=0");
    EXPECT_EQ(f.kind, "close");
    EXPECT_EQ(f.turn, 2);
    EXPECT_EQ(f.nth, 3);
    EXPECT_EQ(f.code, 4000);
    EXPECT_FALSE(f.abrupt);
    EXPECT_THROW(parse_fault("kind=boom"), std::invalid_argument);
    EXPECT_THROW(parse_fault("kind=stall,ms=soon"), std::invalid_argument);
    EXPECT_THROW(parse_fault("kind=stall,colour=red"), std::invalid_argument);
}

}  // namespace
}  // namespace ava::sim::detail

TEST(sim_summary, error_codes_are_counted_not_repeated) {
    // #20 probe 8: 50,000 bad events made the summary one 2.5 MB line.
    ava::sim::summary s;
    ava::sim::session_summary ss;
    ss.id = "sess_1";
    ss.errors_sent = 50001;
    ss.error_codes.assign(1000, "invalid_json");
    ss.error_codes.push_back("invalid_value");
    s.per_session.push_back(ss);
    const std::string text = ava::sim::format_summary(s);
    EXPECT_NE(text.find("errors 50001 [invalid_json x1000 invalid_value]"), std::string::npos)
        << text;
    EXPECT_LT(text.size(), 600U);
}
