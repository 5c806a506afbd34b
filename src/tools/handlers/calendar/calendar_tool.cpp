#include "calendar/calendar_tool.hpp"

#include <libical/ical.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ava/core/text.hpp"

namespace ava::tools {
namespace {

using json = nlohmann::json;

struct cal_deleter {
    void operator()(icalcomponent* c) const noexcept { icalcomponent_free(c); }
};
using cal_ptr = std::unique_ptr<icalcomponent, cal_deleter>;

icaltimezone* find_zone(const std::string& name) {
    if (name == "UTC" || name == "Etc/UTC" || name == "Z") return icaltimezone_get_utc_timezone();
    return icaltimezone_get_builtin_timezone(name.c_str());
}

// Why libical cannot be used, or empty. With AVA_LAZY_LIBS it is loaded on first use
// (libical_shim.cpp); when it cannot be loaded every function returns null and
// icalerror_strerror() gives the loader's line ("... install the libical3 package"). A real
// libical always has a UTC zone.
std::string libical_problem() {
    if (icaltimezone_get_utc_timezone() != nullptr) return {};
    const char* why = icalerror_strerror(ICAL_INTERNAL_ERROR);
    return why != nullptr && *why != '\0' ? why : "libical is not available";
}

struct event_out {
    std::time_t sort_key = 0;
    json j;
};

// What one expansion callback needs.
struct expansion {
    icaltimezone* user_tz = nullptr;
    std::time_t range_start = 0;  // true UTC
    std::time_t range_end = 0;
    bool all_day = false;
    bool floating = false;             // no zone: the wall-clock time is the user's
    std::set<std::time_t> overridden;  // recurrence-ids replaced by override components
    bool recurring = false;
    icalcomponent* event = nullptr;
    std::vector<event_out>* out = nullptr;
};

std::string text_of(const char* s) {
    return s == nullptr ? std::string{} : std::string(s);
}

std::string local_text(std::time_t t, icaltimezone* tz) {
    const icaltimetype lt = icaltime_from_timet_with_zone(t, 0, tz);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d", lt.year, lt.month, lt.day, lt.hour,
                  lt.minute);
    return buf;
}

std::string date_text(const icaltimetype& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
    return buf;
}

const char* weekday(const icaltimetype& t) {
    static const char* const names[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
    const int d = icaltime_day_of_week(t);  // 1 = Sunday
    return d >= 1 && d <= 7 ? names[d - 1] : "";
}

// A floating (or all-day) instance comes from libical as if its wall-clock time were UTC;
// re-read that wall-clock time in the user's zone.
std::time_t floating_to_utc(std::time_t as_if_utc, icaltimezone* user_tz) {
    icaltimetype wall =
        icaltime_from_timet_with_zone(as_if_utc, 0, icaltimezone_get_utc_timezone());
    wall.zone = nullptr;
    return icaltime_as_timet_with_zone(wall, user_tz);
}

void on_instance(icalcomponent* /*comp*/, icaltime_span* span, void* data) {
    auto* x = static_cast<expansion*>(data);
    if (x->overridden.count(span->start) != 0) return;  // a RECURRENCE-ID component replaces it
    std::time_t start = span->start;
    std::time_t end = span->end > span->start ? span->end : span->start;
    if (x->all_day || x->floating) {
        start = floating_to_utc(start, x->user_tz);
        end = floating_to_utc(end, x->user_tz);
    }
    // Overlap with [range_start, range_end); a zero-length event counts at its start.
    const bool overlaps =
        start < x->range_end && (end > x->range_start || (end == start && start >= x->range_start));
    if (!overlaps) return;

    json j;
    j["title"] = text_of(icalcomponent_get_summary(x->event));
    const std::string location = text_of(icalcomponent_get_location(x->event));
    if (!location.empty()) j["location"] = location;
    if (x->all_day) {
        const icaltimetype first =
            icaltime_from_timet_with_zone(span->start, 1, icaltimezone_get_utc_timezone());
        icaltimetype last =
            icaltime_from_timet_with_zone(span->end, 1, icaltimezone_get_utc_timezone());
        if (span->end > span->start) icaltime_adjust(&last, -1, 0, 0, 0);  // DTEND is exclusive
        j["all_day"] = true;
        j["date"] = date_text(first);
        j["day"] = weekday(first);
        if (icaltime_compare_date_only(first, last) < 0) j["last_date"] = date_text(last);
    } else {
        j["start"] = local_text(start, x->user_tz);
        j["end"] = local_text(end, x->user_tz);
        j["day"] = weekday(icaltime_from_timet_with_zone(start, 0, x->user_tz));
    }
    if (x->recurring) j["recurring"] = true;
    x->out->push_back({start, std::move(j)});
}

// Parses "today", "tomorrow", "yesterday" or YYYY-MM-DD into a date in the user's zone.
icaltimetype parse_day(const std::string& text, std::time_t now, icaltimezone* tz) {
    icaltimetype today = icaltime_from_timet_with_zone(now, 1, tz);
    today.is_date = 1;
    const std::string lower = core::ascii_lower(text);
    if (lower.empty() || lower == "today") return today;
    if (lower == "tomorrow" || lower == "yesterday") {
        icaltime_adjust(&today, lower == "tomorrow" ? 1 : -1, 0, 0, 0);
        return today;
    }
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1900 ||
        y > 2200 || m < 1 || m > 12 || d < 1 || d > icaltime_days_in_month(m, y)) {
        throw tool_error("start_date: '" + text +
                         "' is not a date; use YYYY-MM-DD, 'today' or 'tomorrow'");
    }
    icaltimetype day = icaltime_null_date();
    day.year = y;
    day.month = m;
    day.day = d;
    return day;
}

std::time_t midnight(icaltimetype day, icaltimezone* tz) {
    day.is_date = 0;
    day.hour = day.minute = day.second = 0;
    day.zone = nullptr;
    return icaltime_as_timet_with_zone(day, tz);
}

std::time_t span_key(const icaltimetype& t) {
    // The same conversion icalcomponent_foreach_recurrence uses for its spans: the time's own
    // zone, floating and dates as if UTC.
    return icaltime_as_timet_with_zone(
        t, t.zone != nullptr ? t.zone : icaltimezone_get_utc_timezone());
}

// icalcomponent_get_recurrenceid() leaves a TZID unresolved (floating), unlike get_dtstart();
// resolve it the same way: the calendar's VTIMEZONE first, then libical's built-in zones.
icaltimetype recurrence_id(icalcomponent* ev) {
    icaltimetype rid = icalcomponent_get_recurrenceid(ev);
    if (icaltime_is_null_time(rid) || rid.zone != nullptr || icaltime_is_utc(rid)) return rid;
    icalproperty* p = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    icalparameter* param =
        p != nullptr ? icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER) : nullptr;
    const char* tzid = param != nullptr ? icalparameter_get_tzid(param) : nullptr;
    if (tzid == nullptr) return rid;
    icaltimezone* zone = nullptr;
    if (icalcomponent* parent = icalcomponent_get_parent(ev); parent != nullptr) {
        zone = icalcomponent_get_timezone(parent, tzid);
    }
    if (zone == nullptr) zone = icaltimezone_get_builtin_timezone_from_tzid(tzid);
    if (zone == nullptr) zone = icaltimezone_get_builtin_timezone(tzid);
    if (zone != nullptr) rid.zone = zone;
    return rid;
}

