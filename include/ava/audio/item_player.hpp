// The item player: the one owner of assistant-item playback bookkeeping on the io thread.
//
// The engine knows tags (increasing integers) and samples; the conversation knows item ids and
// the protocol. The item player sits between them: it gives each item its tag (the engine
// requires tags to increase per item), queues the item's audio, requests barge-in flushes, and
// turns what the engine's play clock says into a drainable queue of reports for the
// conversation, in the order the conversation's contract needs them (conversation.hpp,
// "Playback"):
//   started   the first sample of the item reached the device
//   progress  samples of the item the listener has heard (at most every 50 ms per item, and
//             once when everything received has been heard)
//   flushed   a flush the device has performed (fade included), with what was heard of the item
//   idle      everything queued has been heard (confirmed here, on the io thread, where every
//             play() has been applied, so a stale "idle" can never follow a newer play)
//
// Threads: io thread only (like the engine's control side). The device's realtime thread never
// sees this class.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ava/audio/engine.hpp"
#include "ava/core/pcm.hpp"

namespace ava::audio {

struct playback_report {
    enum class kind : std::uint8_t { started, progress, flushed, idle };
    kind what = kind::progress;
    std::string item_id;  ///< empty for idle
    /// progress / flushed: 24 kHz samples of the item the listener has heard.
    std::int64_t heard = 0;
    // For event logs and benchmarks:
    std::uint32_t tag = 0;  ///< the engine tag of the item (0: the item never played)
    /// started: when the device period that took the item's first sample ran; flushed: when the
    /// period that completed the flush ran (the report time when no device runs).
    std::chrono::steady_clock::time_point at{};
    std::int64_t received = 0;  ///< flushed: 24 kHz samples of the item received
};

class item_player {
  public:
    using clock = std::chrono::steady_clock;

    explicit item_player(engine& e) : engine_(e) {}
    item_player(const item_player&) = delete;
    item_player& operator=(const item_player&) = delete;

    struct play_result {
        std::uint32_t tag = 0;
        bool first = false;  ///< the item's first audio: it got its tag now
    };
    /// Queues 24 kHz audio of `item_id` (see engine::play: never blocks, never drops accepted
    /// audio; audio of a flushed item is dropped and counted by the engine).
    play_result play(std::string_view item_id, core::pcm_view pcm);
    /// The item's audio is complete: a short item may start below the start threshold.
    void end_item(std::string_view item_id);

    struct flush_request {
        std::uint64_t generation = 0;
        std::uint32_t tag = 0;
    };
    /// Barge-in: fade and drop everything queued (every item). A `flushed` report for `item_id`
    /// follows once the device has performed it (at the next poll() when no device runs).
    flush_request flush(std::string_view item_id);

    /// Reads the play clock and queues reports: started/progress for every playing item, then
    /// flushed for completed flushes, then idle. `device_running`: false once the device has
    /// stopped (or never ran): flushes then complete at once.
    void poll(clock::time_point now, bool device_running);
    /// Only the flushed reports (after a flush when no device runs).
    void poll_flushes(clock::time_point now, bool device_running);

    /// Moves the queued reports into `out` (cleared first); both buffers keep their capacity.
    void drain(std::vector<playback_report>& out);

    /// A flush is waiting for the device.
    [[nodiscard]] bool flush_pending() const noexcept { return !pending_flushes_.empty(); }
    /// Nothing was played since the last idle report and no flush is pending.
    [[nodiscard]] bool settled() const noexcept {
        return !played_since_idle_ && pending_flushes_.empty();
    }

  private:
    struct item_state {
        std::string item_id;
        bool started = false;
        std::int64_t last_heard = 0;
        clock::time_point last_report{};
    };
    struct pending_flush {
        std::uint64_t generation = 0;
        std::string item_id;
        std::uint32_t tag = 0;
    };

    [[nodiscard]] std::uint32_t tag_of(std::string_view item_id) const;

    engine& engine_;
    std::map<std::string, std::uint32_t, std::less<>> tags_;  // item -> engine tag
    std::uint32_t next_tag_ = 0;
    std::map<std::uint32_t, item_state> playing_;  // items that may still be heard
    std::deque<pending_flush> pending_flushes_;
    bool played_since_idle_ = false;
    std::vector<playback_report> reports_;
};

}  // namespace ava::audio
