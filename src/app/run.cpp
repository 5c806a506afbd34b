#include "ava/app/run.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "ava/app/terminal.hpp"
#include "ava/app/ui.hpp"
#include "ava/audio/devices.hpp"
#include "ava/audio/dsp.hpp"
#include "ava/audio/portaudio_device.hpp"
#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/realtime/provider.hpp"
#include "ava/session.hpp"
#include "ava/sim/server.hpp"
#include "ava/tools/builtin.hpp"

namespace ava::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- the session config ------------------------------------------------------------------------

realtime::session_config session_from(const config& cfg) {
    realtime::session_config s;
    s.type = "realtime";
    s.model = cfg.provider.model;
    s.output_modalities =
        std::vector<std::string>{cfg.session.modality == output_modality::text ? "text" : "audio"};
    s.instructions = cfg.session.resolved_instructions;
    s.input_format = realtime::audio_format{};
    s.output_format = realtime::audio_format{};
    switch (cfg.session.noise_reduction) {
        case noise_reduction_kind::near_field:
            s.noise_reduction = "near_field";
            break;
        case noise_reduction_kind::far_field:
            s.noise_reduction = "far_field";
            break;
        case noise_reduction_kind::off:
            s.noise_reduction = "";
            break;
    }
    realtime::transcription tr;
    tr.model = cfg.transcription.model;  // empty = null: transcription off
    if (!tr.model.empty() && !cfg.transcription.language.empty()) {
        tr.language = cfg.transcription.language;
    }
    s.input_transcription = tr;

    realtime::turn_detection td;
    switch (cfg.vad.type) {
        case vad_kind::manual:
            td.type = realtime::vad_type::none;
            break;
        case vad_kind::server:
            td.type = realtime::vad_type::server_vad;
            td.threshold = cfg.vad.threshold;
            td.prefix_padding_ms = static_cast<int>(cfg.vad.prefix_padding.count());
            td.silence_duration_ms = static_cast<int>(cfg.vad.silence_duration.count());
            if (cfg.vad.idle_timeout.count() > 0) {
                td.idle_timeout_ms = static_cast<int>(cfg.vad.idle_timeout.count());
            }
            break;
        case vad_kind::semantic:
            td.type = realtime::vad_type::semantic_vad;
            td.eagerness = std::string(to_string(cfg.vad.eagerness));
            break;
    }
    if (td.type != realtime::vad_type::none) {
        td.create_response = cfg.vad.create_response;
        td.interrupt_response = cfg.vad.interrupt_response;
    }
    s.turn = td;
    s.voice = cfg.session.voice;
    s.speed = cfg.session.speed;
    return s;
}

realtime::conversation_options conversation_from(const config& cfg) {
    realtime::conversation_options o;
    o.session = session_from(cfg);
    o.frame_samples = static_cast<std::size_t>(core::ms_to_samples(cfg.audio.frame.count()));
    o.reconnect.initial = cfg.reconnect.initial_backoff;
    o.reconnect.max = cfg.reconnect.max_backoff;
    // The backoff treats <= 0 as "never give up"; the config's 0 means "do not reconnect", which
    // is as close as one try gets.
    o.reconnect.max_attempts = std::max(1, cfg.reconnect.max_tries);
    if (cfg.provider.kind == provider_kind::azure) o.max_session = 30min;  // Azure's cap (3p)
    o.prices.text_in = cfg.prices.text_in;
    o.prices.text_cached = cfg.prices.text_cached_in;
    o.prices.text_out = cfg.prices.text_out;
    o.prices.audio_in = cfg.prices.audio_in;
    o.prices.audio_cached = cfg.prices.audio_cached_in;
    o.prices.audio_out = cfg.prices.audio_out;
    return o;
}

// ---- devices
// -------------------------------------------------------------------------------------

/// The bundled sample speech: next to the sources (a build tree), or installed.
std::optional<fs::path> find_sample(const std::string& name) {
    std::vector<fs::path> dirs;
    if (const char* d = std::getenv("AVA_SAMPLES_DIR")) dirs.emplace_back(d);
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share/ava-voice/samples");
    dirs.emplace_back(AVA_INSTALL_SAMPLES_DIR);
    dirs.emplace_back(AVA_SOURCE_SAMPLES_DIR);
    for (const auto& d : dirs) {
        if (fs::exists(d / name, ec)) return d / name;
    }
    return std::nullopt;
}