std::string read_ics_error() {
    const char* e = icalerror_strerror(icalerrno);
    return e == nullptr ? "parse error" : e;
}

}  // namespace

calendar_tool::calendar_tool(calendar_settings settings, std::shared_ptr<const http_client> http,
                             std::function<std::time_t()> now)
    : settings_(std::move(settings)), http_(std::move(http)), now_(std::move(now)) {
    if (!now_) now_ = [] { return std::time(nullptr); };
    // An empty time zone is resolved by call() (system_timezone() asks libical whether a name is
    // a zone, and constructing the tool must not load libical: see libical_shim.cpp).
    spec_.name = "get_calendar_events";
    spec_.description =
        "The user's calendar events in a date range (default: today), in their time zone, with "
        "recurring events expanded. Times are local, YYYY-MM-DDTHH:MM.";
    spec_.parameters_json = R"json({"type":"object","properties":{
  "start_date":{"type":"string","maxLength":20,
                "description":"First day: YYYY-MM-DD, 'today' (default) or 'tomorrow'"},
  "days":{"type":"integer","minimum":1,"maximum":31,"description":"How many days (default 1)"}},
  "additionalProperties":false})json";
}

std::string calendar_tool::system_timezone() {
    if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
        std::string name = *tz == ':' ? tz + 1 : tz;
        if (auto p = name.find("zoneinfo/"); p != std::string::npos) name = name.substr(p + 9);
        if (find_zone(name) != nullptr) return name;
    }
    std::ifstream etc("/etc/timezone");
    std::string name;
    if (etc && std::getline(etc, name) && !name.empty() && find_zone(name) != nullptr) return name;
    char buf[512];
    const ssize_t n = ::readlink("/etc/localtime", buf, sizeof buf - 1);
    if (n > 0) {
        const std::string link(buf, static_cast<std::size_t>(n));
        if (auto p = link.find("zoneinfo/"); p != std::string::npos) {
            name = link.substr(p + 9);
            if (find_zone(name) != nullptr) return name;
        }
    }
    return "UTC";
}

