#include "weather/weather_tool.hpp"

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ava/core/text.hpp"
#include "support/http_json.hpp"

namespace ava::tools {
namespace {

using json = nlohmann::json;

constexpr const char* k_service_geo = "Open-Meteo geocoding";
constexpr const char* k_service_fc = "Open-Meteo forecast";

std::string with_query(const std::string& base, const std::string& query) {
    return base + (base.find('?') == std::string::npos ? "?" : "&") + query;
}

// Open-Meteo answers numbers as floats; round for speech, keep one decimal.
json round1(const json& v) {
    if (!v.is_number()) return nullptr;
    return std::round(v.get<double>() * 10.0) / 10.0;
}

json at_index0(const json& daily, const char* key) {
    if (!daily.contains(key) || !daily[key].is_array() || daily[key].empty()) return nullptr;
    return daily[key][0];
}

}  // namespace

std::string wmo_code_words(int code) {
    // WMO 4677 codes as Open-Meteo documents them (https://open-meteo.com/en/docs).
    switch (code) {
        case 0:
            return "clear sky";
        case 1:
            return "mainly clear";
        case 2:
            return "partly cloudy";
        case 3:
            return "overcast";
        case 45:
            return "fog";
        case 48:
            return "freezing fog";
        case 51:
            return "light drizzle";
        case 53:
            return "moderate drizzle";
        case 55:
            return "dense drizzle";
        case 56:
            return "light freezing drizzle";
        case 57:
            return "dense freezing drizzle";
        case 61:
            return "slight rain";
        case 63:
            return "moderate rain";
        case 65:
            return "heavy rain";
        case 66:
            return "light freezing rain";
        case 67:
            return "heavy freezing rain";
        case 71:
            return "slight snowfall";
        case 73:
            return "moderate snowfall";
        case 75:
            return "heavy snowfall";
        case 77:
            return "snow grains";
        case 80:
            return "slight rain showers";
        case 81:
            return "moderate rain showers";
        case 82:
            return "violent rain showers";
        case 85:
            return "slight snow showers";
        case 86:
            return "heavy snow showers";
        case 95:
            return "thunderstorm";
        case 96:
            return "thunderstorm with slight hail";
        case 99:
            return "thunderstorm with heavy hail";
        default:
            return "unknown conditions (code " + std::to_string(code) + ")";
    }
}

weather_tool::weather_tool(weather_settings settings, std::shared_ptr<const http_client> http)
    : settings_(std::move(settings)), http_(std::move(http)) {
    spec_.name = "check_weather";
    spec_.description =
        "Current weather and today's forecast (high, low, chance of rain) for a place. Use the "
        "user's words for the place; ";
    spec_.description +=
        settings_.default_location.empty()
            ? "no home location is configured, so if the user names no place, "
              "ask them where before calling this."
            : "leave it out to use their home location (" + settings_.default_location + ").";
    spec_.parameters_json = R"({"type":"object","properties":{
  "location":{"type":"string","minLength":1,"maxLength":200,
              "description":"City or place name, optionally with country, e.g. 'Paris, France'"}},
  "additionalProperties":false})";
}

std::string weather_tool::config_problem(const weather_settings& s) {
    if (s.units != "metric" && s.units != "imperial") {
        return "weather units must be 'metric' or 'imperial', not '" + s.units + "'";
    }
    if (s.geocoding_url.empty() || s.forecast_url.empty()) {
        return "weather geocoding_url and forecast_url must be set";
    }
    return {};
}

