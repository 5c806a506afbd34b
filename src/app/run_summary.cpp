// The end-of-session summary printed after a run.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

#include "run_parts.hpp"

namespace ava::app {
namespace {

std::string format_ms(std::optional<std::chrono::milliseconds> v) {
    return v ? std::to_string(v->count()) + " ms" : std::string("n/a");
}

}  // namespace

std::string summary_text(const realtime::session_summary& s, const audio::engine_stats& a,
                         const audio::dsp_report& p) {
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
    // Echo handling, when the stage did any: what the mic heard of the assistant and what of
    // it was sent (an estimate over the blocks without local speech).
    if (std::string_view(p.echo) != "off" && p.blocks > 0) {
        char line[256];
        std::snprintf(line, sizeof line,
                      "echo: %s, %.1f s with the assistant audible at the mic, %.1f s held%s",
                      p.echo, static_cast<double>(p.echo_blocks) / 100.0,
                      static_cast<double>(p.gated_blocks) / 100.0,
                      std::string_view(p.echo) == "aec"
                          ? (p.converged     ? ", converged"
                             : p.echo_absent ? ", no echo reached the mic (headphones?)"
                                             : ", not converged yet")
                          : "");
        o << line;
        if (std::string_view(p.echo) == "aec" && p.echo_in_db > -119) {
            std::snprintf(line, sizeof line, "; echo %.1f dBFS in, %.1f dBFS out (ERLE %.1f dB)",
                          p.echo_in_db, p.echo_out_db, p.erle_db());
            o << line;
        }
        o << '\n';
    }
    return o.str();
}

}  // namespace ava::app
