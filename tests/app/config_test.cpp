// The config loader, in-process: layers and their precedence, .env, the example file, every
// class of bad input, secrets, printing.
#include "ava/app/config.hpp"

#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "ava/core/error.hpp"
#include "ava/core/log.hpp"
#include "test_util.hpp"

namespace {

using ava::config_error;
using ava::app::config_sources;
using ava::app::load_config;
using ava::app::loaded_config;
using ava::app::to_toml;
using ava::test::temp_dir;
using ava::test::write_file;
using namespace std::chrono_literals;

ava::app::env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

const std::filesystem::path example_file = AVA_SOURCE_DIR "/config/ava-voice.example.toml";

/// Loads `toml` as an explicit config file; returns the config_error text, or "" on success.
std::string load_error(const temp_dir& dir, const std::string& toml) {
    write_file(dir / "c.toml", toml);
    config_sources src;
    src.explicit_file = dir / "c.toml";
    try {
        load_config(src);
    } catch (const config_error& e) {
        return e.what();
    }
    return {};
}

TEST(Config, DefaultsWithNoLayers) {
    const loaded_config l = load_config({});
    const ava::app::config& c = l.cfg;
    EXPECT_EQ(c.provider.kind, ava::app::provider_kind::openai);
    EXPECT_EQ(c.provider.model, "gpt-realtime");
    EXPECT_EQ(c.session.voice, "marin");
    EXPECT_EQ(c.vad.type, ava::app::vad_kind::server);
    EXPECT_DOUBLE_EQ(c.vad.threshold, 0.5);
    EXPECT_EQ(c.vad.prefix_padding, 300ms);
    EXPECT_EQ(c.vad.silence_duration, 500ms);
    EXPECT_EQ(c.reconnect.initial_backoff, 1000ms);
    EXPECT_EQ(c.reconnect.max_backoff, 60000ms);
    EXPECT_EQ(c.reconnect.max_tries, 5);
    EXPECT_DOUBLE_EQ(c.prices.audio_out, 64.0);
    EXPECT_DOUBLE_EQ(c.prices.text_cached_in, 0.40);
    EXPECT_EQ(c.realtime_url(), "wss://api.openai.com/v1/realtime?model=gpt-realtime");
    EXPECT_EQ(c.api_key_variable(), "OPENAI_API_KEY");
    EXPECT_TRUE(c.provider.api_key.empty());
    // No instructions configured: the built-in prompt from config/instructions.md.
    EXPECT_EQ(c.session.resolved_instructions, ava::app::default_instructions());
    EXPECT_NE(c.session.resolved_instructions.find("calendar"), std::string::npos);
    EXPECT_EQ(l.origins.at("session.voice"), "default");
    EXPECT_TRUE(l.warnings.empty());
}

TEST(Config, ExampleFileEqualsDefaults) {
    config_sources src;
    src.explicit_file = example_file;
    const loaded_config from_example = load_config(src);
    const loaded_config defaults = load_config({});
    EXPECT_EQ(to_toml(from_example, false), to_toml(defaults, false));
    // And the file really set them (not just fell through to the defaults).
    EXPECT_EQ(from_example.origins.at("vad.threshold").rfind("file ", 0), 0u);
    EXPECT_EQ(from_example.origins.at("tools.email.allowed_domains").rfind("file ", 0), 0u);
}

TEST(Config, EveryKnownKeyIsDocumentedInTheExample) {
    const std::string text = ava::test::read_file(example_file);
    const toml::table root = toml::parse(text, example_file.string());
    const auto block = text.find("# [[tools.command]]");
    for (const auto& k : ava::app::known_keys()) {
        SCOPED_TRACE(k.name);
        if (k.repeated) {
            // [[tools.command]] is empty by default, so its fields are shown commented out.
            ASSERT_NE(block, std::string::npos);
            const auto leaf = k.name.substr(k.name.rfind('.') + 1);
            EXPECT_NE(text.find("# " + leaf + " = ", block), std::string::npos);
        } else if (k.map) {
            EXPECT_TRUE(root.at_path(k.name).is_table());
        } else {
            EXPECT_TRUE(static_cast<bool>(root.at_path(k.name)));
        }
    }
}

void collect_keys(const toml::table& t, const std::string& prefix, std::set<std::string>& out) {
    for (const auto& [k, v] : t) {
        const std::string path =
            prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
        if (const auto* sub = v.as_table(); sub != nullptr && path != "tools.email.address_book") {
            collect_keys(*sub, path, out);
        } else {
            out.insert(path);
        }
    }
}

TEST(Config, PrintedConfigHasExactlyTheExampleKeys) {
    const toml::table example =
        toml::parse(ava::test::read_file(example_file), example_file.string());
    const toml::table printed = toml::parse(to_toml(load_config({}), true));
    std::set<std::string> a, b;
    collect_keys(example, "", a);
    collect_keys(printed, "", b);
    EXPECT_EQ(a, b);
    EXPECT_GT(a.size(), 60u);
}

TEST(Config, EachLayerOverridesTheOneBefore) {
    temp_dir dir;
    write_file(dir / "c.toml", R"(
[session]
voice = "ash"
speed = 1.2
[vad]
threshold = 0.3
silence_duration_ms = 800
[logging]
level = "warn"
[network]
proxy = "http://file-proxy:3128"
)");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    src.env = env_of({{"AVA_LOG_LEVEL", "debug"},
                      {"HTTPS_PROXY", "http://env-proxy:8080"},
                      {"OPENAI_BASE_URL", "http://127.0.0.1:9000/v1"}});
    src.flags = {{"session.voice", "sage", "flag --voice"},
                 {"vad.silence_duration_ms", "500", "flag --silence-ms"},
                 {"network.proxy", "http://flag-proxy:1", "flag --proxy"}};
    const loaded_config l = load_config(src);
    const auto& c = l.cfg;
    // file > default
    EXPECT_DOUBLE_EQ(c.session.speed, 1.2);
    EXPECT_DOUBLE_EQ(c.vad.threshold, 0.3);
    EXPECT_EQ(l.origins.at("vad.threshold"), "file " + (dir / "c.toml").string() + ":6");
    // env > file
    EXPECT_EQ(c.logging.level, "debug");
    EXPECT_EQ(l.origins.at("logging.level"), "env AVA_LOG_LEVEL");
    // env > default
    EXPECT_EQ(c.realtime_url(), "ws://127.0.0.1:9000/v1/realtime?model=gpt-realtime");
    // flag > file, flag > env
    EXPECT_EQ(c.session.voice, "sage");
    EXPECT_EQ(c.vad.silence_duration, 500ms);
    EXPECT_EQ(l.origins.at("session.voice"), "flag --voice");
    EXPECT_EQ(c.network.proxy, "http://flag-proxy:1");
    EXPECT_EQ(l.origins.at("network.proxy"), "flag --proxy");
    // untouched
    EXPECT_EQ(c.vad.prefix_padding, 300ms);
    EXPECT_EQ(l.origins.at("vad.prefix_padding_ms"), "default");
}

