// MCP over stdio (include/ava/tools/mcp.hpp): the protocol rules without I/O, the registry's
// groups, the bridge against a misbehaving server of our own (tests/tools/mcp_fake_server.cpp:
// crashes at start and mid-call, garbage on stdout, silence, hangs, legacy and modern eras,
// pagination, list_changed), and against real servers nobody here wrote, installed from the npm
// registry into tests/mcp (`npm ci` there; skipped without node_modules unless CI is set).
#include "ava/tools/mcp.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <nlohmann/json.hpp>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "ava/tools/registry.hpp"
#include "mcp/channel.hpp"
#include "mcp/protocol.hpp"

namespace {

using namespace std::chrono_literals;
using ava::tools::mcp_bridge;
using ava::tools::mcp_options;
using ava::tools::mcp_server_settings;
using ava::tools::mcp_state;
using ava::tools::registry;
using ava::tools::tool_error;
using json = nlohmann::json;
namespace fs = std::filesystem;
namespace mcp = ava::tools::mcp;
using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Helpers

// Polls `pred` every 10 ms for at most `limit`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3s) {
    const auto end = clock_type::now() + limit;
    while (clock_type::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return pred();
}

class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (fs::temp_directory_path() / "ava-mcp-test.XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// Lines of the fake server's --starts file that begin with `prefix`.
int count_lines(const fs::path& file, const std::string& prefix) {
    std::ifstream in(file);
    int n = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) == 0) ++n;
    }
    return n;
}

// Everything the "mcp" logger writes while it lives.
class log_capture {
  public:
    log_capture() : sink_(std::make_shared<sink>()) {
        ava::log::get("mcp")->sinks().push_back(sink_);
        ava::log::get("mcp")->set_level(spdlog::level::debug);
    }
    log_capture(const log_capture&) = delete;
    log_capture& operator=(const log_capture&) = delete;
    ~log_capture() { std::erase(ava::log::get("mcp")->sinks(), sink_); }

    [[nodiscard]] std::string text() const {
        std::string out;
        for (const auto& l : sink_->lines()) out += l;
        return out;
    }
    // Lines at `level` ("warning", "info"...) that contain `needle`.
    [[nodiscard]] int count(const std::string& level, const std::string& needle) const {
        int n = 0;
        for (const auto& l : sink_->lines()) {
            if (l.find("[" + level + "]") != std::string::npos &&
                l.find(needle) != std::string::npos) {
                ++n;
            }
        }
        return n;
    }

  private:
    class sink final : public spdlog::sinks::base_sink<std::mutex> {
      public:
        std::vector<std::string> lines() {
            const std::lock_guard lock(mutex_);
            return lines_;
        }

      protected:
        void sink_it_(const spdlog::details::log_msg& msg) override {
            spdlog::memory_buf_t buf;
            formatter_->format(msg, buf);
            lines_.emplace_back(buf.data(), buf.size());
        }
        void flush_() override {}

      private:
        std::vector<std::string> lines_;
    };
    std::shared_ptr<sink> sink_;
};

// Calls a registered tool directly (the runner's schema check is not what is tested here).
std::string call(const registry& reg, const std::string& name, const json& args = json::object(),
                 std::stop_token stop = {}) {
    const auto t = reg.find(name);
    if (!t) throw std::runtime_error("no tool " + name);
    return t->handler->call(args.dump(), std::move(stop));
}

// The message of the tool_error `fn` throws ("" when it does not throw one).
std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const tool_error& e) {
        return e.what();
    }
    return "";
}

ava::tools::mcp_server_status status_of(const mcp_bridge& b, std::size_t i = 0) {
    return b.status().at(i);
}

// Short delays so every failure path runs in well under a second or two.
mcp_options fast() {
    return {.restart_delay = 200ms,
            .max_restart_delay = 800ms,
            .discover_timeout = 300ms,
            .stop_grace = 300ms,
            .max_line_bytes = 4096,
            .max_result_bytes = 64 * 1024};
}

struct fake {
    temp_dir dir;
    fs::path starts = dir.path() / "starts";

    mcp_server_settings settings(std::vector<std::string> flags = {}) const {
        mcp_server_settings s;
        s.name = "fake";
        s.command = {AVA_MCP_FAKE_SERVER, "--starts", starts.string()};
        s.command.insert(s.command.end(), flags.begin(), flags.end());
        s.timeout = 2s;
        s.start_timeout = 2s;
        return s;
    }
    [[nodiscard]] int started() const { return count_lines(starts, "start "); }
};

// ---------------------------------------------------------------------------------------------
// The rules, without I/O

