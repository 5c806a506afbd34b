#include "support/process.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include "ava/tools/tool.hpp"

namespace {

using namespace std::chrono_literals;
using ava::tools::detail::process_options;
using ava::tools::detail::run_process;

TEST(process, passes_stdin_and_collects_stdout_without_a_shell) {
    auto r = run_process({.argv = {"cat"}, .stdin_data = R"({"a":1})"}, {});
    EXPECT_TRUE(r.exited);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, R"({"a":1})");
    // Shell syntax is just an argument.
    r = run_process({.argv = {"echo", "$HOME; rm -rf /"}}, {});
    EXPECT_EQ(r.out, "$HOME; rm -rf /\n");
}

TEST(process, reports_exit_status_and_stderr) {
    auto r = run_process({.argv = {"sh", "-c", "echo oops >&2; echo more >&2; exit 3"}}, {});
    EXPECT_TRUE(r.exited);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.err, "oops\nmore\n");
}

TEST(process, kills_at_the_deadline_including_grandchildren) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_process({.argv = {"sh", "-c", "sleep 30 & sleep 30"}, .timeout = 200ms}, {});
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.exited);
    EXPECT_EQ(r.signal, SIGKILL);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(process, caps_output) {
    auto r =
        run_process({.argv = {"head", "-c", "100000", "/dev/zero"}, .max_output_bytes = 1000}, {});
    EXPECT_TRUE(r.too_much_output);
    EXPECT_LE(r.out.size(), 1000u);
}

TEST(process, stops_when_asked) {
    std::stop_source src;
    std::thread t([&] {
        std::this_thread::sleep_for(100ms);
        src.request_stop();
    });
    auto r = run_process({.argv = {"sleep", "30"}, .timeout = 10s}, src.get_token());
    t.join();
    EXPECT_TRUE(r.cancelled);
}

TEST(process, a_child_that_ignores_stdin_does_not_kill_us_with_sigpipe) {
    auto r = run_process({.argv = {"true"}, .stdin_data = std::string(1 << 20, 'x')}, {});
    EXPECT_TRUE(r.exited);
    EXPECT_EQ(r.exit_code, 0);
}

TEST(process, a_missing_program_is_a_clear_error) {
    try {
        run_process({.argv = {"/nonexistent/ava-tool"}}, {});
        FAIL();
    } catch (const ava::tools::tool_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot run '/nonexistent/ava-tool'"),
                  std::string::npos);
    }
}

}  // namespace
