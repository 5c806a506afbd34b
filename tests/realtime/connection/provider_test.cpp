// Endpoint building per provider, URL parsing, proxy selection and close classification.
// Pure functions: no sockets here (connection_test.cpp has those).
#include "ava/realtime/provider.hpp"

#include <gtest/gtest.h>

#include <map>

#include "ava/core/error.hpp"
#include "ava/realtime/connection.hpp"

namespace ava::realtime {
namespace {

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        if (auto it = vars.find(std::string(name)); it != vars.end()) return it->second;
        return std::nullopt;
    };
}

std::string header(const endpoint& ep, const std::string& name) {
    for (const auto& [n, v] : ep.headers) {
        if (n == name) return v;
    }
    return "(absent)";
}

TEST(ParseUrl, SplitsSchemeHostPortTarget) {
    const url_parts u = parse_url("wss://API.Example.com:8443/v1/realtime?model=x");
    EXPECT_EQ(u.scheme, "wss");
    EXPECT_EQ(u.host, "api.example.com");
    EXPECT_EQ(u.port, 8443);
    EXPECT_EQ(u.target, "/v1/realtime?model=x");
    EXPECT_TRUE(u.tls());
    EXPECT_EQ(u.str(), "wss://api.example.com:8443/v1/realtime?model=x");
}

TEST(ParseUrl, DefaultsPortAndTarget) {
    EXPECT_EQ(parse_url("wss://h").port, 443);
    EXPECT_EQ(parse_url("ws://h").port, 80);
    EXPECT_EQ(parse_url("https://h").target, "/");
    EXPECT_EQ(parse_url("ws://h?a=1").target, "/?a=1");
    EXPECT_EQ(parse_url("ws://h/p#frag").target, "/p");
}

TEST(ParseUrl, Ipv6AndUserinfo) {
    const url_parts u = parse_url("http://us%40er:p%3Ass@[::1]:3128");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 3128);
    EXPECT_EQ(u.user, "us@er");
    EXPECT_EQ(u.password, "p:ss");
    EXPECT_EQ(u.host_port(), "[::1]:3128");
    EXPECT_EQ(u.str(), "http://[::1]:3128/");  // no userinfo when printed
}

TEST(ParseUrl, BadUrlsAreClearErrors) {
    for (const char* bad :
         {"", "api.openai.com/v1", "ftp://h/", "wss://", "wss://:443/", "wss://h:0/",
          "wss://h:70000/", "wss://h:12ab/", "wss://[::1/", "wss://bad host/", "wss://h/a b"}) {
        EXPECT_THROW(parse_url(bad), config_error) << bad;
    }
    try {
        parse_url("http://user:hunter22@h:99999");
        FAIL();
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()).find("hunter22"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("port"), std::string::npos);
    }
}

TEST(ParseUrl, Loopback) {
    EXPECT_TRUE(is_loopback_host("localhost"));
    EXPECT_TRUE(is_loopback_host("LOCALHOST"));
    EXPECT_TRUE(is_loopback_host("sim.localhost"));
    EXPECT_TRUE(is_loopback_host("127.0.0.1"));
    EXPECT_TRUE(is_loopback_host("127.5.6.7"));
    EXPECT_TRUE(is_loopback_host("::1"));
    EXPECT_FALSE(is_loopback_host("128.0.0.1"));
    EXPECT_FALSE(is_loopback_host("localhost.example.com"));
    EXPECT_FALSE(is_loopback_host("api.openai.com"));
}

TEST(Provider, OpenAiDefault) {
    const endpoint ep =
        build_endpoint({}, env_of({{"OPENAI_API_KEY", "sk-test-openai-0123456789"}}));
    EXPECT_EQ(ep.provider, "openai");
    EXPECT_EQ(ep.protocol, wire_protocol::openai_ga);
    EXPECT_EQ(ep.url.str(), "wss://api.openai.com/v1/realtime?model=gpt-realtime");
    EXPECT_EQ(header(ep, "Authorization"), "Bearer sk-test-openai-0123456789");
    EXPECT_EQ(header(ep, "OpenAI-Beta"), "(absent)");  // GA only
}