TEST(Config, UserFileIsReadButExplicitFileReplacesIt) {
    temp_dir dir;
    write_file(dir / "user.toml", "[session]\nvoice = \"ash\"\n");
    write_file(dir / "explicit.toml", "[vad]\nthreshold = 0.7\n");
    config_sources src;
    src.user_file = dir / "user.toml";
    EXPECT_EQ(load_config(src).cfg.session.voice, "ash");
    src.explicit_file = dir / "explicit.toml";
    const auto l = load_config(src);
    EXPECT_EQ(l.cfg.session.voice, "marin");  // the user file was not read
    EXPECT_DOUBLE_EQ(l.cfg.vad.threshold, 0.7);
    // A missing user file is fine; a missing --config file is an error.
    src = {};
    src.user_file = dir / "absent.toml";
    EXPECT_NO_THROW(load_config(src));
    src.explicit_file = dir / "absent.toml";
    EXPECT_THROW(load_config(src), config_error);
}

TEST(Config, DefaultConfigPathFollowsXdg) {
    const auto xdg =
        ava::app::default_config_path(env_of({{"XDG_CONFIG_HOME", "/x/cfg"}, {"HOME", "/home/u"}}));
    ASSERT_TRUE(xdg);
    EXPECT_EQ(xdg->string(), "/x/cfg/ava-voice/config.toml");
    const auto home = ava::app::default_config_path(env_of({{"HOME", "/home/u"}}));
    ASSERT_TRUE(home);
    EXPECT_EQ(home->string(), "/home/u/.config/ava-voice/config.toml");
    // A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    const auto rel =
        ava::app::default_config_path(env_of({{"XDG_CONFIG_HOME", "rel"}, {"HOME", "/home/u"}}));
    EXPECT_EQ(rel->string(), "/home/u/.config/ava-voice/config.toml");
    EXPECT_FALSE(ava::app::default_config_path(env_of({})));
}

