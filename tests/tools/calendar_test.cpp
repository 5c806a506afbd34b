// get_calendar_events on an ICS fixture with a weekly series, an EXDATE, a RECURRENCE-ID
// override, an all-day event, a cancelled event and a daylight-saving change (Europe/Berlin,
// 2024-03-31); and fetched over webcal:// (TLS, test CA) from a loopback server.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "calendar/calendar_tool.hpp"
#include "server_process.hpp"
#include "test_certs.hpp"

namespace {

using json = nlohmann::json;
using ava::tools::calendar_tool;
namespace t = ava::tools::test;

const std::string k_fixture = t::test_dir() + "/data/calendar.ics";

calendar_tool make(const std::string& tz, std::time_t now = 0, std::string source = k_fixture) {
    return calendar_tool({.enabled = true, .source = std::move(source), .timezone = tz},
                         std::make_shared<const ava::tools::http_client>(), [now] { return now; });
}

std::vector<std::string> titles(const json& out) {
    std::vector<std::string> v;
    for (const auto& e : out["events"]) v.push_back(e["title"]);
    return v;
}

std::string error_of(calendar_tool& c, const std::string& args) {
    try {
        c.call(args, {});
    } catch (const ava::tools::tool_error& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(calendar, one_day_with_override_all_day_and_utc_event_in_the_users_zone) {
    auto c = make("Europe/Berlin");
    const json out = json::parse(c.call(R"({"start_date":"2024-03-25"})", {}));
    EXPECT_EQ(out["from"], "2024-03-25");
    EXPECT_EQ(out["to"], "2024-03-25");
    ASSERT_EQ(titles(out), (std::vector<std::string>{"Anna's birthday", "Team standup (moved)",
                                                     "Dinner with Sam"}))
        << out.dump(1);
    EXPECT_EQ(out["events"][0]["all_day"], true);
    EXPECT_EQ(out["events"][0]["date"], "2024-03-25");
    EXPECT_EQ(out["events"][0]["day"], "Monday");
    EXPECT_EQ(out["events"][1]["start"], "2024-03-25T14:00");
    EXPECT_EQ(out["events"][1]["recurring"], true);
    EXPECT_EQ(out["events"][2]["start"], "2024-03-25T19:00") << "18:00Z is 19:00 CET";
    EXPECT_EQ(out["events"][2]["location"], "Trattoria, Main Street");
}

TEST(calendar, exdate_removes_an_instance) {
    auto c = make("Europe/Berlin");
    const json out = json::parse(c.call(R"({"start_date":"2024-03-18"})", {}));
    EXPECT_TRUE(out["events"].empty()) << out.dump(1);
    EXPECT_EQ(out["note"], "no events in this range");
}

TEST(calendar, recurrence_keeps_local_time_across_the_dst_change) {
    auto berlin = make("Europe/Berlin");
    json out = json::parse(berlin.call(R"({"start_date":"2024-03-11","days":29})", {}));
    std::vector<std::string> starts;
    for (const auto& e : out["events"]) {
        if (e["title"] == "Team standup") starts.push_back(e["start"]);
    }
    EXPECT_EQ(starts, (std::vector<std::string>{"2024-03-11T09:00", "2024-04-01T09:00",
                                                "2024-04-08T09:00"}))
        << out.dump(1);

    // Seen from UTC, the same series moves an hour earlier after 2024-03-31.
    auto utc = make("UTC");
    out = json::parse(utc.call(R"({"start_date":"2024-03-11","days":29})", {}));
    starts.clear();
    for (const auto& e : out["events"]) {
        if (e["title"] == "Team standup") starts.push_back(e["start"]);
    }
    EXPECT_EQ(starts, (std::vector<std::string>{"2024-03-11T08:00", "2024-04-01T07:00",
                                                "2024-04-08T07:00"}));
    EXPECT_EQ(titles(out).size(), 6u) << "3 standups, moved one, birthday, dinner; no cancelled";
}

TEST(calendar, defaults_to_today_in_the_users_zone) {
    // 2024-04-07 23:30 UTC is already Monday 2024-04-08 in Berlin.
    const std::time_t now = 1712532600;
    auto c = make("Europe/Berlin", now);
    json out = json::parse(c.call("{}", {}));
    EXPECT_EQ(out["from"], "2024-04-08");
    EXPECT_EQ(titles(out), (std::vector<std::string>{"Team standup"}));
    out = json::parse(c.call(R"({"start_date":"tomorrow"})", {}));
    EXPECT_EQ(out["from"], "2024-04-09");
    auto utc = make("UTC", now);
    EXPECT_EQ(json::parse(utc.call("{}", {}))["from"], "2024-04-07");
}

TEST(calendar, errors_are_clear) {
    auto c = make("Europe/Berlin");
    EXPECT_EQ(error_of(c, R"({"start_date":"2024-02-30"})"),
              "start_date: '2024-02-30' is not a date; use YYYY-MM-DD, 'today' or 'tomorrow'");
    auto missing = make("UTC", 0, "/nonexistent/cal.ics");
    EXPECT_EQ(error_of(missing, "{}"), "cannot read the calendar file /nonexistent/cal.ics");
    const std::string bad = ava::test::make_temp_dir() + "/bad.ics";
    std::ofstream(bad) << "this is not a calendar\n";
    auto garbage = make("UTC", 0, bad);
    EXPECT_NE(error_of(garbage, "{}").find("not valid iCalendar"), std::string::npos);
    EXPECT_EQ(calendar_tool::config_problem({.source = "x.ics", .timezone = "Mars/Olympus"}),
              "unknown time zone 'Mars/Olympus' (use an IANA name like Europe/Berlin)");
    EXPECT_EQ(calendar_tool::config_problem({}),
              "no calendar source (an .ics file or https:// URL) set");
}

TEST(calendar, fetches_webcal_over_verified_tls) {
    const auto dir = ava::test::make_temp_dir();
    const auto certs = ava::test::make_test_certs(dir);
    t::server_process https({t::python3(), t::test_dir() + "/fake_services.py", "--data",
                             t::test_dir() + "/data", "--tls-cert", certs.server_cert, "--tls-key",
                             certs.server_key});
    const std::string url =
        "webcal://127.0.0.1:" + std::to_string(https.port()) + "/files/calendar.ics";
    calendar_tool trusted({.source = url, .timezone = "Europe/Berlin"},
                          std::make_shared<const ava::tools::http_client>(
                              ava::tools::http_settings{.ca_file = certs.ca_cert}));
    const json out = json::parse(trusted.call(R"({"start_date":"2024-04-01"})", {}));
    EXPECT_EQ(titles(out), (std::vector<std::string>{"Team standup"}));

    // Without the test CA the certificate is not trusted: no silent fallback.
    calendar_tool untrusted({.source = url, .timezone = "Europe/Berlin"},
                            std::make_shared<const ava::tools::http_client>());
    EXPECT_NE(error_of(untrusted, "{}").find("TLS failure"), std::string::npos);
}

}  // namespace
