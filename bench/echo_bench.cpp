// ava-echo-bench: the audio processing stage on the deterministic echo rig (a), offline and
// block-exact, with ground truth. The same calls the engine makes per 10 ms block (room capture,
// speaker render, dsp render then capture), so every figure is the stage's own, not a model.
//
// Usage: ava-echo-bench --far assistant.wav --near user.wav [--delay MS] [--gain DB]
//                       [--modes off,gate,aec] [--trials N]
// Both WAVs 24 kHz mono PCM16 (bench.py converts them with sox). Prints one line per mode:
//   echo_bench mode=aec gain_db=0 delay_ms=65 erle_db=... erle_warm_db=... erle_cold_db=...
//     frame_us_median=... frame_us_p99=... bargein_detected=19/20 detect_ms_median=...
//     detect_ms_worst=... doubletalk_corr=... false_onsets_per_min=... peak_rss_kb=...
// Definitions:
//  - ERLE: echo energy at the mic over the energy sent, over the blocks where only the
//    assistant is audible (40 s of its speech); cold is the first 1.5 s, warm the rest (99:
//    the stage held the mic in every cold block, as it does until the canceller converges).
//  - barge-in: the user's sentence starts 1.5 s into an assistant turn (after 3 s of warm-up
//    speech); detected when the stage's local VAD says speech within 300 ms of the onset (the
//    first block of the user's sentence above -45 dBFS); the time is from onset to detection.
//  - double talk: the correlation of what is sent with the clean user speech while both speak.
//  - false onsets: local VAD onsets while only the assistant is audible, per minute.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <sndfile.h>

#include "ava/audio/dsp.hpp"
#include "ava/audio/echo_canceller.hpp"
#include "ava/audio/echo_room.hpp"