TEST(mcp_protocol, names_are_prefixed_sanitised_and_bounded) {
    EXPECT_EQ(mcp::function_name("everything", "get-sum"), "everything__get-sum");
    EXPECT_EQ(mcp::function_name("fs", "read.file v2"), "fs__read_file_v2");
    const std::string long_tool(80, 'a');
    const std::string n = mcp::function_name("server", long_tool);
    EXPECT_EQ(n.size(), 64u);
    EXPECT_EQ(n.substr(0, 10), "server__aa");
    EXPECT_EQ(n, mcp::function_name("server", long_tool)) << "deterministic";
    EXPECT_NE(n, mcp::function_name("server", long_tool + "b"));
    const std::string h = mcp::hashed_function_name("fs", "a.b");
    EXPECT_EQ(h.substr(0, 7), "fs__a_b");
    EXPECT_EQ(h.size(), 7u + 9u);
    EXPECT_NE(h, mcp::hashed_function_name("fs", "a_b"));
}

TEST(mcp_protocol, eras_from_the_discover_probe) {
    EXPECT_EQ(mcp::era_from_discover({{"supportedVersions", {"2026-07-28"}}}).chosen,
              mcp::era::modern);
    EXPECT_EQ(mcp::era_from_discover({{"supportedVersions", {"2025-06-18"}}}).chosen,
              mcp::era::legacy);
    EXPECT_FALSE(mcp::era_from_discover({{"supportedVersions", {"2031-01-01"}}}).problem.empty());
    EXPECT_EQ(mcp::era_from_discover_error(-32601, nullptr).chosen, mcp::era::legacy);
    EXPECT_TRUE(mcp::era_from_discover_error(-32601, nullptr).problem.empty());
    EXPECT_EQ(
        mcp::era_from_discover_error(-32022, {{"supported", {"2026-07-28", "2025-11-25"}}}).chosen,
        mcp::era::modern);
    EXPECT_TRUE(mcp::legacy_version_ok("2024-11-05"));
    EXPECT_FALSE(mcp::legacy_version_ok("2024-10-07"));
}

TEST(mcp_protocol, approval_defaults_from_annotations) {
    mcp::tool_info t;
    EXPECT_FALSE(mcp::default_approval(t)) << "no annotations: no approval";
    t.read_only = true;
    EXPECT_FALSE(mcp::default_approval(t));
    t.read_only = false;
    EXPECT_TRUE(mcp::default_approval(t));
    t.read_only = true;
    t.destructive = true;
    EXPECT_TRUE(mcp::default_approval(t));

    mcp_server_settings s;
    EXPECT_TRUE(mcp::allowed(s, "x"));
    s.allow = {"x", "y"};
    s.deny = {"y"};
    EXPECT_TRUE(mcp::allowed(s, "x"));
    EXPECT_FALSE(mcp::allowed(s, "y"));
    EXPECT_FALSE(mcp::allowed(s, "z"));
}

TEST(mcp_protocol, call_results_become_function_output) {
    const json media = {
        {"content",
         {{{"type", "text"}, {"text", "one"}},
          {{"type", "image"}, {"data", "iVBORw0KGgo="}, {"mimeType", "image/png"}},
          {{"type", "resource"}, {"resource", {{"uri", "file:///a"}, {"text", "in a"}}}},
          {{"type", "resource_link"}, {"uri", "file:///c"}, {"name", "c"}}}}};
    EXPECT_EQ(json::parse(mcp::call_output(media, 1000))["result"],
              "one\n[image image/png, 8 bytes]\nin a\nfile:///c");
    EXPECT_EQ(
        json::parse(mcp::call_output(
            {{"content", json::array()}, {"structuredContent", {{"t", 1}}}}, 1000))["result"]["t"],
        1);
    EXPECT_EQ(error_of([] {
                  (void)mcp::call_output(
                      {{"content", {{{"type", "text"}, {"text", "bad"}}}}, {"isError", true}}, 100);
              }),
              "bad");
    EXPECT_NE(error_of([] {
                  (void)mcp::call_output({{"resultType", "input_required"}}, 100);
              }),
              "");
    const std::string big = mcp::call_output(
        {{"content", {{{"type", "text"}, {"text", std::string(5000, 'x')}}}}}, 1000);
    EXPECT_LT(big.size(), 1100u);
}

TEST(mcp_protocol, a_non_boolean_is_error_reads_as_false) {
    // nlohmann's value("isError", false) threw type_error on these: the call then failed with
    // a JSON library message instead of passing the server's text on.
    for (const json& flag : {json("true"), json(1), json(nullptr), json::object()}) {
        const json result = {{"content", {{{"type", "text"}, {"text", "done"}}}},
                             {"isError", flag}};
        std::string out;
        EXPECT_NO_THROW(out = mcp::call_output(result, 100)) << flag.dump();
        EXPECT_EQ(out, R"({"result":"done"})") << flag.dump();
    }
}

