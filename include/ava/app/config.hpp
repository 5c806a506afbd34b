// The typed configuration of ava-voice and its loader.
//
// One struct holds every setting. The loader builds it from four layers, each overriding the one
// before: built-in defaults < a TOML file (the user's file in the platform config dir, or
// `--config PATH`) < the environment (the real one, then a `.env` file in the working directory)
// < command-line flags. It remembers where every value came from, so `--print-config` can say so.
//
// config/ava-voice.example.toml documents every key with its default; tests keep the two equal.
//
// Threads: the loader runs once at startup on the main thread. The resulting `config` is plain
// data and may be copied and read from any thread afterwards.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ava/tools/settings.hpp"

namespace ava::app {

/// Which Realtime service to talk to.
enum class provider_kind { openai, azure, sim };
/// Turn detection: server VAD, semantic VAD, or manual turns (no server turn detection).
enum class vad_kind { server, semantic, manual };
/// Semantic VAD eagerness (maximum waits of 8 s, 4 s, 2 s; auto behaves like medium).
enum class vad_eagerness { low, medium, high, automatic };
/// Server-side input noise reduction.
enum class noise_reduction_kind { near_field, far_field, off };
/// What the model answers with (the protocol accepts one, not both).
enum class output_modality { audio, text };
/// How to keep the assistant from hearing itself through speakers.
/// automatic: the echo canceller whenever the assistant is audible (nothing otherwise);
/// aec: the canceller on every block; gate: mute the mic while the assistant is audible (the
/// old `half_duplex`, still accepted); off: trust headphones. In headless WAV runs `auto` means
/// off (the files are heard as they are); aec, gate, noise and gain apply there too.
enum class echo_mode { automatic, aec, gate, off };

struct provider_config {
    provider_kind kind = provider_kind::openai;
    std::string model = "gpt-realtime";  ///< for Azure: overridden by azure.deployment when set
    std::string endpoint;                ///< explicit ws(s):// URL; empty: derived (realtime_url)
    std::string api_key_env;  ///< env var holding the key; empty: the provider's usual one
    /// The key itself (secret). Never read from a file or flag: only from the variable named by
    /// api_key_env (real environment first, then .env). Registered with ava::log::add_secret.
    std::string api_key;
};

struct openai_config {
    std::string base_url = "https://api.openai.com/v1";  ///< OPENAI_BASE_URL
};

struct azure_config {
    std::string endpoint;    ///< https://<resource>.openai.azure.com (AZURE_OPENAI_ENDPOINT)
    std::string deployment;  ///< the deployment name (AZURE_OPENAI_DEPLOYMENT)
};

struct sim_config {
    std::string scenario;  ///< simulator scenario file; empty: the built-in demo scenario
};

struct session_config {
    std::string voice = "marin";
    double speed = 1.0;             ///< 0.25 .. 1.5
    std::string instructions;       ///< inline system prompt (the key); see resolved_instructions
    std::string instructions_file;  ///< or read it from this file
    output_modality modality = output_modality::audio;
    noise_reduction_kind noise_reduction = noise_reduction_kind::near_field;
    /// End the session cleanly once its estimated cost reaches this (USD); a warning at 80 %.
    /// 0: no limit.
    double max_cost_usd = 0;
    /// Filled by the loader: the prompt sent in session.update (the file's text, the inline text,
    /// or the built-in default from config/instructions.md). Not a config key.
    std::string resolved_instructions;
};

/// The conversation history (SQLite) and what is kept in it.
struct history_config {
    /// The database file. Empty: the platform data dir ($XDG_DATA_HOME/ava-voice/history.db,
    /// ~/.local/share/ava-voice/history.db); see config::history_path().
    std::string db;
    bool incognito = false;            ///< neither read nor write any history (no file at all)
    bool store_tool_arguments = true;  ///< false: tool calls are kept without their arguments
    bool store_email_bodies = true;    ///< false: send_email calls are kept without the body
};

/// `ava-voice serve`: the relay and its browser console (docs/relay.md).
struct serve_config {
    std::string listen = "127.0.0.1:8000";  ///< HOST:PORT ([v6]:PORT); port 0: any free one
    /// Required on session/start and the stream when set; generated (and printed once) when
    /// the listen address is beyond the loopback and none is given.
    std::string token;
    std::vector<std::string> allowed_origins;  ///< besides the server's own origin
    int max_sessions = 64;
    std::string tls_cert;  ///< PEM; with tls_key: HTTPS and WSS
    std::string tls_key;
    std::string console_dir;  ///< empty: the installed console (or the source tree's)
};

/// serve.listen split into host and port ("localhost" becomes 127.0.0.1); nullopt when it is
/// not HOST:PORT with an IP address.
std::optional<std::pair<std::string, unsigned short>> split_listen(std::string_view v);

/// Memory across sessions (needs the history).
struct memory_config {
    bool enabled = true;             ///< false (--no-memory): start fresh, no memory tools
    std::size_t seed_tokens = 1500;  ///< the recent past given to the model, at most this much
};

/// What the service keeps of this session's conversation (what is billed every turn).
struct context_config {
    /// Keep the items of the last N user turns; older ones are deleted from the service's
    /// context once they are in the transcript. 0: keep everything (the default: with the
    /// service's prompt cache, keeping everything measured cheaper; see docs/memory.md).
    std::size_t keep_turns = 0;
};

struct vad_config {
    vad_kind type = vad_kind::server;
    double threshold = 0.5;  ///< 0 .. 1 (server VAD)
    std::chrono::milliseconds prefix_padding{300};
    std::chrono::milliseconds silence_duration{500};
    vad_eagerness eagerness = vad_eagerness::automatic;  ///< semantic VAD
    bool create_response = true;
    bool interrupt_response = true;
    std::chrono::milliseconds idle_timeout{0};  ///< 0: none
};

struct transcription_config {
    std::string model = "gpt-4o-mini-transcribe";  ///< empty: no input transcription
    std::string language;                          ///< ISO-639-1 hint; empty: auto
};

struct audio_config {
    std::string input_device;             ///< name (substring) or index; empty: the system default
    std::string output_device;            ///< name (substring) or index; empty: the system default
    std::chrono::milliseconds frame{20};  ///< capture frame (5 .. 100 ms)
    std::chrono::milliseconds playback_start{40};  ///< buffered audio before playback starts
    /// Device period (audio per callback). 0: the device's default, 10 ms for a sound card
    /// (see portaudio_options) and 20 ms (one wire frame) for WAV files.
    std::chrono::milliseconds period{0};
    echo_mode echo = echo_mode::automatic;
    bool noise = false;     ///< local noise suppression (speexdsp)
    bool gain = false;      ///< local automatic gain control (speexdsp)
    bool high_pass = true;  ///< 80 Hz high-pass on the mic while processing runs
    /// The echo rig for WAV runs: what is played comes back into the input through a simulated
    /// room ("delay=65,gain=+6", see ava/audio/echo_room.hpp). Empty: none.
    std::string room;
    /// Local barge-in (needs the echo canceller): pause on the local VAD, resume unless the
    /// service confirms within the window or when the user spoke less than min_speech.
    bool local_barge_in = true;
    std::chrono::milliseconds barge_in_window{700};
    std::chrono::milliseconds barge_in_min_speech{500};
};

struct headless_config {
    std::string input_wav;     ///< use this WAV as the microphone instead of a device
    std::string output_wav;    ///< write the assistant's audio here instead of a speaker
    std::string record_wav;    ///< record both directions (stereo: mic left, assistant right)
    std::string events_jsonl;  ///< write every wire event (secrets redacted) as JSON lines
    bool fast = false;         ///< run file devices as fast as possible instead of real time
};

struct logging_config {
    std::string level = "info";  ///< trace, debug, info, warn, error, critical, off
    std::string file;            ///< also log here when not empty
};

struct ui_config {
    bool color = true;  ///< NO_COLOR or --no-color turn it off
};

/// USD per 1M tokens, for the cost meter (defaults: gpt-realtime, protocol reference section 8).
struct price_table {
    double text_in = 4.00;
    double text_cached_in = 0.40;
    double text_out = 16.00;
    double audio_in = 32.00;
    double audio_cached_in = 0.40;
    double audio_out = 64.00;
};

/// Reconnect on a dropped connection: exponential backoff with jitter.
struct reconnect_policy {
    std::chrono::milliseconds initial_backoff{1000};
    std::chrono::milliseconds max_backoff{60000};
    int max_tries = 5;  ///< 0: never reconnect
};

struct network_config {
    std::string ca_file;                ///< extra CA bundle (PEM); the system store is kept
    bool insecure_skip_verify = false;  ///< DANGEROUS: no certificate check (loud warning)
    bool allow_plain_ws = false;        ///< allow ws:// (no TLS) to a host that is not loopback
    std::string proxy;                  ///< http://host:port for CONNECT (HTTPS_PROXY)
    std::string no_proxy;               ///< hosts that bypass the proxy (NO_PROXY)
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds ping_interval{15000};  ///< WebSocket pings; 0: none
};

/// What the loader passes on from the real environment that is not a config key (not printed,
/// not read from .env): the app and the connection get these values instead of reading the
/// environment themselves.
struct environment_values {
    /// AVA_SAMPLES_DIR, when set: the first place to look for the bundled sample speech.
    std::optional<std::string> samples_dir;
    /// The proxy variables the connection falls back on when network.proxy / network.no_proxy
    /// are unset (https_proxy, HTTPS_PROXY, http_proxy, HTTP_PROXY, all_proxy, ALL_PROXY,
    /// no_proxy, NO_PROXY): name -> value, only those set and not empty.
    std::map<std::string, std::string> proxy_variables;
    /// The platform data dir for ava-voice ($XDG_DATA_HOME/ava-voice, ~/.local/share/ava-voice,
    /// ~/Library/Application Support/ava-voice, %APPDATA%\ava-voice); empty when unknown.
    std::string data_dir;
};

/// Every setting of ava-voice. Plain data; copy freely.
struct config {
    provider_config provider;
    openai_config openai;
    azure_config azure;
    sim_config sim;
    session_config session;
    vad_config vad;
    transcription_config transcription;
    audio_config audio;
    headless_config headless;
    logging_config logging;
    ui_config ui;
    price_table prices;
    reconnect_policy reconnect;
    network_config network;
    tools::tools_settings tools;
    history_config history;
    memory_config memory;
    context_config context;
    serve_config serve;
    /// Filled by the loader from the real environment; not config keys.
    environment_values environment;