TEST(Provider, OpenAiBaseUrlFromEnvAndSettings) {
    provider_settings s;
    s.model = "gpt-realtime-mini";
    const endpoint from_env = build_endpoint(
        s, env_of({{"OPENAI_API_KEY", "k-1234"}, {"OPENAI_BASE_URL", "https://gw.corp:8443/v1/"}}));
    EXPECT_EQ(from_env.url.str(), "wss://gw.corp:8443/v1/realtime?model=gpt-realtime-mini");
    s.base_url = "http://127.0.0.1:9000/v1";
    s.api_key = "k-5678";
    const endpoint local = build_endpoint(s, env_of({}));
    EXPECT_EQ(local.url.str(), "ws://127.0.0.1:9000/v1/realtime?model=gpt-realtime-mini");
    EXPECT_EQ(header(local, "Authorization"), "Bearer k-5678");
}

TEST(Provider, MissingKeyNamesTheVariable) {
    try {
        build_endpoint({}, env_of({}));
        FAIL();
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("OPENAI_API_KEY"), std::string::npos);
    }
}

TEST(Provider, AzureGa) {
    provider_settings s;
    s.provider = "azure";
    const endpoint ep =
        build_endpoint(s, env_of({{"AZURE_OPENAI_API_KEY", "azkey-123456"},
                                  {"AZURE_OPENAI_ENDPOINT", "https://myres.openai.azure.com/"},
                                  {"AZURE_OPENAI_DEPLOYMENT", "my-rt"}}));
    EXPECT_EQ(ep.url.str(), "wss://myres.openai.azure.com/openai/v1/realtime?model=my-rt");
    EXPECT_EQ(header(ep, "api-key"), "azkey-123456");
    EXPECT_EQ(header(ep, "Authorization"), "(absent)");

    s.azure_endpoint = "otherres";  // a bare resource name
    s.deployment = "dep 1";         // encoded in the query
    s.api_key = "azkey-7890";
    const endpoint bare = build_endpoint(s, env_of({}));
    EXPECT_EQ(bare.url.str(), "wss://otherres.openai.azure.com/openai/v1/realtime?model=dep%201");

    s.azure_endpoint.clear();
    EXPECT_THROW(build_endpoint(s, env_of({})), config_error);  // no endpoint anywhere
}

TEST(Provider, CustomEndpointVerbatim) {
    provider_settings s;
    s.endpoint_url = "wss://rt.example.net:9443/custom/path?model=x&tenant=7";
    const endpoint ep = build_endpoint(s, env_of({}));
    EXPECT_EQ(ep.provider, "custom");
    EXPECT_EQ(ep.url.str(), "wss://rt.example.net:9443/custom/path?model=x&tenant=7");
    EXPECT_TRUE(ep.headers.empty());  // no key: a local server may need none
    s.endpoint_url = "https://rt.example.net/x";
    s.api_key = "custom-key-1";
    const endpoint mapped = build_endpoint(s, env_of({}));
    EXPECT_EQ(mapped.url.str(), "wss://rt.example.net/x");
    EXPECT_EQ(header(mapped, "Authorization"), "Bearer custom-key-1");
    s.endpoint_url = "gopher://x";
    EXPECT_THROW(build_endpoint(s, env_of({})), config_error);
}

TEST(Provider, GeminiAndUnknown) {
    provider_settings s;
    s.provider = "gemini";
    const endpoint ep = build_endpoint(s, env_of({{"GEMINI_API_KEY", "AIza-test-key"}}));
    EXPECT_EQ(ep.protocol, wire_protocol::gemini);
    EXPECT_EQ(ep.url.host, "generativelanguage.googleapis.com");
    EXPECT_EQ(header(ep, "x-goog-api-key"), "AIza-test-key");
    s.provider = "nope";
    EXPECT_THROW(build_endpoint(s, env_of({})), config_error);
}