TEST(mcp_protocol, tools_pages_are_read_leniently) {
    const auto page =
        mcp::parse_tools_page({{"tools",
                                {{{"name", "a"}, {"inputSchema", {{"type", "object"}}}},
                                 {{"title", "no name"}},
                                 {{"name", "b"}, {"annotations", {{"readOnlyHint", false}}}}}},
                               {"nextCursor", "c2"}});
    ASSERT_EQ(page.tools.size(), 2u);
    EXPECT_EQ(page.problems.size(), 1u);
    EXPECT_EQ(page.next_cursor, "c2");
    EXPECT_EQ(page.tools[1].input_schema, R"({"type":"object"})");
    EXPECT_EQ(page.tools[1].read_only, false);
    EXPECT_FALSE(page.tools[1].description.empty());
}

// ---------------------------------------------------------------------------------------------
// The registry's groups

class named_tool : public ava::tools::tool {
  public:
    explicit named_tool(std::string name) : spec_{std::move(name), "d", R"({"type":"object"})"} {}
    const ava::tools::tool_spec& spec() const override { return spec_; }
    std::string call(std::string_view, std::stop_token) override { return "{}"; }

  private:
    ava::tools::tool_spec spec_;
};

std::vector<std::pair<std::shared_ptr<ava::tools::tool>, ava::tools::tool_options>> group_of(
    std::initializer_list<const char*> names) {
    std::vector<std::pair<std::shared_ptr<ava::tools::tool>, ava::tools::tool_options>> out;
    for (const char* n : names) {
        out.emplace_back(std::make_shared<named_tool>(n), ava::tools::tool_options{});
    }
    return out;
}

TEST(mcp_registry, replace_group_swaps_in_place_and_reports_clashes) {
    registry reg;
    reg.add(std::make_shared<named_tool>("builtin"));
    reg.add(std::make_shared<named_tool>("off"), {.enabled = false, .enable_hint = "set x"});
    std::atomic<int> changes{0};
    reg.set_on_change([&] {
        ++changes;
        (void)reg.specs();  // outside the lock: reading is fine
    });
    const auto g0 = reg.generation();
    reg.replace_group("s", group_of({"s__a", "s__b"}));
    reg.add(std::make_shared<named_tool>("last"));
    reg.replace_group("s", group_of({"s__c", "builtin", "s__c"}));
    EXPECT_EQ(changes, 2);
    EXPECT_EQ(reg.generation(), g0 + 3);

    std::vector<std::string> names;
    for (const auto& t : reg.all()) names.push_back(t->spec().name);
    EXPECT_EQ(names,
              (std::vector<std::string>{"builtin", "off", "s__c", "builtin", "s__c", "last"}));
    EXPECT_EQ(reg.find("off")->reason, "disabled: set x");
    EXPECT_EQ(reg.find("s__a"), nullptr);
    EXPECT_EQ(reg.find("builtin")->group, "") << "the offered one wins a clash";
    const auto all = reg.all();
    EXPECT_EQ(all[3]->reason, "name clash with a built-in tool");
    EXPECT_EQ(all[4]->reason, "name clash with another tool of this server");
    EXPECT_TRUE(all[2]->offered);
    EXPECT_EQ(all[2]->group, "s");
    EXPECT_EQ(reg.specs().size(), 3u);  // builtin, s__c, last

    const std::string table = reg.format_table();
    EXPECT_NE(table.find("NAME     SERVER"), std::string::npos) << table;
    EXPECT_NE(table.find("s__c     s       offered"), std::string::npos) << table;
    EXPECT_NE(table.find("last     -       offered"), std::string::npos) << table;

    EXPECT_THROW(reg.replace_group("s", group_of({"bad name"})), ava::config_error);
    EXPECT_NE(reg.find("s__c"), nullptr) << "a refused replacement changes nothing";
}

TEST(mcp_registry, reads_while_a_group_is_replaced) {
    registry reg;
    reg.add(std::make_shared<named_tool>("builtin"));
    std::atomic<bool> done{false};
    std::atomic<bool> reading{false};
    std::thread writer([&] {
        while (!reading) std::this_thread::yield();
        for (int i = 0; i < 300; ++i) {
            reg.replace_group("g", i % 2 ? group_of({"g__a", "g__b"}) : group_of({"g__c"}));
        }
        done = true;
    });
    std::size_t reads = 0;
    reading = true;
    while (!done) {
        for (const auto& t : reg.all()) EXPECT_FALSE(t->spec().name.empty());
        EXPECT_NE(reg.find("builtin"), nullptr);
        const std::size_t n = reg.specs().size();  // 1 before the first change, then 2 or 3
        EXPECT_TRUE(n >= 1 && n <= 3) << n;
        ++reads;
    }
    writer.join();
    EXPECT_GT(reads, 0u);
}

