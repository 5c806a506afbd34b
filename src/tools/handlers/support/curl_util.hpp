// libcurl plumbing shared by the HTTP client and the email tool (internal to ava_tools).
#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "ava/tools/settings.hpp"

namespace ava::tools::detail {

struct curl_deleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
using curl_ptr = std::unique_ptr<CURL, curl_deleter>;

struct slist_deleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using slist_ptr = std::unique_ptr<curl_slist, slist_deleter>;

/// A new easy handle; curl_global_init runs once, thread-safely. Throws tool_error on failure.
curl_ptr make_curl();

/// Peer and host verification on (never turned off), the system CA store, plus
/// `settings.ca_file` added to it (not replacing it) when set, and the explicit proxy if any.
/// `ca_file` must outlive the transfer (it is read inside curl's SSL context callback).
void apply_tls_and_proxy(CURL* curl, const http_settings& settings);

/// The message for a failed transfer: "<service> at <origin>: connection refused" and so on.
std::string describe_curl_error(CURLcode code, const char* errbuf, std::string_view service,
                                std::string_view origin, std::chrono::milliseconds timeout);

/// Installs a progress callback that aborts the transfer once `stop` is requested.
void abort_on_stop(CURL* curl, const std::stop_token* stop);

}  // namespace ava::tools::detail
