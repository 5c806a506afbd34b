// The HTTP client, check_weather and control_lights against a real HTTP server on loopback
// (tests/tools/fake_services.py, in Open-Meteo's and Home Assistant's shapes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lights/lights_tool.hpp"
#include "server_process.hpp"
#include "support/http_client.hpp"
#include "weather/weather_tool.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using ava::tools::http_client;
using ava::tools::tool_error;
namespace t = ava::tools::test;

class http_tools : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        server_ = new t::server_process(
            {t::python3(), t::test_dir() + "/fake_services.py", "--data", t::test_dir() + "/data"});
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override { t::fetch(base() + "/__reset", "POST"); }

    static std::string base() { return server_->url(); }
    static json requests() { return json::parse(t::fetch(base() + "/__requests")); }

    static std::shared_ptr<const http_client> client(std::chrono::milliseconds timeout = 5s) {
        return std::make_shared<const http_client>(ava::tools::http_settings{.timeout = timeout});
    }
    static ava::tools::weather_tool weather(const std::string& prefix = "",
                                            const std::string& units = "metric") {
        return ava::tools::weather_tool({.enabled = true,
                                         .geocoding_url = base() + prefix + "/v1/search",
                                         .forecast_url = base() + "/v1/forecast",
                                         .units = units,
                                         .default_location = "Berlin"},
                                        client(1500ms));
    }
    static ava::tools::lights_tool lights(const std::string& prefix = "",
                                          const std::string& token = "good-token") {
        return ava::tools::lights_tool(
            {.enabled = true, .base_url = base() + prefix, .token = token}, client());
    }
    static std::string error_of(const std::function<void()>& f) {
        try {
            f();
        } catch (const tool_error& e) {
            return e.what();
        }
        return "<no error>";
    }

    static t::server_process* server_;
};
t::server_process* http_tools::server_ = nullptr;

TEST_F(http_tools, weather_geocodes_then_reads_current_and_today) {
    auto w = weather();
    const json out = json::parse(w.call(R"({"location":"paris"})", {}));
    EXPECT_EQ(out["location"], "Paris, Land Berlin, Germany");
    EXPECT_EQ(out["current"]["conditions"], "overcast");
    EXPECT_EQ(out["current"]["temperature"], 12.5);
    EXPECT_EQ(out["today"]["conditions"], "slight rain");
    EXPECT_EQ(out["today"]["precipitation_probability_percent"], 80);
    EXPECT_EQ(out["today"]["high"], 14.5);
    EXPECT_EQ(out["units"]["temperature"], "°C");

    const json reqs = requests();
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0]["path"], "/v1/search");
    EXPECT_EQ(reqs[0]["query"]["name"], "paris");
    EXPECT_EQ(reqs[0]["query"]["count"], "1");
    EXPECT_EQ(reqs[1]["path"], "/v1/forecast");
    EXPECT_EQ(reqs[1]["query"]["latitude"], "52.524370");
    EXPECT_EQ(reqs[1]["query"]["timezone"], "auto");
    EXPECT_NE(reqs[1]["query"]["daily"].get<std::string>().find("precipitation_probability_max"),
              std::string::npos);
    EXPECT_FALSE(reqs[1]["query"].contains("temperature_unit"));
}

TEST_F(http_tools, weather_uses_imperial_units_and_the_default_place) {
    auto w = weather("", "imperial");
    const json out = json::parse(w.call("{}", {}));
    EXPECT_EQ(out["current"]["temperature"], 54.5);
    EXPECT_EQ(out["units"]["temperature"], "°F");
    const json reqs = requests();
    EXPECT_EQ(reqs[0]["query"]["name"], "Berlin");
    EXPECT_EQ(reqs[1]["query"]["temperature_unit"], "fahrenheit");
    EXPECT_EQ(reqs[1]["query"]["wind_speed_unit"], "mph");
    EXPECT_EQ(reqs[1]["query"]["precipitation_unit"], "inch");
}

