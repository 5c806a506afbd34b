// The one HTTP client every tool uses: libcurl, TLS always verified (system store plus an
// optional extra CA), proxy-aware, bounded in time and size, with errors a person understands.
//
// Proxies: unless http_settings::proxy is set, libcurl reads https_proxy/HTTPS_PROXY,
// http_proxy and no_proxy/NO_PROXY from the environment by itself; we never set CURLOPT_PROXY
// or CURLOPT_NOPROXY otherwise, so that stays true. (libcurl ignores upper-case HTTP_PROXY on
// purpose, the "httpoxy" rule.)
//
// Threads: a client is immutable after construction; request() may run on many threads at once
// (each request uses its own curl handle). It blocks: call it from tool worker threads only.
#pragma once

#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ava/tools/settings.hpp"

namespace ava::tools {

struct http_request {
    std::string method = "GET";                                ///< GET, POST, PUT, DELETE...
    std::string url;                                           ///< http:// or https:// only
    std::vector<std::pair<std::string, std::string>> headers;  ///< e.g. {"Authorization", ...}
    std::string body;          ///< sent when not empty (or when method is POST/PUT)
    std::string service_name;  ///< for messages: "Home Assistant", "Open-Meteo"...
};

struct http_response {
    long status = 0;
    std::string body;
    std::string content_type;
};

class http_client {
  public:
    explicit http_client(http_settings settings = {});

    /// Performs `req`. Returns 2xx/3xx answers. Throws ava::tools::tool_error, whose message
    /// names the service and the cause: connection refused, name not resolved, timed out, TLS
    /// failure, answer too large, HTTP 401/403 (credentials), any other HTTP >= 400, or
    /// cancelled (stop requested). URLs in messages show scheme, host and port only: calendar
    /// and webhook URLs often carry secrets in their path or query.
    [[nodiscard]] http_response request(const http_request& req, std::stop_token stop = {}) const;

    [[nodiscard]] const http_settings& settings() const { return settings_; }

  private:
    http_settings settings_;
};

/// "scheme://host:port" of `url`, for messages that must not leak paths or queries.
std::string url_origin(std::string_view url);

}  // namespace ava::tools
