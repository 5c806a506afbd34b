#include "wire_audio.hpp"

#include <algorithm>
#include <cmath>

namespace ava::sim::detail {

namespace {
// ITU-T G.711 reference conversions.
std::int16_t ulaw_decode(std::uint8_t u) {
    u = static_cast<std::uint8_t>(~u);
    const int sign = u & 0x80;
    const int exponent = (u >> 4) & 0x07;
    const int mantissa = u & 0x0f;
    int sample = ((mantissa << 3) + 0x84) << exponent;
    sample -= 0x84;
    return static_cast<std::int16_t>(sign ? -sample : sample);
}
std::uint8_t ulaw_encode(std::int16_t pcm) {
    int s = pcm;
    const int sign = s < 0 ? 0x80 : 0;
    if (s < 0) s = -s;
    s = std::min(s, 32635) + 0x84;
    int exponent = 7;
    for (int mask = 0x4000; (s & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
    const int mantissa = (s >> (exponent + 3)) & 0x0f;
    return static_cast<std::uint8_t>(~(sign | (exponent << 4) | mantissa));
}
std::int16_t alaw_decode(std::uint8_t a) {
    a ^= 0x55;
    int t = (a & 0x0f) << 4;
    const int seg = (a & 0x70) >> 4;
    if (seg == 0)
        t += 8;
    else if (seg == 1)
        t += 0x108;
    else
        t = (t + 0x108) << (seg - 1);
    return static_cast<std::int16_t>((a & 0x80) ? t : -t);
}
std::uint8_t alaw_encode(std::int16_t pcm) {
    int s = pcm;
    int mask = 0xd5;
    if (s < 0) {
        mask = 0x55;
        s = -s - 1;
    }
    s = std::min(s, 32767);
    int seg = 0;
    for (int v = s >> 8; v > 0 && seg < 7; v >>= 1) ++seg;
    int aval = seg << 4;
    aval |= seg < 1 ? (s >> 4) & 0x0f : (s >> (seg + 3)) & 0x0f;
    return static_cast<std::uint8_t>(aval ^ mask);
}
}  // namespace

std::vector<std::int16_t> g711_to_pcm24k(const std::vector<std::uint8_t>& bytes, bool ulaw) {
    // 8 kHz -> 24 kHz by linear interpolation: good enough for VAD and the WAV record.
    std::vector<std::int16_t> out;
    out.reserve(bytes.size() * 3);
    std::int16_t prev = 0;
    for (std::uint8_t b : bytes) {
        const std::int16_t cur = ulaw ? ulaw_decode(b) : alaw_decode(b);
        for (int k = 1; k <= 3; ++k)
            out.push_back(static_cast<std::int16_t>(prev + (cur - prev) * k / 3));
        prev = cur;
    }
    return out;
}

std::vector<std::uint8_t> pcm24k_to_g711(const std::int16_t* pcm, std::size_t n, bool ulaw) {
    // 24 kHz -> 8 kHz by averaging each 3 samples (a crude low-pass before decimation).
    std::vector<std::uint8_t> out;
    out.reserve(n / 3);
    for (std::size_t i = 0; i + 3 <= n; i += 3) {
        const auto avg = static_cast<std::int16_t>((pcm[i] + pcm[i + 1] + pcm[i + 2]) / 3);
        out.push_back(ulaw ? ulaw_encode(avg) : alaw_encode(avg));
    }
    return out;
}

double energy_vad::level_for_threshold(double threshold) {
    const double dbfs = -70.0 + 60.0 * std::clamp(threshold, 0.0, 1.0);
    return std::pow(10.0, dbfs / 20.0);
}

void energy_vad::reset() {
    in_speech_ = false;
    voiced_run_ms_ = 0;
    silence_run_ms_ = 0;
    start_sample_ = 0;
}

energy_vad::event energy_vad::feed_block(const std::int16_t* block, std::size_t n,
                                         std::int64_t end_sample) {
    if (n == 0) return event::none;
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double v = block[i] / 32768.0;
        sum += v * v;
    }
    const double rms = std::sqrt(sum / static_cast<double>(n));
    const bool voiced = rms >= level_for_threshold(cfg_.threshold);
    const int block_ms = static_cast<int>(n * 1000 / 24000);
    if (!in_speech_) {
        voiced_run_ms_ = voiced ? voiced_run_ms_ + block_ms : 0;
        if (voiced_run_ms_ >= 30) {
            in_speech_ = true;
            silence_run_ms_ = 0;
            const std::int64_t onset = end_sample - voiced_run_ms_ * 24;
            start_sample_ = std::max<std::int64_t>(0, onset - cfg_.prefix_padding_ms * 24);
            voiced_run_ms_ = 0;
            return event::started;
        }
        return event::none;
    }
    silence_run_ms_ = voiced ? 0 : silence_run_ms_ + block_ms;
    if (silence_run_ms_ >= std::max(cfg_.silence_duration_ms, 10)) {
        in_speech_ = false;
        silence_run_ms_ = 0;
        return event::stopped;
    }
    return event::none;
}

}  // namespace ava::sim::detail
