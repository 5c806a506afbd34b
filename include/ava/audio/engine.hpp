// The audio engine: the realtime-safe bridge between a device and the io thread.
//
//   device --process()--> [capture ring + speaker-reference ring, device rate]
//      io thread: read() -> resample to 24 kHz -> dsp_stage (render, then capture) -> frames
//   io thread: play(tag, pcm) -> resample to device rate -> [playback ring + tag segments]
//      device --process()--> fade/flush, jitter start threshold, per-tag rendered clock
//
// Threads: process(), capture_room() and playback_active() are for the device's realtime thread
// (they only copy between lock-free SPSC rings and count; no locks, allocation, logging). Every
// other method is for ONE control thread (the io thread), except stats()/levels()/state()/
// drained()/flush_completed()/heard_samples(), which any thread may call.
//
// Barge-in (DESIGN rule 1, STYLE habit 3): flush() only sets a request; the realtime thread
// performs it at the start of its next period (only the consumer moves the read index): it fades
// the current item out linearly over `fade_ms`, discards everything queued before the request,
// and then publishes the request's generation. flush_completed(gen) tells the io thread it is
// done; heard_samples(tag) is then final for the flushed item. Late play() calls for a flushed
// tag are dropped by the engine itself: flush() drops every tag <= the highest tag played so far,
// so tags MUST increase per item (e.g. a counter per assistant audio part).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "ava/audio/device.hpp"
#include "ava/audio/dsp.hpp"
#include "ava/audio/engine_config.hpp"
#include "ava/audio/resampler.hpp"
#include "ava/audio/stats.hpp"
#include "ava/core/pcm.hpp"
#include "ava/core/spsc_ring.hpp"

namespace ava::audio {

/// One 20 ms wire frame of processed microphone audio.
struct capture_frame {
    std::array<core::sample, core::frame_samples> pcm{};
    /// When the device delivered the period that completed this frame (steady_clock), so a
    /// benchmark can measure "mic frame captured -> append on the wire".
    std::chrono::steady_clock::time_point captured{};
};

enum class playback_state : std::uint8_t {
    idle,       ///< nothing queued; silence
    buffering,  ///< audio queued but below the start threshold (new item or after an underrun)
    playing,    ///< rendering queued audio
};

class engine final : public device_callback {
  public:
    /// Allocates every ring up front. Throws std::invalid_argument for a bad config.
    explicit engine(engine_config cfg);
    ~engine() override;
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // ---- realtime thread (device_callback) ---------------------------------------------------
    void process(core::pcm_view in, core::pcm_span out,
                 const callback_timing& timing) noexcept override;
    [[nodiscard]] std::size_t capture_room() const noexcept override;
    [[nodiscard]] bool playback_active() const noexcept override;

    // ---- io thread: capture -----------------------------------------------------------------
    /// Non-blocking: fills `out` with the next processed 20 ms frame and returns true, or
    /// returns false when less than a frame is ready. Also moves backlog into the playback ring.
    bool read(capture_frame& out);

    // ---- io thread: playback ----------------------------------------------------------------
    /// Queues 24 kHz mono PCM for item `tag` (tags increase per item). Returns false when the
    /// tag was flushed (the audio is dropped and counted). Never blocks; never drops accepted
    /// audio (what does not fit the ring waits in a backlog that service() and read() move on).
    bool play(std::uint32_t tag, core::pcm_view pcm);
    /// The item's audio is complete (e.g. response.output_audio.done): drains the resampler tail
    /// and lets a short item start below the start threshold.
    void end_item(std::uint32_t tag);
    /// Requests a barge-in flush (see the header comment); returns its generation.
    std::uint64_t flush();
    /// Moves backlog into the playback ring; call every 10-20 ms while audio is queued.
    void service();
    /// Local barge-in: pauses playback where it is (a fade-out over fade_ms, then silence
    /// that consumes nothing, so the play clock stops at what was heard), or resumes it there
    /// with a fade-in. A flush while paused is performed silently.
    void hold(bool on) noexcept;
    [[nodiscard]] bool holding() const noexcept;
    /// Whether the DSP stage's local VAD heard speech in the last capture block (io thread).
    [[nodiscard]] bool local_voice() const noexcept { return local_voice_; }
    /// Whether any capture block of the last service() was voiced itself (no hangover): the
    /// length of what the user said (dsp_stage::voice_heard).
    [[nodiscard]] bool local_voice_heard() const noexcept { return local_voice_heard_; }

