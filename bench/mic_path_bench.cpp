// The mic path's cost per 20 ms frame: heap allocations, bytes allocated and time, from the
// device callback to the text of input_audio_buffer.append in the send queue. It runs the same
// calls ava::session makes on its io thread (src/session/session.cpp, on_tick and apply), with a
// 24 kHz device, the conversation online and a std::deque<std::string> standing in for the
// connection's send queue:
//   before  conversation::on_mic_audio -> act::send{input_audio_buffer_append{vector}} ->
//           encode_append(event.audio): the path up to the renovation (still the embedder's
//           send_audio() path, so it stays measurable)
//   after   conversation::on_mic_frame -> act::send_audio{view of the captured frame} ->
//           encode_append(view): the straight mic path
// Allocations are counted by replacing global operator new/delete (like tests/audio/noalloc),
// armed only around the measured calls. Prints one line per path and the ratio.
//   ava-mic-path-bench [frames]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <new>
#include <string>
#include <vector>

#include "ava/audio/engine.hpp"
#include "ava/realtime/codec.hpp"
#include "ava/realtime/conversation.hpp"

namespace {
thread_local bool armed = false;
std::uint64_t allocations = 0;
std::uint64_t allocated_bytes = 0;

void* counted_alloc(std::size_t n) {
    if (armed) {
        ++allocations;
        allocated_bytes += n;
    }
    void* p = std::malloc(n == 0 ? 1 : n);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}
}  // namespace

void* operator new(std::size_t n) {
    return counted_alloc(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

using namespace ava;
using clock_type = std::chrono::steady_clock;

struct result {
    double allocs_per_frame = 0;
    double bytes_per_frame = 0;
    double median_ns_per_frame = 0;
    std::size_t sent = 0;
};

result run(bool straight, int frames) {
    audio::engine eng(audio::engine_config{});
    realtime::conversation conv(realtime::conversation_options{});
    conv.on_connected(clock_type::now());
    (void)conv.drain();

    std::vector<core::sample> in(core::dsp_block_samples * 2);  // one 20 ms device period
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<core::sample>((i * 37) % 2000);
    std::vector<core::sample> out(in.size());
    std::deque<std::string> queue;
    std::vector<realtime::action> acts;
    audio::capture_frame f;
    std::size_t sent = 0;

    auto one_frame = [&] {
        eng.process(in, out, audio::callback_timing{.now = clock_type::now()});
        while (eng.read(f)) {
            const auto now = clock_type::now();
            if (straight) {
                conv.on_mic_frame(f.pcm, now);
                conv.drain(acts);
            } else {
                conv.on_mic_audio(f.pcm, now);
                acts = conv.drain();
            }
            for (realtime::action& a : acts) {
                if (auto* sa = std::get_if<realtime::act::send_audio>(&a)) {
                    queue.push_back(realtime::encode_append(sa->pcm, sa->event_id));
                } else if (auto* s = std::get_if<realtime::act::send>(&a)) {
                    if (auto* app =
                            std::get_if<realtime::client::input_audio_buffer_append>(&s->event)) {
                        queue.push_back(realtime::encode_append(app->audio, app->event_id));
                    }
                }
            }
            while (!queue.empty()) {  // the connection writes and releases each message
                ++sent;
                queue.pop_front();
            }
        }
    };

    for (int i = 0; i < 200; ++i) one_frame();  // warm-up: buffers reach their steady size
    allocations = 0;
    allocated_bytes = 0;
    sent = 0;
    std::vector<double> batch_ns;
    constexpr int batch = 100;
    for (int b = 0; b < frames / batch; ++b) {
        const auto t0 = clock_type::now();
        armed = true;
        for (int i = 0; i < batch; ++i) one_frame();
        armed = false;
        batch_ns.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   clock_type::now() - t0)
                                                   .count()) /
                           batch);
    }
    std::sort(batch_ns.begin(), batch_ns.end());
    result r;
    r.sent = sent;
    r.allocs_per_frame = static_cast<double>(allocations) / static_cast<double>(sent);
    r.bytes_per_frame = static_cast<double>(allocated_bytes) / static_cast<double>(sent);
    r.median_ns_per_frame = batch_ns[batch_ns.size() / 2];
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const int frames = argc > 1 ? std::max(100, std::atoi(argv[1])) : 20000;
    const result before = run(false, frames);
    const result after = run(true, frames);
    for (const auto& [name, r] :
         {std::pair{"before (on_mic_audio)", before}, std::pair{"after (on_mic_frame)", after}}) {
        std::printf(
            "mic path %-22s %zu frames: %.2f allocations/frame, %.0f bytes/frame, "
            "median %.0f ns/frame\n",
            name, r.sent, r.allocs_per_frame, r.bytes_per_frame, r.median_ns_per_frame);
    }
    std::printf("mic path ratio after/before: allocations %.2f, bytes %.2f, time %.2f\n",
                after.allocs_per_frame / before.allocs_per_frame,
                after.bytes_per_frame / before.bytes_per_frame,
                after.median_ns_per_frame / before.median_ns_per_frame);
    return before.sent > 0 && after.sent == before.sent ? 0 : 1;
}
