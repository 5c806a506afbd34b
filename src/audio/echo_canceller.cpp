// The audio processing stage: speexdsp's echo canceller and preprocessor, a high-pass, a local
// VAD (see echo_canceller.hpp for the rules).
#include "ava/audio/echo_canceller.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#include "ava/audio/speexdsp.hpp"

namespace ava::audio {
namespace {

constexpr std::size_t block = core::dsp_block_samples;  // 10 ms at 24 kHz
constexpr float audible_rms = 0.001f;                   // -60 dBFS: the speaker is silent below

double to_db(double energy_per_sample) {
    return energy_per_sample <= 1e-12 ? -120.0 : 10.0 * std::log10(energy_per_sample);
}

float block_rms(const float* x) noexcept {
    double sum = 0;
    for (std::size_t i = 0; i < block; ++i) sum += static_cast<double>(x[i]) * x[i];
    return static_cast<float>(std::sqrt(sum / block) / 32768.0);
}

/// 2nd-order Butterworth high-pass (RBJ cookbook), 80 Hz at 24 kHz.
struct high_pass_filter {
    float b0, b1, b2, a1, a2;
    float x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    high_pass_filter() {
        const double w = 2.0 * 3.14159265358979 * 80.0 / core::wire_rate;
        const double alpha = std::sin(w) / (2.0 * 0.7071);
        const double a0 = 1.0 + alpha;
        b0 = static_cast<float>((1.0 + std::cos(w)) / 2.0 / a0);
        b1 = static_cast<float>(-(1.0 + std::cos(w)) / a0);
        b2 = b0;
        a1 = static_cast<float>(-2.0 * std::cos(w) / a0);
        a2 = static_cast<float>((1.0 - alpha) / a0);
    }
    float operator()(float x) noexcept {
        const float y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
        x2 = x1;
        x1 = x;
        y2 = y1;
        y1 = y;
        return y;
    }
};

class speex_processor final : public dsp_stage {
  public:
    explicit speex_processor(const processing_options& o) : opts_(o) {
        filter_samples_ =
            static_cast<std::size_t>(std::clamp(o.filter_ms, 20, 1000)) * core::wire_rate / 1000;
        // The reference ring holds the longest bulk delay (1 s), the filter and a block.
        std::size_t need = core::wire_rate + filter_samples_ + 2 * block;
        std::size_t size = block;
        while (size < need) size <<= 1;
        ring_.assign(size, 0);
        ring_blocks_ = size / block;
        block_rms_.assign(ring_blocks_, 0.0f);
        if (o.echo == echo_handling::aec || o.echo == echo_handling::automatic) {
            echo_ =
                speex_echo_state_init(static_cast<int>(block), static_cast<int>(filter_samples_));
            if (echo_ == nullptr) fail("echo cancellation");
            int rate = core::wire_rate;
            speex_echo_ctl(echo_, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
        }
        if (echo_ != nullptr || o.noise || o.gain) {
            pre_ = speex_preprocess_state_init(static_cast<int>(block), core::wire_rate);
            if (pre_ == nullptr) fail(o.noise ? "noise suppression" : "gain control");
            // The residual echo suppressor is part of the preprocessor's spectral gain, which
            // only runs with denoise on; without noise suppression asked for, it barely
            // touches the noise (-3 dB at most).
            int on = 1;
            int off = 0;
            speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_DENOISE, &on);
            int noise_db = o.noise ? -25 : -3;
            speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &noise_db);
            speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_AGC, o.gain ? &on : &off);
            if (o.gain) {
                float level = 5000.0f;  // about -16 dBFS RMS speech
                speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_AGC_LEVEL, &level);
                int max_gain = 24;
                speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, &max_gain);
            }
            speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_DEREVERB, &off);
            if (echo_ != nullptr) {
                speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_ECHO_STATE, echo_);
                int echo_db = -45;
                int active_db = -20;
                speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, &echo_db);
                speex_preprocess_ctl(pre_, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, &active_db);
            }
        }
        vad_level_ = static_cast<float>(std::pow(10.0, o.vad_dbfs / 20.0));
        vad_snr_ = static_cast<float>(std::pow(10.0, o.vad_snr_db / 20.0));
        vad_echo_ratio_ = static_cast<float>(std::pow(10.0, -o.vad_echo_margin_db / 20.0));
        vad_fast_ratio_ = static_cast<float>(std::pow(10.0, o.vad_fast_margin_db / 20.0));
    }

    ~speex_processor() override {
        if (pre_ != nullptr) speex_preprocess_state_destroy(pre_);
        if (echo_ != nullptr) speex_echo_state_destroy(echo_);
    }

    speex_processor(const speex_processor&) = delete;
    speex_processor& operator=(const speex_processor&) = delete;

    void render(core::pcm_view speaker) override {
        const std::size_t mask = ring_.size() - 1;
        for (std::size_t i = 0; i < speaker.size(); ++i) ring_[(rendered_ + i) & mask] = speaker[i];
        block_rms_[(rendered_ / block) % ring_blocks_] = rms(speaker);
        rendered_ += speaker.size();
    }

    void capture(core::pcm_span mic) override {
        if (mic.size() != block) return;  // the engine always hands 10 ms blocks
        ++blocks_;
        for (std::size_t i = 0; i < block; ++i) {
            const float x = mic[i];
            in_[i] = opts_.high_pass ? hp_(x) : x;
        }
        const float mic_rms = block_rms(in_.data());
        const float far = far_level();
        const bool far_audible = far >= audible_rms;
        if (far_audible) ++echo_blocks_;

        bool gated = false;
        float estimate_rms = 0.0f;
        if (opts_.echo == echo_handling::gate) {
            // energy_gate_dsp's rule, against the loudest speaker block the echo can come from.
            const energy_gate_dsp::options g;
            const float need = std::max(g.floor, g.ratio * far + g.margin);
            gated = far_audible && mic_rms < need;
            for (std::size_t i = 0; i < block; ++i) out_[i] = to_sample(in_[i]);
            if (pre_ != nullptr) speex_preprocess_run(pre_, out_.data());
        } else if (echo_ != nullptr &&
                   (opts_.echo == echo_handling::aec || far_audible || pre_only_needed())) {
            // A whisper of noise (about -90 dBFS), so that the filter never adapts on exact
            // zeros (a virtual or muted microphone sends digital silence).
            for (std::size_t i = 0; i < block; ++i) near_[i] = to_sample(in_[i] + dither());
            delayed_reference(ref_.data());
            speex_echo_cancellation(echo_, near_.data(), ref_.data(), out_.data());
            // What the filter took out: its echo estimate (large where it over-predicts, as at
            // some word onsets, where the output can be louder than the echo was).
            double removed = 0;
            for (std::size_t i = 0; i < block; ++i) {
                const double d = static_cast<double>(near_[i]) - out_[i];
                removed += d * d;
            }
            estimate_rms = static_cast<float>(std::sqrt(removed / block) / 32768.0);
            speex_preprocess_run(pre_, out_.data());
        } else {
            for (std::size_t i = 0; i < block; ++i) out_[i] = to_sample(in_[i]);
            if (pre_ != nullptr && echo_ == nullptr) speex_preprocess_run(pre_, out_.data());
        }

        float out_rms = rms(core::pcm_view(out_.data(), block));
        bool clearly_user = false;
        if (echo_ != nullptr && far_audible) {
            track_convergence(mic_rms, out_rms);
            // The preprocessor's overlap-add delays its output by a block, so the output is
            // judged against the loudest of the last three blocks' mic and estimate.
            recent_echo_[recent_at_++ % recent_echo_.size()] = std::max(mic_rms, estimate_rms);
            const float echo_rms = *std::max_element(recent_echo_.begin(), recent_echo_.end());
            // A filter that removed more than the mic held is mis-adjusted for this block (it
            // over-predicts, as at some word onsets): what it sends is its own error.
            const bool overshoot = estimate_rms > mic_rms && mic_rms > 0.0f;
            clearly_user = converged_ && !overshoot && far_above_residual(echo_rms, out_rms);
            out_rms = suppress_residual(echo_rms, out_rms, overshoot);
            // A cold canceller lets most of the echo through: hold the mic (and so barge-in)
            // until it has converged, or until it is clear there is no echo to cancel.
            track_echo_absence(far, mic_rms);
            if (!converged_ && !echo_absent_) gated = true;
        } else {
            nlp_gain_ = 1.0f;
            recent_echo_.fill(0.0f);
        }
        if (gated) {
            std::fill(out_.begin(), out_.end(), core::sample{0});
            out_rms = 0.0f;
            ++gated_blocks_;
        }
        update_vad(out_rms, gated, far_audible ? mic_rms : 0.0f, clearly_user);
        if (far_audible && !speech_ && mic_rms > 0) {
            echo_in_ += static_cast<double>(mic_rms) * mic_rms;
            echo_out_ += static_cast<double>(out_rms) * out_rms;
            ++echo_measured_;
        }
        std::copy(out_.begin(), out_.end(), mic.begin());
    }

    [[nodiscard]] bool voice_active() const noexcept override { return speech_; }
    [[nodiscard]] bool voice_heard() const noexcept override { return speech_ && quiet_ms_ == 0; }

    void set_echo_delay(std::int64_t samples) override {
        const std::int64_t margin = static_cast<std::int64_t>(opts_.margin_ms) * 24;
        const std::int64_t max_delay = core::wire_rate;
        const std::int64_t d = std::clamp<std::int64_t>(samples - margin, 0, max_delay);
        // Moving the reference throws away what the filter learned (the echo leaks until it
        // re-converges), and PulseAudio's figure wanders by 10 ms and more from one callback to
        // the next. So it moves only when the echo would leave the filter: earlier than the
        // reference (the figure fell by more than the margin) or later than half the filter
        // (another device, a latency change, drift that built up).
        if (!delay_known_ || samples < delay_ || d > delay_ + filter_delay_slack()) {
            delay_ = d;
            delay_known_ = true;
        }
    }

    [[nodiscard]] dsp_report report() const override {
        dsp_report r;
        r.echo = opts_.echo == echo_handling::gate ? "gate" : "aec";
        r.blocks = blocks_;
        r.echo_blocks = echo_blocks_;
        r.gated_blocks = gated_blocks_;
        if (echo_measured_ > 0) {
            r.echo_in_db = to_db(echo_in_ / static_cast<double>(echo_measured_));
            r.echo_out_db = to_db(echo_out_ / static_cast<double>(echo_measured_));
        }
        r.converged = converged_;
        r.echo_absent = echo_absent_ && !converged_;
        r.echo_delay_samples = delay_;
        return r;
    }

  private:
    [[noreturn]] static void fail(const char* what) {
        throw std::runtime_error(std::string(what) +
                                 " needs speexdsp, which could not be loaded: " + speexdsp_error() +
                                 " (or turn it off: --echo gate|off, --noise off, --gain off)");
    }

    [[nodiscard]] bool pre_only_needed() const noexcept { return opts_.noise || opts_.gain; }

    [[nodiscard]] std::int64_t filter_delay_slack() const noexcept {
        return static_cast<std::int64_t>(filter_samples_ / 2);
    }

    static core::sample to_sample(float v) noexcept {
        return static_cast<core::sample>(std::clamp(v, -32768.0f, 32767.0f));
    }

    /// The loudest speaker block whose echo can be in this mic block: from the bulk delay to
    /// the bulk delay plus the filter.
    [[nodiscard]] float far_level() const noexcept {
        if (rendered_ < block) return 0.0f;
        const std::uint64_t newest = rendered_ / block - 1;
        const std::uint64_t skip = static_cast<std::uint64_t>(delay_) / block;
        const std::uint64_t span = filter_samples_ / block + 2;
        float m = 0.0f;
        for (std::uint64_t k = 0; k < span; ++k) {
            if (newest < skip + k) break;
            m = std::max(m, block_rms_[(newest - skip - k) % ring_blocks_]);
        }
        return m;
    }

    void delayed_reference(core::sample* dst) const noexcept {
        const std::size_t mask = ring_.size() - 1;
        const auto end = static_cast<std::int64_t>(rendered_) - delay_;
        for (std::size_t i = 0; i < block; ++i) {
            const std::int64_t p =
                end - static_cast<std::int64_t>(block) + static_cast<std::int64_t>(i);
            dst[i] = p < 0 ? core::sample{0} : ring_[static_cast<std::size_t>(p) & mask];
        }
    }

    /// The non-linear processor: a block more than `vad_echo_margin_db` under the mic or under
    /// the filter's echo estimate (`echo_rms`, the larger of the two) held echo and little else
    /// (a user talking over the echo keeps most of the mic's level), so what is left of it is
    /// attenuated by 30 dB more, with the gain ramped
    /// across the block (no clicks). Speech the filter's residual would otherwise leak, in
    /// bursts of 20-30 ms at word onsets, is what a service's VAD takes for a barge-in.
    float suppress_residual(float echo_rms, float out_rms, bool overshoot) noexcept {
        const float target = overshoot || out_rms < echo_rms * vad_echo_ratio_ ? 0.03f : 1.0f;
        const float from = nlp_gain_;
        for (std::size_t i = 0; i < block; ++i) {
            const float g = from + (target - from) * static_cast<float>(i + 1) / block;
            out_[i] = to_sample(static_cast<float>(out_[i]) * g);
        }
        nlp_gain_ = target;
        return target == 1.0f && from == 1.0f ? out_rms : rms(core::pcm_view(out_.data(), block));
    }

    float dither() noexcept {
        dither_seed_ = dither_seed_ * 1664525u + 1013904223u;
        return static_cast<float>(dither_seed_ >> 8) / 16777216.0f * 2.0f - 1.0f;
    }

    /// The local VAD's fast path: once converged, the filter leaves a residual tens of dB under
    /// the echo (`residual_` tracks how far, over the blocks where only the assistant speaks).
    /// A cleaned block `vad_fast_margin_db` over that residual, before the non-linear stage
    /// attenuates it, is the user's voice rising under the echo: it is heard 20-40 ms before
    /// the voice is within `vad_echo_margin_db` of the echo itself.
    bool far_above_residual(float echo_rms, float cleaned_rms) noexcept {
        if (echo_rms <= 0.0f) return false;
        const float expected = echo_rms * residual_;
        const bool above = cleaned_rms > std::max(vad_level_, noise_floor_ * vad_snr_) &&
                           cleaned_rms > expected * vad_fast_ratio_;
        if (!above && !speech_ && voiced_ms_ == 0) {
            // Only the assistant: follow its residual (energies, slowly; a floor of -80 dB).
            const double r = static_cast<double>(cleaned_rms) / echo_rms;
            res_energy_ = 0.98 * res_energy_ + 0.02 * r * r;
            residual_ = std::max(1e-4f, static_cast<float>(std::sqrt(res_energy_)));
        }
        return above;
    }

    /// Headphones: the speaker's sound never reaches the mic, so the filter has nothing to
    /// converge on, and holding the mic until it does would take away the user's voice over
    /// the assistant for good. Loud speaker blocks (over -40 dBFS) whose mic stayed 30 dB under
    /// them, in at least 80% of `converge_ms` of them, say there is no echo path. (An echo
    /// path leaves far fewer such blocks: only the gaps between words, and the user talking
    /// over the assistant counts against it.)
    void track_echo_absence(float far, float mic_rms) noexcept {
        if (converged_ || echo_absent_ || far < 0.01f) return;
        ++absence_judged_;
        if (mic_rms < far * 0.0316f) ++absence_quiet_;
        if (absence_judged_ * 10 >= static_cast<std::uint64_t>(opts_.converge_ms) &&
            absence_quiet_ * 5 >= absence_judged_ * 4) {
            echo_absent_ = true;
        }
    }

    void track_convergence(float mic_rms, float out_rms) noexcept {
        if (converged_ || mic_rms < 0.003f) return;  // too little echo to judge
        ++judged_blocks_;
        conv_in_ = 0.97 * conv_in_ + 0.03 * static_cast<double>(mic_rms) * mic_rms;
        conv_out_ = 0.97 * conv_out_ + 0.03 * static_cast<double>(out_rms) * out_rms;
        const double erle = to_db(conv_in_) - to_db(conv_out_);
        if (judged_blocks_ * 10 >= static_cast<std::uint64_t>(opts_.converge_ms) &&
            erle >= opts_.converged_db) {
            converged_ = true;
        }
    }

    /// `mic_rms` is the level before cancellation while the assistant is audible (else 0): the
    /// cleaned block counts as the user's voice only when it kept a good part of the mic's
    /// level. A user talking over the echo keeps most of it (the echo is removed, the voice
    /// stays); residual echo is 20-40 dB under the mic and never passes, however loud.
    void update_vad(float out_rms, bool gated, float mic_rms, bool clearly_user) noexcept {
        if (gated) {
            voiced_ms_ = 0;
            if (speech_) {
                quiet_ms_ += 10;
                if (quiet_ms_ >= opts_.vad_hangover_ms) speech_ = false;
            }
            return;
        }
        // Noise floor: follows drops at once, rises slowly (0.5 dB a second).
        noise_floor_ = std::max(1e-5f, out_rms < noise_floor_ ? out_rms : noise_floor_ * 1.00058f);
        const bool loud = out_rms > std::max(vad_level_, noise_floor_ * vad_snr_) &&
                          out_rms >= mic_rms * vad_echo_ratio_;
        fast_ms_ = clearly_user ? fast_ms_ + 10 : 0;
        if (loud || fast_ms_ >= opts_.vad_fast_onset_ms) {
            quiet_ms_ = 0;
            voiced_ms_ += 10;
            if (voiced_ms_ >= opts_.vad_onset_ms || fast_ms_ >= opts_.vad_fast_onset_ms) {
                speech_ = true;
            }
        } else if (clearly_user) {
            quiet_ms_ = 0;  // rising: not yet speech, not quiet either
        } else {
            voiced_ms_ = 0;
            quiet_ms_ += 10;
            if (quiet_ms_ >= opts_.vad_hangover_ms) speech_ = false;
        }
    }

    processing_options opts_;
    SpeexEchoState* echo_ = nullptr;
    SpeexPreprocessState* pre_ = nullptr;
    std::size_t filter_samples_ = 0;
    std::vector<core::sample> ring_;  // what the speaker played
    std::vector<float> block_rms_;    // and each 10 ms block's level
    std::size_t ring_blocks_ = 0;
    std::uint64_t rendered_ = 0;
    std::int64_t delay_ = 0;
    bool delay_known_ = false;
    std::array<float, block> in_{};
    std::array<core::sample, block> near_{};
    std::array<core::sample, block> ref_{};
    std::array<core::sample, block> out_{};
    high_pass_filter hp_;
    bool converged_ = false;
    float nlp_gain_ = 1.0f;
    std::array<float, 3> recent_echo_{};
    std::size_t recent_at_ = 0;
    std::uint64_t judged_blocks_ = 0;
    std::uint64_t absence_judged_ = 0, absence_quiet_ = 0;
    bool echo_absent_ = false;
    double conv_in_ = 0, conv_out_ = 0;
    float vad_level_ = 0, vad_snr_ = 0, vad_echo_ratio_ = 0, noise_floor_ = 1e-3f;
    float vad_fast_ratio_ = 0, residual_ = 0.1f;  // -20 dB until measured
    double res_energy_ = 0.01;
    std::uint32_t dither_seed_ = 0x9e3779b9u;
    int voiced_ms_ = 0, quiet_ms_ = 0, fast_ms_ = 0;
    bool speech_ = false;
    std::uint64_t blocks_ = 0, echo_blocks_ = 0, gated_blocks_ = 0;
    double echo_in_ = 0, echo_out_ = 0;
    std::uint64_t echo_measured_ = 0;
};

}  // namespace

const char* to_string(echo_handling e) noexcept {
    switch (e) {
        case echo_handling::off:
            return "off";
        case echo_handling::gate:
            return "gate";
        case echo_handling::aec:
            return "aec";
        case echo_handling::automatic:
            return "auto";
    }
    return "?";
}

std::unique_ptr<dsp_stage> make_audio_processor(const processing_options& opts) {
    if (opts.echo == echo_handling::off && !opts.noise && !opts.gain && !opts.high_pass) {
        return std::make_unique<identity_dsp>();
    }
    return std::make_unique<speex_processor>(opts);
}

}  // namespace ava::audio