bool machine_has_sound() {
    try {
        const auto devices = audio::list_devices();
        const bool in = std::any_of(devices.begin(), devices.end(),
                                    [](const auto& d) { return d.max_input_channels > 0; });
        const bool out = std::any_of(devices.begin(), devices.end(),
                                     [](const auto& d) { return d.max_output_channels > 0; });
        return in && out;
    } catch (const std::exception&) {
        return false;
    }
}

std::unique_ptr<audio::dsp_stage> echo_stage(const config& cfg, bool real_device,
                                             ui_renderer& con) {
    if (!real_device || cfg.audio.echo == echo_mode::off) {
        return std::make_unique<audio::identity_dsp>();
    }
    if (cfg.audio.echo == echo_mode::aec) {
        con.warning(
            "echo cancellation is not built into this version; gating the microphone "
            "while the assistant speaks instead (use headphones for full barge-in)");
    }
    return std::make_unique<audio::energy_gate_dsp>();
}

// ---- signals and typed input
// ----------------------------------------------------------------------

/// Blocks SIGINT/SIGTERM in every thread started from here on; a watcher thread takes them.
class signal_watch {
  public:
    explicit signal_watch(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        // Blocks until a signal comes: no periodic wake-up (this thread once woke 5 times a
        // second, ~3% of a headless session's CPU). The destructor wakes it with a signal of
        // its own.
        thread_ = std::thread([this] {
            for (;;) {
                int sig = 0;
                if (sigwait(&set_, &sig) != 0) continue;
                if (done_.load()) return;
                on_signal_(sig);
            }
        });
    }
    ~signal_watch() {
        done_ = true;
        pthread_kill(thread_.native_handle(), SIGTERM);  // blocked there: sigwait takes it
        thread_.join();
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

  private:
    std::function<void(int)> on_signal_;
    sigset_t set_{};
    sigset_t old_{};
    std::atomic<bool> done_{false};
    std::thread thread_;
};

/// Typed lines on stdin become user messages. The reading thread blocks in getline, so it is
/// detached; it reaches the session only through this shared, lockable pointer.
struct line_channel {
    std::mutex mutex;
    session* target = nullptr;
};

void start_stdin_reader(const std::shared_ptr<line_channel>& channel) {
    std::thread([channel] {
        std::string text;
        while (std::getline(std::cin, text)) {
            if (text.empty()) continue;
            const std::lock_guard lock(channel->mutex);
            if (channel->target == nullptr) return;
            channel->target->send_text(text);
        }
    }).detach();
}

// ---- the summary
// ----------------------------------------------------------------------------------

std::string format_ms(std::optional<std::chrono::milliseconds> v) {
    return v ? std::to_string(v->count()) + " ms" : std::string("n/a");
}

std::string summary_text(const realtime::session_summary& s) {
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
    if (s.mic_samples_dropped > 0) {
        o << "microphone audio dropped while offline: "
          << core::samples_to_ms(s.mic_samples_dropped) << " ms\n";
    }
    return o.str();
}

// ---- keys
// ----------------------------------------------------------------------------------------

/// What the keys do (see the top of run.hpp). Runs on the key thread only; reaches the session
/// through its thread-safe methods and the UI through the renderer.
class key_controller {
  public:
    key_controller(session& s, ui_renderer& ui, bool push_to_talk)
        : session_(s), ui_(ui), push_to_talk_(push_to_talk) {}

    /// Returns false once the user asked to quit.
    bool handle(const key& k) {
        if (editing_) return edit(k);
        switch (k.k) {
            case key::kind::ctrl_c:
            case key::kind::ctrl_d:
                return quit();
            case key::kind::character:
                break;
            default:
                return true;
        }
        if (k.text.size() != 1) return true;
        switch (k.text[0]) {
            case ' ':
                space();
                return true;
            case 'm':
            case 'M':
                muted_ = !muted_;
                session_.set_muted(muted_);
                ui_.muted(muted_);
                ui_.hint(muted_ ? "microphone muted (M unmutes)" : "microphone on");
                return true;
            case 'c':
            case 'C':
                if (talking_) end_talk();
                session_.interrupt();
                ui_.hint("cancelling the reply");
                return true;
            case 't':
            case 'T':
                editing_ = true;
                text_.clear();
                ui_.editing(text_);
                return true;
            case 'q':
            case 'Q':
                return quit();
            default:
                ui_.hint("keys: " + std::string(push_to_talk_ ? "SPACE talk, " : "") +
                         "M mute, C cancel the reply, T type a message, Q quit");
                return true;
        }
    }

    /// The key thread is ending (the session is over): release a held push-to-talk.
    void release() {
        if (talking_) end_talk();
    }

