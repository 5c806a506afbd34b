#include "ava/audio/engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <thread>

namespace ava::audio {
namespace {

constexpr std::size_t segment_capacity = 4096;  // play() calls queued in the ring at once
constexpr std::size_t stamp_capacity = 1024;    // device periods waiting for read()

std::size_t ms_to_device(int ms, int rate) {
    return static_cast<std::size_t>(static_cast<std::int64_t>(ms) * rate / 1000);
}

std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

float to_db(float full_scale) noexcept {
    if (full_scale <= 1e-6f) return -120.0f;
    return 20.0f * std::log10(full_scale);
}

level measure(core::pcm_view block) noexcept {
    int peak = 0;
    for (const core::sample s : block) peak = std::max(peak, std::abs(static_cast<int>(s)));
    return {to_db(rms(block)), to_db(static_cast<float>(peak) / 32768.0f)};
}

}  // namespace

engine::engine(engine_config cfg)
    : rate_(cfg.device_rate),
      threshold_(ms_to_device(cfg.start_threshold_ms, cfg.device_rate)),
      fade_len_(std::max<std::size_t>(1, ms_to_device(cfg.fade_ms, cfg.device_rate))),
      dsp_(cfg.dsp ? std::move(cfg.dsp) : std::make_unique<identity_dsp>()),
      capture_(ms_to_device(cfg.capture_ms, cfg.device_rate)),
      reference_(ms_to_device(cfg.capture_ms, cfg.device_rate)),
      stamps_(stamp_capacity),
      playback_(ms_to_device(cfg.playback_ms, cfg.device_rate)),
      segments_(segment_capacity),
      play_rs_(core::wire_rate, cfg.device_rate),
      mic_rs_(cfg.device_rate, core::wire_rate),
      ref_rs_(cfg.device_rate, core::wire_rate) {
    if (cfg.device_rate < 8000 || cfg.device_rate > 384000 || cfg.start_threshold_ms < 0 ||
        cfg.fade_ms < 1 || cfg.fade_ms > 50 || cfg.capture_ms < 40 || cfg.playback_ms < 100) {
        throw std::invalid_argument("audio engine: configuration out of range");
    }
    // Everything the io thread needs is reserved here so steady-state read()/play() rarely
    // allocate (the realtime thread never does).
    mic_dev_.reserve(capture_.capacity());
    ref_dev_.reserve(capture_.capacity());
    mic_24k_.reserve(capture_.capacity() * 2);
    ref_24k_.reserve(capture_.capacity() * 2);
    frame_acc_.reserve(capture_.capacity() * 2);
    scratch_.reserve(ms_to_device(200, cfg.device_rate));
}

engine::~engine() = default;

// ---- realtime thread --------------------------------------------------------------------------

// realtime thread
void engine::process(core::pcm_view in, core::pcm_span out,
                     const callback_timing& timing) noexcept {
    const std::int64_t global_before = rt_global_;
    rt_now_ns_ =
        timing.now.time_since_epoch().count() == 0
            ? now_ns()
            : std::chrono::duration_cast<std::chrono::nanoseconds>(timing.now.time_since_epoch())
                  .count();
    // Seqlock window: readers of the play clock retry while it is odd. The writer never waits.
    const std::uint64_t s = seq_.load(std::memory_order_relaxed);
    seq_.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);

    render_held(out, static_cast<std::uint64_t>(global_before));

    rt_global_ = global_before + static_cast<std::int64_t>(out.size());
    global_rendered_.store(rt_global_, std::memory_order_relaxed);
    played_at_cb_.store(rt_global_ - std::max<std::int64_t>(0, timing.output_pending_samples),
                        std::memory_order_relaxed);
    cb_ns_.store(rt_now_ns_, std::memory_order_relaxed);
    seq_.store(s + 2, std::memory_order_release);
    echo_delay_dev_.store(timing.echo_delay_samples, std::memory_order_relaxed);