TEST(Provider, ListShowsConfiguredButNeverKeys) {
    const auto list = list_providers(env_of({{"OPENAI_API_KEY", "sk-secret-list-0123456789"},
                                             {"AZURE_OPENAI_API_KEY", "az-secret-list"}}));
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].name, "openai");
    EXPECT_TRUE(list[0].configured);
    EXPECT_EQ(list[1].name, "azure");
    EXPECT_FALSE(list[1].configured);  // key but no endpoint
    EXPECT_EQ(list[2].name, "gemini");
    EXPECT_FALSE(list[2].configured);
    for (const auto& p : list) {
        for (const std::string& field : {p.name, p.description, p.key_env, p.url}) {
            EXPECT_EQ(field.find("secret"), std::string::npos) << field;
        }
    }
}

TEST(Proxy, NoProxyMatching) {
    EXPECT_TRUE(no_proxy_matches("*", "api.openai.com", 443));
    EXPECT_TRUE(no_proxy_matches("openai.com", "api.openai.com", 443));
    EXPECT_TRUE(no_proxy_matches("openai.com", "openai.com", 443));
    EXPECT_TRUE(no_proxy_matches(".openai.com", "api.openai.com", 443));
    EXPECT_TRUE(no_proxy_matches("*.openai.com", "api.openai.com", 443));
    EXPECT_FALSE(no_proxy_matches("openai.com", "notopenai.com", 443));
    EXPECT_TRUE(no_proxy_matches("localhost, 127.0.0.1", "127.0.0.1", 1));
    EXPECT_TRUE(no_proxy_matches("10.0.0.0/8", "10.2.3.4", 443));
    EXPECT_FALSE(no_proxy_matches("10.0.0.0/8", "11.2.3.4", 443));
    EXPECT_TRUE(no_proxy_matches("example.com:8443", "example.com", 8443));
    EXPECT_FALSE(no_proxy_matches("example.com:8443", "example.com", 443));
    EXPECT_FALSE(no_proxy_matches("", "example.com", 443));
}

TEST(Proxy, SelectionFromEnvironment) {
    const url_parts target = parse_url("wss://api.openai.com/v1/realtime");
    connection_options o;
    o.env = env_of({{"HTTPS_PROXY", "http://bob:s3cr3t-pw@proxy.corp:3128"}});
    auto p = select_proxy(target, o);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->host_port(), "proxy.corp:3128");
    EXPECT_EQ(p->user, "bob");
    EXPECT_EQ(p->password, "s3cr3t-pw");
    // Lower case wins, as in curl; NO_PROXY bypasses.
    o.env = env_of({{"https_proxy", "proxy.low:8080"}, {"HTTPS_PROXY", "http://proxy.up:1"}});
    EXPECT_EQ(select_proxy(target, o)->host_port(), "proxy.low:8080");
    o.env = env_of({{"HTTPS_PROXY", "http://p:1"}, {"NO_PROXY", "openai.com"}});
    EXPECT_FALSE(select_proxy(target, o));
    // Explicit settings beat the environment; "" means none.
    o.proxy = "";
    EXPECT_FALSE(select_proxy(target, o));
    o.env = env_of({});
    o.proxy = "https://tls-proxy:443";
    EXPECT_THROW(select_proxy(target, o), config_error);
    // ws:// uses http_proxy.
    o.proxy.reset();
    o.env = env_of({{"HTTPS_PROXY", "http://a:1"}, {"http_proxy", "http://b:2"}});
    EXPECT_EQ(select_proxy(parse_url("ws://h/"), o)->host, "b");
}

TEST(Classify, CloseCodesAndStatuses) {
    EXPECT_EQ(classify_close_code(1000), close_class::normal);
    for (int c : {1001, 1005, 1006, 1011, 1012, 1013}) {
        EXPECT_EQ(classify_close_code(c), close_class::recoverable) << c;
    }
    for (int c : {1002, 1008, 4000}) EXPECT_EQ(classify_close_code(c), close_class::fatal) << c;
    for (int s : {401, 403, 404, 400}) EXPECT_EQ(classify_http_status(s), close_class::fatal) << s;
    for (int s : {429, 500, 502, 503}) {
        EXPECT_EQ(classify_http_status(s), close_class::recoverable) << s;
    }
}

}  // namespace
}  // namespace ava::realtime
