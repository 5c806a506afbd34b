// The built-in table and command tools, end to end through the registry and the runner.
#include "ava/tools/builtin.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/tools/runner.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using namespace ava::tools;

TEST(builtin, registers_every_tool_and_says_why_it_is_not_offered) {
    tools_settings s;
    s.weather.enabled = true;
    s.lights.enabled = true;
    s.lights.base_url = "http://ha.local:8123";
    s.calendar.enabled = false;
    registry reg(s.default_timeout);
    register_builtin_tools(reg, s);
    ASSERT_EQ(reg.all().size(), 4u);
    const auto specs = reg.specs();
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].name, "check_weather");
    // A tool that is off says exactly what to set to turn it on (#19).
    EXPECT_EQ(reg.find("get_calendar_events")->reason,
              "disabled: set [tools.calendar] source = \"~/calendar.ics\" (a file, or an "
              "https:// or webcal:// URL)");
    EXPECT_EQ(reg.find("control_lights")->reason,
              "no Home Assistant token (set it or HOME_ASSISTANT_TOKEN)");
    EXPECT_EQ(reg.find("send_email")->reason.rfind("disabled: set [tools.email] smtp_url = ", 0),
              0u)
        << reg.find("send_email")->reason;
    // Every built-in schema is one the validator can check.
    for (const auto& t : reg.all()) EXPECT_NE(t->schema, nullptr) << t->spec().name;

    // The token as the config loader fills it from HOME_ASSISTANT_TOKEN (config_test checks the
    // mapping); the tools never read the environment themselves.
    s.lights.token = "token-from-env";
    registry reg2;
    register_builtin_tools(reg2, s);
    EXPECT_TRUE(reg2.find("control_lights")->offered);
}

TEST(builtin, with_no_config_the_weather_tool_is_offered_and_asks_where_without_a_home) {
    // #19: a new user with a key and no config got no tool at all.
    const tools_settings s;
    registry reg(s.default_timeout);
    register_builtin_tools(reg, s);
    const auto specs = reg.specs();
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].name, "check_weather");
    EXPECT_NE(specs[0].description.find("ask them where"), std::string::npos)
        << specs[0].description;
    tools_settings home;
    home.weather.default_location = "Berlin";
    registry reg2(home.default_timeout);
    register_builtin_tools(reg2, home);
    EXPECT_NE(reg2.find("check_weather")->spec().description.find("(Berlin)"), std::string::npos);
}

TEST(builtin, a_command_tool_can_require_approval) {
    tools_settings s;
    s.commands.push_back({.name = "wipe",
                          .description = "Wipes the scratch dir",
                          .argv = {"true"},
                          .require_approval = true});
    registry reg(s.default_timeout);
    register_builtin_tools(reg, s);
    EXPECT_TRUE(reg.find("wipe")->require_approval);
    EXPECT_FALSE(reg.find("check_weather")->require_approval);
}

TEST(builtin, a_command_tool_named_like_a_builtin_is_rejected) {
    tools_settings s;
    s.commands.push_back({.name = "check_weather", .description = "x", .argv = {"true"}});
    registry reg;
    EXPECT_THROW(register_builtin_tools(reg, s), ava::config_error);
}

class command_tools : public ::testing::Test {
  protected:
    void SetUp() override {
        tools_settings s;
        s.commands.push_back(
            {.name = "add",
             .description = "adds a and b",
             .parameters_json =
                 R"({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]})",
             // jq-free: python reads the JSON arguments from stdin.
             .argv = {"python3", "-c",
                      "import json,sys; a=json.load(sys.stdin); print(json.dumps({'sum': "
                      "a['a']+a['b']}))"}});
        s.commands.push_back(
            {.name = "words", .description = "plain text", .argv = {"echo", "hello there"}});
        s.commands.push_back(
            {.name = "fails",
             .description = "exits 2",
             .argv = {"sh", "-c", "echo 'bad input: x' >&2; echo second >&2; exit 2"}});
        s.commands.push_back(
            {.name = "slow", .description = "sleeps", .argv = {"sleep", "30"}, .timeout = 200ms});
        s.commands.push_back({.name = "chatty",
                              .description = "too much",
                              .argv = {"head", "-c", "100000", "/dev/zero"},
                              .max_output_bytes = 100});
        s.commands.push_back({.name = "broken", .description = "", .argv = {}});
        register_builtin_tools(reg_, s);
    }

    json run(const std::string& name, const std::string& args) {
        runner r(reg_);
        std::mutex m;
        std::condition_variable cv;
        std::optional<tool_result> got;
        r.submit({"c1", name, args}, [&](tool_result res) {
            std::lock_guard lk(m);
            got = std::move(res);
            cv.notify_all();
        });
        std::unique_lock lk(m);
        cv.wait_for(lk, 10s, [&] { return got.has_value(); });
        return got ? json::parse(got->output_json) : json{{"error", "no result"}};
    }

    registry reg_;
};

TEST_F(command_tools, arguments_on_stdin_answer_on_stdout) {
    EXPECT_EQ(run("add", R"({"a":2,"b":3.5})"), json({{"sum", 5.5}}));
    EXPECT_EQ(run("words", "{}"), json({{"output", "hello there"}}));
    EXPECT_EQ(run("add", R"({"a":2})")["error"],
              "invalid arguments for add: b: required but missing");
}

TEST_F(command_tools, failures_reach_the_model_in_words) {
    EXPECT_EQ(run("fails", "{}")["error"], "fails failed (exit status 2): bad input: x");
    EXPECT_EQ(run("slow", "{}")["error"], "slow took longer than 200 ms and was stopped");
    EXPECT_EQ(run("chatty", "{}")["error"], "chatty wrote more than 100 bytes and was stopped");
    EXPECT_EQ(reg_.find("broken")->reason, "command tool 'broken' has no argv");
    EXPECT_EQ(reg_.find("slow")->timeout, 700ms);
}

}  // namespace