std::string calendar_tool::config_problem(const calendar_settings& s) {
    if (s.source.empty()) return "no calendar source (an .ics file or https:// URL) set";
    if (!s.timezone.empty()) {
        if (std::string problem = libical_problem(); !problem.empty()) return problem;
        if (find_zone(s.timezone) == nullptr) {
            return "unknown time zone '" + s.timezone + "' (use an IANA name like Europe/Berlin)";
        }
    }
    const bool url = s.source.find("://") != std::string::npos;
    if (url && s.source.rfind("https://", 0) != 0 && s.source.rfind("http://", 0) != 0 &&
        s.source.rfind("webcal://", 0) != 0 && s.source.rfind("file://", 0) != 0) {
        return "calendar source must be a file, https://, http:// or webcal:// URL";
    }
    return {};
}

std::string calendar_tool::load(std::stop_token stop) const {
    std::string src = settings_.source;
    if (src.rfind("webcal://", 0) == 0) src = "https://" + src.substr(9);  // webcal is https
    if (src.rfind("https://", 0) == 0 || src.rfind("http://", 0) == 0) {
        return http_->request({.url = src, .service_name = "the calendar server"}, stop).body;
    }
    if (src.rfind("file://", 0) == 0) src = src.substr(7);
    std::ifstream in(src, std::ios::binary);
    if (!in) throw tool_error("cannot read the calendar file " + src);
    std::string text;
    const std::size_t limit = http_->settings().max_response_bytes;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<std::size_t>(in.gcount()));
        if (text.size() > limit)
            throw tool_error("the calendar file is larger than " + std::to_string(limit) +
                             " bytes");
    }
    return text;
}