    // Capture: the speaker reference first, then the mic, always the same count, so the DSP
    // stage sees both in lockstep (a full ring drops the same samples from both).
    if (!in.empty()) {
        const std::size_t room = std::min(capture_.writable(), reference_.writable());
        const std::size_t k = std::min(in.size(), room);
        const std::size_t ref_k = std::min(k, out.size());
        reference_.write(core::pcm_view(out.data(), ref_k));
        if (ref_k < k) {
            // No output this period (input-only device): the speaker played silence.
            static constexpr std::array<core::sample, 256> zeros{};
            std::size_t left = k - ref_k;
            while (left > 0) {
                const std::size_t z = std::min(left, zeros.size());
                reference_.write(core::pcm_view(zeros.data(), z));
                left -= z;
            }
        }
        capture_.write(in.first(k));
        if (k < in.size()) {
            overruns_.fetch_add(1, std::memory_order_relaxed);
            dropped_capture_.fetch_add(in.size() - k, std::memory_order_relaxed);
        }
        if (k > 0) {
            const stamp st{capture_.total_written(), rt_now_ns_};
            stamps_.write(std::span<const stamp>(&st, 1));  // full: the next stamp covers it
        }
    }
    callbacks_.fetch_add(1, std::memory_order_relaxed);
}

// realtime thread (inside the seqlock window)
void engine::publish_clock(std::uint32_t tag, std::int64_t add, std::int64_t end) noexcept {
    tag_slot& slot = slots_[tag % tag_slots];
    if (!slot.used.load(std::memory_order_relaxed) ||
        slot.tag.load(std::memory_order_relaxed) != tag) {
        slot.tag.store(tag, std::memory_order_relaxed);
        slot.rendered.store(0, std::memory_order_relaxed);
        slot.first_ns.store(rt_now_ns_, std::memory_order_relaxed);
        slot.used.store(true, std::memory_order_relaxed);
    }
    slot.rendered.store(slot.rendered.load(std::memory_order_relaxed) + add,
                        std::memory_order_relaxed);
    slot.last_end.store(end, std::memory_order_relaxed);
    last_audio_end_.store(end, std::memory_order_relaxed);
}

// realtime thread: render_playback() with the local barge-in's pause around it.
void engine::render_held(core::pcm_span out, std::uint64_t global_before) noexcept {
    const bool hold = hold_.load(std::memory_order_acquire);
    const bool flush_due = flush_requested_.load(std::memory_order_acquire) != rt_flush_seen_;
    if (hold && (rt_held_ || flush_due)) {
        // Paused: silence that consumes nothing. A flush still runs (its fade is not heard).
        if (flush_due) render_playback(out, global_before);
        std::fill(out.begin(), out.end(), core::sample{0});
        rt_held_ = true;
        return;
    }
    if (hold) {
        // Pausing: this period plays at most the fade's length, fading out, then silence.
        const std::size_t m = std::min(out.size(), fade_len_);
        render_playback(out.first(m), global_before);
        for (std::size_t j = 0; j < m; ++j) {
            const float gain = static_cast<float>(m - j - 1) / static_cast<float>(m);
            out[j] = static_cast<core::sample>(std::lround(out[j] * gain));
        }
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(m), out.end(), core::sample{0});
        rt_held_ = true;
        return;
    }
    render_playback(out, global_before);
    if (rt_held_) {
        rt_held_ = false;
        rt_fade_in_left_ = fade_len_;
    }
    for (std::size_t j = 0; j < out.size() && rt_fade_in_left_ > 0; ++j, --rt_fade_in_left_) {
        const float gain =
            static_cast<float>(fade_len_ - rt_fade_in_left_ + 1) / static_cast<float>(fade_len_);
        out[j] = static_cast<core::sample>(std::lround(out[j] * gain));
    }
}

void engine::hold(bool on) noexcept {
    hold_.store(on, std::memory_order_release);
}

bool engine::holding() const noexcept {
    return hold_.load(std::memory_order_acquire);
}

