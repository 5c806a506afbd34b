// CLI11 mapping and the front end. CLI11 is used only in this file.
#include "ava/app/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava_app_generated.hpp"
#include "config_keys.hpp"

#include "ava/audio/devices.hpp"
#include "ava/history/memory_tools.hpp"
#include "ava/tools/builtin.hpp"
#include "ava/tools/mcp.hpp"

namespace ava::app {
namespace {

/// A flag that sets one config key. `fixed` flags take no value and set that text.
struct flag_def {
    const char* flag;
    const char* key;
    const char* value_name;
    const char* fixed;
    const char* group;
    const char* help;
};

constexpr const char* g_provider = "Provider";
constexpr const char* g_session = "Voice and turn taking";
constexpr const char* g_audio = "Audio devices";
constexpr const char* g_headless = "Headless (files instead of devices)";
constexpr const char* g_net = "Network";
constexpr const char* g_log = "Logging and output";
constexpr const char* g_memory = "Memory and history";
constexpr const char* g_serve = "ava-voice serve (the relay and browser console)";

// The order here is the order flags are applied (later wins for the same key).
constexpr flag_def flag_table[] = {
    {"--provider", "provider.name", "openai|azure|sim", nullptr, g_provider,
     "Realtime service (sim: the built-in offline simulator)"},
    {"--model", "provider.model", "NAME", nullptr, g_provider, "Realtime model, e.g. gpt-realtime"},
    {"--endpoint", "provider.endpoint", "URL", nullptr, g_provider,
     "Realtime WebSocket URL (ws:// or wss://), overriding the provider's"},
    {"--api-key-env", "provider.api_key_env", "NAME", nullptr, g_provider,
     "Read the API key from this environment variable (keys are never accepted as flags)"},
    {"--scenario", "sim.scenario", "FILE", nullptr, g_provider, "Simulator scenario file"},
    {"--voice", "session.voice", "NAME", nullptr, g_session,
     "Voice: alloy ash ballad coral echo sage shimmer verse marin cedar (or a custom voice)"},
    {"--speed", "session.speed", "X", nullptr, g_session, "Speaking speed, 0.25 to 1.5"},
    {"--instructions", "session.instructions", "TEXT", nullptr, g_session, "System prompt text"},
    {"--instructions-file", "session.instructions_file", "FILE", nullptr, g_session,
     "Read the system prompt from FILE"},
    {"--language", "transcription.language", "CODE", nullptr, g_session,
     "Your language (ISO-639-1, e.g. de): transcription, and the model answers in it"},
    {"--max-cost", "session.max_cost_usd", "USD", nullptr, g_session,
     "End the session once its estimated cost reaches USD (warning at 80 %)"},
    {"--text", "session.output_modality", nullptr, "text", g_session,
     "Text-only answers (no assistant audio)"},
    {"--vad", "vad.type", "server|semantic|manual", nullptr, g_session,
     "Turn detection (manual: you end turns yourself)"},
    {"--threshold", "vad.threshold", "0..1", nullptr, g_session,
     "Server VAD activation threshold (higher needs louder speech)"},
    {"--prefix-ms", "vad.prefix_padding_ms", "MS", nullptr, g_session,
     "Audio kept before detected speech"},
    {"--silence-ms", "vad.silence_duration_ms", "MS", nullptr, g_session,
     "Silence that ends a turn"},
    {"--eagerness", "vad.eagerness", "low|medium|high|auto", nullptr, g_session,
     "Semantic VAD eagerness"},
    {"--input-device", "audio.input_device", "NAME|INDEX", nullptr, g_audio,
     "Microphone (see --list-devices)"},
    {"--output-device", "audio.output_device", "NAME|INDEX", nullptr, g_audio,
     "Speaker (see --list-devices)"},
    {"--period-ms", "audio.period_ms", "MS", nullptr, g_audio,
     "Device period in ms (0: the device's default: 10 for a sound card, 20 for WAV files)"},
    {"--echo", "audio.echo", "auto|aec|gate|off", nullptr, g_audio,
     "Echo handling (auto: cancel it while the assistant is audible; off: you use headphones)"},
    {"--noise", "audio.noise", "on|off", nullptr, g_audio, "Local noise suppression"},
    {"--gain", "audio.gain", "on|off", nullptr, g_audio, "Local automatic gain control"},
    {"--high-pass", "audio.high_pass", "on|off", nullptr, g_audio,
     "80 Hz high-pass on the microphone while processing runs"},
    {"--room", "audio.room", "SPEC", nullptr, g_audio,
     "Echo rig for WAV runs: play back into the input (e.g. delay=65,gain=+6)"},
    {"--input", "headless.input_wav", "FILE.wav", nullptr, g_headless,
     "Use a WAV file as the microphone"},
    {"--output", "headless.output_wav", "FILE.wav", nullptr, g_headless,
     "Write the assistant's audio to a WAV file"},
    {"--record", "headless.record_wav", "FILE.wav", nullptr, g_headless,
     "Record the conversation (mic left, assistant right)"},
    {"--events", "headless.events_jsonl", "FILE.jsonl", nullptr, g_headless,
     "Log every wire event as JSON lines (secrets redacted)"},
    {"--fast", "headless.fast", nullptr, "true", g_headless,
     "Run file devices as fast as possible, not in real time"},
    {"--ca-file", "network.ca_file", "FILE", nullptr, g_net, "Extra CA certificates (PEM)"},
    {"--insecure-skip-verify", "network.insecure_skip_verify", nullptr, "true", g_net,
     "DANGEROUS: do not verify the server certificate"},
    {"--allow-plain-ws", "network.allow_plain_ws", nullptr, "true", g_net,
     "Allow a plain ws:// endpoint that is not on this machine (no TLS)"},
    {"--proxy", "network.proxy", "URL", nullptr, g_net,
     "HTTPS proxy (default: HTTPS_PROXY from the environment)"},
    {"--history-db", "history.db", "FILE", nullptr, g_memory,
     "The conversation history (default: $XDG_DATA_HOME/ava-voice/history.db)"},
    {"--no-memory", "memory.enabled", nullptr, "false", g_memory,
     "Start fresh: no earlier conversations or remembered facts (this run is still kept)"},
    {"--incognito", "history.incognito", nullptr, "true", g_memory,
     "Neither read nor keep any history (no file is written)"},
    {"--keep-turns", "context.keep_turns", "N", nullptr, g_memory,
     "Keep only the last N turns in the service's context (0: all)"},
    {"--listen", "serve.listen", "HOST:PORT", nullptr, g_serve,
     "Where `serve` listens (default 127.0.0.1:8000; beyond the loopback a token is required)"},
    {"--token", "serve.token", "TOKEN", nullptr, g_serve,
     "The token clients must give (safer: AVA_SERVE_TOKEN; generated when not on loopback)"},
    {"--allow-origin", "serve.allowed_origins", "URL[,URL]", nullptr, g_serve,
     "Web origins besides the server's own allowed to open the stream"},
    {"--max-sessions", "serve.max_sessions", "N", nullptr, g_serve,
     "Concurrent streams (default 64)"},
    {"--tls-cert", "serve.tls_cert", "FILE", nullptr, g_serve, "HTTPS/WSS certificate (PEM)"},
    {"--tls-key", "serve.tls_key", "FILE", nullptr, g_serve, "HTTPS/WSS private key (PEM)"},
    {"--console-dir", "serve.console_dir", "DIR", nullptr, g_serve,
     "Serve the browser console from DIR"},
    {"--log-level", "logging.level", "LEVEL", nullptr, g_log,
     "trace, debug, info, warn, error, critical or off"},
    {"--log-file", "logging.file", "FILE", nullptr, g_log, "Also write the log to FILE"},
    {"--no-color", "ui.color", nullptr, "false", g_log, "No colours (also: NO_COLOR=1)"},
};

constexpr const char* footer = R"(Settings come from, each overriding the one before:
  built-in defaults < config file < environment (.env in the working directory fills gaps)
  < flags.
Config file: $XDG_CONFIG_HOME/ava-voice/config.toml (~/.config/ava-voice/config.toml), or
  --config PATH. Every key is documented in config/ava-voice.example.toml.
Environment: OPENAI_API_KEY, OPENAI_BASE_URL, AZURE_OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT,
  AZURE_OPENAI_DEPLOYMENT, HTTPS_PROXY, NO_PROXY, NO_COLOR, AVA_LOG_LEVEL,
  HOME_ASSISTANT_TOKEN, AVA_SMTP_PASSWORD.

Commands:
  ava-voice doctor [flags]    check the key, the endpoint (TLS + WebSocket), audio devices,
                              the microphone and speaker, and the config; advice for each problem
  ava-voice serve [flags]     the assistant as a server: a browser console at
                              http://127.0.0.1:8000/ and a WebSocket stream (docs/relay.md)
  ava-voice history list      past conversations (id, date, length, turns, cost); also
                              show ID, search TEXT, export ID --format md|jsonl, forget ID,
                              forget --all, facts (what it was asked to remember), forget-fact N

Keys while talking (in a terminal): SPACE push-to-talk with --vad manual (press to start,
  press again to end: terminals report no key release), M mute, C cancel the reply,
  T type a message (Enter sends, Esc cancels), Q or Ctrl+C quit.

Examples:
  ava-voice                                   talk (OpenAI, default devices)
  ava-voice --voice sage --silence-ms 500     another voice, quicker turns
  ava-voice --provider sim --input q.wav --output a.wav --fast   offline, headless
  ava-voice --print-config                    show every setting and where it came from)";

/// The environment variable that carries secret key `key` (config_env.cpp maps it).
std::string secret_variable(std::string_view key) {
    if (key == "tools.lights.token") return "HOME_ASSISTANT_TOKEN";
    if (key == "tools.email.password") return "AVA_SMTP_PASSWORD";
    return "it";
}

int list_devices(std::ostream& out, std::ostream& err) {
    const auto devices = audio::list_devices();
    if (devices.empty()) {
        err << "ava-voice: no audio devices found (no sound server or hardware).\n"
               "  For headless use: ava-voice --input FILE.wav --output FILE.wav\n";
        return 1;
    }
    out << std::right << std::setw(5) << "index"
        << "  " << std::setw(3) << "in" << ' ' << std::setw(3) << "out" << ' ' << std::setw(7)
        << "rate"
        << "  " << std::left << std::setw(12) << "host API"
        << "name\n";
    for (const auto& d : devices) {
        out << std::right << std::setw(5) << d.index << "  " << std::setw(3) << d.max_input_channels
            << ' ' << std::setw(3) << d.max_output_channels << ' ' << std::setw(7)
            << static_cast<long>(d.default_sample_rate) << "  " << std::left << std::setw(12)
            << d.host_api << d.name;
        if (d.default_input) out << "  [default input]";
        if (d.default_output) out << "  [default output]";
        out << '\n';
    }
    return 0;
}

int list_providers(const config& cfg, std::ostream& out) {
    const auto mark = [&](provider_kind k) { return cfg.provider.kind == k ? "  (selected)" : ""; };
    out << "openai  OpenAI Realtime API (GA); key from OPENAI_API_KEY; URL from OPENAI_BASE_URL"
        << mark(provider_kind::openai) << '\n';
    out << "azure   Azure OpenAI Realtime (GA); key from AZURE_OPENAI_API_KEY; "
           "AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_DEPLOYMENT"
        << mark(provider_kind::azure) << '\n';
    out << "sim     the built-in offline Realtime simulator (no key, no network; --scenario FILE)"
        << mark(provider_kind::sim) << '\n';
    return 0;
}

/// One line per MCP server for --list-tools: its state, tools, protocol and last error.
std::string describe(const tools::mcp_server_status& s) {
    std::string line = s.name + ": " + std::string(tools::to_string(s.state));
    if (s.state == tools::mcp_state::restarting) {
        line += " (next try in " + std::to_string((s.restart_in.count() + 999) / 1000) + " s)";
    }
    if (s.state != tools::mcp_state::disabled) {
        line += ", " + std::to_string(s.tools) + (s.tools == 1 ? " tool" : " tools");
    }
    if (!s.protocol_version.empty()) line += ", protocol " + s.protocol_version;
    if (!s.last_error.empty()) line += "; last error: " + s.last_error;
    if (s.state == tools::mcp_state::disabled) line += " (enabled = false in its [[tools.mcp]])";
    return line;
}

int list_tools(const config& cfg, std::ostream& out) {
    // The very registry a run builds, so what is listed is what the model would be offered.
    tools::registry reg(cfg.tools.default_timeout);
    tools::register_builtin_tools(reg, cfg.tools);
    // The memory tools, as a run with this config offers them (listing opens no database).
    const bool memory = cfg.memory.enabled && !cfg.history.incognito;
    if (memory) history::register_memory_tools(reg, nullptr);
    std::optional<tools::mcp_bridge> mcp;
    if (!cfg.tools.mcp.empty()) {
        std::chrono::milliseconds wait{0};
        for (const auto& m : cfg.tools.mcp) wait = std::max(wait, m.start_timeout);
        mcp.emplace(reg, cfg.tools.mcp);
        mcp->start(wait);
    }
    out << reg.format_table();
    std::string approval;
    for (const auto& t : reg.all()) {
        const bool listed =
            std::find(cfg.tools.require_approval.begin(), cfg.tools.require_approval.end(),
                      t->spec().name) != cfg.tools.require_approval.end();
        if (t->require_approval || listed) {
            approval += (approval.empty() ? "" : ", ") + t->spec().name;
        }
    }
    if (!approval.empty()) out << "\nasks for your yes before running: " << approval << '\n';
    if (!memory) {
        out << "\nremember, search_history: off ("
            << (cfg.history.incognito ? "--incognito keeps no history"
                                      : "memory.enabled = false / --no-memory")
            << ")\n";
    }
    if (mcp) {
        out << "\nMCP servers:\n";
        for (const auto& s : mcp->status()) out << "  " << describe(s) << '\n';
    } else {
        out << "\nMCP servers: none ([[tools.mcp]] in the config file adds one; see "
               "docs/mcp.md)\n";
    }
    return 0;
}

}  // namespace

