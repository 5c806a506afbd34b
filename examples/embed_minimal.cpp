// embed_minimal: the smallest useful program built on ava::session.
//
// It connects to a Realtime endpoint (given on the command line), offers one C++ tool, asks one
// typed question, prints the conversation as it is heard ("You: ..." / "AVA: ..."), and exits
// once the answer has been played and nothing is pending. No sound card: the program does its
// own audio (here it only counts the assistant's samples; a real program would play them).
//
//   OPENAI_API_KEY=sk-... embed_minimal wss://api.openai.com/v1/realtime?model=gpt-realtime
//   embed_minimal wss://127.0.0.1:8443/v1/realtime?model=gpt-realtime --ca-file ca.pem
//
// Exit codes: 0 answered, 1 the session failed or timed out, 2 bad arguments.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/realtime/provider.hpp"
#include "ava/session.hpp"

namespace {

int usage() {
    std::cerr << "usage: embed_minimal URL [--ca-file PEM] [--question TEXT] [--timeout SECONDS]\n"
                 "  the API key comes from OPENAI_API_KEY (optional for a local simulator)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    std::string url = argv[1];
    std::string ca_file;
    std::string question = "What is 2 plus 3?";
    int timeout_s = 30;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        if (a == "--ca-file") {
            ca_file = argv[++i];
        } else if (a == "--question") {
            question = argv[++i];
        } else if (a == "--timeout") {
            timeout_s = std::atoi(argv[++i]);
        } else {
            return usage();
        }
    }

    ava::log::init({.level = "warn"});

    ava::session_options opts;
    try {
        // A custom endpoint: the URL as given, the key (if any) from OPENAI_API_KEY. This also
        // registers the key with the log redaction.
        ava::realtime::provider_settings ps;
        ps.provider = "custom";
        ps.endpoint_url = url;
        if (const char* key = std::getenv("OPENAI_API_KEY")) ps.api_key = key;
        opts.connection.target = ava::realtime::build_endpoint(ps);
    } catch (const ava::config_error& e) {
        std::cerr << "embed_minimal: " << e.what() << "\n";
        return 2;
    }
    opts.connection.ca_file = ca_file;
    opts.conversation.session.instructions = "Answer briefly. Use the add tool for arithmetic.";

    // Callbacks run on the session's io thread: keep them short.
    std::mutex m;
    std::condition_variable cv;
    bool answered = false;
    bool done = false;
    std::atomic<long> audio_samples{0};
    int tools_running = 0;

    ava::session_callbacks cbs;
    cbs.on_transcript = [&](const ava::transcript_line& l) {
        if (!l.final) return;
        const bool user = l.role == ava::realtime::speaker::user;
        std::cout << (user ? "You: " : "AVA: ") << (l.failed ? "(not understood)" : l.text);
        if (!l.unheard.empty()) std::cout << " [not heard: " << l.unheard << "]";
        std::cout << std::endl;
        if (!user && !l.text.empty()) {
            std::lock_guard lk(m);
            answered = true;
        }
    };
    cbs.on_audio = [&](std::string_view, ava::core::pcm_view pcm) {
        audio_samples += static_cast<long>(pcm.size());  // a real embedder plays this
    };
    cbs.on_tool = [&](const ava::tool_event& t) {
        std::lock_guard lk(m);
        if (!t.finished) {
            ++tools_running;
            std::cout << "[tool] " << t.name << " " << t.arguments_json << std::endl;
        } else {
            --tools_running;
            std::cout << "[tool] " << t.name << " -> " << t.output_json << std::endl;
        }
    };
    cbs.on_notice = [](std::string_view text, bool warning) {
        std::cerr << (warning ? "warning: " : "note: ") << text << std::endl;
    };
    cbs.on_status = [&](ava::realtime::conv_status s) {
        std::lock_guard lk(m);
        if (s == ava::realtime::conv_status::listening && answered && tools_running == 0) {
            done = true;
            cv.notify_all();
        }
    };

    ava::session s(std::move(opts), std::move(cbs));
    s.add_tool({.name = "add",
                .description = "Adds two numbers.",
                .parameters_json = R"({"type":"object","properties":{"a":{"type":"number"},)"
                                   R"("b":{"type":"number"}},"required":["a","b"]})"},
               [](std::string_view args) {
                   // A real tool would parse JSON; this one reads the two numbers it was given.
                   auto number_after = [&](std::string_view key) {
                       const auto at = args.find(key);
                       if (at == std::string_view::npos)
                           throw ava::tools::tool_error("no " + std::string(key));
                       return std::strtod(std::string(args.substr(at + key.size())).c_str(),
                                          nullptr);
                   };
                   const double sum = number_after("\"a\":") + number_after("\"b\":");
                   return "{\"sum\":" + std::to_string(static_cast<long long>(sum)) + "}";
               });
    try {
        s.start();
    } catch (const std::exception& e) {
        std::cerr << "embed_minimal: " << e.what() << "\n";
        return 1;
    }
    s.send_text(question);

    // Wait for the answer; a session that ends by itself (bad key, retries exhausted) says why.
    bool ok = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::unique_lock lk(m);
            if (cv.wait_for(lk, std::chrono::milliseconds(100), [&] { return done; })) {
                ok = true;
                break;
            }
        }
        if (auto r = s.wait_for(std::chrono::milliseconds(0))) {
            if (r->how == ava::session_result::end::fatal) {
                std::cerr << "embed_minimal: " << r->message << "\n";
                return 1;
            }
            break;
        }
    }
    s.stop();
    s.wait();
    std::cout << "assistant audio: " << audio_samples.load() * 1000 / 24000 << " ms" << std::endl;
    if (!ok) std::cerr << "embed_minimal: no answer within " << timeout_s << " s\n";
    return ok ? 0 : 1;
}