    /// The WebSocket URL to connect to: provider.endpoint when set, else derived from the
    /// provider (OpenAI: base_url as ws(s) + /realtime?model=; Azure: the resource endpoint +
    /// /openai/v1/realtime?model=<deployment>). Empty for the simulator without an endpoint
    /// (the app then starts one in-process).
    std::string realtime_url() const;
    /// The variable the API key is read from (api_key_env, or the provider's usual one).
    std::string api_key_variable() const;
    /// The history database: history.db, or history.db in the platform data dir. Empty when
    /// neither is known (no HOME).
    std::string history_path() const;
};

/// One value for a key, given as text (how flags and `--set` arrive).
struct setting {
    std::string key;     ///< dotted key, e.g. "session.voice"
    std::string value;   ///< text as on the command line
    std::string origin;  ///< where it came from, e.g. "flag --voice"
};

/// Looks up an environment variable; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (std::getenv). The one reader of the environment: everything else gets
/// its values from the loaded config (process-level exceptions: AVA_LAZY_LIBS_DISABLE in
/// core/lazy_library.cpp, TZ in the calendar tool, the terminal checks in app/terminal.cpp).
env_lookup process_env();

/// Where the layers come from. main() fills it from the process; tests fill it by hand.
struct config_sources {
    /// `--config PATH`: must exist. When set, user_file is not read.
    std::optional<std::filesystem::path> explicit_file;
    /// The platform default (see default_config_path); read only when it exists.
    std::optional<std::filesystem::path> user_file;
    /// The real environment. Unset means: no environment at all.
    env_lookup env;
    /// `.env` (usually in the working directory); read only when it exists. Real env wins.
    std::optional<std::filesystem::path> dotenv_file;
    /// Flags, applied last, in order.
    std::vector<setting> flags;
};

/// The loaded config, where each value came from, and what the user should be told.
struct loaded_config {
    config cfg;
    /// key -> "default", "file PATH:LINE", "env NAME", ".env:LINE NAME" or "flag --x".
    std::map<std::string, std::string> origins;
    /// Worth a warning (unknown voice, insecure TLS, ...). The caller logs them.
    std::vector<std::string> warnings;
    /// Debug detail (which files were read). The caller logs them.
    std::vector<std::string> notes;
};

/// Builds the config from the layers. Throws ava::config_error with one clear line (file, line
/// and column where it applies) for malformed TOML, unknown keys, wrong types, out-of-range
/// values and unreadable files. Registers every secret with ava::log::add_secret at once.
loaded_config load_config(const config_sources& sources);

/// The platform's user config file: $XDG_CONFIG_HOME/ava-voice/config.toml (or
/// ~/.config/ava-voice/config.toml) on Linux, ~/Library/Application Support/ava-voice/config.toml
/// on macOS, %APPDATA%\ava-voice\config.toml on Windows. nullopt when no base dir is known.
std::optional<std::filesystem::path> default_config_path(const env_lookup& env);
/// The platform data dir for ava-voice (see environment_values::data_dir).
std::optional<std::filesystem::path> default_data_dir(const env_lookup& env);

/// The effective config as TOML, with the same keys as the example file. Secrets appear as
/// "[redacted]" (or "(not set)" in a comment). With origins, each value gets a comment saying
/// where it came from.
std::string to_toml(const loaded_config& loaded, bool with_origins);

/// What the loader knows about a key.
struct key_info {
    std::string name;       ///< dotted, e.g. "vad.threshold"
    bool secret = false;    ///< shown redacted
    bool repeated = false;  ///< a field of [[tools.command]] (may appear many times)
    bool map = false;       ///< a free-form table (tools.email.address_book)
};

/// Every key the loader accepts, in file order.
const std::vector<key_info>& known_keys();

/// The built-in default system prompt (config/instructions.md, compiled in).
std::string_view default_instructions();

/// Names for the enums, as they appear in config files.
std::string_view to_string(provider_kind v);
std::string_view to_string(vad_kind v);
std::string_view to_string(vad_eagerness v);
std::string_view to_string(noise_reduction_kind v);
std::string_view to_string(output_modality v);
std::string_view to_string(echo_mode v);

}  // namespace ava::app
