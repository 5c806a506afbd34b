#include "ava/audio/resampler.hpp"

#include <stdexcept>
#include <string>

#include <soxr.h>

namespace ava::audio {

struct resampler::impl {
    soxr_t soxr = nullptr;
    ~impl() {
        if (soxr != nullptr) soxr_delete(soxr);
    }
};

namespace {

soxr_t create(int in_rate, int out_rate) {
    soxr_error_t err = nullptr;
    // No dither: the output is deterministic, so a stream in chunks equals a one-shot convert.
    soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
    io.flags |= SOXR_NO_DITHER;
    // HQ (20-bit, 91 % passband): steep enough to suppress content above the new Nyquist;
    // its delay at 24<->48 kHz is about 1 ms, which the play clock tolerates.
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_t s = soxr_create(in_rate, out_rate, 1, &err, &io, &q, nullptr);
    if (err != nullptr || s == nullptr) {
        throw std::runtime_error("resampler: soxr_create " + std::to_string(in_rate) + " -> " +
                                 std::to_string(out_rate) +
                                 " Hz failed: " + (err != nullptr ? err : "unknown"));
    }
    return s;
}

// Runs soxr over `in` (nullptr = end of input) and appends everything it produces to `out`.
void run(soxr_t s, const core::sample* in, std::size_t n, double ratio,
         std::vector<core::sample>& out) {
    std::size_t consumed_total = 0;
    for (;;) {
        const std::size_t room = static_cast<std::size_t>(static_cast<double>(n) * ratio) + 256;
        const std::size_t old = out.size();
        out.resize(old + room);
        std::size_t idone = 0;
        std::size_t odone = 0;
        const core::sample* src = in != nullptr ? in + consumed_total : nullptr;
        const std::size_t ilen = in != nullptr ? n - consumed_total : 0;
        const soxr_error_t err = soxr_process(s, src, ilen, &idone, out.data() + old, room, &odone);
        out.resize(old + odone);
        if (err != nullptr) return;  // soxr errors only on misuse; nothing more to produce
        consumed_total += idone;
        // Done when all input is consumed and soxr did not fill the room we gave it.
        if ((in == nullptr || consumed_total >= n) && odone < room) return;
    }
}

}  // namespace

resampler::resampler(int in_rate, int out_rate)
    : in_rate_(in_rate), out_rate_(out_rate), impl_(std::make_unique<impl>()) {
    if (in_rate <= 0 || out_rate <= 0) throw std::runtime_error("resampler: bad rate");
    if (in_rate != out_rate) impl_->soxr = create(in_rate, out_rate);
}

resampler::~resampler() = default;

void resampler::process(core::pcm_view in, std::vector<core::sample>& out) {
    if (passthrough()) {
        out.insert(out.end(), in.begin(), in.end());
        return;
    }
    if (in.empty()) return;
    run(impl_->soxr, in.data(), in.size(), static_cast<double>(out_rate_) / in_rate_, out);
}

void resampler::drain(std::vector<core::sample>& out) {
    if (passthrough()) return;
    run(impl_->soxr, nullptr, 0, 1.0, out);
    soxr_clear(impl_->soxr);
}

void resampler::reset() {
    if (!passthrough()) soxr_clear(impl_->soxr);
}

std::vector<core::sample> resampler::convert(core::pcm_view in, int in_rate, int out_rate) {
    std::vector<core::sample> out;
    resampler rs(in_rate, out_rate);
    out.reserve(static_cast<std::size_t>(static_cast<double>(in.size()) * out_rate / in_rate) +
                256);
    rs.process(in, out);
    rs.drain(out);
    return out;
}

}  // namespace ava::audio
