#include "voice.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <sstream>
#include <tuple>

#include <soxr.h>

#if AVA_SIM_HAVE_ESPEAK
#include <espeak-ng/speak_lib.h>
#endif

#include "ava/core/log.hpp"

namespace ava::sim::detail {
namespace {

constexpr int out_rate = 24000;

std::size_t voice_index(const std::string& voice) {
    static const char* voices[] = {"alloy", "ash",     "ballad", "coral", "echo",
                                   "sage",  "shimmer", "verse",  "marin", "cedar"};
    for (std::size_t i = 0; i < std::size(voices); ++i)
        if (voice == voices[i]) return i;
    return std::hash<std::string>{}(voice) % std::size(voices);
}

#if AVA_SIM_HAVE_ESPEAK
std::mutex espeak_mutex;  // espeak-ng has global state: one caller at a time
int espeak_rate = 0;      // 0 = not initialised, < 0 = failed

int espeak_collect(short* wav, int numsamples, espeak_EVENT* events) {
    if (wav != nullptr && numsamples > 0 && events != nullptr && events->user_data != nullptr) {
        auto* out = static_cast<pcm16*>(events->user_data);
        out->insert(out->end(), wav, wav + numsamples);
    }
    return 0;
}

// Caller holds espeak_mutex. Initialises espeak-ng on the first call; false when it cannot run,
// which includes (AVA_LAZY_LIBS) a libespeak-ng that cannot be loaded: then, as in a build
// without espeak-ng, every reply uses the synthetic voice, and a note says so once.
bool espeak_ready() {
    if (espeak_rate == 0) {
        espeak_rate =
            espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, nullptr, espeakINITIALIZE_DONT_EXIT);
        if (espeak_rate <= 0) {
            espeak_rate = -1;
            const char* why = espeak_load_error();
            log::get("sim")->info(
                "sim: espeak-ng is not available ({}); replies use the synthetic voice",
                *why != '\0' ? why : "espeak_Initialize failed");
        } else {
            espeak_SetSynthCallback(espeak_collect);
        }
    }
    return espeak_rate > 0;
}

bool synth_espeak(const std::string& text, const std::string& voice, double speed, pcm16& out) {
    pcm16 raw;
    int rate = 0;
    {
        std::lock_guard lock(espeak_mutex);
        if (!espeak_ready()) return false;
        // Each GA voice gets its own espeak variant, so a voice change is audible.
        static const char* variants[] = {"en+m1", "en+m2", "en+m3", "en+f2", "en+m4",
                                         "en+f4", "en+f5", "en+m5", "en+f3", "en+m6"};
        const std::string name = variants[voice_index(voice)];
        if (espeak_SetVoiceByName(name.c_str()) != EE_OK && espeak_SetVoiceByName("en") != EE_OK)
            return false;
        espeak_SetParameter(espeakRATE, static_cast<int>(std::lround(175.0 * speed)), 0);
        const espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                              espeakCHARS_UTF8, nullptr, &raw);
        if (err != EE_OK) return false;
        espeak_Synchronize();
        rate = espeak_rate;
    }
    if (raw.empty()) return false;
    const std::size_t out_len = raw.size() * out_rate / static_cast<std::size_t>(rate) + 16;
    out.assign(out_len, 0);
    std::size_t done = 0;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    const soxr_error_t e = soxr_oneshot(rate, out_rate, 1, raw.data(), raw.size(), nullptr,
                                        out.data(), out.size(), &done, &io, &q, nullptr);
    if (e != nullptr) return false;
    out.resize(done);
    return true;
}
#endif

}  // namespace

bool espeak_available() {
#if AVA_SIM_HAVE_ESPEAK
    std::lock_guard lock(espeak_mutex);
    return espeak_ready();
#else
    return false;
#endif
}

#if !AVA_SIM_ESPEAK_LAZY
// Linked normally (or not at all): nothing is loaded lazily, so there is no load error.
const char* espeak_load_error() noexcept {
    return "";
}
#endif

pcm16 synth_tone(const std::string& text, const std::string& voice, double speed) {
    // ~150 ms per word at speed 1 (plus a 40 ms gap), with 1-3 "syllables" per word shaped by
    // a raised-sine envelope; a harmonic-rich pitch contour that falls over the sentence.
    std::istringstream words(text);
    std::vector<std::string> list;
    for (std::string w; words >> w;) list.push_back(w);
    if (list.empty()) list.push_back("...");
    const double s = std::clamp(speed, 0.25, 1.5);
    const double base_f0 = 110.0 + 12.0 * static_cast<double>(voice_index(voice));
    pcm16 out;
    double phase = 0;
    for (std::size_t wi = 0; wi < list.size(); ++wi) {
        const auto word_samples = static_cast<std::size_t>(0.150 * out_rate / s);
        const auto gap_samples = static_cast<std::size_t>(0.040 * out_rate / s);
        const std::size_t syllables = std::clamp<std::size_t>(list[wi].size() / 3, 1, 3);
        const double f0 =
            base_f0 * (1.15 - 0.3 * static_cast<double>(wi) / static_cast<double>(list.size()));
        for (std::size_t n = 0; n < word_samples; ++n) {
            const double x = static_cast<double>(n) / static_cast<double>(word_samples);
            const double env =
                std::pow(std::sin(std::numbers::pi * x * static_cast<double>(syllables)), 2.0);
            phase += 2.0 * std::numbers::pi * f0 / out_rate;
            const double v =
                0.55 * std::sin(phase) + 0.25 * std::sin(2 * phase) + 0.12 * std::sin(3 * phase);
            out.push_back(static_cast<std::int16_t>(std::lround(v * env * 12000.0)));
        }
        out.insert(out.end(), gap_samples, 0);
    }
    return out;
}

std::shared_ptr<const pcm16> synthesize(const std::string& text, const std::string& voice,
                                        double speed, const std::string& engine) {
    using key_t = std::tuple<std::string, std::string, long, std::string>;
    static std::mutex cache_mutex;
    static std::map<key_t, std::shared_ptr<const pcm16>> cache;
    const key_t key{text, voice, std::lround(speed * 1000), engine};
    {
        std::lock_guard lock(cache_mutex);
        if (auto it = cache.find(key); it != cache.end()) return it->second;
    }
    auto pcm = std::make_shared<pcm16>();
    bool done = false;
#if AVA_SIM_HAVE_ESPEAK
    if (engine != "tone") done = synth_espeak(text, voice, speed, *pcm);
#endif
    if (!done) *pcm = synth_tone(text, voice, speed);
    std::lock_guard lock(cache_mutex);
    if (cache.size() > 256) cache.clear();  // bounded: long demos do not grow without end
    cache.emplace(key, pcm);
    return pcm;
}

}  // namespace ava::sim::detail