std::string weather_tool::call(std::string_view args_json, std::stop_token stop) {
    const json args = args_json.empty() ? json::object() : json::parse(args_json);
    std::string place = args.value("location", settings_.default_location);
    if (place.empty()) {
        throw tool_error(
            "no place given and no default location is configured; ask the user where");
    }
    // Open-Meteo's geocoder matches one name, not "Paris, France": search the first part, then
    // prefer a result whose country or region matches the rest.
    std::string name = place;
    std::string qualifier;
    if (auto comma = place.find(','); comma != std::string::npos) {
        name = place.substr(0, comma);
        qualifier = place.substr(comma + 1);
        while (!qualifier.empty() && qualifier.front() == ' ') qualifier.erase(0, 1);
    }
    const auto geo_resp = http_->request(
        {.url = with_query(settings_.geocoding_url, "name=" + core::url_encode(name) + "&count=" +
                                                        (qualifier.empty() ? "1" : "10") +
                                                        "&language=en&format=json"),
         .service_name = k_service_geo},
        stop);
    const json geo = detail::parse_json_answer(geo_resp, k_service_geo);
    if (!geo.is_object() || !geo.contains("results") || !geo["results"].is_array() ||
        geo["results"].empty()) {
        throw tool_error("no place called '" + place + "' was found");
    }
    json hit = geo["results"][0];
    if (!qualifier.empty()) {
        for (const auto& r : geo["results"]) {
            const std::string q = core::ascii_lower(qualifier);
            if (core::ascii_lower(r.value("country", "")) == q ||
                core::ascii_lower(r.value("admin1", "")) == q ||
                core::ascii_lower(r.value("country_code", "")) == q) {
                hit = r;
                break;
            }
        }
    }
    if (!hit.contains("latitude") || !hit.contains("longitude") || !hit["latitude"].is_number() ||
        !hit["longitude"].is_number()) {
        throw tool_error(std::string(k_service_geo) + " sent a malformed answer (no coordinates)");
    }

    std::ostringstream q;
    q.precision(6);
    q << std::fixed << "latitude=" << hit["latitude"].get<double>()
      << "&longitude=" << hit["longitude"].get<double>()
      << "&current=temperature_2m,apparent_temperature,relative_humidity_2m,precipitation,"
         "weather_code,wind_speed_10m"
      << "&daily=weather_code,temperature_2m_max,temperature_2m_min,"
         "precipitation_probability_max,precipitation_sum"
      << "&timezone=auto&forecast_days=1";
    if (settings_.units == "imperial") {
        q << "&temperature_unit=fahrenheit&wind_speed_unit=mph&precipitation_unit=inch";
    }
    const auto fc_resp = http_->request(
        {.url = with_query(settings_.forecast_url, q.str()), .service_name = k_service_fc}, stop);
    const json fc = detail::parse_json_answer(fc_resp, k_service_fc);
    if (!fc.is_object() || !fc.contains("current") || !fc["current"].is_object()) {
        throw tool_error(std::string(k_service_fc) + " sent a malformed answer (no 'current')");
    }
    const json& cur = fc["current"];
    const json daily = fc.value("daily", json::object());
    const json cu = fc.value("current_units", json::object());
    const bool imperial = settings_.units == "imperial";

    std::string where = hit.value("name", place);
    for (const char* key : {"admin1", "country"}) {
        const std::string part = hit.value(key, "");
        if (!part.empty() && part != where) where += ", " + part;
    }
    json out;
    out["location"] = where;
    out["local_time"] = cur.value("time", "");
    json current;
    current["conditions"] = cur.contains("weather_code") && cur["weather_code"].is_number()
                                ? json(wmo_code_words(cur["weather_code"].get<int>()))
                                : json(nullptr);
    current["temperature"] = round1(cur.value("temperature_2m", json()));
    current["feels_like"] = round1(cur.value("apparent_temperature", json()));
    current["humidity_percent"] = round1(cur.value("relative_humidity_2m", json()));
    current["wind_speed"] = round1(cur.value("wind_speed_10m", json()));
    current["precipitation"] = round1(cur.value("precipitation", json()));
    out["current"] = current;
    json today;
    const json code = at_index0(daily, "weather_code");
    today["conditions"] = code.is_number() ? json(wmo_code_words(code.get<int>())) : json(nullptr);
    today["high"] = round1(at_index0(daily, "temperature_2m_max"));
    today["low"] = round1(at_index0(daily, "temperature_2m_min"));
    today["precipitation_probability_percent"] = at_index0(daily, "precipitation_probability_max");
    today["precipitation_total"] = round1(at_index0(daily, "precipitation_sum"));
    out["today"] = today;
    out["units"] = {{"temperature", cu.value("temperature_2m", imperial ? "°F" : "°C")},
                    {"wind_speed", cu.value("wind_speed_10m", imperial ? "mp/h" : "km/h")},
                    {"precipitation", cu.value("precipitation", imperial ? "inch" : "mm")}};
    return out.dump();
}

}  // namespace ava::tools
