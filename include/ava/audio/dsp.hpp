// The DSP stage between capture and send: echo cancellation, noise suppression, a local VAD.
//
// Timing contract (why the engine calls render() first): an echo canceller must see each
// speaker block before the mic block that may hold its echo (Mumble's Resynchronizer note).
// The engine feeds 10 ms blocks at 24 kHz in device order: for every device period it calls
// render() with what the speaker played in that period, THEN capture() with what the mic
// recorded in the same period. Echo of a speaker block arrives in the same or later mic blocks,
// so it is always preceded by its reference. The shape matches WebRTC APM
// (ProcessReverseStream then ProcessStream) and speexdsp (speex_echo_playback/capture), so either
// can be slotted in as one dsp_stage with shared state.
//
// Both methods run on the thread that calls engine::read() (the io thread), never on the
// realtime thread, so an implementation may use normal C++ but should stay fast (< 1 ms).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "ava/core/pcm.hpp"

namespace ava::audio {

/// What a DSP stage did so far (dsp_stage::report()).
struct dsp_report {
    const char* echo = "off";        ///< "off", "gate" or "aec"
    std::uint64_t blocks = 0;        ///< 10 ms capture blocks processed
    std::uint64_t echo_blocks = 0;   ///< blocks while the assistant was audible at the mic
    std::uint64_t gated_blocks = 0;  ///< blocks replaced by silence
    double echo_in_db = -120;        ///< mean mic level over echo blocks without local speech
    double echo_out_db = -120;       ///< the same blocks after processing
    [[nodiscard]] double erle_db() const noexcept { return echo_in_db - echo_out_db; }
    bool converged = false;    ///< the canceller passes audio while the assistant speaks
    bool echo_absent = false;  ///< the assistant's sound does not reach the mic (headphones)
    std::int64_t echo_delay_samples = 0;  ///< bulk delay applied to the reference
};

class dsp_stage {
  public:
    virtual ~dsp_stage() = default;
    /// 10 ms (core::dsp_block_samples) of what the speaker played, at 24 kHz.
    virtual void render(core::pcm_view speaker) = 0;
    /// 10 ms of microphone audio at 24 kHz, processed in place.
    virtual void capture(core::pcm_span mic) = 0;
    /// True when the last capture block held (local) speech; stages without a VAD say false.
    /// Seam for the echo-cancellation issue's local VAD (local barge-in, send cadence).
    [[nodiscard]] virtual bool voice_active() const noexcept { return false; }
    /// True when the last capture block was itself voiced: voice_active() without the VAD's
    /// hangover, so that how long the user spoke is measured by the words, not by the quiet
    /// that ends them (a 0.4 s "uh-huh" is not a 0.6 s turn).
    [[nodiscard]] virtual bool voice_heard() const noexcept { return voice_active(); }
    /// The echo path's delay that the device's own timing reports (DAC plus ADC latency, in
    /// 24 kHz samples): how much later than the engine's reference the echo can first arrive.
    /// The engine calls it on the io thread when the figure changes; stages without a canceller
    /// ignore it.
    virtual void set_echo_delay(std::int64_t /*samples*/) {}
    /// What the stage did so far, for the run summary, the doctor and the benchmarks.
    [[nodiscard]] virtual dsp_report report() const;
};

/// Pass-through: the default.
class identity_dsp final : public dsp_stage {
  public:
    void render(core::pcm_view) override {}
    void capture(core::pcm_span) override {}
};

/// Playback-relative energy gate for speakers without AEC (the openai-agents-python PR #2166
/// rule): while the speaker is audible, a mic block passes only when its RMS exceeds
/// max(floor, ratio * smoothed speaker RMS + margin); otherwise it is replaced by silence so the
/// server VAD does not hear the assistant's own voice. RMS values are in full scale (0..1).
class energy_gate_dsp final : public dsp_stage {
  public:
    struct options {
        float floor = 0.015f;    ///< minimum mic RMS that passes while the speaker is audible
        float ratio = 0.6f;      ///< mic must exceed this fraction of the speaker RMS...
        float margin = 0.002f;   ///< ...plus this margin
        float audible = 0.001f;  ///< speaker RMS below this counts as silent (gate open)
        float smoothing = 0.3f;  ///< weight of the newest speaker block in the smoothed RMS
    };
    explicit energy_gate_dsp(options opts);
    energy_gate_dsp() : energy_gate_dsp(options{}) {}
    void render(core::pcm_view speaker) override;
    void capture(core::pcm_span mic) override;
    [[nodiscard]] bool voice_active() const noexcept override { return last_passed_; }
    [[nodiscard]] dsp_report report() const override;
    /// Blocks replaced by silence so far.
    [[nodiscard]] std::uint64_t gated_blocks() const noexcept { return gated_; }

  private:
    options opts_;
    float speaker_rms_ = 0.0f;
    bool last_passed_ = false;
    std::uint64_t gated_ = 0;
    std::uint64_t blocks_ = 0;
    std::uint64_t echo_blocks_ = 0;
};

/// RMS of a block in full scale (0..1).
float rms(core::pcm_view pcm) noexcept;

}  // namespace ava::audio
