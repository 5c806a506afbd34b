// Reconnect backoff: exponential delays with jitter and a bounded number of tries (DESIGN rule 5).
//
// Sans-IO: it only computes delays; the caller waits. The jitter source is injectable so tests
// get exact delays. Not thread-safe: use it from one thread (the io_context thread).
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace ava::realtime {

struct backoff_options {
    std::chrono::milliseconds initial{1000};  ///< delay before the first retry
    std::chrono::milliseconds max{60000};     ///< cap on any single delay
    double factor = 2.0;                      ///< growth per try (1 s, 2 s, 4 s, ...)
    int max_attempts = 5;                     ///< tries before giving up; <= 0 = never give up
    /// Relative jitter: each delay is scaled by a factor drawn uniformly from
    /// [1 - jitter, 1 + jitter] (then capped at `max`), so that many clients dropped at once do
    /// not reconnect in lockstep. 0 = no jitter. Clamped to [0, 1].
    double jitter = 0.2;
};

/// Exponential backoff with jitter.
class backoff {
  public:
    /// Returns a uniform value in [0, 1). Called once per next().
    using jitter_source = std::function<double()>;

    /// `source` empty = an internal PRNG seeded from std::random_device.
    explicit backoff(backoff_options opts = {}, jitter_source source = {});

    /// The delay before the next try, or nullopt when max_attempts tries were already handed
    /// out (give up). Counts one attempt.
    std::optional<std::chrono::milliseconds> next();

    /// Forget the tries made so far (call once a connection is established and working).
    void reset() noexcept { attempts_ = 0; }

    /// Tries handed out since the last reset.
    [[nodiscard]] int attempts() const noexcept { return attempts_; }
    [[nodiscard]] const backoff_options& options() const noexcept { return opts_; }

  private:
    backoff_options opts_;
    jitter_source source_;
    int attempts_ = 0;
};

}  // namespace ava::realtime