// realtime thread
void engine::render_playback(core::pcm_span out, std::uint64_t global_before) noexcept {
    const std::size_t n = out.size();
    auto state = static_cast<playback_state>(state_.load(std::memory_order_relaxed));

    // Discards everything queued before the flush target (the consumer moves the read index).
    auto finish_flush = [&]() noexcept {
        const std::uint64_t r = playback_.total_read();
        if (rt_flush_target_ > r) {
            flushed_samples_.fetch_add(playback_.discard(rt_flush_target_ - r),
                                       std::memory_order_relaxed);
        }
        segment seg{};
        while (segments_.peek(std::span<segment>(&seg, 1)) == 1 && seg.end <= rt_flush_target_) {
            segments_.discard(1);
        }
        if (rt_have_segment_ && rt_segment_.end <= rt_flush_target_) rt_have_segment_ = false;
        flushes_.fetch_add(1, std::memory_order_relaxed);
        flush_done_ns_.store(rt_now_ns_, std::memory_order_relaxed);
        flush_done_.store(rt_flush_pending_, std::memory_order_release);
        rt_flush_pending_ = 0;
        state = playback_state::idle;
    };

    const std::uint64_t g = flush_requested_.load(std::memory_order_acquire);
    if (g != rt_flush_seen_) {
        rt_flush_seen_ = g;
        rt_flush_target_ = std::max(rt_flush_target_, flush_until_.load(std::memory_order_acquire));
        rt_flush_pending_ = g;
        if (rt_fade_left_ == 0) {
            const std::uint64_t r = playback_.total_read();
            const std::size_t before_target =
                rt_flush_target_ > r ? static_cast<std::size_t>(rt_flush_target_ - r) : 0;
            if (state == playback_state::playing) {
                rt_fade_total_ = rt_fade_left_ = std::min(fade_len_, before_target);
            }
            if (rt_fade_left_ == 0) finish_flush();
        }
    }

    std::size_t i = 0;
    while (i < n) {
        std::size_t avail = playback_.readable();
        if (state != playback_state::playing) {
            if (avail == 0) {
                // Still waiting for the rest of an item after an underrun: keep saying so.
                const bool unfinished =
                    state == playback_state::buffering &&
                    complete_until_.load(std::memory_order_acquire) < playback_.total_read();
                state = unfinished ? playback_state::buffering : playback_state::idle;
                break;
            }
            const std::uint64_t r = playback_.total_read();
            const bool complete = complete_until_.load(std::memory_order_acquire) >= r + avail;
            if (avail < threshold_ && !complete) {
                state = playback_state::buffering;
                break;
            }
            state = playback_state::playing;
        }
        if (avail == 0) {
            // Out of audio: either the item ended (idle) or the network is late (underrun:
            // silence, never stale samples; buffer up to the threshold again).
            const std::uint64_t r = playback_.total_read();
            if (complete_until_.load(std::memory_order_acquire) >= r) {
                state = playback_state::idle;
            } else {
                underruns_.fetch_add(1, std::memory_order_relaxed);
                state = playback_state::buffering;
            }
            break;
        }
        const std::uint64_t r = playback_.total_read();
        std::size_t k = std::min(n - i, avail);
        if (rt_fade_left_ > 0) k = std::min(k, rt_fade_left_);
        segment seg{};
        while (!rt_have_segment_ || rt_segment_.end <= r) {
            if (segments_.read(std::span<segment>(&seg, 1)) == 0) break;
            rt_segment_ = seg;
            rt_have_segment_ = true;
        }
        const bool tagged = rt_have_segment_ && rt_segment_.end > r;
        if (tagged) k = std::min(k, static_cast<std::size_t>(rt_segment_.end - r));
        playback_.read(out.subspan(i, k));
        if (rt_fade_left_ > 0) {
            // Linear fade-out: the gain falls from (total-1)/total to 0 over the fade.
            for (std::size_t j = 0; j < k; ++j) {
                const std::size_t done = rt_fade_total_ - rt_fade_left_ + j + 1;
                const float gain =
                    static_cast<float>(rt_fade_total_ - done) / static_cast<float>(rt_fade_total_);
                out[i + j] = static_cast<core::sample>(std::lround(out[i + j] * gain));
            }
            rt_fade_left_ -= k;
        }
        if (tagged) {
            publish_clock(rt_segment_.tag, static_cast<std::int64_t>(k),
                          static_cast<std::int64_t>(global_before + i + k));
        }
        i += k;
        if (rt_fade_left_ == 0 && rt_flush_pending_ != 0) finish_flush();
    }
    if (i < n) std::fill(out.begin() + static_cast<std::ptrdiff_t>(i), out.end(), core::sample{0});
    state_.store(static_cast<std::uint8_t>(state), std::memory_order_release);
}

std::size_t engine::capture_room() const noexcept {
    return std::min(capture_.writable(), reference_.writable());
}

