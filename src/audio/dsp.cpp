#include "ava/audio/dsp.hpp"

#include <algorithm>
#include <cmath>

namespace ava::audio {

float rms(core::pcm_view pcm) noexcept {
    if (pcm.empty()) return 0.0f;
    double sum = 0;
    for (const core::sample s : pcm) sum += static_cast<double>(s) * s;
    return static_cast<float>(std::sqrt(sum / static_cast<double>(pcm.size())) / 32768.0);
}

dsp_report dsp_stage::report() const {
    return {};
}

dsp_report energy_gate_dsp::report() const {
    dsp_report r;
    r.echo = "gate";
    r.blocks = blocks_;
    r.gated_blocks = gated_;
    r.echo_blocks = echo_blocks_;
    return r;
}

energy_gate_dsp::energy_gate_dsp(options opts) : opts_(opts) {}

void energy_gate_dsp::render(core::pcm_view speaker) {
    const float r = rms(speaker);
    speaker_rms_ = opts_.smoothing * r + (1.0f - opts_.smoothing) * speaker_rms_;
}

void energy_gate_dsp::capture(core::pcm_span mic) {
    ++blocks_;
    if (speaker_rms_ >= opts_.audible) ++echo_blocks_;
    if (speaker_rms_ < opts_.audible) {
        last_passed_ = rms(mic) >= opts_.floor;
        return;  // speaker silent: the gate is open
    }
    const float need = std::max(opts_.floor, opts_.ratio * speaker_rms_ + opts_.margin);
    last_passed_ = rms(mic) >= need;
    if (!last_passed_) {
        std::fill(mic.begin(), mic.end(), core::sample{0});
        ++gated_;
    }
}

}  // namespace ava::audio
