// `ava-voice serve` (include/ava/app/serve.hpp): the config as relay options and a session
// factory, the simulator when there is no key, and a clean stop on a signal.
#include "ava/app/serve.hpp"

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "ava/app/run.hpp"
#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/relay/server.hpp"
#include "ava/sim/server.hpp"
#include "ava/tools/builtin.hpp"
#include "ava/tools/mcp.hpp"
#include "ava/tools/registry.hpp"
#include "run_parts.hpp"

namespace ava::app {
namespace {

namespace fs = std::filesystem;

/// The console's files: serve.console_dir, next to the binary's prefix, installed, or the
/// source tree's (a build tree).
std::string find_console(const config& cfg) {
    if (!cfg.serve.console_dir.empty()) return cfg.serve.console_dir;
    std::vector<fs::path> dirs;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dirs.push_back(exe.parent_path().parent_path() / "share/ava-voice/console");
    dirs.emplace_back(AVA_INSTALL_CONSOLE_DIR);
    dirs.emplace_back(AVA_SOURCE_CONSOLE_DIR);
    for (const auto& d : dirs) {
        if (fs::exists(d / "index.html", ec)) return d.string();
    }
    return {};
}

}  // namespace

int serve(const config& cfg) {
    // Signals become a clean stop (every session ends, its upstream socket closed): blocked
    // before any thread starts, then taken by sigwait on this thread.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    auto log = ava::log::get("app");

    const auto listen = split_listen(cfg.serve.listen);
    if (!listen) {
        std::cerr << "ava-voice: error: serve.listen: '" << cfg.serve.listen
                  << "' is not HOST:PORT\n";
        return exit_usage;
    }

    // ---- the service: the simulator without a key, as a run does ----
    std::unique_ptr<sim::server> simulator;
    realtime::endpoint ep;
    std::string provider;
    if (wants_simulator(cfg)) {
        sim::options so;
        so.scenario_file = cfg.sim.scenario;
        so.voice = cfg.session.voice;
        so.quiet = true;
        try {
            simulator = std::make_unique<sim::server>(so);
            simulator->start();
        } catch (const std::exception& e) {
            std::cerr << "ava-voice: error: the simulator: " << e.what() << '\n';
            return exit_failure;
        }
        ep.provider = "sim";
        ep.url = realtime::parse_url(simulator->url());
        ep.headers = {{"Authorization", "Bearer offline-simulator"}};
        provider = "sim";
    } else {
        ep = service_endpoint(cfg);
        provider = ep.provider.empty() ? "openai" : ep.provider;
    }

    relay::options ro;
    ro.host = listen->first;
    ro.port = listen->second;
    ro.token = cfg.serve.token;
    bool generated = false;
    if (ro.token.empty() && !relay::is_loopback_host(ro.host)) {
        try {
            ro.token = relay::random_token();
        } catch (const std::exception& e) {
            std::cerr << "ava-voice: error: " << e.what() << "; give --token\n";
            return exit_failure;
        }
        generated = true;
    }
    if (!ro.token.empty()) log::add_secret(ro.token);
    ro.allowed_origins = cfg.serve.allowed_origins;
    ro.max_sessions = cfg.serve.max_sessions;
    ro.tls_cert_file = cfg.serve.tls_cert;
    ro.tls_key_file = cfg.serve.tls_key;
    ro.console_dir = find_console(cfg);
    ro.provider = provider;
    ro.voice = cfg.session.voice;
    ro.make_session = [&cfg, ep](const relay::stream_settings& st) {
        session_options so;
        so.conversation = conversation_from(cfg);
        if (st.voice) so.conversation.session.voice = *st.voice;
        if (st.speed) so.conversation.session.speed = *st.speed;
        if (st.vad) {
            realtime::turn_detection td =
                so.conversation.session.turn.value_or(realtime::turn_detection{});
            td.type = *st.vad;
            so.conversation.session.turn = td;
        }
        so.connection = connection_options_from(cfg, ep);
        so.require_approval = cfg.tools.require_approval;
        // Nobody sits at this server's keyboard: risky tools ask for the user's spoken yes.
        so.approval = tools::approval_mode::voice;
        return so;
    };
    // One registry for every stream: the built-in tools and the MCP servers' (one bridge,
    // started once, its servers shared). A new stream's session offers what it holds then.
    tools::registry shared_tools;
    tools::register_builtin_tools(shared_tools, cfg.tools);
    tools::mcp_bridge mcp(shared_tools, cfg.tools.mcp);
    mcp.start(std::chrono::milliseconds(3000));
    ro.add_tools = [&shared_tools](session& s) {
        for (const auto& t : shared_tools.all()) {
            if (!t->offered) continue;
            tools::tool_options o;
            o.timeout = t->timeout;
            o.group = t->group;
            o.require_approval = t->require_approval;
            s.tools().add(t->handler, std::move(o));
        }
    };

    const std::string token = ro.token;
    std::unique_ptr<relay::server> server;
    try {
        server = std::make_unique<relay::server>(std::move(ro));
        server->start();
    } catch (const std::system_error& e) {
        std::cerr << "ava-voice: error: " << log::redact(e.what()) << '\n';
        return e.code() == errc::bad_config ? exit_usage : exit_failure;
    }
    const std::string url = server->url();
    std::cout << "ava-voice serve: listening on " << url << " (console at " << url << ", stream at "
              << url << "realtime/stream)\n"
              << "ava-voice serve: provider " << provider
              << (simulator ? " (the offline simulator at " + simulator->url() + ")" : "")
              << "; Ctrl+C stops\n";
    if (generated) {
        // Printed once, here, for the person who started it; never logged.
        std::cout << "ava-voice serve: token (give it to clients; it is not shown again): " << token
                  << '\n';
    }
    if (find_console(cfg).empty()) {
        std::cout << "ava-voice serve: the console's files are not installed; give "
                     "--console-dir DIR (the stream and the API work without them)\n";
    }
    std::cout.flush();

    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cout << "ava-voice serve: stopping (" << (sig == SIGINT ? "interrupted" : "signal")
              << ")\n";
    std::cout.flush();
    server->stop();
    if (simulator) simulator->stop();
    return exit_ok;
}

}  // namespace ava::app
