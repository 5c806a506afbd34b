// The doctor's echo test. See include/ava/app/doctor_echo.hpp.
#include "ava/app/doctor_echo.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>

#include "ava/audio/echo_canceller.hpp"
#include "ava/audio/speexdsp.hpp"

namespace ava::app {
namespace {

constexpr int rate24 = core::wire_rate;
constexpr std::size_t decimation = 3;  // the coarse search runs at 8 kHz
constexpr double max_delay_s = 2.0;
constexpr double found_correlation = 0.1;  // noise alone: about 0.02 over 3 s
constexpr double found_over_noise_db = 6;

double to_dbfs(double rms) {
    return rms <= 1e-9 ? -120.0 : 20.0 * std::log10(rms / 32768.0);
}

double rms_of(core::pcm_view x, std::size_t from, std::size_t to) {
    to = std::min(to, x.size());
    if (to <= from) return 0;
    double e = 0;
    for (std::size_t i = from; i < to; ++i) e += static_cast<double>(x[i]) * x[i];
    return std::sqrt(e / static_cast<double>(to - from));
}

std::vector<double> decimate(core::pcm_view x) {
    std::vector<double> out(x.size() / decimation);
    for (std::size_t i = 0; i < out.size(); ++i) {
        double s = 0;
        for (std::size_t k = 0; k < decimation; ++k) s += x[i * decimation + k];
        out[i] = s / decimation;
    }
    return out;
}

/// Normalised correlation of a[from, to) with b shifted by `lag`.
template <typename A, typename B>
double correlation(const A& a, const B& b, std::size_t from, std::size_t to, std::size_t lag) {
    double dot = 0;
    double ea = 0;
    double eb = 0;
    for (std::size_t i = from; i < to && i + lag < b.size(); ++i) {
        const double x = a[i];
        const double y = b[i + lag];
        dot += x * y;
        ea += x * x;
        eb += y * y;
    }
    return ea <= 0 || eb <= 0 ? 0.0 : dot / std::sqrt(ea * eb);
}

/// The lag (24 kHz samples) of the strongest correlation of played with recorded, and its value.
std::pair<std::size_t, double> find_delay(core::pcm_view played, core::pcm_view recorded,
                                          std::size_t from, std::size_t to) {
    const std::vector<double> p = decimate(played);
    const std::vector<double> r = decimate(recorded);
    const std::size_t f = from / decimation;
    const std::size_t t = to / decimation;
    const auto max_lag = static_cast<std::size_t>(max_delay_s * rate24 / decimation);
    std::size_t best_lag = 0;
    double best = 0;
    for (std::size_t lag = 0; lag <= max_lag; ++lag) {
        const double c = std::abs(correlation(p, r, f, t, lag));
        if (c > best) {
            best = c;
            best_lag = lag;
        }
    }
    // To the sample, around the coarse peak.
    const std::size_t centre = best_lag * decimation;
    std::size_t fine_lag = centre;
    double fine = 0;
    for (std::size_t lag = centre >= decimation ? centre - decimation : 0;
         lag <= centre + decimation; ++lag) {
        const double c = std::abs(correlation(played, recorded, from, to, lag));
        if (c > fine) {
            fine = c;
            fine_lag = lag;
        }
    }
    return {fine_lag, std::max(fine, best)};
}

}  // namespace

std::vector<core::sample> echo_test_signal(int rate, double quiet_s, double signal_s) {
    const auto quiet = static_cast<std::size_t>(quiet_s * rate);
    const auto n = static_cast<std::size_t>(signal_s * rate);
    std::vector<core::sample> out(quiet + n, 0);
    // White noise through a 200 Hz high-pass and a 4 kHz low-pass (one pole each), under a
    // syllabic envelope (3.7 Hz, down to -20 dB between "syllables"), scaled to -20 dBFS RMS.
    std::uint32_t seed = 0x2545f491u;
    const double hp = std::exp(-2.0 * std::numbers::pi * 200.0 / rate);
    const double lp = std::exp(-2.0 * std::numbers::pi * 4000.0 / rate);
    double hp_x = 0;
    double hp_y = 0;
    double lp_y = 0;
    std::vector<double> x(n);
    double e = 0;
    for (std::size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        const double w = static_cast<double>(seed >> 8) / static_cast<double>(1u << 24) - 0.5;
        hp_y = hp * (hp_y + w - hp_x);
        hp_x = w;
        lp_y = (1 - lp) * hp_y + lp * lp_y;
        const double t = static_cast<double>(i) / rate;
        const double env = 0.1 + 0.9 * std::pow(std::sin(std::numbers::pi * 3.7 * t), 2);
        x[i] = lp_y * env;
        e += x[i] * x[i];
    }
    const double scale = e > 0 ? 0.1 / std::sqrt(e / static_cast<double>(n)) : 0;  // -20 dBFS
    for (std::size_t i = 0; i < n; ++i) {
        const double v = std::clamp(x[i] * scale, -1.0, 1.0);
        out[quiet + i] = static_cast<core::sample>(std::lround(v * 32767.0));
    }
    return out;
}

echo_test_result analyse_echo(core::pcm_view played, core::pcm_view recorded, std::size_t quiet,
                              std::int64_t device_delay_samples) {
    echo_test_result r;
    const std::size_t n = std::min(played.size(), recorded.size());
    played = played.first(n);
    recorded = recorded.first(n);
    r.device_delay_ms = static_cast<double>(device_delay_samples) * 1000.0 / rate24;
    // The noise floor: the silence before the signal, less its first quarter (the device may
    // still be starting).
    r.noise_floor_dbfs = to_dbfs(rms_of(recorded, quiet / 4, quiet));
    std::size_t end = n;
    while (end > quiet && played[end - 1] == 0) --end;  // the signal, without the tail
    if (end <= quiet + rate24 / 2) return r;            // too short to judge
    r.played_dbfs = to_dbfs(rms_of(played, quiet, end));

    const auto [lag, corr] = find_delay(played, recorded, quiet, end);
    r.correlation = corr;
    r.delay_ms = static_cast<double>(lag) * 1000.0 / rate24;
    r.echo_dbfs = to_dbfs(rms_of(recorded, quiet + lag, end + lag));
    r.echo_gain_db = r.echo_dbfs - r.played_dbfs;
    std::size_t clipped = 0;
    for (std::size_t i = quiet; i < n; ++i)
        clipped += std::abs(static_cast<int>(recorded[i])) >= 32767;
    r.clipped_fraction = static_cast<double>(clipped) / static_cast<double>(n - quiet);
    r.echo_found =
        corr >= found_correlation && r.echo_dbfs > r.noise_floor_dbfs + found_over_noise_db;
    if (!r.echo_found) return r;

    if (!audio::speexdsp_available()) {
        r.canceller_available = false;
        r.canceller_error = audio::speexdsp_error();
        return r;
    }
    // What a conversation does with it: the same stage, the device's own delay, 10 ms blocks.
    audio::processing_options o;
    o.echo = audio::echo_handling::aec;
    o.high_pass = true;
    const auto stage = audio::make_audio_processor(o);
    stage->set_echo_delay(device_delay_samples);
    constexpr std::size_t B = core::dsp_block_samples;
    std::vector<core::sample> block(B);
    double in = 0;
    double out = 0;
    for (std::size_t at = 0; at + B <= n; at += B) {
        stage->render(played.subspan(at, B));
        std::copy_n(recorded.begin() + static_cast<std::ptrdiff_t>(at), B, block.begin());
        stage->capture(core::pcm_span(block.data(), B));
        if (!stage->report().converged) continue;
        // Blocks whose echo comes from the signal: what the canceller had to remove.
        if (at < quiet + lag || at + B > end + lag) continue;
        for (std::size_t i = 0; i < B; ++i) {
            in += static_cast<double>(recorded[at + i]) * recorded[at + i];
            out += static_cast<double>(block[i]) * block[i];
        }
    }
    r.converged = in > 0;
    if (r.converged) {
        r.erle_db = 10.0 * std::log10(in / std::max(out, in * 1e-12));  // at most 120 dB
        r.residual_dbfs = r.echo_dbfs - r.erle_db;
    }
    return r;
}

echo_probe::echo_probe(int rate, double quiet_s, double signal_s, double tail_s)
    : rate_(rate), quiet_(static_cast<std::size_t>(quiet_s * rate)) {
    played_ = echo_test_signal(rate, quiet_s, signal_s);
    played_.resize(played_.size() + static_cast<std::size_t>(tail_s * rate), 0);
    recorded_.assign(played_.size(), 0);
}

void echo_probe::process(core::pcm_view in, core::pcm_span out,
                         const audio::callback_timing& timing) noexcept {
    std::size_t at = at_.load(std::memory_order_relaxed);
    const std::size_t n = out.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t k = at + i;
        out[i] = k < played_.size() ? played_[k] : core::sample{0};
        if (k < recorded_.size() && i < in.size()) recorded_[k] = in[i];
    }
    if (at < played_.size()) {
        delay_.store(timing.echo_delay_samples, std::memory_order_relaxed);
        at_.store(std::min(at + n, played_.size()), std::memory_order_release);
    }
}

}  // namespace ava::app