TEST(Config, DotEnvFillsGapsAndRealEnvironmentWins) {
    temp_dir dir;
    write_file(dir / ".env", R"(# comment
OPENAI_API_KEY=dotenv-key-1234567890
export AVA_LOG_LEVEL=warn
HOME_ASSISTANT_TOKEN="token with spaces"
AVA_SMTP_PASSWORD='pa$$word'  
this line is not an assignment
AZURE_OPENAI_DEPLOYMENT=my-deploy # trailing comment
)");
    config_sources src;
    src.dotenv_file = dir / ".env";
    src.env = env_of({{"AVA_LOG_LEVEL", "error"}});
    const auto l = load_config(src);
    EXPECT_EQ(l.cfg.provider.api_key, "dotenv-key-1234567890");
    EXPECT_EQ(l.origins.at("provider.api_key"), (dir / ".env").string() + ":2 OPENAI_API_KEY");
    EXPECT_EQ(l.cfg.logging.level, "error");  // the real environment wins over .env
    EXPECT_EQ(l.origins.at("logging.level"), "env AVA_LOG_LEVEL");
    EXPECT_EQ(l.cfg.tools.lights.token, "token with spaces");
    EXPECT_EQ(l.cfg.tools.email.password, "pa$$word");
    EXPECT_EQ(l.cfg.azure.deployment, "my-deploy");
    ASSERT_EQ(l.warnings.size(), 1u);  // the malformed line is reported, not fatal
    EXPECT_NE(l.warnings[0].find(":6:"), std::string::npos);

    // Without a real AVA_LOG_LEVEL, .env supplies it.
    src.env = env_of({});
    EXPECT_EQ(load_config(src).cfg.logging.level, "warn");
}

TEST(Config, ApiKeyComesOnlyFromTheChosenVariable) {
    config_sources src;
    src.env = env_of({{"OPENAI_API_KEY", "openai-key-abcdef"},
                      {"MY_KEY", "mine-key-abcdef"},
                      {"AZURE_OPENAI_API_KEY", "azure-key-abcdef"}});
    EXPECT_EQ(load_config(src).cfg.provider.api_key, "openai-key-abcdef");
    src.flags = {{"provider.api_key_env", "MY_KEY", "flag --api-key-env"}};
    auto l = load_config(src);
    EXPECT_EQ(l.cfg.provider.api_key, "mine-key-abcdef");
    EXPECT_EQ(l.origins.at("provider.api_key"), "env MY_KEY");
    src.flags = {{"provider.name", "azure", "flag --provider"}};
    EXPECT_EQ(load_config(src).cfg.provider.api_key, "azure-key-abcdef");
    // Every key it saw is registered for redaction, used or not.
    for (const char* key : {"openai-key-abcdef", "mine-key-abcdef", "azure-key-abcdef"}) {
        EXPECT_EQ(ava::log::redact(std::string("x ") + key + " y").find(key), std::string::npos);
    }
}