  private:
    void space() {
        if (!push_to_talk_) {
            // Terminals report no key release, so holding SPACE cannot work; under voice activity
            // detection turns are automatic and SPACE is not needed.
            ui_.hint(
                "turns are automatic here (voice activity); for push-to-talk run with "
                "--vad manual (SPACE starts, SPACE again ends the turn)");
            return;
        }
        if (talking_) {
            end_talk();
        } else {
            talking_ = true;
            session_.talk(true);
            ui_.talking(true);
        }
    }
    void end_talk() {
        talking_ = false;
        session_.talk(false);
        ui_.talking(false);
    }
    bool quit() {
        ui_.hint("quitting");
        release();
        session_.stop();
        return false;
    }
    bool edit(const key& k) {
        switch (k.k) {
            case key::kind::enter:
                editing_ = false;
                ui_.editing(std::nullopt);
                if (!text_.empty()) session_.send_text(text_);
                text_.clear();
                return true;
            case key::kind::escape:
                editing_ = false;
                text_.clear();
                ui_.editing(std::nullopt);
                return true;
            case key::kind::backspace:
                pop_utf8_char(text_);
                ui_.editing(text_);
                return true;
            case key::kind::ctrl_c:
                return quit();
            case key::kind::character:
                if (text_.size() < 4000) text_ += k.text;
                ui_.editing(text_);
                return true;
            default:
                return true;
        }
    }

    session& session_;
    ui_renderer& ui_;
    bool push_to_talk_;
    bool muted_ = false;
    bool talking_ = false;
    bool editing_ = false;
    std::string text_;
};

int exit_code_for(const session_result& r) {
    if (r.how != session_result::end::fatal) return exit_ok;
    if (r.code == errc::auth_failed || r.code == errc::not_found || r.code == errc::quota) {
        return exit_refused;
    }
    return exit_failure;
}

}  // namespace

// ---- choosing the service
// ------------------------------------------------------------------------

bool wants_simulator(const config& cfg) {
    if (cfg.provider.kind == provider_kind::sim) return true;
    // OpenAI with no key and no explicit endpoint: the offline demo.
    return cfg.provider.kind == provider_kind::openai && cfg.provider.api_key.empty() &&
           cfg.provider.endpoint.empty();
}