TEST_F(http_tools, weather_errors_are_clear) {
    auto w = weather();
    EXPECT_EQ(error_of([&] { w.call(R"({"location":"Nowhere"})", {}); }),
              "no place called 'Nowhere' was found");
    auto bad = weather("/malformed");
    EXPECT_EQ(error_of([&] { bad.call(R"({"location":"x"})", {}); }),
              "Open-Meteo geocoding sent a malformed answer (not JSON)");
    auto down = weather("/status500");
    EXPECT_NE(error_of([&] { down.call(R"({"location":"x"})", {}); }).find("answered HTTP 500"),
              std::string::npos);
    auto slow = weather("/slow");
    EXPECT_EQ(error_of([&] { slow.call(R"({"location":"x"})", {}); }),
              "Open-Meteo geocoding at " + base() + " did not answer within 1.5 s");
    EXPECT_EQ(ava::tools::wmo_code_words(95), "thunderstorm");
    EXPECT_EQ(ava::tools::weather_tool::config_problem({.units = "kelvin"}),
              "weather units must be 'metric' or 'imperial', not 'kelvin'");
}

TEST_F(http_tools, http_client_reports_refused_connections_and_size_limits) {
    // A port nobody listens on: bind-free guess is the server's port + 1 after it is closed...
    // instead use port 1 on loopback, which is never open for an unprivileged test.
    http_client http;
    EXPECT_EQ(error_of([&] {
                  static_cast<void>(http.request(
                      {.url = "http://127.0.0.1:1/x?token=secret", .service_name = "Thing"}));
              }),
              "cannot reach Thing at http://127.0.0.1:1: connection refused or unreachable");
    http_client tiny({.max_response_bytes = 100});
    EXPECT_EQ(
        error_of([&] {
            static_cast<void>(tiny.request({.url = base() + "/api/states",
                                            .headers = {{"Authorization", "Bearer good-token"}},
                                            .service_name = "HA"}));
        }),
        "HA's answer is larger than the limit of 100 bytes");
    EXPECT_NE(error_of([&] {
                  static_cast<void>(http.request({.url = "file:///etc/passwd"}));
              }).find("only http:// and https://"),
              std::string::npos);
    std::stop_source stop;
    stop.request_stop();
    EXPECT_NE(
        error_of([&] {
            static_cast<void>(http.request({.url = base() + "/slow/v1/search"}, stop.get_token()));
        }).find("cancelled"),
        std::string::npos);
}

TEST_F(http_tools, lights_by_room_uses_areas_and_sends_the_service_call) {
    auto l = lights();
    const json out =
        json::parse(l.call(R"({"action":"on","room":"the living-room","brightness":40})", {}));
    EXPECT_EQ(out["action"], "on");
    EXPECT_EQ(out["lights"], json({"Living Room Ceiling", "Living Room Floor Lamp"}));
    const json reqs = requests();
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[0]["path"], "/api/states");
    EXPECT_EQ(reqs[0]["authorization"], "Bearer good-token");
    EXPECT_EQ(reqs[1]["path"], "/api/template");
    EXPECT_EQ(reqs[2]["path"], "/api/services/light/turn_on");
    const json body = json::parse(reqs[2]["body"].get<std::string>());
    EXPECT_EQ(body["entity_id"], json({"light.living_room_ceiling", "light.living_room_lamp"}));
    EXPECT_EQ(body["brightness_pct"], 40);
}

TEST_F(http_tools, lights_area_membership_beats_names) {
    // "Desk Lamp" has no "office" in its name; only the area knows.
    auto l = lights();
    const json out = json::parse(l.call(R"({"action":"on","room":"offices"})", {}));
    EXPECT_EQ(out["lights"], json({"Desk Lamp"}));
}

TEST_F(http_tools, lights_by_name_tolerates_typos_and_sets_colour) {
    auto l = lights();
    json out = json::parse(
        l.call(R"({"action":"on","light":"kitchen celing light","color":"Warm White"})", {}));
    EXPECT_EQ(out["lights"], json({"Kitchen Ceiling"}));
    json body = json::parse(requests().back()["body"].get<std::string>());
    EXPECT_EQ(body["color_temp_kelvin"], 2700);

    out = json::parse(l.call(R"({"action":"on","light":"hallway","color":"light blue"})", {}));
    body = json::parse(requests().back()["body"].get<std::string>());
    EXPECT_EQ(body["color_name"], "lightblue");

    out = json::parse(l.call(R"({"action":"toggle","light":"Kitchen counter"})", {}));
    EXPECT_EQ(out["now"][0]["state"], "off");
    EXPECT_EQ(requests().back()["path"], "/api/services/light/toggle");
}

