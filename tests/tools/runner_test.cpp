// Registry and runner: offered/not offered, duplicates, validation before the handler runs,
// parallel calls, exceptions and hung handlers turned into error results.
#include "ava/tools/runner.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/tools/registry.hpp"

namespace {

using namespace std::chrono_literals;
using ava::tools::registry;
using ava::tools::runner;
using ava::tools::tool_call;
using ava::tools::tool_result;
using json = nlohmann::json;

// A tool whose behaviour is a lambda; records the thread it ran on.
class fn_tool : public ava::tools::tool {
  public:
    using fn = std::function<std::string(std::string_view, std::stop_token)>;
    fn_tool(std::string name, fn f, std::string schema = R"({"type":"object","properties":{}})")
        : spec_{std::move(name), "test tool", std::move(schema)}, f_(std::move(f)) {}
    const ava::tools::tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view args, std::stop_token stop) override {
        {
            std::lock_guard lk(m_);
            threads_.push_back(std::this_thread::get_id());
            ++calls_;
        }
        return f_(args, stop);
    }
    int calls() {
        std::lock_guard lk(m_);
        return calls_;
    }
    std::vector<std::thread::id> threads() {
        std::lock_guard lk(m_);
        return threads_;
    }

  private:
    ava::tools::tool_spec spec_;
    fn f_;
    std::mutex m_;
    int calls_ = 0;
    std::vector<std::thread::id> threads_;
};

// Collects results from runner threads; waits for a count.
class collector {
  public:
    ava::tools::result_callback callback() {
        return [this](tool_result r) {
            std::lock_guard lk(m_);
            results_.push_back(std::move(r));
            cv_.notify_all();
        };
    }
    bool wait_for(std::size_t n, std::chrono::milliseconds limit = 5s) {
        std::unique_lock lk(m_);
        return cv_.wait_for(lk, limit, [&] { return results_.size() >= n; });
    }
    tool_result by_id(const std::string& id) {
        std::lock_guard lk(m_);
        for (const auto& r : results_) {
            if (r.call_id == id) return r;
        }
        return {};
    }
    std::size_t count() {
        std::lock_guard lk(m_);
        return results_.size();
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    std::vector<tool_result> results_;
};

// A gate a hung handler waits on, ignoring its stop token; opened at the end of the test.
struct gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return open; });
    }
    void release() {
        std::lock_guard lk(m);
        open = true;
        cv.notify_all();
    }
};

std::string error_of(const tool_result& r) {
    return json::parse(r.output_json).value("error", std::string("<no error>"));
}

TEST(registry, lists_offered_tools_and_why_others_are_not) {
    registry reg;
    reg.add(std::make_shared<fn_tool>("a", [](auto, auto) { return "{}"; }));
    reg.add(std::make_shared<fn_tool>("b", [](auto, auto) { return "{}"; }), {.enabled = false});
    reg.add(std::make_shared<fn_tool>("c", [](auto, auto) { return "{}"; }),
            {.unavailable_reason = "no base_url set", .timeout = 3s});
    reg.add(std::make_shared<fn_tool>(
        "d", [](auto, auto) { return "{}"; }, R"({"type":"object","oneOf":[]})"));
    const auto specs = reg.specs();
    ASSERT_EQ(specs.size(), 1u);
    EXPECT_EQ(specs[0].name, "a");
    EXPECT_EQ(reg.find("b")->reason, "disabled in config");
    EXPECT_EQ(reg.find("c")->reason, "no base_url set");
    EXPECT_EQ(reg.find("c")->timeout, 3s);
    EXPECT_EQ(reg.find("a")->timeout, 10s);
    EXPECT_NE(reg.find("d")->reason.find("invalid parameters schema"), std::string::npos);
    EXPECT_EQ(reg.find("zzz"), nullptr);

    const std::string table = reg.format_table();
    EXPECT_NE(table.find("NAME"), std::string::npos);
    EXPECT_NE(table.find("a     -       offered"), std::string::npos) << table;
    EXPECT_NE(table.find("not offered: disabled in config"), std::string::npos) << table;
    EXPECT_NE(table.find("not offered: no base_url set"), std::string::npos) << table;
    EXPECT_NE(table.find("3 s"), std::string::npos) << table;
}

