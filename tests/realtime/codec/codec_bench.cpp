// The codec's two hot paths, plus a cold event for scale. Run by hand (not a test):
//   build/<dir>/tests/realtime/codec/codec_bench
// 20 ms append: the microphone sends 50 per second. 100 ms delta: the service sends bursts of
// these faster than real time; the ingest target is >= 50x (aim 500x) real time on one core.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "ava/realtime/codec_peer.hpp"

namespace {

using namespace ava::realtime;

std::vector<ava::core::sample> tone(std::size_t n) {
    std::vector<ava::core::sample> pcm(n);
    for (std::size_t i = 0; i < n; ++i) pcm[i] = static_cast<ava::core::sample>((i * 37) % 20000);
    return pcm;
}

void bm_encode_append_20ms(benchmark::State& state) {
    const auto frame = tone(ava::core::frame_samples);
    for (auto _ : state) {
        std::string s = encode_append(frame, "evt_000123");
        benchmark::DoNotOptimize(s.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(frame.size() * 2));
}
BENCHMARK(bm_encode_append_20ms);

void bm_decode_output_audio_delta(benchmark::State& state) {
    const auto ms = static_cast<std::size_t>(state.range(0));
    const std::string text = encode(server_event(server::output_audio_delta{
        "event_ABCDEF123456", "resp_ABCDEF123456", "item_ABCDEF123456", 0, 0, tone(ms * 24)}));
    for (auto _ : state) {
        server_event ev = decode_server(text);
        benchmark::DoNotOptimize(&ev);
    }
    // Audio seconds decoded per wall second = real-time factor.
    state.counters["x_realtime"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * static_cast<double>(ms) / 1000.0,
        benchmark::Counter::kIsRate);
}
BENCHMARK(bm_decode_output_audio_delta)->Arg(20)->Arg(100)->Arg(1000);

void bm_elide_audio_delta_100ms(benchmark::State& state) {
    const std::string text =
        encode(server_event(server::output_audio_delta{"e", "resp_1", "item_1", 0, 0, tone(2400)}));
    for (auto _ : state) {
        std::string s = elide_audio(text);
        benchmark::DoNotOptimize(s.data());
    }
}
BENCHMARK(bm_elide_audio_delta_100ms);

void bm_decode_response_done(benchmark::State& state) {
    const std::string text =
        R"({"type":"response.done","event_id":"evt_s19","response":{"id":"resp_1","object":"realtime.response","status":"completed","output":[{"id":"item_a1","object":"realtime.item","type":"message","status":"completed","role":"assistant","content":[{"type":"output_audio","transcript":"It is sunny in Paris."}]}],"conversation_id":"conv_1","output_modalities":["audio"],"usage":{"total_tokens":1234,"input_tokens":1000,"output_tokens":234,"input_token_details":{"text_tokens":400,"audio_tokens":550,"image_tokens":50,"cached_tokens":320,"cached_tokens_details":{"text_tokens":300,"audio_tokens":20,"image_tokens":0}},"output_token_details":{"text_tokens":34,"audio_tokens":200}}}})";
    for (auto _ : state) {
        server_event ev = decode_server(text);
        benchmark::DoNotOptimize(&ev);
    }
}
BENCHMARK(bm_decode_response_done);

}  // namespace

BENCHMARK_MAIN();