bool engine::playback_active() const noexcept {
    // True when a period would render something or change state, false while playback only
    // waits for more audio: a fast WAV device that rendered periods while an item buffered (an
    // underrun, or a start below the threshold) wrote silence as fast as it could, and a short
    // reply made a 1,500 s output file.
    if (flush_requested_.load(std::memory_order_acquire) !=
        flush_done_.load(std::memory_order_acquire)) {
        return true;
    }
    if (state_.load(std::memory_order_acquire) ==
        static_cast<std::uint8_t>(playback_state::playing)) {
        return true;
    }
    const std::size_t ring = playback_.readable();
    const std::size_t queued = ring + backlog_size_.load(std::memory_order_acquire);
    if (queued == 0) return false;
    return queued >= threshold_ ||
           complete_until_.load(std::memory_order_acquire) >= playback_.total_read() + ring;
}

// ---- io thread: capture -----------------------------------------------------------------------

void engine::pump_capture() {
    const std::size_t n = capture_.readable();
    if (n == 0) return;
    mic_dev_.resize(n);
    ref_dev_.resize(n);
    // The reference was published before the mic samples, so at least n are readable.
    reference_.read(ref_dev_);
    capture_.read(mic_dev_);
    const std::size_t before = mic_24k_.size();
    mic_rs_.process(mic_dev_, mic_24k_);
    ref_rs_.process(ref_dev_, ref_24k_);
    mic_24k_total_ += mic_24k_.size() - before;

    // The device's echo delay, for the canceller's reference (at 24 kHz).
    if (const std::int64_t d = echo_delay_dev_.load(std::memory_order_relaxed);
        d != echo_delay_seen_) {
        echo_delay_seen_ = d;
        dsp_->set_echo_delay(d * core::wire_rate / std::max(1, rate_));
    }

    // 10 ms blocks, speaker first (see dsp.hpp).
    const std::size_t blocks = std::min(mic_24k_.size(), ref_24k_.size()) / core::dsp_block_samples;
    local_voice_heard_ = false;
    for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t off = b * core::dsp_block_samples;
        const core::pcm_view ref(ref_24k_.data() + off, core::dsp_block_samples);
        const core::pcm_span mic(mic_24k_.data() + off, core::dsp_block_samples);
        dsp_->render(ref);
        const level ol = measure(ref);
        dsp_->capture(mic);
        local_voice_ = dsp_->voice_active();
        local_voice_heard_ = local_voice_heard_ || dsp_->voice_heard();
        const level il = measure(mic);
        out_rms_.store(ol.rms_db, std::memory_order_relaxed);
        out_peak_.store(ol.peak_db, std::memory_order_relaxed);
        in_rms_.store(il.rms_db, std::memory_order_relaxed);
        in_peak_.store(il.peak_db, std::memory_order_relaxed);
        frame_acc_.insert(frame_acc_.end(), mic.begin(), mic.end());
    }
    if (blocks > 0) {
        const dsp_report r = dsp_->report();
        const std::lock_guard lock(report_mu_);
        report_ = r;
    }
    const auto used = static_cast<std::ptrdiff_t>(blocks * core::dsp_block_samples);
    mic_24k_.erase(mic_24k_.begin(), mic_24k_.begin() + used);
    ref_24k_.erase(ref_24k_.begin(), ref_24k_.begin() + used);
}

bool engine::read(capture_frame& out) {
    service();
    if (frame_acc_.size() < core::frame_samples) pump_capture();
    if (frame_acc_.size() < core::frame_samples) return false;
    std::copy_n(frame_acc_.begin(), core::frame_samples, out.pcm.begin());
    frame_acc_.erase(frame_acc_.begin(),
                     frame_acc_.begin() + static_cast<std::ptrdiff_t>(core::frame_samples));
    // The frame's last sample, at the device rate: the period holding it stamps the frame.
    frame_acc_start_ += core::frame_samples;
    const std::uint64_t dev_end =
        (frame_acc_start_ * static_cast<std::uint64_t>(rate_) + core::wire_rate - 1) /
        core::wire_rate;
    stamp st{};
    while (!io_have_stamp_ || io_stamp_.end < dev_end) {
        if (stamps_.read(std::span<stamp>(&st, 1)) == 0) break;
        io_stamp_ = st;
        io_have_stamp_ = true;
    }
    out.captured =
        io_have_stamp_
            ? std::chrono::steady_clock::time_point(std::chrono::nanoseconds(io_stamp_.ns))
            : std::chrono::steady_clock::now();
    return true;
}

// ---- io thread: playback ----------------------------------------------------------------------

