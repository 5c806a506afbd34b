// libcurl-based HTTP client for the tools, and the curl plumbing the email tool shares.
#include "support/http_client.hpp"

#include <mutex>
#include <string>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ava/tools/tool.hpp"
#include "support/curl_util.hpp"
#include "support/http_json.hpp"

namespace ava::tools {
namespace detail {
namespace {

std::string seconds(std::chrono::milliseconds ms) {
    const auto tenths = (ms.count() + 50) / 100;
    return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") +
           " s";
}

// Runs inside curl's TLS setup: adds the configured CA to the store curl already loaded from
// the system bundle, so a private CA never replaces the public ones.
CURLcode add_ca_to_store(CURL*, void* ssl_ctx, void* user) {
    const auto* ca_file = static_cast<const std::string*>(user);
    X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
    if (store == nullptr || X509_STORE_load_locations(store, ca_file->c_str(), nullptr) != 1) {
        return CURLE_SSL_CACERT_BADFILE;
    }
    return CURLE_OK;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* stop = static_cast<const std::stop_token*>(user);
    return stop->stop_requested() ? 1 : 0;
}

}  // namespace

curl_ptr make_curl() {
    static std::once_flag once;
    static CURLcode init_result = CURLE_OK;
    std::call_once(once, [] { init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
    // curl_easy_strerror names the cause, also when libcurl itself could not be loaded
    // (curl_shim.cpp: then it returns the loader's line, e.g. which package to install).
    if (init_result != CURLE_OK) {
        throw tool_error(std::string("libcurl could not be initialised: ") +
                         curl_easy_strerror(init_result));
    }
    curl_ptr c(curl_easy_init());
    if (!c) throw tool_error("libcurl could not create a transfer");
    return c;
}

void apply_tls_and_proxy(CURL* curl, const http_settings& settings) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!settings.ca_file.empty()) {
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, &add_ca_to_store);
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &settings.ca_file);
    }
    // Only an explicit proxy is set; otherwise libcurl's own environment handling applies.
    if (!settings.proxy.empty()) curl_easy_setopt(curl, CURLOPT_PROXY, settings.proxy.c_str());
}

void abort_on_stop(CURL* curl, const std::stop_token* stop) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, stop);
}

std::string describe_curl_error(CURLcode code, const char* errbuf, std::string_view service,
                                std::string_view origin, std::chrono::milliseconds timeout) {
    const std::string who = std::string(service) + " at " + std::string(origin);
    switch (code) {
        case CURLE_COULDNT_CONNECT:
            return "cannot reach " + who + ": connection refused or unreachable";
        case CURLE_COULDNT_RESOLVE_HOST:
            return "cannot reach " + who + ": the host name does not resolve";
        case CURLE_COULDNT_RESOLVE_PROXY:
            return "cannot reach " + who + ": proxy not found";
        case CURLE_OPERATION_TIMEDOUT:
            return who + " did not answer within " + seconds(timeout);
        case CURLE_ABORTED_BY_CALLBACK:
            return "request to " + who + " was cancelled";
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
            return "TLS failure talking to " + who + ": " +
                   (errbuf != nullptr && *errbuf != '\0' ? errbuf : curl_easy_strerror(code));
        case CURLE_LOGIN_DENIED:
            return who + " refused the user name or password";
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
            return "connection to " + who + " broke off";
        default:
            return who + ": " +
                   (errbuf != nullptr && *errbuf != '\0' ? errbuf : curl_easy_strerror(code));
    }
}

nlohmann::json parse_json_answer(const http_response& r, std::string_view service) {
    auto j = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        throw tool_error(std::string(service) + " sent a malformed answer (not JSON)");
    }
    return j;
}

}  // namespace detail

namespace {

struct body_sink {
    std::string data;
    std::size_t limit = 0;
    bool too_big = false;
};

std::size_t on_body(char* ptr, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<body_sink*>(user);
    const std::size_t bytes = size * n;
    if (sink->data.size() + bytes > sink->limit) {
        sink->too_big = true;
        return 0;  // makes curl fail with CURLE_WRITE_ERROR
    }
    sink->data.append(ptr, bytes);
    return bytes;
}

}  // namespace

http_client::http_client(http_settings settings) : settings_(std::move(settings)) {}

http_response http_client::request(const http_request& req, std::stop_token stop) const {
    const std::string origin = url_origin(req.url);
    const std::string service = req.service_name.empty() ? "the server" : req.service_name;
    if (req.url.rfind("http://", 0) != 0 && req.url.rfind("https://", 0) != 0) {
        throw tool_error(service + ": only http:// and https:// URLs are supported, not '" +
                         origin + "'");
    }
    detail::curl_ptr curl = detail::make_curl();
    CURL* c = curl.get();
    char errbuf[CURL_ERROR_SIZE] = {};
    body_sink sink{.limit = settings_.max_response_bytes};

    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we are on worker threads
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "ava-voice/0.1");
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever curl can decode
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    detail::apply_tls_and_proxy(c, settings_);
    detail::abort_on_stop(c, &stop);

    if (req.method == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    detail::slist_ptr headers;
    for (const auto& [k, v] : req.headers) {
        const std::string line = k + ": " + v;
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (next == nullptr) throw tool_error("out of memory building a request");
        static_cast<void>(headers.release());
        headers.reset(next);
    }
    if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        if (sink.too_big) {
            throw tool_error(service + "'s answer is larger than the limit of " +
                             std::to_string(settings_.max_response_bytes) + " bytes");
        }
        throw tool_error(
            detail::describe_curl_error(rc, errbuf, service, origin, settings_.timeout));
    }
    http_response resp;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    const char* ct = nullptr;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
        resp.content_type = ct;
    }
    resp.body = std::move(sink.data);
    if (resp.status == 401 || resp.status == 403) {
        throw tool_error(service + " at " + origin + " refused the credentials (HTTP " +
                         std::to_string(resp.status) + "); check the token or password");
    }
    if (resp.status >= 400) {
        std::string excerpt = resp.body.substr(0, 200);
        for (char& ch : excerpt) {
            if (ch == '\n' || ch == '\r') ch = ' ';
        }
        throw tool_error(service + " at " + origin + " answered HTTP " +
                         std::to_string(resp.status) + (excerpt.empty() ? "" : ": " + excerpt));
    }
    return resp;
}

std::string url_origin(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return "(not a URL)";
    auto rest = url.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    return std::string(url.substr(0, scheme_end + 3)) + std::string(rest);
}

}  // namespace ava::tools