    // ---- any thread ---------------------------------------------------------------------------
    /// True once the realtime thread has performed flush request `generation` (fade included).
    [[nodiscard]] bool flush_completed(std::uint64_t generation) const noexcept;
    /// 24 kHz samples of item `tag` the listener has heard: rendered by the device minus what is
    /// still in flight to the DAC, clamped to what was received. Rounded down. 0 for a tag the
    /// engine no longer tracks (it remembers the last 64 tags).
    [[nodiscard]] std::int64_t heard_samples(std::uint32_t tag) const noexcept;
    /// When the device period that handed the first sample of item `tag` to the device ran
    /// (its callback time). Epoch when nothing of `tag` was rendered or the tag is no longer
    /// tracked. Lets the io thread report "first sample handed to the device" exactly, whatever
    /// its own tick.
    [[nodiscard]] std::chrono::steady_clock::time_point first_rendered_at(
        std::uint32_t tag) const noexcept;
    /// When the device period that completed the latest flush ran (the period whose buffer
    /// ended the fade; every later buffer is silent until new audio). Epoch before any flush.
    [[nodiscard]] std::chrono::steady_clock::time_point last_flush_done_at() const noexcept;
    /// 24 kHz samples of item `tag` accepted by play() (io thread only).
    [[nodiscard]] std::int64_t received_samples(std::uint32_t tag) const noexcept;
    [[nodiscard]] playback_state state() const noexcept;
    /// True when every accepted sample has been rendered and heard (nothing queued, in flight,
    /// or waiting in the backlog/resampler): headless mode's "the last reply finished".
    [[nodiscard]] bool drained() const noexcept;
    [[nodiscard]] engine_stats stats() const noexcept;
    /// Levels of the last processed 10 ms blocks (computed on the io thread, not the callback).
    [[nodiscard]] level input_level() const noexcept;
    [[nodiscard]] level output_level() const noexcept;
    /// What the DSP stage did so far (echo handling, ERLE); any thread except the realtime one.
    [[nodiscard]] dsp_report processing() const;
    [[nodiscard]] int device_rate() const noexcept { return rate_; }

  private:
    struct segment {
        std::uint64_t end;  // playback-ring index one past the segment's last sample
        std::uint32_t tag;
    };
    struct stamp {
        std::uint64_t end;  // capture-ring index one past the period's last sample
        std::int64_t ns;    // steady_clock time of that period
    };
    // Per-tag clock, written by the realtime thread inside the seqlock window.
    struct tag_slot {
        std::atomic<std::uint32_t> tag{0};
        std::atomic<bool> used{false};
        std::atomic<std::int64_t> rendered{0};  // device-rate samples handed to the device
        std::atomic<std::int64_t> last_end{0};  // global output index after its last sample
        std::atomic<std::int64_t> first_ns{0};  // callback time of its first rendered sample
    };
    static constexpr std::size_t tag_slots = 64;
    /// One consistent read of the play clock (the seqlock below), the DAC position extrapolated
    /// to now. `slot` may be null (only the global fields are read).
    struct clock_snapshot {
        bool match = false;  // the slot holds `tag`
        std::int64_t rendered = 0, last_end = 0, first_ns = 0;
        std::int64_t global = 0, played = 0, cb = 0, audio_end = 0;
    };
    [[nodiscard]] clock_snapshot read_clock(const tag_slot* slot, std::uint32_t tag) const noexcept;

    // realtime-thread helpers
    void render_playback(core::pcm_span out, std::uint64_t global_before) noexcept;
    void render_held(core::pcm_span out, std::uint64_t global_before) noexcept;
    void publish_clock(std::uint32_t tag, std::int64_t add, std::int64_t end) noexcept;
    // io-thread helpers
    void pump_capture();
    void push_backlog();

    const int rate_;
    const std::size_t threshold_;  // device-rate samples
    const std::size_t fade_len_;   // device-rate samples
    std::unique_ptr<dsp_stage> dsp_;

    // rings (realtime thread <-> io thread)
    core::spsc_ring<core::sample> capture_;
    core::spsc_ring<core::sample> reference_;  // what the speaker played, in lockstep
    core::spsc_ring<stamp> stamps_;
    core::spsc_ring<core::sample> playback_;
    core::spsc_ring<segment> segments_;

