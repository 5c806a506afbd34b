// The run itself: the terminal and the UI, the simulator or the service, the devices, the session
// and its front-end threads, then the summary. The parts: run_options.cpp (the config as service,
// connection and conversation options), run_devices.cpp (sample speech, sound, echo stage),
// run_input.hpp (signals, keys, typed lines), run_summary.cpp.
#include "ava/app/run.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "ava/app/terminal.hpp"
#include "ava/app/ui.hpp"
#include "ava/audio/portaudio_device.hpp"
#include "ava/audio/wav_device.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/session.hpp"
#include "ava/sim/server.hpp"
#include "ava/tools/builtin.hpp"
#include "ava/tools/mcp.hpp"
#include "run_history.hpp"
#include "run_input.hpp"
#include "run_parts.hpp"

namespace ava::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int exit_code_for(const session_result& r) {
    if (r.how != session_result::end::fatal) return exit_ok;
    if (r.code == errc::auth_failed || r.code == errc::not_found || r.code == errc::quota) {
        return exit_refused;
    }
    return exit_failure;
}

}  // namespace

int run(const config& cfg) {
    // SIGINT/SIGTERM/SIGHUP are blocked before any thread starts (the simulator's, the device's,
    // the session's inherit the mask), so only signal_watch below takes them and turns them into a
    // clean stop; one that arrives earlier waits pending for it. Without this, Ctrl+C landed in
    // the simulator's threads and killed the process with the terminal still raw.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    struct mask_restore {
        sigset_t mask;
        ~mask_restore() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
    } const restore_mask{old_mask};

    // A reader that goes away (`ava-voice ... | head -1`) must not kill the run with SIGPIPE
    // before the output WAV, the recording and the event log are finished: writes to it just
    // fail. (Child processes get the default back: support/process.cpp.)
    std::signal(SIGPIPE, SIG_IGN);

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
        if (const auto s = find_sample(cfg, "demo-conversation.toml")) scenario = s->string();
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
    wav.room = room_from(cfg);
    if (!headless && (sample_demo || (!use_sim && !machine_has_sound()))) {
        if (!use_sim) {
            con.error(
                "no audio devices found (no sound server or hardware). Use --input "
                "question.wav --output answer.wav, or see --list-devices.");
            return exit_failure;
        }
        const auto sample = find_sample(cfg, "demo-conversation.wav");
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
    if (wav.room && !headless) {
        con.warning("--room applies to WAV runs (--input/--output); ignored on a sound card");
    }
    try {
        so.engine.dsp = echo_stage(cfg, !headless, con);
    } catch (const std::runtime_error& e) {
        con.error(e.what());
        return exit_failure;
    }
    so.local_barge_in = cfg.audio.local_barge_in;
    so.barge_in_window = cfg.audio.barge_in_window;
    so.barge_in_min_speech = cfg.audio.barge_in_min_speech;
    so.events_jsonl = cfg.headless.events_jsonl;
    so.record_wav = cfg.headless.record_wav;
    so.conversation = conversation_from(cfg);
    if (auto& turn = so.conversation.session.turn;
        so.local_barge_in && so.engine.dsp && turn && turn->type != realtime::vad_type::none &&
        std::string_view(so.engine.dsp->report().echo) == "aec") {
        // Local barge-in tells a turn from a backchannel ("mm-hm") before anything is cut, so
        // the server must not cancel the reply the moment its VAD hears speech: the
        // conversation cancels it itself once the turn is confirmed. audio.local_barge_in =
        // false gives the server its own interruption back.
        turn->interrupt_response = false;
    }
    // ---- the history and memory ----
    history_recorder history(cfg, [&con](const std::string& w) { con.warning(w); });
    history.apply(so.conversation);
    if (const std::string h = history.describe(); !h.empty()) con.banner("ava-voice: " + h);
    so.connection = connection_options_from(cfg, std::move(ep));
    so.require_approval = cfg.tools.require_approval;
    so.approval = cfg.tools.approval;
    so.approval_timeout = cfg.tools.approval_timeout;

    // ---- the session ----
    session_callbacks cb;
    cb.on_transcript = [&con, &history](const transcript_line& t) {
        // Queued for the history before it is shown: a line on screen is a line on its way
        // to the file.
        history.on_transcript(t);
        con.transcript(t);
    };
    cb.on_tool = [&con, &history](const tool_event& e) {
        con.tool(e);
        history.on_tool(e);
    };
    cb.on_notice = [&con, log, ansi = uo.ansi](std::string_view text, bool warning) {
        if (warning) {
            con.warning(text);
        } else {
            log->info("{}", text);
            if (ansi) con.hint(std::string(text));
        }
    };
    cb.on_status = [&con, log, &history](realtime::conv_status s) {
        log->debug("status: {}", to_string(s));
        con.status(s);
        history.on_status(s);
    };
    cb.on_interrupted = [&con] { con.interrupted(); };
    cb.on_turn = [&con, log](const realtime::act::turn_metrics& m) {
        log->info("turn {}: {} ms from end of speech to first audio", m.turn, m.latency.count());
        con.turn(m);
    };
    // --max-cost: a warning at 80 %, a clean end (with the summary) at 100 %. The session is
    // created below, before start(): the callbacks only run after that.
    std::atomic<session*> budget_target{nullptr};
    std::string budget_message;
    cb.on_usage = [&con, &cfg, &budget_target, &budget_message,
                   warned = false](const realtime::act::usage_metrics& m) mutable {
        con.usage(m);
        const double max = cfg.session.max_cost_usd;
        if (max <= 0) return;
        char spent[64];
        std::snprintf(spent, sizeof spent, "$%.4f of --max-cost $%.4f", m.session_cost_usd, max);
        if (m.session_cost_usd >= max) {
            if (session* s = budget_target.exchange(nullptr)) {
                budget_message = std::string("ava-voice: reached the cost limit (") + spent +
                                 "); ending the session. Raise it with --max-cost USD "
                                 "(session.max_cost_usd), or 0 for no limit.";
                con.warning(budget_message);
                s->stop();
            }
        } else if (!warned && m.session_cost_usd >= 0.8 * max) {
            warned = true;
            con.warning(std::string("80 % of the cost limit used (") + spent +
                        "); the session ends at the limit");
        }
    };
    // Risky tools ask at the keyboard when there is one; otherwise the model asks by voice.
    if (interactive && cfg.tools.approval != tools::approval_mode::voice) {
        cb.on_approval = [&con](const approval_request& r) { con.approval(r); };
    } else if (cfg.tools.approval == tools::approval_mode::terminal) {
        con.warning(
            "tools.approval = \"terminal\" needs a terminal on stdin; the model will ask for "
            "a spoken yes instead");
    }

    auto sess = std::make_unique<session>(std::move(so), std::move(cb));
    budget_target = sess.get();
    tools::register_builtin_tools(sess->tools(), cfg.tools);
    history.register_tools(sess->tools());
    // MCP servers start in the background; those that answer within a moment are in the first
    // session.update, later ones follow in a session.update of their own. Declared after the
    // session: destroyed (its servers stopped) before it.
    tools::mcp_bridge mcp(sess->tools(), cfg.tools.mcp);
    mcp.start(std::chrono::milliseconds(3000));

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
    const realtime::session_summary summary = sess->summary();
    history.finish(summary);
    con.line(summary_text(summary, sess->audio_stats(), sess->audio_processing()));
    if (!budget_message.empty()) con.line(budget_message);
    if (simulator) simulator->stop();
    return exit_code_for(result);
}

}  // namespace ava::app
