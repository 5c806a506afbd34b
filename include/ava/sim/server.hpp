// ava-realtime-sim: a wire-level OpenAI Realtime (GA) server for tests, benchmarks and the
// offline demo. It speaks WebSocket (ws:// and wss://) on a real socket; nothing is mocked.
//
// The server side is written with nlohmann/json directly and never uses the client's codec
// (ava/realtime/codec.hpp): an independent implementation catches the client's mistakes instead
// of mirroring them.
//
// Threads: start() runs an io_context on its own worker threads; every session lives on its own
// strand. All public member functions may be called from any thread.
// Spec: docs/simulator.md, ../shared/DESIGN.md section 4, reference/realtime-protocol.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ava::sim {

/// One injected fault. Faults come from options (any turn or a chosen turn) and from scenario
/// turns (that turn only).
struct fault {
    /// What to do:
    ///  "close"          close the WebSocket with `code`/`reason` (or abruptly, see `abrupt`)
    ///  "malformed_json" send a text frame that is not JSON
    ///  "unknown_event"  send an event with a type no client knows
    ///  "oversized_frame" send one text frame of `bytes` bytes (a JSON event with padding)
    ///  "stall"          stop sending for `ms` milliseconds
    ///  "server_error"   send error{type:"server_error"} (the session goes on)
    std::string kind;
    /// Scenario turn (1-based) at which it fires; 0 = every turn.
    int turn = 0;
    /// Connection (1-based, in the order the server accepted them) in which it fires; 0 = every
    /// one. With 1, a fault that makes the client reconnect does not fire again after it.
    int session = 0;
    /// The server event type before which it fires (e.g. "response.output_audio.delta",
    /// default "response.created"), and which occurrence of that type within the turn (1-based).
    std::string at = "response.created";
    int nth = 1;
    int code = 1011;                ///< close: the close code
    std::string reason;             ///< close: the close reason
    bool abrupt = false;            ///< close: drop the TCP connection without a close frame
    int ms = 1000;                  ///< stall: how long
    std::size_t bytes = 17u << 20;  ///< oversized_frame: frame size (default 17 MiB)
};

/// Everything the server can be told. Defaults give a quiet-enough server on an ephemeral port.
struct options {
    std::string host = "127.0.0.1";  ///< address to bind
    unsigned short port = 0;         ///< 0 = ephemeral (read it back with server::port())
    std::string tls_cert_file;       ///< PEM chain; with tls_key_file: wss:// instead of ws://
    std::string tls_key_file;        ///< PEM private key
    /// Expected API key. Empty = accept any `Authorization: Bearer <anything>` (or `api-key`
    /// on the Azure path); a missing or wrong key fails the upgrade with HTTP 401.
    std::string api_key;
    std::string scenario_file;    ///< TOML (.toml) or JSON; empty = the built-in scenario
    double pace = 4.0;            ///< audio sent at this multiple of real time; <= 0 = no pacing
    int delta_ms = 100;           ///< audio per response.output_audio.delta
    double session_cap_s = 3600;  ///< then error session_expired + close 1001
    std::string events_file;      ///< JSONL event log (every event both ways); empty = none
    std::string record_dir;       ///< one WAV of the received input audio per session
    std::vector<fault> faults;    ///< injected faults (see struct fault)
    /// HTTP status to fail every upgrade with (401, 403, 404...); 0 = normal.
    int reject_upgrade_status = 0;
    bool quiet = false;           ///< log warnings and errors only
    std::string voice = "marin";  ///< default session voice
    std::string synth = "auto";   ///< "auto" (espeak-ng if built in), "espeak" or "tone"
    int threads = 2;              ///< io_context worker threads
};

/// A truncation request the server saw (accepted or rejected).
struct truncation_record {
    std::string session_id;
    std::string item_id;
    std::int64_t audio_end_ms = 0;  ///< what the client asked for
    std::int64_t generated_ms = 0;  ///< audio the server had generated for the item
    bool accepted = false;
};

/// Per-session counters.
struct session_summary {
    std::string id;
    int turns = 0;      ///< scenario turns started
    int responses = 0;  ///< responses finished (any status)
    int responses_cancelled = 0;
    int errors_sent = 0;
    int faults_injected = 0;
    std::int64_t input_audio_ms = 0;       ///< received input audio
    std::int64_t output_audio_ms = 0;      ///< generated output audio
    std::vector<std::string> error_codes;  ///< code (or type) of each error sent, the first 1,000
    std::vector<std::string> faults;       ///< kind of each fault injected
    std::vector<std::string> expectation_mismatches;  ///< user text that differed from scenario
    std::string close_reason;  ///< how it ended ("client closed", "session_expired", ...)
    bool ended = false;
};

/// What happened, across all sessions so far. Safe to take while the server runs.
struct summary {
    int sessions = 0;
    int rejected_upgrades = 0;  ///< HTTP errors at upgrade (auth, path, injected)
    int turns = 0;
    int responses = 0;
    int errors_sent = 0;
    int faults_injected = 0;
    std::vector<truncation_record> truncations;
    std::vector<session_summary> per_session;  ///< in order of creation
};

/// The simulator server. Not copyable; one object = one listening socket.
class server {
  public:
    /// Loads the scenario (throws std::runtime_error with a clear message on a bad file) and
    /// the TLS material when given. Does not bind yet.
    explicit server(options opts);
    /// Stops (as stop()) if still running.
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds, starts the worker threads and returns once listening. Throws std::runtime_error
    /// when it cannot bind. Call once.
    void start();
    /// The bound port (valid after start()).
    unsigned short port() const;
    /// e.g. "ws://127.0.0.1:PORT/v1/realtime?model=gpt-realtime" (wss:// with TLS).
    std::string url() const;
    /// The base URL a client SDK wants ("ws(s)://127.0.0.1:PORT/v1").
    std::string base_url() const;
    /// Closes every session (close 1001), stops the threads, flushes logs and WAVs. Idempotent.
    void stop();
    /// A snapshot of the counters.
    summary get_summary() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Renders a summary as human-readable lines (what ava-realtime-sim prints on exit).
std::string format_summary(const summary& s);

/// Parses a fault spec "kind=close,turn=2,at=response.output_audio.delta,nth=3,code=1011" (the
/// CLI's --fault). Throws std::invalid_argument with a message naming the bad key.
fault parse_fault(const std::string& spec);

}  // namespace ava::sim
