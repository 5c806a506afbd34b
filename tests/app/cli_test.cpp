// The real ava-voice executable, run as a child process with a clean environment: a temp HOME,
// XDG_CONFIG_HOME and working directory, so the user's own config never leaks in.
#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>

#include <toml++/toml.h>
#include <map>
#include <regex>
#include <string>

#include "ava/app/cli.hpp"
#include "ava/core/error.hpp"
#include "test_util.hpp"

namespace {

using ava::test::count_lines;
using ava::test::run_ava;
using ava::test::temp_dir;
using ava::test::write_file;

class Cli : public ::testing::Test {
  protected:
    std::map<std::string, std::string> env() const {
        return {{"HOME", (dir_ / "home").string()},
                {"XDG_CONFIG_HOME", (dir_ / "xdg").string()},
                {"PATH", "/usr/bin:/bin"}};
    }
    ava::test::run_result run(const std::vector<std::string>& args) const {
        return run_ava(args, env(), dir_.path());
    }
    ava::test::run_result run(const std::vector<std::string>& args,
                              std::map<std::string, std::string> extra_env) const {
        auto e = env();
        for (auto& [k, v] : extra_env) e[k] = v;
        return run_ava(args, e, dir_.path());
    }
    /// Asserts a usage/config error: exit code 2 and exactly one stderr line naming `fragment`.
    void expect_usage_error(const std::vector<std::string>& args, const std::string& fragment) {
        const auto r = run(args);
        SCOPED_TRACE(r.err);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(r.err.rfind("ava-voice: error: ", 0), 0u);
        EXPECT_EQ(count_lines(r.err), 1u);
        EXPECT_NE(r.err.find(fragment), std::string::npos);
        EXPECT_EQ(r.out, "");
    }