// ---------------------------------------------------------------------------------------------
// The bridge against our misbehaving server

TEST(mcp_fake, legacy_server_lists_and_calls) {
    fake f;
    auto s = f.settings();
    s.env = {{"AVA_MCP_TEST_VALUE", "from-config"}, {"SOME_API_TOKEN", "tok-secret-123"}};
    s.cwd = f.dir.path().string();
    s.deny = {"freeze"};
    registry reg;
    mcp_bridge bridge(reg, {s}, fast());
    bridge.start(3s);
    const auto st = status_of(bridge);
    ASSERT_EQ(st.state, mcp_state::running) << st.last_error;
    EXPECT_EQ(st.protocol_version, "2025-11-25");
    EXPECT_EQ(st.starts, 1u);
    EXPECT_EQ(count_lines(f.starts, "initialized"), 1);

    EXPECT_EQ(reg.find("fake__freeze"), nullptr) << "denied";
    ASSERT_NE(reg.find("fake__echo"), nullptr);
    EXPECT_EQ(reg.find("fake__echo")->group, "fake");
    EXPECT_TRUE(reg.find("fake__echo")->offered) << reg.find("fake__echo")->reason;
    EXPECT_FALSE(reg.find("fake__echo")->require_approval) << "read-only";
    EXPECT_TRUE(reg.find("fake__wipe")->require_approval) << "destructive";
    EXPECT_FALSE(reg.find("fake__cwd")->require_approval) << "no annotations";
    EXPECT_NE(reg.find("fake__dotted_name"), nullptr);
    EXPECT_EQ(reg.find("fake__echo")->timeout, 2500ms) << "the call's limit plus the backstop";

    EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "hi"}}))["result"], "echo: hi");
    EXPECT_EQ(json::parse(call(reg, "fake__env", {{"name", "AVA_MCP_TEST_VALUE"}}))["result"],
              "from-config");
    EXPECT_NE(json::parse(call(reg, "fake__env", {{"name", "PATH"}}))["result"], "(unset)")
        << "the environment is inherited";
    EXPECT_EQ(fs::canonical(json::parse(call(reg, "fake__cwd"))["result"].get<std::string>()),
              fs::canonical(f.dir.path()));
    EXPECT_EQ(json::parse(call(reg, "fake__structured"))["result"]["temp"], 21);
    EXPECT_NE(json::parse(call(reg, "fake__media"))["result"].get<std::string>().find(
                  "[image image/png, 8 bytes]"),
              std::string::npos);
    EXPECT_EQ(error_of([&] { call(reg, "fake__fail"); }), "it went wrong");
    EXPECT_EQ(error_of([&] { call(reg, "fake__rpc_error"); }),
              "fake error -32602: bad arguments for rpc_error");
    EXPECT_EQ(ava::log::redact("x tok-secret-123 y"), "x [redacted] y");
}

TEST(mcp_fake, modern_server_gets_meta_on_every_request) {
    fake f;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--era", "modern"})}, fast());
    bridge.start(3s);
    const auto st = status_of(bridge);
    ASSERT_EQ(st.state, mcp_state::running) << st.last_error;
    EXPECT_EQ(st.protocol_version, "2026-07-28");
    EXPECT_EQ(count_lines(f.starts, "initialized"), 0) << "no initialize in the modern era";
    EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "new"}}))["result"], "echo: new");
}

TEST(mcp_fake, silent_discover_falls_back_to_initialize) {
    fake f;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--discover-silent", "--version", "2024-11-05"})}, fast());
    const auto t0 = clock_type::now();
    bridge.start(3s);
    EXPECT_LT(clock_type::now() - t0, 1500ms);
    const auto st = status_of(bridge);
    ASSERT_EQ(st.state, mcp_state::running) << st.last_error;
    EXPECT_EQ(st.protocol_version, "2024-11-05");
    EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "old"}}))["result"], "echo: old");
}

TEST(mcp_fake, follows_pagination) {
    fake f;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--page-size", "3", "--extra-tools", "7"})}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    EXPECT_EQ(status_of(bridge).tools, 13u + 7u);
    EXPECT_NE(reg.find("fake__t6"), nullptr);
    EXPECT_NE(reg.find("fake__echo"), nullptr);
}