TEST(registry, rejects_duplicate_and_invalid_names) {
    registry reg;
    reg.add(std::make_shared<fn_tool>("same", [](auto, auto) { return "{}"; }));
    EXPECT_THROW(reg.add(std::make_shared<fn_tool>("same", [](auto, auto) { return "{}"; })),
                 ava::config_error);
    EXPECT_THROW(reg.add(std::make_shared<fn_tool>("has space", [](auto, auto) { return "{}"; })),
                 ava::config_error);
    EXPECT_THROW(reg.add(std::make_shared<fn_tool>("", [](auto, auto) { return "{}"; })),
                 ava::config_error);
    EXPECT_THROW(reg.add(nullptr), ava::config_error);
    EXPECT_EQ(reg.all().size(), 1u);
}

TEST(runner, runs_on_a_worker_thread_and_returns_the_call_id) {
    registry reg;
    auto echo = std::make_shared<fn_tool>(
        "echo", [](std::string_view args, auto) { return std::string(args); },
        R"({"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]})");
    reg.add(echo);
    runner run(reg);
    collector got;
    run.submit({"call_1", "echo", R"({"x":7})"}, got.callback());
    ASSERT_TRUE(got.wait_for(1));
    const auto r = got.by_id("call_1");
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.name, "echo");
    EXPECT_EQ(r.output_json, R"({"x":7})");
    ASSERT_EQ(echo->threads().size(), 1u);
    EXPECT_NE(echo->threads()[0], std::this_thread::get_id());
}

TEST(runner, invalid_arguments_never_reach_the_handler) {
    registry reg;
    auto t = std::make_shared<fn_tool>(
        "t", [](auto, auto) { return "{}"; },
        R"({"type":"object","properties":{"n":{"type":"integer","maximum":5}},"required":["n"]})");
    reg.add(t);
    reg.add(std::make_shared<fn_tool>("off", [](auto, auto) { return "{}"; }), {.enabled = false});
    runner run(reg);
    collector got;
    run.submit({"c1", "t", R"({"n":9})"}, got.callback());
    run.submit({"c2", "t", R"({"n":)"}, got.callback());
    run.submit({"c3", "nope", "{}"}, got.callback());
    run.submit({"c4", "off", "{}"}, got.callback());
    ASSERT_TRUE(got.wait_for(4));
    EXPECT_EQ(error_of(got.by_id("c1")), "invalid arguments for t: n: 9 is above the maximum 5");
    EXPECT_EQ(error_of(got.by_id("c2")), "invalid arguments for t: arguments are not valid JSON");
    EXPECT_EQ(error_of(got.by_id("c3")), "unknown tool 'nope'");
    EXPECT_EQ(error_of(got.by_id("c4")), "tool off is not available: disabled in config");
    EXPECT_EQ(t->calls(), 0);
}

TEST(runner, exceptions_become_error_results) {
    registry reg;
    reg.add(std::make_shared<fn_tool>("words", [](auto, auto) -> std::string {
        throw ava::tools::tool_error("no light called 'porch'; lights are: Hall");
    }));
    reg.add(std::make_shared<fn_tool>(
        "crash", [](auto, auto) -> std::string { throw std::runtime_error("boom"); }));
    reg.add(std::make_shared<fn_tool>("odd", [](auto, auto) -> std::string { throw 42; }));
    reg.add(std::make_shared<fn_tool>("text", [](auto, auto) { return std::string("plain"); }));
    runner run(reg);
    collector got;
    for (const char* n : {"words", "crash", "odd", "text"}) {
        run.submit({std::string("id_") + n, n, "{}"}, got.callback());
    }
    ASSERT_TRUE(got.wait_for(4));
    EXPECT_EQ(error_of(got.by_id("id_words")), "no light called 'porch'; lights are: Hall");
    EXPECT_EQ(error_of(got.by_id("id_crash")), "crash failed: boom");
    EXPECT_EQ(error_of(got.by_id("id_odd")), "odd failed with an unknown error");
    EXPECT_FALSE(got.by_id("id_words").ok);
    EXPECT_TRUE(got.by_id("id_text").ok);
    EXPECT_EQ(got.by_id("id_text").output_json, R"({"result":"plain"})");
}