std::string_view version() {
    return generated::version;
}

command_line parse_command_line(int argc, const char* const* argv) {
    CLI::App app{"ava-voice: a realtime voice assistant for the terminal", "ava-voice"};
    app.footer(footer);
    app.get_formatter()->column_width(34);
    app.set_help_flag("-h,--help", "Show this help and exit");

    std::string config_path;
    app.add_option("-c,--config", config_path, "Config file (TOML); it must exist")
        ->type_name("FILE")
        ->group("Configuration");
    std::vector<std::string> set_values;
    app.add_option("--set", set_values,
                   "Set any config key, e.g. --set transcription.language=de (repeatable)")
        ->type_name("KEY=VALUE")
        ->group("Configuration");
    // add_flag(name, description) is ambiguous with string literals in CLI11 2.1.
    const auto add_switch = [&app](const char* name, const char* description) {
        return app.add_flag(std::string(name))->description(description);
    };
    auto* print_config = add_switch("--print-config",
                                    "Print the effective config as TOML (secrets redacted), "
                                    "saying where each value came from")
                             ->group("Information");
    auto* list_dev = add_switch("--list-devices", "List audio devices")->group("Information");
    auto* list_prov = add_switch("--list-providers", "List providers")->group("Information");
    auto* list_tool =
        add_switch("--list-tools", "List tools and whether they are enabled")->group("Information");
    auto* version_flag = add_switch("-V,--version", "Print the version")->group("Information");

    std::vector<std::string> values(std::size(flag_table));
    std::vector<CLI::Option*> opts;
    for (std::size_t i = 0; i < std::size(flag_table); ++i) {
        const auto& f = flag_table[i];
        CLI::Option* o = nullptr;
        if (f.fixed != nullptr) {
            o = add_switch(f.flag, f.help);
        } else {
            o = app.add_option(f.flag, values[i], f.help)->type_name(f.value_name);
        }
        o->group(f.group);
        opts.push_back(o);
    }

    // A key given as a flag lands in shell history and in `ps` for every local user to read.
    // Refuse it by name, before CLI11 could echo the value back in an "unexpected" message.
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--api-key" || a.substr(0, 10) == "--api-key=" || a == "--key") {
            throw config_error(
                "API keys are not accepted on the command line (they would land in shell history "
                "and `ps`); set OPENAI_API_KEY (or AZURE_OPENAI_API_KEY), or name another "
                "variable with --api-key-env NAME");
        }
        if (a == "--") break;
    }

    command_line cl;
    cl.help = app.help();
    // `doctor` is a command word in front of the usual flags: parse the rest as usual.
    std::vector<const char*> args(argv, argv + argc);
    bool doctor = false;
    if (argc > 1 && std::string_view(argv[1]) == "doctor") {
        doctor = true;
        args.erase(args.begin() + 1);
    }
    bool serve = false;
    if (argc > 1 && std::string_view(argv[1]) == "serve") {
        serve = true;
        args.erase(args.begin() + 1);
    }
    // `history` too, and its own words (the verb, its operands, --all, --format, --limit) are
    // taken out before the usual flags are parsed.
    bool history = false;
    if (argc > 1 && std::string_view(argv[1]) == "history") {
        history = true;
        std::vector<const char*> rest{args[0]};
        const auto takes_value = [&](std::string_view a) {
            if (a == "-c" || a == "--config" || a == "--set") return true;
            return std::any_of(
                std::begin(flag_table), std::end(flag_table),
                [&](const flag_def& f) { return f.fixed == nullptr && a == f.flag; });
        };
        for (std::size_t i = 2; i < args.size(); ++i) {
            const std::string_view a = args[i];
            const auto value = [&](std::string_view name) -> std::string {
                if (a.size() > name.size() && a[name.size()] == '=') {
                    return std::string(a.substr(name.size() + 1));
                }
                if (i + 1 >= args.size()) throw config_error(std::string(name) + " needs a value");
                return args[++i];
            };
            if (a == "--all") {
                cl.history.all = true;
            } else if (a.rfind("--format", 0) == 0 && (a.size() == 8 || a[8] == '=')) {
                cl.history.format = value("--format");
            } else if (a.rfind("--limit", 0) == 0 && (a.size() == 7 || a[7] == '=')) {
                const std::string v = value("--limit");
                try {
                    cl.history.limit = std::stoi(v);
                } catch (const std::exception&) {
                    cl.history.limit = 0;
                }
                if (cl.history.limit <= 0)
                    throw config_error("--limit: '" + v + "' is not a count");
            } else if (a == "--") {
                for (++i; i < args.size(); ++i) cl.history.words.emplace_back(args[i]);
            } else if (!a.empty() && a[0] != '-') {
                cl.history.words.emplace_back(a);
            } else {
                rest.push_back(args[i]);
                if (a.find('=') == std::string_view::npos && takes_value(a) &&
                    i + 1 < args.size()) {
                    rest.push_back(args[++i]);
                }
            }
        }
        args = std::move(rest);
    }
    try {
        app.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::CallForHelp&) {
        cl.cmd = command::help;
        return cl;
    } catch (const CLI::CallForAllHelp&) {
        cl.cmd = command::help;
        return cl;
    } catch (const CLI::ParseError& e) {
        throw config_error(e.what());
    }

    if (!config_path.empty() || app.count("--config") > 0) {
        if (config_path.empty()) throw config_error("--config: the path is empty");
        cl.config_file = std::filesystem::path(config_path);
    }
    for (std::size_t i = 0; i < std::size(flag_table); ++i) {
        const auto& f = flag_table[i];
        if (opts[i]->count() == 0) continue;
        cl.settings.push_back({f.key, f.fixed != nullptr ? std::string(f.fixed) : values[i],
                               "flag " + std::string(f.flag)});
    }
    for (const auto& s : set_values) {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw config_error("--set '" + s + "': expected KEY=VALUE");
        }
        const std::string key = s.substr(0, eq);
        if (const detail::key_def* k = detail::find_key(key); k != nullptr && k->info.secret) {
            // Refused like the API key: the value would be in shell history and in `ps`.
            throw config_error("--set " + key +
                               ": secrets are not accepted on the command line (they would land "
                               "in shell history and `ps`); set " +
                               secret_variable(key) +
                               " in the environment, or put it in the config file");
        }
        cl.settings.push_back({key, s.substr(eq + 1), "flag --set " + key});
    }

    if (version_flag->count() > 0) {
        cl.cmd = command::version;
    } else if (doctor) {
        cl.cmd = command::doctor;
    } else if (history) {
        cl.cmd = command::history;
    } else if (serve) {
        cl.cmd = command::serve;
    } else if (print_config->count() > 0) {
        cl.cmd = command::print_config;
    } else if (list_dev->count() > 0) {
        cl.cmd = command::list_devices;
    } else if (list_prov->count() > 0) {
        cl.cmd = command::list_providers;
    } else if (list_tool->count() > 0) {
        cl.cmd = command::list_tools;
    }
    return cl;
}