TEST(Config, ProcessValuesThatAreNotKeysArePassedOn) {
    config_sources src;
    src.env = env_of({{"AVA_SAMPLES_DIR", "/opt/samples"},
                      {"http_proxy", "http://p:1"},
                      {"ALL_PROXY", "http://all:2"},
                      {"NO_PROXY", ""}});
    const auto l = load_config(src);
    EXPECT_EQ(l.cfg.environment.samples_dir, "/opt/samples");
    const std::map<std::string, std::string> proxies = {{"http_proxy", "http://p:1"},
                                                        {"ALL_PROXY", "http://all:2"}};
    EXPECT_EQ(l.cfg.environment.proxy_variables, proxies);  // empty values count as unset
    EXPECT_FALSE(load_config({}).cfg.environment.samples_dir);
}

TEST(Config, SecretsAreRedactedInPrintedConfig) {
    config_sources src;
    src.env = env_of({{"OPENAI_API_KEY", "printed-key-0123456789"},
                      {"HOME_ASSISTANT_TOKEN", "ha-token-0123456789"},
                      {"AVA_SMTP_PASSWORD", "smtp-pass-0123456789"}});
    const auto l = load_config(src);
    const std::string text = to_toml(l, true);
    for (const char* secret :
         {"printed-key-0123456789", "ha-token-0123456789", "smtp-pass-0123456789"}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << secret;
    }
    EXPECT_NE(text.find("token = \"[redacted]\"  # env HOME_ASSISTANT_TOKEN"), std::string::npos);
    EXPECT_NE(text.find("password = \"[redacted]\"  # env AVA_SMTP_PASSWORD"), std::string::npos);
    EXPECT_NE(text.find("# API key (OPENAI_API_KEY): [redacted]"), std::string::npos);
    const std::string unset = to_toml(load_config({}), true);
    EXPECT_NE(unset.find("# API key (OPENAI_API_KEY): (not set)"), std::string::npos);
    EXPECT_NE(unset.find("token = \"\"  # (not set) default"), std::string::npos);
}

TEST(Config, PrintedConfigLoadsBackToTheSameValues) {
    temp_dir dir;
    write_file(dir / "prompt.md", "Be brief.");
    write_file(dir / "c.toml", R"(
[provider]
name = "azure"
[azure]
endpoint = "https://res.openai.azure.com"
deployment = "rt"
[session]
voice = "cedar"
instructions_file = "prompt.md"
output_modality = "text"
noise_reduction = "far_field"
[vad]
type = "semantic"
eagerness = "high"
create_response = false
[audio]
frame_ms = 10
echo = "half_duplex"
[tools.weather]
enabled = true
units = "imperial"
[tools.email]
allowed_domains = ["example.com", "example.org"]
[tools.email.address_book]
alice = "alice@example.com"
"Bob Smith" = "bob@example.org"
[[tools.command]]
name = "disk_space"
description = "Free disk space"
argv = ["df", "-h", "/"]
timeout_ms = 2000
[[tools.command]]
name = "uptime"
parameters = '{"type":"object","properties":{"pretty":{"type":"boolean"}}}'
argv = ["uptime"]
)");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    const auto first = load_config(src);
    EXPECT_EQ(first.cfg.session.resolved_instructions, "Be brief.");
    EXPECT_EQ(first.cfg.session.instructions_file, (dir / "prompt.md").string());  // file-relative
    EXPECT_EQ(first.cfg.realtime_url(), "wss://res.openai.azure.com/openai/v1/realtime?model=rt");
    ASSERT_EQ(first.cfg.tools.commands.size(), 2u);
    EXPECT_EQ(first.cfg.tools.commands[0].timeout, 2000ms);
    EXPECT_EQ(first.cfg.tools.commands[1].argv, std::vector<std::string>{"uptime"});
    EXPECT_EQ(first.cfg.tools.email.address_book.at("Bob Smith"), "bob@example.org");

    write_file(dir / "printed.toml", to_toml(first, true));
    src.explicit_file = dir / "printed.toml";
    const auto second = load_config(src);
    EXPECT_EQ(to_toml(second, false), to_toml(first, false));
}