void engine::push_backlog() {
    while (backlog_head_ < backlog_segs_.size()) {
        segment& seg = backlog_segs_[backlog_head_];  // seg.end holds the sample count here
        const std::size_t k = std::min(static_cast<std::size_t>(seg.end), playback_.writable());
        if (k == 0 || segments_.writable() == 0) break;
        // Segment first, then its samples: the realtime thread never sees untagged samples.
        const segment pub{playback_.total_written() + k, seg.tag};
        segments_.write(std::span<const segment>(&pub, 1));
        playback_.write(core::pcm_view(backlog_.data(), k));
        backlog_.erase(backlog_.begin(), backlog_.begin() + static_cast<std::ptrdiff_t>(k));
        seg.end -= k;
        if (seg.end == 0) ++backlog_head_;
    }
    if (backlog_head_ == backlog_segs_.size()) {
        backlog_segs_.clear();
        backlog_head_ = 0;
    }
    backlog_size_.store(backlog_.size(), std::memory_order_release);
    if (complete_pending_ && backlog_.empty()) {
        complete_until_.store(playback_.total_written(), std::memory_order_release);
        complete_pending_ = false;
    }
}

void engine::service() {
    push_backlog();
}

bool engine::play(std::uint32_t tag, core::pcm_view pcm) {
    if (any_tag_ && tag < drop_below_) {
        dropped_plays_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    any_tag_ = true;
    max_tag_ = std::max(max_tag_, tag);
    last_play_tag_ = tag;
    received_slot& rs = received_[tag % tag_slots];
    if (!rs.used.load(std::memory_order_relaxed) || rs.tag.load(std::memory_order_relaxed) != tag) {
        rs.samples.store(0, std::memory_order_relaxed);
        rs.tag.store(tag, std::memory_order_relaxed);
        rs.used.store(true, std::memory_order_release);
    }
    rs.samples.fetch_add(static_cast<std::int64_t>(pcm.size()), std::memory_order_release);
    if (pcm.empty()) return true;

    core::pcm_view data = pcm;
    if (!play_rs_.passthrough()) {
        scratch_.clear();
        play_rs_.process(pcm, scratch_);
        data = scratch_;
    }
    if (data.empty()) return true;
    complete_pending_ = false;  // more audio after an end_item(): the new item is not complete
    if (backlog_.empty()) {
        // Straight into the ring; only what does not fit waits in the backlog.
        const std::size_t k = std::min(data.size(), playback_.writable());
        if (k > 0 && segments_.writable() > 0) {
            // Segment first, then its samples: the realtime thread never sees untagged samples.
            const segment pub{playback_.total_written() + k, tag};
            segments_.write(std::span<const segment>(&pub, 1));
            playback_.write(data.first(k));
            data = data.subspan(k);
        }
        if (data.empty()) return true;
    }
    backlog_.insert(backlog_.end(), data.begin(), data.end());
    if (backlog_head_ < backlog_segs_.size() && backlog_segs_.back().tag == tag) {
        backlog_segs_.back().end += data.size();
    } else {
        backlog_segs_.push_back({data.size(), tag});
    }
    push_backlog();
    return true;
}

void engine::end_item(std::uint32_t tag) {
    if (any_tag_ && tag < drop_below_) return;
    if (!play_rs_.passthrough()) {
        scratch_.clear();
        play_rs_.drain(scratch_);
        if (!scratch_.empty()) {
            backlog_.insert(backlog_.end(), scratch_.begin(), scratch_.end());
            backlog_segs_.push_back({scratch_.size(), tag});
        }
    }
    complete_pending_ = true;
    push_backlog();
}

std::uint64_t engine::flush() {
    backlog_.clear();
    backlog_segs_.clear();
    backlog_head_ = 0;
    backlog_size_.store(0, std::memory_order_release);
    complete_pending_ = false;
    play_rs_.reset();
    if (any_tag_) drop_below_ = max_tag_ + 1;
    const std::uint64_t gen = ++flush_gen_;
    flush_until_.store(playback_.total_written(), std::memory_order_release);
    flush_requested_.store(gen, std::memory_order_release);
    return gen;
}

// ---- any thread -------------------------------------------------------------------------------

bool engine::flush_completed(std::uint64_t generation) const noexcept {
    return flush_done_.load(std::memory_order_acquire) >= generation;
}

engine::clock_snapshot engine::read_clock(const tag_slot* slot, std::uint32_t tag) const noexcept {
    clock_snapshot c;
    for (;;) {
        const std::uint64_t s1 = seq_.load(std::memory_order_acquire);
        if ((s1 & 1U) != 0) {  // the realtime thread is mid-period; it never blocks
            std::this_thread::yield();
            continue;
        }
        if (slot != nullptr) {
            c.match = slot->used.load(std::memory_order_relaxed) &&
                      slot->tag.load(std::memory_order_relaxed) == tag;
            c.rendered = slot->rendered.load(std::memory_order_relaxed);
            c.last_end = slot->last_end.load(std::memory_order_relaxed);
            c.first_ns = slot->first_ns.load(std::memory_order_relaxed);
        }
        c.global = global_rendered_.load(std::memory_order_relaxed);
        c.played = played_at_cb_.load(std::memory_order_relaxed);
        c.cb = cb_ns_.load(std::memory_order_relaxed);
        c.audio_end = last_audio_end_.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) == s1) break;
    }
    // Extrapolate the DAC position since the last period, never past what was handed over.
    if (c.played < c.global && c.cb != 0) {
        const std::int64_t elapsed = std::max<std::int64_t>(0, now_ns() - c.cb);
        c.played = std::min(c.global, c.played + elapsed / 1000 * rate_ / 1'000'000);
    }
    return c;
}

