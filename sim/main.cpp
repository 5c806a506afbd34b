// ava-realtime-sim: command line front end of the simulator library (ava/sim/server.hpp).
//
// Prints "listening on ws(s)://..." on stdout once the socket is bound (scripts wait for that
// line), runs until SIGINT or SIGTERM, then stops cleanly and prints the summary on stdout.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ava/core/log.hpp"
#include "ava/sim/server.hpp"

int main(int argc, char** argv) {
    ava::sim::options o;
    CLI::App app{
        "ava-realtime-sim: a wire-level OpenAI Realtime (GA) simulator.\n"
        "Speaks WebSocket (ws://, or wss:// with --tls-cert/--tls-key) on "
        "/v1/realtime?model=... and /openai/v1/realtime (Azure style, api-key header).\n"
        "Docs: docs/simulator.md"};
    std::vector<std::string> fault_specs;
    std::string log_level = "info";
    app.add_option("--host", o.host, "Address to bind")->capture_default_str();
    app.add_option("--port", o.port, "TCP port (0 = ephemeral; the chosen one is printed)")
        ->capture_default_str();
    app.add_option("--tls-cert", o.tls_cert_file, "PEM certificate chain: serve wss://")
        ->check(CLI::ExistingFile);
    app.add_option("--tls-key", o.tls_key_file, "PEM private key for --tls-cert")
        ->check(CLI::ExistingFile);
    app.add_option("--key", o.api_key,
                   "Expected API key (Bearer or api-key); empty = accept any non-empty key. "
                   "Also read from AVA_SIM_KEY")
        ->envname("AVA_SIM_KEY");
    app.add_option("--scenario", o.scenario_file,
                   "Scenario file (.toml or JSON); default: the built-in greeting scenario")
        ->check(CLI::ExistingFile);
    app.add_option("--pace", o.pace,
                   "Audio pacing as a multiple of real time (<= 0: as fast as possible)")
        ->capture_default_str();
    app.add_option("--delta-ms", o.delta_ms, "Audio per response.output_audio.delta, in ms")
        ->capture_default_str()
        ->check(CLI::Range(10, 5000));
    app.add_option("--session-cap", o.session_cap_s,
                   "Session length cap in seconds, then error session_expired + close 1001")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--events", o.events_file,
                   "Write every event (both directions) as JSONL with t_mono_us timestamps");
    app.add_option("--record-dir", o.record_dir,
                   "Save each session's received input audio as <session>-input.wav here")
        ->check(CLI::ExistingDirectory);
    app.add_option("--voice", o.voice, "Default session voice")->capture_default_str();
    app.add_option("--synth", o.synth, "Voice engine: auto (espeak-ng if built in), espeak, tone")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "espeak", "tone"}));
    app.add_option("--threads", o.threads, "Worker threads")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    app.add_option("--fault", fault_specs,
                   "Inject a fault (repeatable): kind=close|malformed_json|unknown_event|"
                   "oversized_frame|stall|server_error[,turn=N (0 = every turn)][,at=EVENT_TYPE]"
                   "[,nth=N][,code=1011][,reason=TEXT][,abrupt=1][,ms=N][,bytes=N]. "
                   "E.g. --fault kind=close,turn=2,at=response.output_audio.delta,nth=3,code=1011");
    app.add_option("--reject-upgrade", o.reject_upgrade_status,
                   "Fail every WebSocket upgrade with this HTTP status (401, 403, 404, 429, 500)")
        ->check(CLI::Range(400, 599));
    app.add_flag("--quiet,-q", o.quiet, "Log warnings and errors only");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        ava::log::init({.level = o.quiet ? "warn" : log_level});
        for (const auto& spec : fault_specs) o.faults.push_back(ava::sim::parse_fault(spec));
        // Block the stop signals before the worker threads start, so only sigwait() sees them.
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);

        ava::sim::server srv(o);
        srv.start();
        std::cout << "listening on " << srv.url() << std::endl;
        int sig = 0;
        sigwait(&set, &sig);
        std::cerr << "ava-realtime-sim: signal " << sig << ", stopping" << std::endl;
        srv.stop();
        std::cout << ava::sim::format_summary(srv.get_summary()) << std::flush;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ava-realtime-sim: " << e.what() << std::endl;
        return 2;
    }
}
