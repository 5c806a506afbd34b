#include "ava/realtime/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace ava::realtime {

backoff::backoff(backoff_options opts, jitter_source source)
    : opts_(opts), source_(std::move(source)) {
    opts_.jitter = std::clamp(opts_.jitter, 0.0, 1.0);
    if (opts_.factor < 1.0) opts_.factor = 1.0;
    if (opts_.initial.count() < 0) opts_.initial = std::chrono::milliseconds{0};
    if (opts_.max < opts_.initial) opts_.max = opts_.initial;
    if (!source_) {
        // Shared by value in the lambda: the generator lives as long as this backoff.
        auto gen = std::make_shared<std::minstd_rand>(std::random_device{}());
        source_ = [gen] { return std::uniform_real_distribution<double>(0.0, 1.0)(*gen); };
    }
}

std::optional<std::chrono::milliseconds> backoff::next() {
    if (opts_.max_attempts > 0 && attempts_ >= opts_.max_attempts) return std::nullopt;
    const double base = static_cast<double>(opts_.initial.count()) *
                        std::pow(opts_.factor, static_cast<double>(attempts_));
    const double capped = std::min(base, static_cast<double>(opts_.max.count()));
    const double u = std::clamp(source_(), 0.0, 1.0);
    const double scaled = capped * (1.0 - opts_.jitter + 2.0 * opts_.jitter * u);
    const double limited = std::min(scaled, static_cast<double>(opts_.max.count()));
    ++attempts_;
    return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(limited))};
}

}  // namespace ava::realtime