std::string calendar_tool::call(std::string_view args_json, std::stop_token stop) {
    const json args = json::parse(args_json.empty() ? std::string_view("{}") : args_json);
    if (std::string problem = libical_problem(); !problem.empty()) throw tool_error(problem);
    const std::string zone = settings_.timezone.empty() ? system_timezone() : settings_.timezone;
    icaltimezone* tz = find_zone(zone);
    if (tz == nullptr) throw tool_error("unknown time zone '" + zone + "'");
    const icaltimetype first_day = parse_day(args.value("start_date", ""), now_(), tz);
    const int days = args.value("days", 1);
    icaltimetype after_last = first_day;
    icaltime_adjust(&after_last, days, 0, 0, 0);

    expansion base;
    base.user_tz = tz;
    base.range_start = midnight(first_day, tz);
    base.range_end = midnight(after_last, tz);

    const std::string text = load(stop);
    cal_ptr cal(icalparser_parse_string(text.c_str()));
    if (!cal)
        throw tool_error("the calendar is not valid iCalendar data (" + read_ics_error() + ")");
    icalcomponent* root = cal.get();
    if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT) {
        // A bare VEVENT: wrap nothing, expand it alone.
    } else if (icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT &&
               icalcomponent_isa(root) != ICAL_XROOT_COMPONENT) {
        throw tool_error("the calendar is not valid iCalendar data (no VCALENDAR)");
    }

    std::vector<icalcomponent*> events;
    auto collect = [&](icalcomponent* parent) {
        for (icalcomponent* c = icalcomponent_get_first_component(parent, ICAL_VEVENT_COMPONENT);
             c != nullptr; c = icalcomponent_get_next_component(parent, ICAL_VEVENT_COMPONENT)) {
            events.push_back(c);
        }
    };
    if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT) {
        events.push_back(root);
    } else if (icalcomponent_isa(root) == ICAL_XROOT_COMPONENT) {
        // Several VCALENDARs concatenated.
        for (icalcomponent* c = icalcomponent_get_first_component(root, ICAL_VCALENDAR_COMPONENT);
             c != nullptr; c = icalcomponent_get_next_component(root, ICAL_VCALENDAR_COMPONENT)) {
            collect(c);
        }
    } else {
        collect(root);
    }

    // RECURRENCE-ID components replace one instance of the series with the same UID.
    std::map<std::string, std::set<std::time_t>> overridden;
    for (icalcomponent* ev : events) {
        const icaltimetype rid = recurrence_id(ev);
        if (!icaltime_is_null_time(rid))
            overridden[text_of(icalcomponent_get_uid(ev))].insert(span_key(rid));
    }

    // libical compares floating times as UTC; ask it for a margin and filter exactly ourselves.
    const icaltimetype lim_start = icaltime_from_timet_with_zone(base.range_start - 2 * 86400, 0,
                                                                 icaltimezone_get_utc_timezone());
    const icaltimetype lim_end = icaltime_from_timet_with_zone(base.range_end + 2 * 86400, 0,
                                                               icaltimezone_get_utc_timezone());
    std::vector<event_out> out;
    for (icalcomponent* ev : events) {
        if (stop.stop_requested()) throw tool_error("cancelled");
        if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED) continue;
        const icaltimetype dtstart = icalcomponent_get_dtstart(ev);
        if (icaltime_is_null_time(dtstart)) continue;
        expansion x = base;
        x.event = ev;
        x.out = &out;
        x.all_day = dtstart.is_date != 0;
        x.floating = !x.all_day && dtstart.zone == nullptr && !icaltime_is_utc(dtstart);
        const bool is_override = !icaltime_is_null_time(icalcomponent_get_recurrenceid(ev));
        x.recurring = is_override ||
                      icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY) != nullptr ||
                      icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY) != nullptr;
        if (!is_override) {
            if (auto it = overridden.find(text_of(icalcomponent_get_uid(ev)));
                it != overridden.end()) {
                x.overridden = it->second;
            }
        }
        icalcomponent_foreach_recurrence(ev, lim_start, lim_end, &on_instance, &x);
    }
    std::stable_sort(out.begin(), out.end(), [](const event_out& a, const event_out& b) {
        const bool ad = a.j.value("all_day", false);
        const bool bd = b.j.value("all_day", false);
        if (ad != bd) return ad;  // all-day events first, as calendars show them
        return a.sort_key < b.sort_key;
    });

    json result;
    result["timezone"] = zone;
    result["from"] = date_text(first_day);
    icaltimetype last_day = after_last;
    icaltime_adjust(&last_day, -1, 0, 0, 0);
    result["to"] = date_text(last_day);
    json list = json::array();
    for (auto& e : out) list.push_back(std::move(e.j));
    result["events"] = list;
    if (list.empty()) result["note"] = "no events in this range";
    return result.dump();
}

}  // namespace ava::tools