TEST(mcp_fake, list_changed_relists_and_notifies) {
    fake f;
    registry reg;
    std::atomic<int> changes{0};
    reg.set_on_change([&] { ++changes; });
    mcp_bridge bridge(reg, {f.settings()}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    EXPECT_EQ(changes, 1);
    EXPECT_EQ(reg.find("fake__extra"), nullptr);
    call(reg, "fake__add_tool");
    EXPECT_TRUE(eventually([&] { return reg.find("fake__extra") != nullptr; }));
    EXPECT_EQ(changes, 2);
    EXPECT_EQ(json::parse(call(reg, "fake__extra"))["result"], "extra done");
}

TEST(mcp_fake, garbage_on_stdout_is_logged_and_ignored) {
    fake f;
    log_capture logs;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--garbage", "--long-line", "10000"})}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "still"}}))["result"],
                  "echo: still");
    }
    EXPECT_EQ(logs.count("warning", "longer than 4096 bytes"), 1);
    EXPECT_GE(logs.count("warning", "not JSON"), 1);
    EXPECT_LE(logs.count("warning", "to stdout, ignored"), 5) << "rate-limited";
    EXPECT_EQ(logs.text().find('\x1b'), std::string::npos) << "no escape reaches the log";
    EXPECT_GE(logs.count("debug", "[fake] fake MCP server starting"), 1)
        << "stderr is logged (at debug: never on the screen)";
    EXPECT_EQ(status_of(bridge).starts, 1u);
}

TEST(mcp_fake, crash_at_start_is_reported_once_and_retried_with_backoff) {
    fake f;
    log_capture logs;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--crash-at-start"})}, fast());
    const auto t0 = clock_type::now();
    bridge.start(3s);
    EXPECT_LT(clock_type::now() - t0, 1s) << "a failed first try ends the wait";
    auto st = status_of(bridge);
    EXPECT_EQ(st.state, mcp_state::restarting);
    EXPECT_NE(st.last_error.find("exited with status 3"), std::string::npos) << st.last_error;
    // 200 ms, 400 ms, 800 ms: at least three more tries within ~1.6 s.
    EXPECT_TRUE(eventually([&] { return f.started() >= 3; }, 3s)) << f.started();
    EXPECT_EQ(logs.count("warning", "exited with status 3"), 1) << logs.text();
    EXPECT_GE(logs.count("debug", "[fake] fake: crashing at start"), 2);
    EXPECT_TRUE(reg.all().empty()) << "nothing was ever listed";
}

// channel::request read error.code with value("code", 0), which threw type_error for a string
// and converted 1e30 to int (undefined): each now fails as a JSON-RPC error with code 0 and a
// message that names the field.
TEST(mcp_channel, an_error_code_that_is_not_an_integer_is_named) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"("oops")", "error.code is not an integer: \"oops\""},
        {"1.5", "error.code is not an integer: 1.5"},
        {"1e30", "error.code is not an integer: 1e+30"},
        {"4294967296", "error.code is not an integer: 4294967296"},
        {"", "error.code missing"}};
    for (const auto& [code, named] : cases) {
        const std::string error =
            code.empty() ? R"({"message":"boom"})" : R"({"code":)" + code + R"(,"message":"boom"})";
        const std::string answer = R"({"jsonrpc":"2.0","id":1,"error":)" + error + "}";
        // Answers request 1 with `answer`, then waits for its stdin to close.
        mcp::channel ch({.server = "t",
                         .process = {.argv = {"/bin/sh", "-c",
                                              "read l; printf '%s\\n' '" + answer + "'; read l"}},
                         .stop_grace = 300ms},
                        {});
        try {
            (void)ch.request("tools/call", json::object(), 5s);
            ADD_FAILURE() << "no failure for " << answer;
        } catch (const mcp::rpc_failure& f) {
            EXPECT_EQ(f.why(), mcp::rpc_failure::kind::error) << answer;
            EXPECT_EQ(f.code(), 0) << answer;
            EXPECT_EQ(std::string(f.what()), "boom (" + named + ")") << answer;
        }
    }
    // A proper code is passed on as it is.
    mcp::channel ch(
        {.server = "t",
         .process = {.argv = {"/bin/sh", "-c",
                              R"(read l; printf '%s\n' '{"jsonrpc":"2.0","id":1,"error":)"
                              R"({"code":-32602,"message":"bad"}}'; read l)"}},
         .stop_grace = 300ms},
        {});
    try {
        (void)ch.request("tools/call", json::object(), 5s);
        ADD_FAILURE() << "no failure";
    } catch (const mcp::rpc_failure& f) {
        EXPECT_EQ(f.code(), -32602);
        EXPECT_STREQ(f.what(), "bad");
    }
}

// Found by fuzz/mcp_fuzz (its deep_array probe): a line of 100,000 '[' parsed fine, but dumping
// it into the "not JSON-RPC" warning recursed once per level and overflowed the I/O thread's
// stack (SIGSEGV: the whole app). It is now refused before parsing, and the channel lives on.
TEST(mcp_protocol, lines_nested_deeper_than_128_levels_are_refused_before_parsing) {
    std::string problem;
    EXPECT_FALSE(mcp::parse_line(std::string(100000, '[') + std::string(100000, ']'), problem));
    EXPECT_EQ(problem, "JSON nested deeper than 128 levels");
    EXPECT_FALSE(mcp::parse_line("[1, 2", problem));
    EXPECT_EQ(problem, "a line that is not JSON");
    const auto ok = mcp::parse_line(std::string(128, '[') + std::string(128, ']'), problem);
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->is_array());
}