TEST(runner, calls_run_in_parallel) {
    // Three calls that each wait until all three have started: only parallel runs finish.
    registry reg;
    std::mutex m;
    std::condition_variable cv;
    int started = 0;
    reg.add(std::make_shared<fn_tool>("meet", [&](auto, auto) {
        std::unique_lock lk(m);
        ++started;
        cv.notify_all();
        const bool all = cv.wait_for(lk, 3s, [&] { return started == 3; });
        return std::string(all ? R"({"met":true})" : R"({"met":false})");
    }));
    runner run(reg);
    collector got;
    for (int i = 0; i < 3; ++i) run.submit({"m" + std::to_string(i), "meet", ""}, got.callback());
    ASSERT_TRUE(got.wait_for(3));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(got.by_id("m" + std::to_string(i)).output_json, R"({"met":true})");
    }
}

TEST(runner, a_hung_handler_times_out_without_blocking_others) {
    registry reg;
    gate g;
    std::atomic<bool> saw_stop{false};
    // Ignores its stop token entirely (the worst case), but records that stop was requested.
    reg.add(std::make_shared<fn_tool>("hang",
                                      [&](auto, std::stop_token stop) {
                                          g.wait();
                                          saw_stop = stop.stop_requested();
                                          return std::string("{}");
                                      }),
            {.timeout = 150ms});
    // Honours its stop token.
    reg.add(std::make_shared<fn_tool>("polite",
                                      [](auto, std::stop_token stop) {
                                          std::mutex pm;
                                          std::condition_variable_any cv;
                                          std::unique_lock lk(pm);
                                          cv.wait(lk, stop, [] { return false; });
                                          return std::string(R"({"late":true})");
                                      }),
            {.timeout = 100ms});
    reg.add(std::make_shared<fn_tool>("quick", [](auto, auto) { return std::string("{}"); }));
    runner run(reg, {.shutdown_grace = 100ms});
    collector got;
    run.submit({"h", "hang", ""}, got.callback());
    run.submit({"p", "polite", ""}, got.callback());
    run.submit({"q", "quick", ""}, got.callback());
    ASSERT_TRUE(got.wait_for(3));
    EXPECT_TRUE(got.by_id("q").ok);
    EXPECT_EQ(error_of(got.by_id("h")), "hang timed out after 150 ms; it did not answer");
    EXPECT_EQ(error_of(got.by_id("p")), "polite timed out after 100 ms; it did not answer");
    EXPECT_GE(got.by_id("h").elapsed, 150ms);

    // The polite one returns; the hung one is still there, and counts.
    for (int i = 0; i < 100 && run.threads_running() > 1; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(run.threads_running(), 1u);

    // More calls still run while it hangs.
    run.submit({"q2", "quick", ""}, got.callback());
    ASSERT_TRUE(got.wait_for(4));
    EXPECT_TRUE(got.by_id("q2").ok);

    // Shutdown does not wait forever for the hung handler.
    const auto t0 = std::chrono::steady_clock::now();
    run.shutdown();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    g.release();
    for (int i = 0; i < 100 && run.threads_running() > 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(run.threads_running(), 0u);
    EXPECT_TRUE(saw_stop.load());
    EXPECT_EQ(got.count(), 4u) << "the late result of the hung handler is discarded";
}

TEST(runner, too_many_calls_in_flight_are_refused_not_queued_forever) {
    registry reg;
    gate g;
    reg.add(std::make_shared<fn_tool>("hang", [&](auto, auto) {
        g.wait();
        return std::string("{}");
    }));
    collector got;
    {
        runner run(reg, {.max_in_flight = 2, .shutdown_grace = 50ms});
        run.submit({"a", "hang", ""}, got.callback());
        run.submit({"b", "hang", ""}, got.callback());
        run.submit({"c", "hang", ""}, got.callback());
        ASSERT_TRUE(got.wait_for(1));
        EXPECT_EQ(error_of(got.by_id("c")), "too many tool calls in progress (2); try again later");
        g.release();
        ASSERT_TRUE(got.wait_for(3));
    }
    EXPECT_TRUE(got.by_id("a").ok);
}

TEST(runner, no_callbacks_after_shutdown) {
    registry reg;
    gate g;
    reg.add(std::make_shared<fn_tool>("hang", [&](auto, auto) {
        g.wait();
        return std::string("{}");
    }));
    collector got;
    runner run(reg, {.shutdown_grace = 20ms});
    run.submit({"a", "hang", ""}, got.callback());
    run.shutdown();
    g.release();
    run.submit({"b", "hang", ""}, got.callback());
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(got.count(), 0u);
}

}  // namespace