config_sources process_sources(const command_line& cl) {
    config_sources s;
    s.env = process_env();
    s.explicit_file = cl.config_file;
    if (!cl.config_file) s.user_file = default_config_path(s.env);
    s.dotenv_file = std::filesystem::path(".env");
    s.flags = cl.settings;
    return s;
}

std::string summary(const config& c) {
    std::ostringstream os;
    const std::string url = c.realtime_url();
    os << "provider   " << to_string(c.provider.kind) << "  "
       << (url.empty() ? "(in-process simulator)" : url) << '\n';
    if (c.provider.kind != provider_kind::sim) {
        os << "api key    " << (c.provider.api_key.empty() ? "not set" : "set") << " ("
           << c.api_key_variable() << ")\n";
    }
    os << "voice      " << c.session.voice << ", speed " << c.session.speed << ", answers in "
       << to_string(c.session.modality) << '\n';
    os << "turns      " << to_string(c.vad.type) << " VAD";
    if (c.vad.type == vad_kind::server) {
        os << ", threshold " << c.vad.threshold << ", prefix " << c.vad.prefix_padding.count()
           << " ms, silence " << c.vad.silence_duration.count() << " ms";
    } else if (c.vad.type == vad_kind::semantic) {
        os << ", eagerness " << to_string(c.vad.eagerness);
    }
    os << '\n';
    os << "input      "
       << (!c.headless.input_wav.empty()
               ? "file " + c.headless.input_wav
               : "device " + (c.audio.input_device.empty() ? "(default)" : c.audio.input_device))
       << '\n';
    os << "output     "
       << (!c.headless.output_wav.empty()
               ? "file " + c.headless.output_wav
               : "device " + (c.audio.output_device.empty() ? "(default)" : c.audio.output_device))
       << '\n';
    std::string tools;
    const auto add = [&](bool on, const char* name) {
        if (on) tools += (tools.empty() ? "" : ", ") + std::string(name);
    };
    add(c.tools.calendar.enabled, "calendar");
    add(c.tools.lights.enabled, "lights");
    add(c.tools.weather.enabled, "weather");
    add(c.tools.email.enabled, "email");
    for (const auto& cmd : c.tools.commands) add(true, cmd.name.c_str());
    os << "tools      " << (tools.empty() ? "none" : tools) << '\n';
    return os.str();
}