TEST(mcp_channel, a_line_nested_100000_deep_is_dropped_not_a_crash) {
    log_capture logs;
    mcp::channel ch({.server = "deep",
                     .process = {.argv = {"/bin/sh", "-c",
                                          "read l; head -c 100000 /dev/zero | tr '\\0' '['; "
                                          "head -c 100000 /dev/zero | tr '\\0' ']'; echo; "
                                          R"(printf '%s\n' '{"jsonrpc":"2.0","id":1,)"
                                          R"("result":{"ok":true}}'; read l)"}},
                     .stop_grace = 300ms},
                    {});
    EXPECT_EQ(ch.request("tools/list", json::object(), 5s), json({{"ok", true}}));
    EXPECT_EQ(logs.count("warning", "nested deeper than 128 levels"), 1) << logs.text();
}

TEST(mcp_fake, a_program_that_does_not_exist) {
    registry reg;
    mcp_server_settings s;
    s.name = "ghost";
    s.command = {"/nonexistent/ava-mcp-ghost"};
    mcp_bridge bridge(reg, {s}, fast());
    bridge.start(2s);
    const auto st = status_of(bridge);
    EXPECT_EQ(st.state, mcp_state::restarting);
    EXPECT_NE(st.last_error.find("could not start: cannot run '/nonexistent/ava-mcp-ghost'"),
              std::string::npos)
        << st.last_error;
}

TEST(mcp_fake, crash_mid_call_fails_that_call_at_once_and_restarts) {
    fake f;
    log_capture logs;
    registry reg;
    auto s = f.settings();
    s.timeout = 5s;
    mcp_bridge bridge(reg, {s}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;

    const auto t0 = clock_type::now();
    const std::string err = error_of([&] { call(reg, "fake__crash"); });
    EXPECT_LT(clock_type::now() - t0, 1s) << "not at the 5 s limit";
    // With the server's own last stderr line: it is in the pipe by the time stdout's EOF is
    // seen, and read then (it used to depend on which pipe poll() listed first, and about half
    // the runs on a busy machine quoted the older "fake MCP server starting").
    EXPECT_EQ(err.rfind("MCP server 'fake' exited with status 7", 0), 0u) << err;
    EXPECT_EQ(err.substr(err.size() - 16), " during the call") << err;
    EXPECT_NE(err.find("(its last words: fake: crashing mid-call)"), std::string::npos) << err;
    // While it is down: its tools stay, calls fail fast and say why.
    EXPECT_NE(reg.find("fake__echo"), nullptr);
    const std::string down = error_of([&] { call(reg, "fake__echo", {{"text", "x"}}); });
    EXPECT_NE(down.find("MCP server 'fake' is not running (restarting"), std::string::npos) << down;
    EXPECT_NE(down.find("exited with status 7"), std::string::npos) << down;
    ASSERT_TRUE(eventually([&] { return status_of(bridge).state == mcp_state::running; }))
        << status_of(bridge).last_error;
    EXPECT_EQ(f.started(), 2);
    EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "back"}}))["result"], "echo: back");
    EXPECT_EQ(logs.count("warning", "exited with status 7"), 1);
    EXPECT_EQ(logs.count("warning", "is running again"), 1);
}

TEST(mcp_fake, never_answering_times_out_the_handshake_and_restarts) {
    fake f;
    registry reg;
    auto s = f.settings({"--silent"});
    s.start_timeout = 800ms;
    mcp_bridge bridge(reg, {s}, fast());
    const auto t0 = clock_type::now();
    bridge.start(5s);
    EXPECT_LT(clock_type::now() - t0, 1500ms);
    const auto st = status_of(bridge);
    EXPECT_EQ(st.state, mcp_state::restarting);
    EXPECT_NE(st.last_error.find("did not answer initialize within"), std::string::npos)
        << st.last_error;
    EXPECT_TRUE(eventually([&] { return f.started() >= 2; }));
}

