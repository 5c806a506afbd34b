// The end-of-session summary printed after a run.
#include <cstdio>
#include <sstream>
#include <string>

#include "run_parts.hpp"

namespace ava::app {
namespace {

std::string format_ms(std::optional<std::chrono::milliseconds> v) {
    return v ? std::to_string(v->count()) + " ms" : std::string("n/a");
}

}  // namespace

std::string summary_text(const realtime::session_summary& s, const audio::engine_stats& a) {
    std::ostringstream o;
    o << "-- session summary --\n"
      << "turns: " << s.user_turns << " user, " << s.responses << " responses, " << s.interruptions
      << " interruptions, " << s.reconnects << " reconnects\n"
      << "words: you " << s.user_words << ", ava " << s.assistant_words << "\n"
      << "tool calls: " << s.tool_calls_ok << " ok, " << s.tool_calls_failed << " failed\n"
      << "latency (end of speech to first audio): p50 " << format_ms(s.latency_p50) << ", p95 "
      << format_ms(s.latency_p95) << " over " << s.latencies.size() << " turns\n"
      << "tokens: " << s.tokens.input_tokens << " in (" << s.tokens.input_details.cached_tokens
      << " cached), " << s.tokens.output_tokens << " out; estimated cost $";
    char cost[32];
    std::snprintf(cost, sizeof cost, "%.4f", s.cost_usd);
    o << cost << "\n";
    if (s.context_items_deleted > 0) {
        o << "context: " << s.context_items_deleted
          << " older items deleted from the service's context (context.keep_turns)\n";
    }
    if (s.mic_samples_dropped > 0) {
        o << "microphone audio dropped while offline: "
          << core::samples_to_ms(s.mic_samples_dropped) << " ms\n";
    }
    // The audio counters (audio/stats.hpp): a lost mic period or a gap in a reply is visible.
    o << "audio: " << a.overruns << " capture overruns (" << a.dropped_capture_samples
      << " mic samples lost), " << a.underruns << " playback underruns, " << a.host_xruns
      << " host xruns\n";
    return o.str();
}

}  // namespace ava::app
