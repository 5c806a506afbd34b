// The simulated room of the echo rig (see echo_room.hpp).
#include "ava/audio/echo_room.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace ava::audio {
namespace {

float db_to_gain(double db) {
    return static_cast<float>(std::pow(10.0, db / 20.0));
}

std::uint32_t next(std::uint32_t& s) noexcept {  // xorshift32: reproducible, allocation-free
    s ^= s << 13U;
    s ^= s >> 17U;
    s ^= s << 5U;
    return s;
}

float uniform(std::uint32_t& s) noexcept {  // -1 .. 1
    return static_cast<float>(next(s)) / 2147483648.0f - 1.0f;
}

double number(std::string_view field, std::string_view text) {
    std::string t(text);
    if (!t.empty() && t.front() == '+') t.erase(0, 1);
    for (const char* unit : {"ms", "dbfs", "db", "ppm"}) {
        const std::string u(unit);
        if (t.size() > u.size() && t.compare(t.size() - u.size(), u.size(), u) == 0) {
            t.resize(t.size() - u.size());
            break;
        }
    }
    double v = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc{} || end != t.data() + t.size() || t.empty()) {
        throw std::invalid_argument("echo room: " + std::string(field) +
                                    " must be a number, not '" + std::string(text) + "'");
    }
    return v;
}

void check_range(std::string_view field, double v, double lo, double hi) {
    if (v < lo || v > hi) {
        throw std::invalid_argument("echo room: " + std::string(field) + " must be in " +
                                    std::to_string(static_cast<int>(lo)) + " .. " +
                                    std::to_string(static_cast<int>(hi)) + ", not " +
                                    std::to_string(v));
    }
}

}  // namespace

echo_room_options parse_echo_room(std::string_view spec) {
    echo_room_options o;
    if (spec.empty() || spec == "on" || spec == "default") return o;
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        const std::size_t comma = std::min(spec.find(',', pos), spec.size());
        const std::string_view part = spec.substr(pos, comma - pos);
        pos = comma + 1;
        if (part.empty()) continue;
        const std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            throw std::invalid_argument("echo room: '" + std::string(part) +
                                        "' is not field=value (fields: delay, gain, tail, "
                                        "noise, drift, seed)");
        }
        const std::string_view key = part.substr(0, eq);
        const std::string_view val = part.substr(eq + 1);
        const double v = number(key, val);
        if (key == "delay") {
            check_range(key, v, 1, 500);
            o.delay_ms = static_cast<int>(v);
        } else if (key == "gain") {
            check_range(key, v, -40, 20);
            o.gain_db = v;
        } else if (key == "tail") {
            check_range(key, v, 0, 500);
            o.tail_ms = static_cast<int>(v);
        } else if (key == "noise") {
            check_range(key, v, -200, -10);
            o.noise_dbfs = v;
        } else if (key == "drift") {
            check_range(key, v, -500, 500);
            o.drift_ppm = v;
        } else if (key == "seed") {
            check_range(key, v, 0, 4294967295.0);
            o.seed = static_cast<std::uint32_t>(v);
        } else {
            throw std::invalid_argument("echo room: unknown field '" + std::string(key) +
                                        "' (fields: delay, gain, tail, noise, drift, seed)");
        }
    }
    return o;
}

std::string to_string(const echo_room_options& o) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "delay=%d,gain=%+.1f,tail=%d,noise=%.0f,drift=%.0f,seed=%u",
                  o.delay_ms, o.gain_db, o.tail_ms, o.noise_dbfs, o.drift_ppm, o.seed);
    return buf;
}

echo_room::echo_room(const echo_room_options& opts)
    : opts_(opts), rng_(opts.seed == 0 ? 1 : opts.seed) {
    const double rate = core::wire_rate;
    delay_samples_ = opts.delay_ms * rate / 1000.0;
    // Direct path, then a sparse decaying tail (one reflection every ~4 samples on average):
    // reverberant enough to need a long adaptive filter, cheap enough for a device period.
    const std::size_t tail = static_cast<std::size_t>(opts.tail_ms) * core::wire_rate / 1000;
    const float g = db_to_gain(opts.gain_db);
    tap_at_.push_back(0);
    tap_gain_.push_back(g);
    for (std::size_t i = 1; i <= tail; ++i) {
        if ((next(rng_) & 3U) != 0) continue;
        const double frac = static_cast<double>(i) / static_cast<double>(tail);
        tap_at_.push_back(static_cast<std::uint32_t>(i));
        tap_gain_.push_back(g * db_to_gain(-12.0 - 30.0 * frac) * uniform(rng_));
    }
    std::size_t size = 1;
    while (size < static_cast<std::size_t>(delay_samples_) + tail + 2 * core::wire_rate) size <<= 1;
    history_.assign(size, 0.0f);
    noise_ = opts.noise_dbfs <= -120 ? 0.0f : db_to_gain(opts.noise_dbfs) * 32768.0f * 1.732f;
}

float echo_room::history_at(double pos) const noexcept {
    if (pos < 0) return 0.0f;
    const auto i = static_cast<std::uint64_t>(pos);
    if (i + 1 >= played_ || i + history_.size() <= played_) return 0.0f;
    const auto frac = static_cast<float>(pos - static_cast<double>(i));
    const std::size_t mask = history_.size() - 1;
    return history_[i & mask] * (1.0f - frac) + history_[(i + 1) & mask] * frac;
}

void echo_room::capture(core::pcm_span mic) noexcept {
    const double drift = opts_.drift_ppm * 1e-6;
    for (auto& s : mic) {
        const double m = static_cast<double>(captured_++);
        const double base = m * (1.0 + drift) - delay_samples_;
        float echo = 0.0f;
        for (std::size_t j = 0; j < tap_at_.size(); ++j) {
            echo += tap_gain_[j] * history_at(base - static_cast<double>(tap_at_[j]));
        }
        const float noise = noise_ == 0.0f ? 0.0f : noise_ * uniform(rng_);
        const float v = static_cast<float>(s) + echo + noise;
        s = static_cast<core::sample>(std::clamp(v, -32768.0f, 32767.0f));
    }
}

void echo_room::play(core::pcm_view speaker) noexcept {
    const std::size_t mask = history_.size() - 1;
    for (const auto s : speaker) history_[played_++ & mask] = static_cast<float>(s);
}

}  // namespace ava::audio