int main_entry(int argc, const char* const* argv, const run_function& run, std::ostream& out,
               std::ostream& err) {
    return main_entry(argc, argv, run, doctor_function{}, out, err);
}

int main_entry(int argc, const char* const* argv, const run_function& run,
               const doctor_function& doctor, std::ostream& out, std::ostream& err) {
    return main_entry(argc, argv, run, doctor, run_function{}, out, err);
}

int main_entry(int argc, const char* const* argv, const run_function& run,
               const doctor_function& doctor, const run_function& serve, std::ostream& out,
               std::ostream& err) {
    // Every message that leaves here goes through redact(): a secret can hide in an error text.
    const auto fail = [&](const std::string& msg, int code) {
        err << "ava-voice: error: " << log::redact(msg) << '\n';
        err.flush();
        return code;
    };
    try {
        const command_line cl = parse_command_line(argc, argv);
        if (cl.cmd == command::help) {
            out << cl.help;
            return 0;
        }
        if (cl.cmd == command::version) {
            out << "ava-voice " << version() << '\n';
            return 0;
        }

        if (cl.cmd == command::doctor) {
            if (!doctor) return fail("doctor is not built into this binary", 1);
            std::optional<loaded_config> doc;
            try {
                doc = load_config(process_sources(cl));
            } catch (const config_error& e) {
                out << "ava-voice doctor\n[FAIL] config: " << log::redact(e.what())
                    << "\n       advice: fix the file, variable or flag named above; "
                       "`ava-voice --print-config` shows each value and its origin\n"
                       "1 problem(s) found\n";
                return 2;
            }
            // The report is the output: connection chatter at info would only interleave.
            const std::string level =
                doc->cfg.logging.level == "info" ? "warn" : doc->cfg.logging.level;
            log::init({level, doc->cfg.logging.file, true});
            return doctor(*doc, out);
        }
        const loaded_config loaded = load_config(process_sources(cl));
        const config& cfg = loaded.cfg;
        log::init({cfg.logging.level, cfg.logging.file, true});
        const auto lg = log::get("app");
        lg->debug("ava-voice {} starting", version());
        for (const auto& n : loaded.notes) lg->debug("{}", n);
        for (const auto& w : loaded.warnings) lg->warn("{}", w);
        lg->trace("effective config:\n{}", to_toml(loaded, true));

        switch (cl.cmd) {
            case command::print_config:
                out << to_toml(loaded, true);
                return 0;
            case command::list_devices:
                return list_devices(out, err);
            case command::list_providers:
                return list_providers(cfg, out);
            case command::history:
                return history_command(cfg, cl.history,
                                       cfg.ui.color && ::isatty(STDOUT_FILENO) == 1, out, err);
            case command::list_tools:
                // The table is the output: MCP servers' start-up chatter at info would only
                // interleave with it (warnings still show).
                if (cfg.logging.level == "info") log::init({"warn", cfg.logging.file, true});
                return list_tools(cfg, out);
            case command::serve:
                if (!serve) return fail("serve is not built into this binary", 1);
                return serve(cfg);
            default:
                break;
        }
        if (!run) return fail("nothing to run", 1);
        return run(cfg);
    } catch (const config_error& e) {
        return fail(e.what(), 2);
    } catch (const std::exception& e) {
        return fail(e.what(), 1);
    } catch (...) {
        return fail("unexpected failure", 1);
    }
}

}  // namespace ava::app