TEST_F(http_tools, lights_unknown_names_list_what_exists) {
    auto l = lights();
    EXPECT_EQ(error_of([&] { l.call(R"({"action":"on","room":"garage"})", {}); }),
              "no room called 'garage'; the rooms are: Garden, Kitchen, Living Room, Office; the "
              "lights are: Desk Lamp, Hallway, Kitchen Ceiling, Kitchen Counter, Living Room "
              "Ceiling, Living Room Floor Lamp");
    EXPECT_EQ(error_of([&] { l.call(R"({"action":"off","light":"porch"})", {}); }).substr(0, 40),
              "no light called 'porch'; the lights are:");
    EXPECT_EQ(error_of([&] { l.call(R"({"action":"on","room":"garden"})", {}); }),
              "the Garden has no lights");
    EXPECT_EQ(error_of([&] {
                  l.call(R"({"action":"on","light":"hallway","color":"blurple"})", {});
              }).substr(0, 25),
              "unknown colour 'blurple';");
    EXPECT_EQ(error_of([&] { l.call(R"({"action":"off"})", {}); }).substr(0, 26),
              "say which room or light; t");
}

TEST_F(http_tools, lights_fall_back_to_names_without_the_template_api) {
    auto l = lights("/noareas");
    // /noareas prefixes every route; states still answer, the template answers 404.
    const json out = json::parse(l.call(R"({"action":"off","room":"kitchen"})", {}));
    EXPECT_EQ(out["lights"], json({"Kitchen Ceiling", "Kitchen Counter"}));
    EXPECT_NE(error_of([&] {
                  l.call(R"({"action":"off","room":"office"})", {});
              }).find("(no areas in Home Assistant)"),
              std::string::npos);
}

TEST_F(http_tools, lights_list_reports_state_and_rooms) {
    auto l = lights();
    const json out = json::parse(l.call(R"({"action":"list"})", {}));
    ASSERT_EQ(out["lights"].size(), 6u);
    EXPECT_EQ(out["lights"][0]["name"], "Living Room Ceiling");
    EXPECT_EQ(out["lights"][0]["state"], "on");
    EXPECT_EQ(out["lights"][0]["brightness_percent"], 78);
    EXPECT_EQ(out["lights"][0]["room"], "Living Room");
    EXPECT_EQ(out["rooms"].size(), 4u);
}

TEST_F(http_tools, lights_read_attributes_nested_100000_deep_without_copying_them) {
    // Copying the attributes (json::value) recursed once per level and overflowed the stack.
    auto l = lights("/deepattrs");
    const json out = json::parse(l.call(R"({"action":"list"})", {}));
    ASSERT_EQ(out["lights"].size(), 6u);
    EXPECT_EQ(out["lights"][0]["name"], "Living Room Ceiling");
}

TEST_F(http_tools, lights_errors_401_malformed_down) {
    auto bad_token = lights("", "wrong-token");
    EXPECT_EQ(error_of([&] { bad_token.call(R"({"action":"list"})", {}); }),
              "Home Assistant at " + base() +
                  " refused the credentials (HTTP 401); check the token or password");
    auto malformed = lights("/malformed");
    EXPECT_EQ(error_of([&] { malformed.call(R"({"action":"list"})", {}); }),
              "Home Assistant sent a malformed answer (not JSON)");
    auto down = ava::tools::lights_tool({.base_url = "http://127.0.0.1:1", .token = "good-token"},
                                        client());
    EXPECT_EQ(
        error_of([&] { down.call(R"({"action":"list"})", {}); }),
        "cannot reach Home Assistant at http://127.0.0.1:1: connection refused or unreachable");
    EXPECT_EQ(ava::tools::lights_tool::config_problem({.base_url = "http://x"}),
              "no Home Assistant token (set it or HOME_ASSISTANT_TOKEN)");
}

}  // namespace
