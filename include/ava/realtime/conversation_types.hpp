// The conversation's value types: what the facade (ava/session.hpp) and the UI use without the
// state machine (ava/realtime/conversation.hpp): its options and token prices, the status shown,
// who speaks, the per-turn and per-response metrics, and the session totals.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ava/core/pcm.hpp"
#include "ava/realtime/backoff.hpp"
#include "ava/realtime/events.hpp"

namespace ava::realtime {

/// USD per 1M tokens (protocol reference section 8). Defaults: gpt-realtime / gpt-realtime-1.5
/// (~Sep 2026). Prices change: the app should fill these from its config.
struct token_prices {
    double text_in = 4.00;
    double text_cached = 0.40;
    double text_out = 16.00;
    double audio_in = 32.00;
    double audio_cached = 0.40;
    double audio_out = 64.00;
};

/// Cost of one usage record: sum over text and audio of (in - cached) * P_in + cached * P_cached,
/// plus text and audio output. Cached tokens are part of the input count, never added twice.
/// Image input is not priced: ava-voice never sends images.
double cost_usd(const usage& u, const token_prices& p) noexcept;

enum class speaker { user, assistant };

/// A line of an earlier session, given to the model as a text item (memory across sessions).
struct memory_line {
    speaker role = speaker::user;
    std::string text;
};

struct conversation_options {
    /// Sent as session.update on every (re)connect; include the tools here.
    session_config session;
    /// The recent past, oldest first: sent as text items (user lines input_text, assistant
    /// lines output_text) right after session.update on every connect, before anything else.
    std::vector<memory_line> memory;
    /// Keep the server's context to the items of the last `keep_turns` user turns: older items
    /// of this connection are deleted (conversation.item.delete) once their lines are final and
    /// nothing is in flight, so the input tokens billed per turn level off. 0: keep everything.
    std::size_t keep_turns = 0;
    /// Let this many turns beyond keep_turns gather before pruning (then down to keep_turns at
    /// once): every delete breaks the service's prompt cache from that item on, so pruning in
    /// batches keeps most turns cached. 0: prune every turn.
    std::size_t prune_batch = 0;
    /// Samples per input_audio_buffer.append (default 20 ms at 24 kHz).
    std::size_t frame_samples = core::frame_samples;
    /// Mic audio kept while disconnected; beyond that the oldest is dropped (and counted).
    std::chrono::milliseconds offline_audio{10000};
    /// Re-seed bounds: at most this many history lines and characters (the newest are kept).
    std::size_t reseed_max_items = 30;
    std::size_t reseed_max_chars = 12000;
    /// A response in flight with no server event at all for this long is ended here (a
    /// warning, a response.cancel, its tool calls run): the conversation never waits forever.
    std::chrono::milliseconds response_stall{20000};
    /// A tool batch still running this long after its calls were made (and after the response
    /// that made them ended) gets one short spoken filler: a response.create with instructions
    /// to say briefly that the answer is coming, tool_choice "none". The real answer follows
    /// when the results arrive. Zero: never.
    std::chrono::milliseconds tool_filler_after{1500};
    /// How long an assistant line waits for the user line before it to become final.
    std::chrono::milliseconds transcript_wait{4000};
    /// Push to talk: a turn shorter than this is cleared, not committed (server minimum 100 ms).
    std::chrono::milliseconds min_commit{100};
    /// Session cap (60 min on OpenAI GA, 30 on Azure); session.created's expires_at wins when
    /// the app passes the wall clock to on_connected. Roll over after cap - margin, when quiet.
    std::chrono::milliseconds max_session{std::chrono::minutes{60}};
    std::chrono::milliseconds rollover_margin{std::chrono::minutes{5}};
    backoff_options reconnect;
    /// Jitter source for the reconnect backoff (tests inject one); empty = random.
    backoff::jitter_source jitter;
    token_prices prices;
};

/// What the UI shows.
enum class conv_status {
    connecting,
    listening,
    user_speaking,
    thinking,
    assistant_speaking,
    calling_tool,
    reconnecting,
};
std::string_view to_string(conv_status s) noexcept;

/// Why a barge-in happened.
enum class interrupt_source { server_vad, manual, push_to_talk };

namespace act {

/// Latency of one turn: end of user speech to the first assistant sample at the device.
struct turn_metrics {
    int turn = 0;  ///< 1-based user turn number
    std::chrono::milliseconds latency{0};
};
/// Token usage of one finished response and the running session cost.
struct usage_metrics {
    std::string response_id;
    usage tokens;
    double cost_usd = 0;
    double session_cost_usd = 0;
};

}  // namespace act

/// Session totals (DESIGN rule 6 / peer-lessons 4.8-4.9).
struct session_summary {
    int user_turns = 0;  ///< committed user audio turns and typed lines
    int responses = 0;   ///< response.done received
    int interruptions = 0;
    int reconnects = 0;  ///< successful reconnects after the first connection
    int tool_calls_ok = 0;
    int tool_calls_failed = 0;
    int tool_fillers = 0;           ///< spoken fillers while a slow tool ran
    int context_items_deleted = 0;  ///< old items pruned from the server's context (keep_turns)
    std::int64_t user_words = 0;
    std::int64_t assistant_words = 0;  ///< heard words only
    std::vector<std::chrono::milliseconds> latencies;
    std::optional<std::chrono::milliseconds> latency_p50;  ///< nearest rank
    std::optional<std::chrono::milliseconds> latency_p95;
    usage tokens;  ///< summed over response.done
    double cost_usd = 0;
    std::int64_t mic_samples_dropped = 0;  ///< buffer overflow while disconnected
    std::int64_t late_deltas_dropped = 0;  ///< audio deltas of cancelled/flushed items
};

}  // namespace ava::realtime