TEST(mcp_fake, a_slow_call_times_out_is_cancelled_and_the_server_lives_on) {
    fake f;
    registry reg;
    auto s = f.settings();
    s.timeout = 400ms;
    mcp_bridge bridge(reg, {s}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    const auto t0 = clock_type::now();
    EXPECT_EQ(error_of([&] { call(reg, "fake__hang"); }),
              "MCP server 'fake' did not answer hang within 0.4 s");
    EXPECT_LT(clock_type::now() - t0, 1s);
    EXPECT_TRUE(eventually([&] { return count_lines(f.starts, "cancelled ") == 1; }));
    EXPECT_TRUE(eventually([&] { return count_lines(f.starts, "ping") == 1; })) << "alive?";
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(status_of(bridge).state, mcp_state::running);
    EXPECT_EQ(f.started(), 1);
}

TEST(mcp_fake, a_hung_server_is_killed_and_restarted) {
    fake f;
    log_capture logs;
    registry reg;
    auto s = f.settings();
    s.timeout = 400ms;
    mcp_bridge bridge(reg, {s}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    EXPECT_NE(error_of([&] { call(reg, "fake__freeze"); }).find("did not answer freeze"),
              std::string::npos);
    ASSERT_TRUE(eventually([&] { return f.started() == 2; }));
    ASSERT_TRUE(eventually([&] { return status_of(bridge).state == mcp_state::running; }));
    EXPECT_EQ(logs.count("warning", "stopped answering"), 1) << logs.text();
    EXPECT_EQ(json::parse(call(reg, "fake__echo", {{"text", "ok"}}))["result"], "echo: ok");
}

TEST(mcp_fake, the_callers_stop_token_cancels) {
    fake f;
    registry reg;
    mcp_bridge bridge(reg, {f.settings()}, fast());
    bridge.start(3s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    std::stop_source stop;
    std::thread canceller([&] {
        std::this_thread::sleep_for(150ms);
        stop.request_stop();
    });
    const auto t0 = clock_type::now();
    EXPECT_EQ(error_of([&] { call(reg, "fake__hang", json::object(), stop.get_token()); }),
              "hang was cancelled");
    canceller.join();
    EXPECT_LT(clock_type::now() - t0, 1s);
    EXPECT_TRUE(eventually([&] { return count_lines(f.starts, "cancelled ") == 1; }));
}

TEST(mcp_fake, an_unknown_protocol_version_fails_for_good) {
    fake f;
    log_capture logs;
    registry reg;
    mcp_bridge bridge(reg, {f.settings({"--version", "1999-01-01"})}, fast());
    bridge.start(3s);
    const auto st = status_of(bridge);
    EXPECT_EQ(st.state, mcp_state::failed);
    EXPECT_NE(st.last_error.find("'1999-01-01'"), std::string::npos) << st.last_error;
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(f.started(), 1) << "not restarted";
    EXPECT_EQ(logs.count("warning", "1999-01-01"), 1);
}

TEST(mcp_fake, disabled_entries_start_nothing_and_stopping_is_bounded) {
    fake f;
    registry reg;
    auto off = f.settings();
    off.name = "off";
    off.enabled = false;
    auto on = f.settings();
    std::optional<mcp_bridge> bridge;
    bridge.emplace(reg, std::vector<mcp_server_settings>{off, on}, fast());
    bridge->start(3s);
    EXPECT_EQ(status_of(*bridge, 0).state, mcp_state::disabled);
    EXPECT_EQ(status_of(*bridge, 1).state, mcp_state::running);
    EXPECT_EQ(f.started(), 1);
    const auto t0 = clock_type::now();
    bridge.reset();
    EXPECT_LT(clock_type::now() - t0, 1s) << "stdin closed: the fake leaves at once";
    // The tools stay registered and say the server has gone.
    EXPECT_EQ(error_of([&] { call(reg, "fake__echo"); }), "MCP server 'fake' has stopped");
}

// ---------------------------------------------------------------------------------------------
// Real servers from the npm registry (tests/mcp/package-lock.json)

fs::path npm_package(const std::string& name) {
    return fs::path(AVA_MCP_NODE_MODULES) / "@modelcontextprotocol" / name / "dist" / "index.js";
}

#define AVA_NEED_NPM_SERVERS()                                                          \
    do {                                                                                \
        const bool have = std::string(AVA_NODE_EXE).size() > 0 &&                       \
                          fs::exists(npm_package("server-everything")) &&               \
                          fs::exists(npm_package("server-filesystem"));                 \
        if (!have) {                                                                    \
            const char* msg =                                                           \
                "node or tests/mcp/node_modules is missing: run 'npm ci' in tests/mcp " \
                "(scripts/test.sh does)";                                               \
            if (std::getenv("CI")) FAIL() << msg;                                       \
            GTEST_SKIP() << msg;                                                        \
        }                                                                               \
    } while (false)

mcp_server_settings npm_server(const std::string& name, const std::string& package,
                               std::vector<std::string> args) {
    mcp_server_settings s;
    s.name = name;
    s.command = {AVA_NODE_EXE, npm_package(package).string()};
    s.command.insert(s.command.end(), args.begin(), args.end());
    s.timeout = 5s;
    s.start_timeout = 8s;
    return s;
}

TEST(mcp_npm, everything_lists_and_calls) {
    AVA_NEED_NPM_SERVERS();
    registry reg;
    mcp_bridge bridge(reg, {npm_server("everything", "server-everything", {"stdio"})});
    bridge.start(8s);
    const auto st = status_of(bridge);
    ASSERT_EQ(st.state, mcp_state::running) << st.last_error;
    EXPECT_EQ(st.protocol_version, "2025-11-25");
    for (const char* name : {"everything__echo", "everything__get-sum", "everything__get-env",
                             "everything__get-tiny-image", "everything__get-structured-content",
                             "everything__trigger-long-running-operation"}) {
        ASSERT_NE(reg.find(name), nullptr) << name << "\n" << reg.format_table();
        EXPECT_TRUE(reg.find(name)->offered) << name << ": " << reg.find(name)->reason;
    }
    // "format": "uri" in its data argument: our validator does not check formats.
    ASSERT_NE(reg.find("everything__gzip-file-as-resource"), nullptr);
    EXPECT_NE(reg.find("everything__gzip-file-as-resource")->reason.find("format"),
              std::string::npos);

    EXPECT_EQ(json::parse(call(reg, "everything__echo", {{"message", "hello"}}))["result"],
              "Echo: hello");
    const std::string sum =
        json::parse(call(reg, "everything__get-sum", {{"a", 2}, {"b", 3}}))["result"]
            .get<std::string>();
    EXPECT_NE(sum.find('5'), std::string::npos) << sum;
    const std::string image =
        json::parse(call(reg, "everything__get-tiny-image"))["result"].get<std::string>();
    EXPECT_NE(image.find("[image image/png, "), std::string::npos) << image;
    // A call that returns an error: arguments the server's own schema refuses.
    EXPECT_NE(error_of([&] { call(reg, "everything__get-sum", {{"a", "two"}}); }), "");
}

TEST(mcp_npm, everything_long_running_operation_meets_the_time_limit) {
    AVA_NEED_NPM_SERVERS();
    registry reg;
    auto s = npm_server("everything", "server-everything", {"stdio"});
    s.timeout = 1s;
    mcp_bridge bridge(reg, {s});
    bridge.start(8s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    const auto t0 = clock_type::now();
    const std::string err = error_of([&] {
        call(reg, "everything__trigger-long-running-operation", {{"duration", 5}, {"steps", 5}});
    });
    EXPECT_EQ(err,
              "MCP server 'everything' did not answer trigger-long-running-operation within "
              "1 s");
    EXPECT_LT(clock_type::now() - t0, 2s);
    // A slow tool is not a hung server: it answers ping and keeps working.
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(status_of(bridge).state, mcp_state::running);
    EXPECT_EQ(json::parse(call(reg, "everything__echo", {{"message", "after"}}))["result"],
              "Echo: after");
    EXPECT_EQ(status_of(bridge).starts, 1u);
}

TEST(mcp_npm, filesystem_reads_a_file_in_a_temp_dir) {
    AVA_NEED_NPM_SERVERS();
    temp_dir dir;
    std::ofstream(dir.path() / "note.txt") << "the umbrella is in the hall\n";
    registry reg;
    mcp_bridge bridge(reg, {npm_server("fs", "server-filesystem", {dir.path().string()})});
    bridge.start(8s);
    ASSERT_EQ(status_of(bridge).state, mcp_state::running) << status_of(bridge).last_error;
    for (const char* name : {"fs__read_text_file", "fs__list_directory", "fs__write_file",
                             "fs__edit_file", "fs__list_allowed_directories"}) {
        ASSERT_NE(reg.find(name), nullptr) << name << "\n" << reg.format_table();
        EXPECT_TRUE(reg.find(name)->offered) << name << ": " << reg.find(name)->reason;
    }
    EXPECT_FALSE(reg.find("fs__read_text_file")->require_approval) << "readOnlyHint";
    EXPECT_TRUE(reg.find("fs__write_file")->require_approval) << "destructiveHint";
    EXPECT_TRUE(reg.find("fs__create_directory")->require_approval) << "readOnlyHint false";

    const std::string text = json::parse(
        call(reg, "fs__read_text_file", {{"path", (dir.path() / "note.txt").string()}}))["result"];
    EXPECT_EQ(text, "the umbrella is in the hall\n");
    // Outside the allowed directory: the server says no (isError), and the model hears why.
    const std::string denied = error_of([&] {
        call(reg, "fs__read_text_file", {{"path", "/etc/hostname"}});
    });
    EXPECT_NE(denied.find("ccess denied"), std::string::npos) << denied;
}

}  // namespace