TEST(Config, ToolSettingsAreFilled) {
    temp_dir dir;
    write_file(dir / "cal.ics", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
    write_file(dir / "c.toml", R"(
[tools]
timeout_ms = 5000
[tools.http]
timeout_ms = 3000
max_response_bytes = 1000
[tools.calendar]
enabled = true
source = "cal.ics"
timezone = "Europe/Berlin"
[tools.lights]
enabled = true
base_url = "http://127.0.0.1:8123"
[tools.email]
enabled = true
smtp_url = "smtps://mail.example.com:465"
username = "me"
from = "Me <me@example.com>"
confirm = false
)");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    src.env = env_of({{"HOME_ASSISTANT_TOKEN", "ha-token-abcdef"}});
    const auto l = load_config(src);
    const auto& t = l.cfg.tools;
    EXPECT_EQ(t.default_timeout, 5000ms);
    EXPECT_EQ(t.http.timeout, 3000ms);
    EXPECT_EQ(t.http.max_response_bytes, 1000u);
    EXPECT_TRUE(t.calendar.enabled);
    EXPECT_EQ(t.calendar.source, (dir / "cal.ics").string());
    EXPECT_EQ(t.calendar.timezone, "Europe/Berlin");
    EXPECT_EQ(t.lights.base_url, "http://127.0.0.1:8123");
    EXPECT_EQ(t.lights.token, "ha-token-abcdef");
    EXPECT_EQ(t.email.smtp_url, "smtps://mail.example.com:465");
    EXPECT_FALSE(t.email.confirm);
    EXPECT_TRUE(t.email.require_tls);
}

TEST(Config, EndlessFilesAreRefusedWithALimit) {
    // /dev/zero given by mistake: a clear error at the size limit, not gigabytes read.
    config_sources src;
    src.explicit_file = "/dev/zero";
    try {
        load_config(src);
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("KiB limit"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("/dev/zero"), std::string::npos) << e.what();
    }
    config_sources flags;
    flags.flags = {{"session.instructions_file", "/dev/zero", "flag --instructions-file"}};
    try {
        load_config(flags);
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("session.instructions_file"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("KiB limit"), std::string::npos) << e.what();
    }
}

TEST(Config, ACaFileWithoutPemIsRefusedAtStart) {
    // #20 probe 16: a non-PEM --ca-file failed only at connect time (exit 1, not 2).
    temp_dir dir;
    write_file(dir / "ca.der", std::string("\x30\x82\x01\x0a binary", 11));
    write_file(dir / "ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    config_sources src;
    src.flags = {{"network.ca_file", (dir / "ca.der").string(), "flag --ca-file"}};
    try {
        load_config(src);
        FAIL() << "expected a config_error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("no PEM certificate"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("flag --ca-file"), std::string::npos) << e.what();
    }
    src.flags = {{"network.ca_file", (dir / "ca.pem").string(), "flag --ca-file"}};
    EXPECT_NO_THROW(load_config(src));
}

TEST(Config, InstructionsLaterLayerWins) {
    temp_dir dir;
    write_file(dir / "p.md", "From the file.");
    write_file(dir / "c.toml", "[session]\ninstructions = \"Inline.\"\n");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    EXPECT_EQ(load_config(src).cfg.session.resolved_instructions, "Inline.");
    src.flags = {
        {"session.instructions_file", (dir / "p.md").string(), "flag --instructions-file"}};
    const auto l = load_config(src);
    EXPECT_EQ(l.cfg.session.resolved_instructions, "From the file.");
    EXPECT_TRUE(l.cfg.session.instructions.empty());
    // Both in one file is a contradiction.
    EXPECT_NE(load_error(dir, "[session]\ninstructions = \"a\"\ninstructions_file = \"p.md\"\n")
                  .find("either session.instructions or session.instructions_file"),
              std::string::npos);
}

TEST(Config, WarningsForCustomVoiceAndInsecureTls) {
    config_sources src;
    src.flags = {{"session.voice", "my-voice", "flag --voice"},
                 {"network.insecure_skip_verify", "true", "flag --insecure-skip-verify"}};
    const auto l = load_config(src);
    EXPECT_EQ(l.cfg.session.voice, "my-voice");  // accepted
    ASSERT_EQ(l.warnings.size(), 2u);
    EXPECT_NE(l.warnings[0].find("my-voice"), std::string::npos);
    EXPECT_NE(l.warnings[1].find("CERTIFICATE VERIFICATION IS OFF"), std::string::npos);
}

// ---- bad input: one clear message naming the place ----------------------------------------------

TEST(ConfigErrors, MalformedTomlHasLineAndColumn) {
    temp_dir dir;
    const auto e = load_error(dir, "[vad]\nthreshold = 0.5\nsilence_duration_ms = = 3\n");
    EXPECT_EQ(e.rfind((dir / "c.toml").string() + ":3:", 0), 0u) << e;
    EXPECT_NE(e.find("malformed TOML"), std::string::npos) << e;
}

TEST(ConfigErrors, UnknownKeysAreNamedWithFileAndLine) {
    temp_dir dir;
    const auto e = load_error(dir, "[vad]\ntreshold = 0.3\n\n[colour]\nmode = 1\n");
    const std::string f = (dir / "c.toml").string();
    EXPECT_NE(e.find(f + ":2:1: unknown key 'vad.treshold' (did you mean 'vad.threshold'?)"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find(f + ":4:2: unknown key 'colour'"), std::string::npos) << e;
    EXPECT_LT(e.find("treshold"), e.find("colour"));  // in file order
    EXPECT_EQ(e.find('\n'), std::string::npos);       // one line
}

TEST(Config, AudioProcessingTableIsTheSameKeys) {
    temp_dir dir;
    write_file(dir / "c.toml",
               "[audio.processing]\necho = \"gate\"\nnoise = true\ngain = true\n"
               "high_pass = false\n");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    const auto c = load_config(src).cfg;
    EXPECT_EQ(c.audio.echo, ava::app::echo_mode::gate);
    EXPECT_TRUE(c.audio.noise);
    EXPECT_TRUE(c.audio.gain);
    EXPECT_FALSE(c.audio.high_pass);
    EXPECT_NE(load_error(dir, "[audio.processing]\necho = \"loud\"\n").find("loud"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[audio.processing]\nroom = \"on\"\n").find("unknown key"),
              std::string::npos);
}

TEST(ConfigErrors, WrongTypes) {
    temp_dir dir;
    EXPECT_NE(load_error(dir, "[vad]\nthreshold = \"high\"\n")
                  .find(":2:13: vad.threshold must be a number, not a string"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[headless]\nfast = 1\n")
                  .find("headless.fast must be true or false, not an integer"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[vad]\nsilence_duration_ms = 0.5\n")
                  .find("vad.silence_duration_ms must be an integer, not a number"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "vad = 3\n").find("'vad' must be a table"), std::string::npos);
    EXPECT_NE(load_error(dir, "[tools.email]\nallowed_domains = [1]\n")
                  .find("must be an array of strings"),
              std::string::npos);
}

TEST(ConfigErrors, OutOfRangeAndUnknownValues) {
    temp_dir dir;
    EXPECT_NE(load_error(dir, "[vad]\nthreshold = 1.5\n").find("between 0.0 and 1.0, got 1.5"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[vad]\nprefix_padding_ms = -1\n").find("must not be negative"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[vad]\ntype = \"loud\"\n")
                  .find("vad.type has an unknown value 'loud' (use server, semantic, manual)"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[session]\nspeed = 3.0\n").find("session.speed must be between"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[provider]\nendpoint = \"https://x\"\n").find("ws://, wss://"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[reconnect]\ninitial_backoff_ms = 9000\nmax_backoff_ms = 100\n")
                  .find("larger than reconnect.max_backoff_ms"),
              std::string::npos);
    // "none" is accepted for manual turns.
    EXPECT_EQ(load_error(dir, "[vad]\ntype = \"none\"\n"), "");
}

TEST(ConfigErrors, FlagsAndEnvironmentNameTheirSource) {
    config_sources src;
    src.flags = {{"vad.threshold", "2", "flag --threshold"}};
    try {
        load_config(src);
        FAIL() << "no error";
    } catch (const config_error& e) {
        EXPECT_STREQ(e.what(),
                     "flag --threshold: vad.threshold must be between 0.0 and 1.0, got 2.0");
    }
    src.flags = {{"vad.silence_duration_ms", "abc", "flag --silence-ms"}};
    EXPECT_THROW(load_config(src), config_error);
    src.flags = {{"vad.treshold", "0.3", "flag --set vad.treshold"}};
    EXPECT_THROW(load_config(src), config_error);
    src.flags = {};
    src.env = env_of({{"AVA_LOG_LEVEL", "loud"}});
    try {
        load_config(src);
        FAIL() << "no error";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("env AVA_LOG_LEVEL: logging.level", 0), 0u);
    }
}

TEST(ConfigErrors, UnreadableAndMissingFiles) {
    temp_dir dir;
    std::filesystem::create_directories(dir / "adir");
    config_sources src;
    src.explicit_file = dir / "adir";
    try {
        load_config(src);
        FAIL() << "no error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos);
    }
    EXPECT_NE(
        load_error(dir, "[session]\ninstructions_file = \"missing.md\"\n")
            .find("cannot read '" + (dir / "missing.md").string() + "': No such file or directory"),
        std::string::npos);
    EXPECT_NE(load_error(dir, "[headless]\noutput_wav = \"no/such/dir/out.wav\"\n")
                  .find("does not exist"),
              std::string::npos);
}

TEST(ConfigErrors, KeysAreNeverReadFromFiles) {
    temp_dir dir;
    EXPECT_NE(load_error(dir, "[provider]\napi_key = \"sk-123\"\n").find("not read from config"),
              std::string::npos);
}

TEST(ConfigErrors, CommandToolsAreChecked) {
    temp_dir dir;
    EXPECT_NE(
        load_error(dir, "[[tools.command]]\nname = \"x\"\n").find("needs at least name and argv"),
        std::string::npos);
    EXPECT_NE(load_error(dir,
                         "[[tools.command]]\nname = \"x\"\nargv = [\"true\"]\n"
                         "parameters = \"{not json\"\n")
                  .find("tools.command.parameters must be a JSON Schema object"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[[tools.command]]\nname = \"x\"\nargv = [\"true\"]\nshell = 1\n")
                  .find("unknown key 'tools.command.shell'"),
              std::string::npos);
    EXPECT_NE(load_error(dir,
                         "[[tools.command]]\nname = \"x\"\nargv = [\"a\"]\n"
                         "[[tools.command]]\nname = \"x\"\nargv = [\"b\"]\n")
                  .find("defined twice"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[tools.email.address_book]\nbob = \"not-an-address\"\n")
                  .find("is not an e-mail address"),
              std::string::npos);
}

}  // namespace

// ---- #19: MCP servers, approval, tools that turn on when configured --------------------------

TEST(Config, McpServersAreReadWithEveryFieldAndNamedErrors) {
    temp_dir dir;
    write_file(dir / "c.toml", R"(
[tools]
require_approval = ["control_lights"]
approval = "voice"
approval_timeout_ms = 5000
filler_after_ms = 0
[[tools.mcp]]
name = "files"
command = ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/tmp"]
env = { FS_TOKEN = "tok-abcdef-123" }
cwd = "work"
allow = ["read_text_file", "list_directory"]
deny = ["write_file"]
require_approval = false
timeout_ms = 5000
start_timeout_ms = 8000
[[tools.mcp]]
name = "git"
command = ["uvx", "mcp-server-git"]
enabled = false
)");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    const auto l = load_config(src);
    const auto& t = l.cfg.tools;
    EXPECT_EQ(t.require_approval, (std::vector<std::string>{"control_lights"}));
    EXPECT_EQ(t.approval, ava::tools::approval_mode::voice);
    EXPECT_EQ(t.approval_timeout, 5000ms);
    EXPECT_EQ(t.filler_after, 0ms);
    ASSERT_EQ(t.mcp.size(), 2u);
    const auto& f = t.mcp[0];
    EXPECT_EQ(f.name, "files");
    EXPECT_EQ(f.command.size(), 4u);
    EXPECT_EQ(f.env.at("FS_TOKEN"), "tok-abcdef-123");
    EXPECT_EQ(f.cwd, (dir / "work").string());  // relative to the file
    EXPECT_EQ(f.allow.size(), 2u);
    EXPECT_EQ(f.deny, (std::vector<std::string>{"write_file"}));
    EXPECT_EQ(f.require_approval, std::optional<bool>(false));
    EXPECT_EQ(f.timeout, 5000ms);
    EXPECT_EQ(f.start_timeout, 8000ms);
    EXPECT_TRUE(f.enabled);
    EXPECT_FALSE(t.mcp[1].enabled);
    EXPECT_FALSE(t.mcp[1].require_approval.has_value());
    // --print-config shows the entries but never the env values.
    const std::string printed = to_toml(l, false);
    EXPECT_NE(printed.find("[[tools.mcp]]\nname = \"files\""), std::string::npos) << printed;
    EXPECT_EQ(printed.find("tok-abcdef-123"), std::string::npos);

    EXPECT_NE(load_error(dir, "[[tools.mcp]]\nname = \"x\"\n")
                  .find("a [[tools.mcp]] needs at least name and command"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[[tools.mcp]]\nname = \"x\"\ncommand = \"npx server\"\n")
                  .find("tools.mcp.command must be an array of strings"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[[tools.mcp]]\nname = \"a b\"\ncommand = [\"x\"]\n")
                  .find("tools.mcp.name must be 1-32 letters"),
              std::string::npos);
    EXPECT_NE(load_error(dir,
                         "[[tools.mcp]]\nname = \"x\"\ncommand = [\"x\"]\n"
                         "[[tools.mcp]]\nname = \"x\"\ncommand = [\"y\"]\n")
                  .find("named 'x' is defined twice"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[[tools.mcp]]\nname = \"x\"\ncommand = [\"x\"]\nshell = true\n")
                  .find("unknown key 'tools.mcp.shell'"),
              std::string::npos);
    EXPECT_NE(load_error(dir, "[tools]\napproval = \"maybe\"\n").find("tools.approval"),
              std::string::npos);
}

TEST(Config, AToolWhoseServiceIsConfiguredIsOnUnlessTurnedOff) {
    temp_dir dir;
    write_file(dir / "cal.ics", "BEGIN:VCALENDAR\nEND:VCALENDAR\n");
    write_file(dir / "c.toml", R"(
[tools.calendar]
source = "cal.ics"
[tools.lights]
base_url = "http://127.0.0.1:8123"
enabled = false
)");
    config_sources src;
    src.explicit_file = dir / "c.toml";
    const auto t = load_config(src).cfg.tools;
    EXPECT_TRUE(t.calendar.enabled);
    EXPECT_FALSE(t.lights.enabled);  // said so explicitly
    EXPECT_FALSE(t.email.enabled);   // nothing configured
    EXPECT_TRUE(t.weather.enabled);  // needs no key: on by default
}