    // io -> realtime requests
    std::atomic<std::uint64_t> flush_requested_{0};
    std::atomic<std::uint64_t> flush_until_{0};
    std::atomic<std::uint64_t> complete_until_{0};  // playback index up to which items ended
    // realtime -> anyone
    std::atomic<std::uint64_t> flush_done_{0};
    std::atomic<std::int64_t> flush_done_ns_{0};  // callback time of the latest completed flush
    std::atomic<std::uint8_t> state_{0};
    std::atomic<std::uint64_t> seq_{0};  // seqlock over the clock fields below
    std::atomic<std::int64_t> global_rendered_{0};
    std::atomic<std::int64_t> played_at_cb_{0};
    std::atomic<std::int64_t> cb_ns_{0};
    std::atomic<std::int64_t> echo_delay_dev_{0};  // callback_timing::echo_delay_samples
    std::int64_t echo_delay_seen_ = -1;            // io thread: the last figure handed on
    std::atomic<bool> hold_{false};                // io thread requests, realtime obeys
    bool rt_held_ = false;                         // realtime: paused (after the fade-out)
    std::size_t rt_fade_in_left_ = 0;              // realtime: fade-in after a resume
    bool local_voice_ = false;                     // io thread: dsp_->voice_active()
    bool local_voice_heard_ = false;               // io thread: dsp_->voice_heard(), any block
    mutable std::mutex report_mu_;                 // io thread writes, any reader
    dsp_report report_;
    std::atomic<std::int64_t> last_audio_end_{0};  // global output index after the last item sample
    std::array<tag_slot, tag_slots> slots_{};
    // counters
    std::atomic<std::uint64_t> callbacks_{0}, overruns_{0}, dropped_capture_{0}, underruns_{0},
        flushes_{0}, dropped_plays_{0}, flushed_samples_{0};
    std::atomic<float> in_rms_{-120.0f}, in_peak_{-120.0f}, out_rms_{-120.0f}, out_peak_{-120.0f};

    // realtime-thread-only state
    std::uint64_t rt_flush_seen_ = 0;
    std::uint64_t rt_flush_pending_ = 0;  // generation being faded out (0 = none)
    std::uint64_t rt_flush_target_ = 0;   // discard up to this index when the fade ends
    std::size_t rt_fade_left_ = 0;
    std::size_t rt_fade_total_ = 0;
    segment rt_segment_{0, 0};
    bool rt_have_segment_ = false;
    std::int64_t rt_global_ = 0;
    std::int64_t rt_now_ns_ = 0;  // this period's callback time

    // io-thread-only state
    resampler play_rs_, mic_rs_, ref_rs_;
    std::vector<core::sample> scratch_;  // device-rate play() output
    std::vector<core::sample> backlog_;  // device-rate samples waiting for ring space
    std::vector<segment> backlog_segs_;  // (count, tag) pairs stored as {end=count, tag}
    std::size_t backlog_head_ = 0;
    std::vector<core::sample> mic_dev_, ref_dev_;  // read from the rings (device rate)
    std::vector<core::sample> mic_24k_, ref_24k_;  // resampled, not yet processed
    std::vector<core::sample> frame_acc_;          // processed 24 kHz mic samples
    std::uint64_t mic_24k_total_ = 0;              // 24 kHz samples resampled so far
    std::uint64_t frame_acc_start_ = 0;            // 24 kHz index of frame_acc_[0]
    stamp io_stamp_{0, 0};
    bool io_have_stamp_ = false;
    std::uint32_t max_tag_ = 0;
    bool any_tag_ = false;
    std::uint32_t drop_below_ = 0;  // play(tag) with tag < drop_below_ is dropped
    std::uint32_t last_play_tag_ = 0;
    std::uint64_t flush_gen_ = 0;
    bool complete_pending_ = false;  // end_item() seen while its audio waits in the backlog
    // Written by the io thread only; atomics so heard_samples() may clamp from any thread.
    struct received_slot {
        std::atomic<std::uint32_t> tag{0};
        std::atomic<bool> used{false};
        std::atomic<std::int64_t> samples{0};
    };
    std::array<received_slot, tag_slots> received_{};
    std::atomic<std::size_t> backlog_size_{0};
};

}  // namespace ava::audio