realtime::endpoint service_endpoint(const config& cfg) {
    realtime::provider_settings p;
    p.model = cfg.provider.model;
    p.api_key = cfg.provider.api_key;
    if (!cfg.provider.endpoint.empty()) {
        p.provider = "custom";
        p.endpoint_url = cfg.provider.endpoint;
    } else if (cfg.provider.kind == provider_kind::azure) {
        p.provider = "azure";
        p.azure_endpoint = cfg.azure.endpoint;
        p.deployment = cfg.azure.deployment;
    } else {
        p.provider = "openai";
        p.base_url = cfg.openai.base_url;
    }
    // The key was read from the environment by the config loader; do not read it again.
    return realtime::build_endpoint(
        p, [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
}

realtime::connection_options connection_options_from(const config& cfg, realtime::endpoint ep) {
    realtime::connection_options c;
    c.target = std::move(ep);
    c.ca_file = cfg.network.ca_file;
    c.insecure_skip_verify = cfg.network.insecure_skip_verify;
    if (!cfg.network.proxy.empty()) c.proxy = cfg.network.proxy;
    if (!cfg.network.no_proxy.empty()) c.no_proxy = cfg.network.no_proxy;
    c.connect_timeout = cfg.network.connect_timeout;
    c.ping_interval = cfg.network.ping_interval;
    return c;
}

int run(const config& cfg) {
    // SIGINT/SIGTERM are blocked before any thread starts (the simulator's, the device's, the
    // session's inherit the mask), so only signal_watch below takes them and turns them into a
    // clean stop; one that arrives earlier waits pending for it. Without this, Ctrl+C landed in
    // the simulator's threads and killed the process with the terminal still raw.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    struct mask_restore {
        sigset_t mask;
        ~mask_restore() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
    } const restore_mask{old_mask};

    // ---- the terminal ----
    const bool interactive = is_terminal(STDIN_FILENO);
    const bool stdout_tty = is_terminal(STDOUT_FILENO);
    ui_options uo;
    uo.color = cfg.ui.color && stdout_tty;
    uo.ansi = uo.color;  // NO_COLOR / --no-color: plain lines (no cursor movement either)
    uo.unicode = locale_is_utf8();
    uo.push_to_talk = cfg.vad.type == vad_kind::manual;
    const auto to_stdout = [](std::string_view b) {
        std::fwrite(b.data(), 1, b.size(), stdout);
        std::fflush(stdout);
    };
    const auto to_stderr = [](std::string_view b) {
        std::fwrite(b.data(), 1, b.size(), stderr);
        std::fflush(stderr);
    };
    ui_renderer con(uo, to_stdout, to_stderr);
    // While the live footer is drawn, log lines on stderr would tear it: the log goes only to
    // --log-file then (what the user must see arrives as notices and warnings in the UI), and
    // back to stderr once the footer is gone.
    const auto log_to_stderr = [&cfg](bool on) {
        try {
            ava::log::init({cfg.logging.level, cfg.logging.file, on});
        } catch (const std::exception&) {
            // It worked with these settings at startup; keep whatever is in place.
        }
    };
    if (uo.ansi) {
        // Loggers created later with no sinks at all would fall back to stderr: create every
        // module's logger now, so re-initialising leaves them all without the stderr sink.
        for (const char* module : {"app", "rt", "audio", "tools", "sim"}) ava::log::get(module);
        log_to_stderr(false);
    }
    auto log = ava::log::get("app");

    // ---- the service ----
    std::unique_ptr<sim::server> simulator;
    realtime::endpoint ep;
    const bool use_sim = wants_simulator(cfg);
    // No key, no sound card, no files: the offline demo plays the bundled sample speech, and the
    // simulator answers it from the scenario that goes with it (unless one was given).
    const bool sample_demo = use_sim && cfg.headless.input_wav.empty() &&
                             cfg.headless.output_wav.empty() && !machine_has_sound();
    std::string scenario = cfg.sim.scenario;
    if (sample_demo && scenario.empty()) {
        if (const auto s = find_sample("demo-conversation.toml")) scenario = s->string();
    }
    if (use_sim) {
        sim::options so;
        so.scenario_file = scenario;
        so.voice = cfg.session.voice;
        so.quiet = true;
        simulator = std::make_unique<sim::server>(so);
        simulator->start();
        ep.provider = "sim";
        ep.url = realtime::parse_url(simulator->url());
        ep.headers = {{"Authorization", "Bearer offline-simulator"}};
        con.banner(std::string(cfg.provider.kind == provider_kind::sim
                                   ? "ava-voice: using the offline simulator"
                                   : "ava-voice: no OPENAI_API_KEY set, so using the offline "
                                     "simulator") +
                   " at " + simulator->url() +
                   (scenario.empty()
                        ? " (built-in scenario)"
                        : " (scenario " + fs::path(scenario).filename().string() + ")"));
    } else {
        ep = service_endpoint(cfg);
    }

    // ---- the devices ----
    session_options so;
    bool headless = !cfg.headless.input_wav.empty() || !cfg.headless.output_wav.empty();
    bool demo = false;
    audio::wav_device_options wav;
    wav.input_path = cfg.headless.input_wav;
    wav.output_path = cfg.headless.output_wav;
    // Real time: the session's io thread runs the file device's periods (no thread of its own).
    wav.pacing = cfg.headless.fast ? audio::wav_pacing::fast : audio::wav_pacing::driven;
    // A file has no hardware period: one wire frame (20 ms) per period halves the device
    // thread's wake-ups against 10 ms and still silences a barge-in within one period.
    const int period_ms = static_cast<int>(cfg.audio.period.count());
    wav.period_ms = period_ms > 0 ? period_ms : 20;
    if (!headless && (sample_demo || (!use_sim && !machine_has_sound()))) {
        if (!use_sim) {
            con.error(
                "no audio devices found (no sound server or hardware). Use --input "
                "question.wav --output answer.wav, or see --list-devices.");
            return exit_failure;
        }
        const auto sample = find_sample("demo-conversation.wav");
        if (!sample) {
            con.error(
                "no audio devices found and the bundled sample speech is missing; use "
                "--input question.wav --output answer.wav");
            return exit_failure;
        }
        wav.input_path = sample->string();
        wav.output_path = "ava-reply.wav";
        headless = true;
        demo = true;
        con.banner("ava-voice: no sound card here, so playing the bundled sample speech (" +
                   sample->filename().string() + ") in and writing the replies to " +
                   wav.output_path);
    }
    try {
        if (headless) {
            so.device = audio::open_wav_device(wav);
            // The demo in a terminal stays open after the sample (type with T, quit with Q);
            // files given with --input, and anything without a terminal, end with the input.
            so.stop_when_input_done = !wav.input_path.empty() && !(demo && interactive);
        } else {
            audio::portaudio_options pa;
            pa.input_device = cfg.audio.input_device;
            pa.output_device = cfg.audio.output_device;
            if (period_ms > 0) pa.period_ms = period_ms;
            pa.on_fault = [&con](std::error_code ec, const std::string& what) {
                if (ec) con.warning("audio device: " + what);
            };
            so.device = audio::open_portaudio_device(pa);
        }
    } catch (const std::system_error& e) {
        con.error(e.what());
        return e.code() == errc::bad_config ? exit_usage : exit_failure;
    }
    so.engine.start_threshold_ms = static_cast<int>(cfg.audio.playback_start.count());
    so.engine.dsp = echo_stage(cfg, !headless, con);
    so.events_jsonl = cfg.headless.events_jsonl;
    so.record_wav = cfg.headless.record_wav;
    so.conversation = conversation_from(cfg);
    so.connection = connection_options_from(cfg, std::move(ep));

    // ---- the session ----
    session_callbacks cb;
    cb.on_transcript = [&con](const transcript_line& t) { con.transcript(t); };
    cb.on_tool = [&con](const tool_event& e) { con.tool(e); };
    cb.on_notice = [&con, log, ansi = uo.ansi](std::string_view text, bool warning) {
        if (warning) {
            con.warning(text);
        } else {
            log->info("{}", text);
            if (ansi) con.hint(std::string(text));
        }
    };
    cb.on_status = [&con, log](realtime::conv_status s) {
        log->debug("status: {}", to_string(s));
        con.status(s);
    };
    cb.on_interrupted = [&con] { con.interrupted(); };
    cb.on_turn = [&con, log](const realtime::act::turn_metrics& m) {
        log->info("turn {}: {} ms from end of speech to first audio", m.turn, m.latency.count());
        con.turn(m);
    };
    cb.on_usage = [&con](const realtime::act::usage_metrics& m) { con.usage(m); };

    auto sess = std::make_unique<session>(std::move(so), std::move(cb));
    tools::register_builtin_tools(sess->tools(), cfg.tools);

    session_result result;
    {
        // Keys: raw mode for as long as the session runs; restored by the guard on every way
        // out of this block (a return, an exception), by the fatal-signal handlers on a crash,
        // and SIGINT/SIGTERM become a clean stop that leaves through this block.
        std::optional<raw_mode> raw;
        if (interactive) {
            install_fatal_signal_restore();
            raw.emplace(STDIN_FILENO);
        }
        signal_watch signals([&sess, &con](int sig) {
            con.banner(sig == SIGINT ? "ava-voice: interrupted, finishing up"
                                     : "ava-voice: "
                                       "stopping");
            sess->stop();
        });
        try {
            sess->start();
        } catch (const std::system_error& e) {
            con.finish();
            if (uo.ansi) log_to_stderr(true);
            con.error(e.what());
            return exit_failure;
        }
        if (demo && interactive) {
            con.banner("ava-voice: after the sample, press T to type to AVA, Q to quit");
        }
        std::jthread refresher;
        if (uo.ansi) {
            refresher = std::jthread([&con, &sess](const std::stop_token& stop) {
                while (!stop.stop_requested()) {
                    con.levels(sess->input_level().peak_db, sess->output_level().peak_db);
                    con.refresh();
                    std::this_thread::sleep_for(66ms);
                }
            });
        }
        std::jthread key_thread;
        auto channel = std::make_shared<line_channel>();
        if (raw && raw->active()) {
            key_thread = std::jthread([&con, &sess, &cfg](const std::stop_token& stop) {
                key_controller keys(*sess, con, cfg.vad.type == vad_kind::manual);
                key_decoder decoder;
                bool running = true;
                while (running && !stop.stop_requested()) {
                    const auto bytes = read_input(STDIN_FILENO, 100);
                    if (!bytes) break;  // the terminal went away
                    for (const auto& k : decoder.feed(*bytes)) {
                        if (!keys.handle(k)) {
                            running = false;
                            break;
                        }
                    }
                }
                keys.release();
            });
        } else {
            channel->target = sess.get();
            start_stdin_reader(channel);
        }
        result = sess->wait();
        {
            const std::lock_guard lock(channel->mutex);
            channel->target = nullptr;
        }
        key_thread = {};  // request stop and join (the reader wakes every 100 ms)
        refresher = {};
        con.finish();
        if (uo.ansi) log_to_stderr(true);
    }
    if (result.how == session_result::end::fatal) con.error(result.message);
    con.line(summary_text(sess->summary()));
    if (simulator) simulator->stop();
    return exit_code_for(result);
}

}  // namespace ava::app