namespace {

bool trace = false;  // --trace: every block of (1) that sends more than -45 dBFS
using ava::core::sample;
constexpr std::size_t B = ava::core::dsp_block_samples;

std::vector<sample> read_wav(const std::string& path) {
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    if (f == nullptr) throw std::runtime_error("cannot read " + path + ": " + sf_strerror(nullptr));
    if (info.samplerate != 24000 || info.channels != 1) {
        sf_close(f);
        throw std::runtime_error(path + ": needs 24 kHz mono");
    }
    std::vector<sample> v(static_cast<std::size_t>(info.frames));
    sf_read_short(f, v.data(), info.frames);
    sf_close(f);
    return v;
}

double energy(const sample* x, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
    return s;
}

double db(double e) {
    return e <= 1e-9 ? -120.0 : 10.0 * std::log10(e);
}

struct result {
    double erle = 0, erle_cold = 0, erle_warm = 0;
    double frame_med_us = 0, frame_p99_us = 0;
    int detected = 0, trials = 0;
    double detect_med_ms = 0, detect_worst_ms = 0;
    double corr = 0;
    double false_onsets_per_min = 0;
};

std::unique_ptr<ava::audio::dsp_stage> make(const std::string& mode) {
    ava::audio::processing_options o;
    if (mode == "off") return std::make_unique<ava::audio::identity_dsp>();
    // The gate as it was before the canceller (the baseline), not --echo gate today.
    if (mode == "gate") return std::make_unique<ava::audio::energy_gate_dsp>();
    o.echo = mode == "aec" ? ava::audio::echo_handling::aec : ava::audio::echo_handling::automatic;
    o.high_pass = true;
    return ava::audio::make_audio_processor(o);
}

/// One pass over `far` (what plays) and `near` (the user, at the same timeline).
struct pass {
    std::vector<sample> sent;
    std::vector<bool> vad;  // per block
    std::vector<double> frame_us;
};

pass run(const std::string& mode, const ava::audio::echo_room_options& ro,
         const std::vector<sample>& far, const std::vector<sample>& near, bool echo_only_mic,
         std::vector<sample>* echo_at_mic) {
    auto dsp = make(mode);
    ava::audio::echo_room room(ro);
    ava::audio::echo_room echo_only(ro);  // the same room, for the echo alone
    pass p;
    const std::size_t blocks = std::min(far.size(), near.size()) / B;
    p.sent.resize(blocks * B);
    p.vad.resize(blocks);
    p.frame_us.reserve(blocks);
    if (echo_at_mic != nullptr) echo_at_mic->assign(blocks * B, 0);
    std::vector<sample> mic(B), ref(B), eo(B);
    for (std::size_t b = 0; b < blocks; ++b) {
        std::copy_n(near.begin() + static_cast<std::ptrdiff_t>(b * B), B, mic.begin());
        if (echo_only_mic) std::fill(mic.begin(), mic.end(), sample{0});
        room.capture(mic);
        std::fill(eo.begin(), eo.end(), sample{0});
        echo_only.capture(eo);
        std::copy_n(far.begin() + static_cast<std::ptrdiff_t>(b * B), B, ref.begin());
        room.play(ref);
        echo_only.play(ref);
        if (echo_at_mic != nullptr)
            std::copy(eo.begin(), eo.end(),
                      echo_at_mic->begin() + static_cast<std::ptrdiff_t>(b * B));
        const auto t0 = std::chrono::steady_clock::now();
        dsp->render(ref);
        dsp->capture(mic);
        const auto t1 = std::chrono::steady_clock::now();
        p.frame_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        std::copy(mic.begin(), mic.end(), p.sent.begin() + static_cast<std::ptrdiff_t>(b * B));
        p.vad[b] = dsp->voice_active();
    }
    return p;
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

std::vector<sample> loop_to(const std::vector<sample>& x, std::size_t n) {
    std::vector<sample> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = x[i % x.size()];
    return v;
}

result measure(const std::string& mode, const ava::audio::echo_room_options& ro,
               const std::vector<sample>& far_src, const std::vector<sample>& near_src,
               int trials) {
    result r;
    // (1) ERLE: 40 s of the assistant, nobody else.
    const std::size_t n1 = std::max<std::size_t>(40 * 24000, far_src.size());
    const auto far1 = loop_to(far_src, n1);
    const std::vector<sample> silence(n1, 0);
    std::vector<sample> echo;
    const pass p1 = run(mode, ro, far1, silence, true, &echo);
    double in_all = 0, out_all = 0, in_cold = 0, out_cold = 0, in_warm = 0, out_warm = 0;
    const std::size_t cold_blocks = 150;
    int onsets = 0;
    bool prev = false;
    for (std::size_t b = 0; b < p1.vad.size(); ++b) {
        const double ei = energy(echo.data() + b * B, B);
        const double eo = energy(p1.sent.data() + b * B, B);
        if (ei / B < 32768.0 * 32768.0 * 1e-6) continue;  // echo under -60 dBFS: not a segment
        in_all += ei;
        out_all += eo;
        (b < cold_blocks ? in_cold : in_warm) += ei;
        (b < cold_blocks ? out_cold : out_warm) += eo;
        if (p1.vad[b] && !prev && b >= cold_blocks) ++onsets;
        if (trace && eo / B > 32768.0 * 32768.0 * 3.16e-5) {
            std::printf("trace t=%.2f echo_db=%.1f sent_db=%.1f\n", static_cast<double>(b) / 100.0,
                        db(ei / B / 32768.0 / 32768.0), db(eo / B / 32768.0 / 32768.0));
        }
        prev = p1.vad[b];
    }
    r.erle = db(in_all) - db(out_all);
    r.erle_cold = std::min(99.0, db(in_cold) - db(out_cold));  // 99: the stage held every block
    r.erle_warm = db(in_warm) - db(out_warm);
    r.frame_med_us = percentile(p1.frame_us, 0.5);
    r.frame_p99_us = percentile(p1.frame_us, 0.99);
    r.false_onsets_per_min =
        onsets * 60.0 / ((static_cast<double>(p1.vad.size()) - cold_blocks) / 100.0);

    // (2) Barge-in: 3 s of warm-up, then `trials` turns of 4 s; the user starts 1.5 s in.
    const std::size_t warm = 3 * 24000, turn = 4 * 24000, onset_off = 36000;
    const std::size_t n2 = warm + static_cast<std::size_t>(trials) * turn;
    const auto far2 = loop_to(far_src, n2);
    std::vector<sample> near2(n2, 0);
    const std::size_t utter = std::min<std::size_t>(near_src.size(), 24000 * 2);
    for (int t = 0; t < trials; ++t) {
        const std::size_t at = warm + static_cast<std::size_t>(t) * turn + onset_off;
        std::copy_n(near_src.begin(), utter, near2.begin() + static_cast<std::ptrdiff_t>(at));
    }
    const pass p2 = run(mode, ro, far2, near2, false, nullptr);
    std::vector<double> lat;
    // The correlation allows for the stage's own latency (the preprocessor's overlap-add adds a
    // block): the best lag from 0 to 20 ms, the same lag for every trial.
    constexpr std::size_t max_lag = 480;
    std::vector<double> sxy(max_lag + 1, 0.0), syy(max_lag + 1, 0.0);
    double sxx = 0;
    for (int t = 0; t < trials; ++t) {
        const std::size_t at = warm + static_cast<std::size_t>(t) * turn + onset_off;
        std::size_t onset = at / B;
        while (onset < (at + utter) / B &&
               energy(near2.data() + onset * B, B) / B < 32768.0 * 32768.0 * 3.16e-5)
            ++onset;  // first block of the sentence above -45 dBFS
        for (std::size_t b = onset; b < onset + 30 && b < p2.vad.size(); ++b) {
            if (p2.vad[b]) {
                lat.push_back(static_cast<double>(b - onset + 1) * 10.0);
                break;
            }
        }
        for (std::size_t i = at; i < at + utter; ++i) {
            const double x = near2[i];
            sxx += x * x;
            for (std::size_t l = 0; l <= max_lag && i + l < p2.sent.size(); l += 4) {
                const double y = p2.sent[i + l];
                sxy[l] += x * y;
                syy[l] += y * y;
            }
        }
    }
    r.trials = trials;
    r.detected = static_cast<int>(lat.size());
    r.detect_med_ms = percentile(lat, 0.5);
    r.detect_worst_ms = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
    r.corr = 0;
    for (std::size_t l = 0; l <= max_lag; l += 4) {
        if (sxx > 0 && syy[l] > 0) r.corr = std::max(r.corr, sxy[l] / std::sqrt(sxx * syy[l]));
    }
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string far_path, near_path, modes = "off,gate,aec";
    ava::audio::echo_room_options ro;
    int trials = 20;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        if (a == "--far")
            far_path = val();
        else if (a == "--near")
            near_path = val();
        else if (a == "--delay")
            ro.delay_ms = std::stoi(val());
        else if (a == "--gain")
            ro.gain_db = std::stod(val());
        else if (a == "--modes")
            modes = val();
        else if (a == "--trials")
            trials = std::stoi(val());
        else if (a == "--trace")
            trace = true;
        else {
            std::fprintf(stderr, "ava-echo-bench: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (far_path.empty() || near_path.empty()) {
        std::fprintf(stderr, "usage: ava-echo-bench --far assistant.wav --near user.wav\n");
        return 2;
    }
    try {
        const auto far = read_wav(far_path);
        const auto near = read_wav(near_path);
        std::size_t pos = 0;
        while (pos <= modes.size()) {
            const std::size_t c = std::min(modes.find(',', pos), modes.size());
            const std::string mode = modes.substr(pos, c - pos);
            pos = c + 1;
            if (mode.empty()) continue;
            const result r = measure(mode, ro, far, near, trials);
            rusage ru{};
            getrusage(RUSAGE_SELF, &ru);
            std::printf(
                "echo_bench mode=%s gain_db=%.0f delay_ms=%d erle_db=%.1f erle_cold_db=%.1f "
                "erle_warm_db=%.1f frame_us_median=%.1f frame_us_p99=%.1f bargein_detected=%d/%d "
                "detect_ms_median=%.0f detect_ms_worst=%.0f doubletalk_corr=%.2f "
                "false_onsets_per_min=%.1f peak_rss_kb=%ld\n",
                mode.c_str(), ro.gain_db, ro.delay_ms, r.erle, r.erle_cold, r.erle_warm,
                r.frame_med_us, r.frame_p99_us, r.detected, r.trials, r.detect_med_ms,
                r.detect_worst_ms, r.corr, r.false_onsets_per_min, ru.ru_maxrss);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ava-echo-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