std::chrono::steady_clock::time_point engine::first_rendered_at(std::uint32_t tag) const noexcept {
    const clock_snapshot c = read_clock(&slots_[tag % tag_slots], tag);
    const std::int64_t ns = c.match && c.rendered > 0 ? c.first_ns : 0;
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(ns)));
}

std::chrono::steady_clock::time_point engine::last_flush_done_at() const noexcept {
    (void)flush_done_.load(std::memory_order_acquire);  // pairs with the release in finish_flush
    return std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::nanoseconds(flush_done_ns_.load(std::memory_order_relaxed))));
}

std::int64_t engine::received_samples(std::uint32_t tag) const noexcept {
    const received_slot& rs = received_[tag % tag_slots];
    if (!rs.used.load(std::memory_order_acquire) || rs.tag.load(std::memory_order_acquire) != tag)
        return 0;
    return rs.samples.load(std::memory_order_acquire);
}

std::int64_t engine::heard_samples(std::uint32_t tag) const noexcept {
    const clock_snapshot c = read_clock(&slots_[tag % tag_slots], tag);
    if (!c.match) return 0;
    const std::int64_t in_flight = std::max<std::int64_t>(0, c.last_end - c.played);
    const std::int64_t heard_dev = std::max<std::int64_t>(0, c.rendered - in_flight);
    std::int64_t heard = rate_ == core::wire_rate ? heard_dev : heard_dev * core::wire_rate / rate_;
    return std::min(heard, received_samples(tag));
}

playback_state engine::state() const noexcept {
    return static_cast<playback_state>(state_.load(std::memory_order_acquire));
}

bool engine::drained() const noexcept {
    if (playback_.readable() > 0 || backlog_size_.load(std::memory_order_acquire) > 0 ||
        state() == playback_state::playing)
        return false;
    const clock_snapshot c = read_clock(nullptr, 0);
    return c.played >= c.audio_end;
}

engine_stats engine::stats() const noexcept {
    return {
        .callbacks = callbacks_.load(std::memory_order_relaxed),
        .overruns = overruns_.load(std::memory_order_relaxed),
        .dropped_capture_samples = dropped_capture_.load(std::memory_order_relaxed),
        .underruns = underruns_.load(std::memory_order_relaxed),
        .flushes = flushes_.load(std::memory_order_relaxed),
        .dropped_plays = dropped_plays_.load(std::memory_order_relaxed),
        .flushed_samples = flushed_samples_.load(std::memory_order_relaxed),
    };
}

dsp_report engine::processing() const {
    const std::lock_guard lock(report_mu_);
    return report_;
}

level engine::input_level() const noexcept {
    return {in_rms_.load(std::memory_order_relaxed), in_peak_.load(std::memory_order_relaxed)};
}
level engine::output_level() const noexcept {
    return {out_rms_.load(std::memory_order_relaxed), out_peak_.load(std::memory_order_relaxed)};
}

}  // namespace ava::audio