    temp_dir dir_;
};

TEST_F(Cli, VoiceAndSilenceFlagsShowInPrintConfig) {
    const auto r = run({"--voice", "sage", "--silence-ms", "500", "--print-config"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("voice = \"sage\"  # flag --voice"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("silence_duration_ms = 500  # flag --silence-ms"), std::string::npos);
    EXPECT_NE(r.out.find("threshold = 0.5  # default"), std::string::npos);
    // The output is TOML with the example's keys.
    const toml::table t = toml::parse(r.out);
    EXPECT_EQ(t.at_path("session.voice").value<std::string>(), "sage");
    EXPECT_EQ(t.at_path("vad.silence_duration_ms").value<std::int64_t>(), 500);
    EXPECT_EQ(r.err, "");
}

TEST_F(Cli, NoKeyOrSecretReachesStdoutStderrOrLogFile) {
    // One key that only registration can catch, one shaped like an OpenAI key.
    const std::string key = "FAKEKEY-7d1e0c9b-recognisable";
    const std::string shaped = "sk-proj-FAKEFAKEFAKE0123456789abcdef";
    const std::string token = "HATOKEN-55aa-recognisable";
    const std::string password = "SMTPPASS-99zz-recognisable";
    const auto log = (dir_ / "ava.log").string();
    write_file(dir_ / ".env", "AZURE_OPENAI_API_KEY=" + shaped + "\n");
    const auto r = run({"--print-config", "--log-level", "trace", "--log-file", log},
                       {{"OPENAI_API_KEY", key},
                        {"HOME_ASSISTANT_TOKEN", token},
                        {"AVA_SMTP_PASSWORD", password}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string logged = ava::test::read_file(log);
    EXPECT_NE(logged.find("effective config"), std::string::npos) << "the log must not be empty";
    for (const auto& secret : {key, shaped, token, password}) {
        EXPECT_EQ(r.out.find(secret), std::string::npos) << secret;
        EXPECT_EQ(r.err.find(secret), std::string::npos) << secret;
        EXPECT_EQ(logged.find(secret), std::string::npos) << secret;
    }
    EXPECT_NE(r.out.find("# API key (OPENAI_API_KEY): [redacted]  # env OPENAI_API_KEY"),
              std::string::npos);
    EXPECT_NE(r.out.find("token = \"[redacted]\""), std::string::npos);
}

TEST_F(Cli, BadInputIsOneLineAndExitCodeTwo) {
    expect_usage_error({"--threshold", "1.5"}, "vad.threshold must be between 0.0 and 1.0");
    expect_usage_error({"--silence-ms", "-5"}, "must not be negative");
    expect_usage_error({"--prefix-ms=-1"}, "must not be negative");
    expect_usage_error({"--vad", "loud"}, "unknown value 'loud'");
    expect_usage_error({"--config", "missing.toml"}, "'missing.toml' does not exist");
    expect_usage_error({"--no-such-flag"}, "--no-such-flag");
    expect_usage_error({"--input", "missing.wav"}, "cannot read 'missing.wav'");
    expect_usage_error({"--set", "vad.treshold=0.2"}, "did you mean 'vad.threshold'?");
    write_file(dir_ / "bad.toml", "[session]\nvoice = \"ash\"\nspeed = \n");
    expect_usage_error({"--config", "bad.toml"}, "bad.toml:3:");
    write_file(dir_ / "unknown.toml", "[session]\nvoice = \"ash\"\nvolume = 3\n");
    expect_usage_error({"--config", "unknown.toml"},
                       "unknown.toml:3:1: unknown key 'session.volume'");
    write_file(dir_ / "type.toml", "[vad]\nthreshold = \"high\"\n");
    expect_usage_error({"--config", "type.toml"}, "type.toml:2:13: vad.threshold must be a number");
}

TEST_F(Cli, AKeyOnTheCommandLineIsNeverEchoed) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--api-key", "plainkey-NEVERECHOED"}, {"--api-key=plainkey-NEVERECHOED"}}) {
        const auto r = run(args);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_EQ(count_lines(r.err), 1u);
        EXPECT_NE(r.err.find("not accepted on the command line"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("NEVERECHOED"), std::string::npos) << r.err;
    }
}

TEST_F(Cli, SecretsThroughSetAreRefusedAndNeverEchoed) {
    // #20 probe 15: --set was a way around the API key's refusal.
    for (const std::string key : {"tools.email.password", "tools.lights.token"}) {
        const auto r = run({"--set", key + "=plainsecret-NEVERECHOED", "--print-config"});
        EXPECT_EQ(r.exit_code, 2) << key;
        EXPECT_NE(r.err.find("--set " + key), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("not accepted on the command line"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("NEVERECHOED"), std::string::npos) << r.err;
        EXPECT_EQ(r.out.find("NEVERECHOED"), std::string::npos) << r.out;
    }
    EXPECT_NE(run({"--set", "tools.email.password=x"}).err.find("AVA_SMTP_PASSWORD"),
              std::string::npos);
}

TEST_F(Cli, ProxyPasswordIsRedactedInThePrintedConfig) {
    // #20 probe 3: --print-config printed proxy = "http://user:PASSWORD@host:port".
    const auto r =
        run({"--proxy", "http://alice:proxy-pw-SECRET@127.0.0.1:3128", "--print-config"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("proxy-pw-SECRET"), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("proxy-pw-SECRET"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("http://alice:[redacted]@127.0.0.1:3128"), std::string::npos) << r.out;
    // A short password is not registered with the log, and still not printed.
    const auto s = run({"--proxy", "http://bob:pw@127.0.0.1:3128", "--print-config"});
    EXPECT_NE(s.out.find("http://bob:[redacted]@127.0.0.1:3128"), std::string::npos) << s.out;
}

TEST_F(Cli, PlainWsToAnotherHostIsRefusedAtStartUnlessAllowed) {
    // #20 point 7 and probe 16: refused at connect time (exit 1) before; now at start (exit 2).
    const auto r = run({"--endpoint", "ws://example.com/v1/realtime", "--print-config"},
                       {{"OPENAI_API_KEY", "sk-test-plainws-0123456789"}});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("plain ws:// to example.com"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--allow-plain-ws"), std::string::npos) << r.err;
    const auto ok =
        run({"--endpoint", "ws://example.com/v1/realtime", "--allow-plain-ws", "--print-config"},
            {{"OPENAI_API_KEY", "sk-test-plainws-0123456789"}});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    EXPECT_NE(ok.out.find("allow_plain_ws = true"), std::string::npos);
    // Loopback needs no permission.
    EXPECT_EQ(run({"--endpoint", "ws://127.0.0.1:9/v1/realtime", "--print-config"}).exit_code, 0);
}

TEST_F(Cli, UnknownVoiceIsAcceptedWithAWarning) {
    const auto r = run({"--voice", "my-custom-voice", "--print-config"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.err.find("not a built-in voice"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("voice = \"my-custom-voice\""), std::string::npos);
}

TEST_F(Cli, UserConfigEnvironmentAndDotEnvLayers) {
    write_file(dir_ / "xdg/ava-voice/config.toml", "[session]\nvoice = \"ash\"\nspeed = 1.1\n");
    write_file(dir_ / ".env", "AVA_LOG_LEVEL=warn\nNO_COLOR=1\n");
    const auto r = run({"--print-config", "--speed", "0.9"}, {{"AVA_LOG_LEVEL", "error"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string user_file = (dir_ / "xdg/ava-voice/config.toml").string();
    EXPECT_NE(r.out.find("voice = \"ash\"  # file " + user_file + ":2"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("speed = 0.9  # flag --speed"), std::string::npos);
    EXPECT_NE(r.out.find("level = \"error\"  # env AVA_LOG_LEVEL"), std::string::npos);
    EXPECT_NE(r.out.find("color = false  # .env:2 NO_COLOR"), std::string::npos);
}

TEST_F(Cli, VersionAndHelp) {
    const auto v = run({"--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_TRUE(std::regex_match(v.out, std::regex("ava-voice [0-9]+\\.[0-9]+\\.[0-9]+\n")))
        << v.out;
    const auto h = run({"--help"});
    EXPECT_EQ(h.exit_code, 0);
    for (const char* flag : {"--voice",        "--model",        "--instructions-file",
                             "--vad",          "--threshold",    "--prefix-ms",
                             "--silence-ms",   "--input-device", "--output-device",
                             "--list-devices", "--config",       "--print-config",
                             "--log-level",    "--log-file",     "--provider",
                             "--endpoint",     "--api-key-env",  "--input",
                             "--output",       "--record",       "--events",
                             "--fast",         "--scenario",     "--list-providers",
                             "--list-tools",   "--ca-file",      "--insecure-skip-verify",
                             "--no-color",     "--text"}) {
        EXPECT_NE(h.out.find(flag), std::string::npos) << flag;
    }
}

TEST_F(Cli, ListDevicesAnswersClearlyWithOrWithoutDevices) {
    // With no sound server reachable (clean environment) there are usually no devices; either
    // way the answer is a list (exit 0) or a clear message with the headless hint (exit 1).
    const auto r = run({"--list-devices"});
    ASSERT_NE(r.exit_code, -1) << "crashed";
    if (r.exit_code == 0) {
        EXPECT_NE(r.out.find("index"), std::string::npos);
        EXPECT_GE(count_lines(r.out), 2u);
    } else {
        EXPECT_EQ(r.exit_code, 1);
        EXPECT_NE(r.err.find("--input FILE.wav --output FILE.wav"), std::string::npos) << r.err;
    }
}

TEST_F(Cli, ListProvidersAndTools) {
    const auto p = run({"--list-providers", "--provider", "sim"});
    EXPECT_EQ(p.exit_code, 0);
    EXPECT_NE(p.out.find("sim     the built-in offline Realtime simulator"), std::string::npos);
    EXPECT_EQ(p.out.find("(selected)"), p.out.rfind("(selected)"));  // exactly one
    EXPECT_NE(p.out.find("simulator (no key, no network; --scenario FILE)  (selected)"),
              std::string::npos);
    write_file(dir_ / "c.toml",
               "[tools.weather]\nenabled = true\n[[tools.command]]\nname = \"disk\"\n"
               "argv = [\"df\", \"-h\"]\n");
    const auto t = run({"--list-tools", "--config", "c.toml"});
    EXPECT_EQ(t.exit_code, 0) << t.err;
    // The registry a run builds: the function names the model sees, offered or why not.
    const auto row = [&](const std::string& name) {
        const auto at = t.out.find("\n" + name + " ");
        if (at == std::string::npos) return std::string();
        return t.out.substr(at + 1, t.out.find('\n', at + 1) - at - 1);
    };
    EXPECT_NE(row("check_weather").find(" offered"), std::string::npos) << t.out;
    // What to set is too long for the column: a numbered note under the table says it.
    EXPECT_NE(row("control_lights").find("not offered, see note "), std::string::npos) << t.out;
    EXPECT_NE(t.out.find(": control_lights: disabled: set [tools.lights] base_url"),
              std::string::npos)
        << t.out;
    EXPECT_NE(t.out.find(": disk: command tool 'disk' has no description"), std::string::npos)
        << t.out;
    EXPECT_NE(t.out.find("MCP servers: none"), std::string::npos) << t.out;
}

TEST_F(Cli, AReaderThatGoesAwayOrAHangupStillFinishesTheFiles) {
    // #20 probe 7: `ava-voice ... | head -1` (SIGPIPE) and SIGHUP left the output and recording
    // WAVs with a zero-length header, no summary and no end record in the events file.
    const std::string in = std::string(AVA_SOURCE_DIR) + "/samples/lights.wav";
    for (const int hangup : {0, 1}) {
        const auto d = dir_.path() / (hangup ? "hup" : "pipe");
        std::filesystem::create_directories(d);
        int fds[2];
        ASSERT_EQ(::pipe(fds), 0);
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::dup2(fds[1], 1);
            ::close(fds[0]);
            ::close(fds[1]);
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 2);
            std::vector<std::string> args{AVA_BINARY_DIR "/ava-voice",
                                          "--provider",
                                          "sim",
                                          "--input",
                                          in,
                                          "--output",
                                          (d / "out.wav").string(),
                                          "--record",
                                          (d / "rec.wav").string(),
                                          "--events",
                                          (d / "ev.jsonl").string(),
                                          "--no-color"};
            if (!hangup) args.emplace_back("--fast");
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            std::vector<std::string> env_s;
            for (const auto& [k, v] : env()) env_s.push_back(k + "=" + v);
            std::vector<char*> envp;
            for (auto& e : env_s) envp.push_back(e.data());
            envp.push_back(nullptr);
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        if (hangup) {
            // Let the conversation start, then hang up; keep reading stdout meanwhile.
            char buf[4096];
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            while (std::chrono::steady_clock::now() < until) {
                pollfd p{fds[0], POLLIN, 0};
                if (::poll(&p, 1, 100) > 0 && ::read(fds[0], buf, sizeof buf) <= 0) break;
            }
            ::kill(pid, SIGHUP);
        }
        ::close(fds[0]);  // the reader goes away: the next write raises SIGPIPE
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
        for (const char* wav : {"out.wav", "rec.wav"}) {
            // A finished WAV header states its data size: > 44 bytes of file and a RIFF size
            // that matches the file.
            std::ifstream f(d / wav, std::ios::binary);
            ASSERT_TRUE(f) << wav;
            char hdr[8] = {};
            f.read(hdr, 8);
            std::uint32_t riff = 0;
            std::memcpy(&riff, hdr + 4, 4);
            EXPECT_EQ(riff + 8, std::filesystem::file_size(d / wav)) << wav;
            EXPECT_GT(std::filesystem::file_size(d / wav), 44U) << wav;
        }
        std::ifstream ev(d / "ev.jsonl");
        std::string line;
        bool ended = false;
        while (std::getline(ev, line))
            ended = ended || line.find("session.end") != std::string::npos;
        EXPECT_TRUE(ended) << (hangup ? "SIGHUP" : "SIGPIPE") << ": no end record";
    }
}

TEST_F(Cli, NoKeyNoSoundCardPlaysTheSampleWithItsScenario) {
    // The README's first command on a fresh machine: no key, no sound card, no flags. ava-voice
    // must hold a real conversation with the simulator on the bundled sample speech, and the
    // simulator must answer from the sample's own scenario (so the transcript shows what was
    // said). A short sample keeps the test quick.
    const auto samples = dir_.path() / "samples";
    std::filesystem::create_directories(samples);
    const std::filesystem::path src = std::string(AVA_SOURCE_DIR) + "/samples";
    std::filesystem::copy_file(src / "lights.wav", samples / "demo-conversation.wav");
    std::filesystem::copy_file(src / "demo-conversation.toml", samples / "demo-conversation.toml");
    const auto r = run(
        {}, {{"AVA_SAMPLES_DIR", samples.string()}, {"PULSE_SERVER", "unix:/nonexistent/pulse"}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("no OPENAI_API_KEY set, so using the offline simulator"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("(scenario demo-conversation.toml)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("no sound card here"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("You: Hello Ava. What can you do?"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("AVA: Hello!"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-- session summary --"), std::string::npos) << r.out;
    EXPECT_TRUE(std::filesystem::file_size(dir_.path() / "ava-reply.wav") > 44u);
}

TEST_F(Cli, RunTalksToTheSimulator) {
    // stdin and stdout are not terminals here: plain lines, then the summary.
    const auto r = run({"--provider", "sim", "--input",
                        std::string(AVA_SOURCE_DIR) + "/samples/lights.wav", "--fast"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("ava-voice: using the offline simulator"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nAVA: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("-- session summary --"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "escape codes in plain output";
}

TEST_F(Cli, DoctorIsACommandWordBeforeFlags) {
    const char* argv[] = {"ava-voice", "doctor", "--provider", "sim"};
    const auto cl = ava::app::parse_command_line(4, argv);
    EXPECT_EQ(cl.cmd, ava::app::command::doctor);
    ASSERT_EQ(cl.settings.size(), 1u);
    EXPECT_EQ(cl.settings[0].key, "provider.name");
    const char* stray[] = {"ava-voice", "--provider", "sim", "doctor"};
    EXPECT_THROW(ava::app::parse_command_line(4, stray), ava::config_error);
}

TEST_F(Cli, DoctorReportsABadConfigAsAFailedCheck) {
    const auto r = run({"doctor", "--speed", "9"});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.out.find("[FAIL] config: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("advice: "), std::string::npos) << r.out;
}

}  // namespace
