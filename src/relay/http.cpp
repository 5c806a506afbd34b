// One HTTP connection of the relay (relay_detail.hpp): the routes of docs/relay.md and the
// checks in front of them (Host on a loopback server, Origin, token, session limit, sizes).
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ava/core/text.hpp"
#include "protocol.hpp"
#include "relay_detail.hpp"

namespace ava::relay::detail {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using response = http::response<http::string_body>;

constexpr std::size_t max_request_body = 64 * 1024;
constexpr std::size_t max_request_header = 16 * 1024;
constexpr auto request_timeout = std::chrono::seconds(30);
constexpr auto stream_token_life = std::chrono::seconds(60);
constexpr std::size_t max_stream_tokens = 1024;

/// Splits "/path?query" and decodes one query parameter (percent-decoding, + as space).
struct target {
    std::string path;
    std::string query;
};
target split_target(std::string_view t) {
    const auto q = t.find('?');
    if (q == std::string_view::npos) return {std::string(t), {}};
    return {std::string(t.substr(0, q)), std::string(t.substr(q + 1))};
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != name) continue;
        const std::string_view raw =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        std::string out;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                out += ' ';
            } else if (raw[i] == '%' && i + 2 < raw.size() &&
                       std::isxdigit(static_cast<unsigned char>(raw[i + 1])) != 0 &&
                       std::isxdigit(static_cast<unsigned char>(raw[i + 2])) != 0) {
                out += static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16));
                i += 2;
            } else {
                out += raw[i];
            }
        }
        return out;
    }
    return std::nullopt;
}

/// "host:port", "[::1]:port" or "host" -> the host part.
std::string host_part(std::string_view hostport) {
    if (!hostport.empty() && hostport.front() == '[') {
        const auto end = hostport.find(']');
        return std::string(hostport.substr(1, end == std::string_view::npos ? end : end - 1));
    }
    return std::string(hostport.substr(0, hostport.find(':')));
}

bool same_secret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string bearer(const request& req) {
    const auto it = req.find(http::field::authorization);
    if (it == req.end()) return {};
    const std::string_view v = it->value();
    constexpr std::string_view prefix = "Bearer ";
    if (v.size() <= prefix.size() || core::ascii_lower(v.substr(0, prefix.size())) != "bearer ")
        return {};
    return std::string(v.substr(prefix.size()));
}

const char* content_type(const fs::path& p) {
    const std::string ext = core::ascii_lower(p.extension().string());
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json") return "application/json";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".wav") return "audio/wav";
    return "application/octet-stream";
}

/// A file name the console may serve: one path segment of plain characters.
bool plain_name(std::string_view n) {
    if (n.empty() || n.size() > 100 || n.front() == '.') return false;
    return std::all_of(n.begin(), n.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_';
    });
}

template <class Stream>
class http_conn final : public std::enable_shared_from_this<http_conn<Stream>> {
  public:
    http_conn(shared& sh, Stream s) : sh_(sh), stream_(std::move(s)) {}

    void run() { read(); }

  private:
    void read() {
        parser_.emplace();
        parser_->body_limit(max_request_body);
        parser_->header_limit(max_request_header);
        beast::get_lowest_layer(stream_).expires_after(request_timeout);
        http::async_read(stream_, buf_, *parser_,
                         [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                             self->on_read(ec);
                         });
    }

    void on_read(beast::error_code ec) {
        if (ec == http::error::end_of_stream) return close();
        if (ec) {
            if (ec == http::error::body_limit || ec == http::error::header_limit) {
                return send(
                    error(http::status::payload_too_large, "too_large", "the request is too large"),
                    false);
            }
            return;  // a timeout or a reset: nothing to answer
        }
        request req = parser_->release();
        route(std::move(req));
    }

    response error(http::status st, std::string_view code, std::string_view message) {
        response r{st, 11};
        r.set(http::field::content_type, "application/json");
        r.body() = json{{"error", {{"code", code}, {"message", message}}}}.dump();
        return r;
    }

    response json_response(const json& j) {
        response r{http::status::ok, 11};
        r.set(http::field::content_type, "application/json");
        r.set(http::field::cache_control, "no-store");
        r.body() = j.dump();
        return r;
    }

    /// The origin this server has as the browser sees it (scheme and the Host header).
    std::string own_origin(const request& req) const {
        const auto host = req.find(http::field::host);
        return std::string(sh_.tls ? "https://" : "http://") +
               core::ascii_lower(host == req.end() ? std::string_view{} : host->value());
    }

    /// The request's Origin is allowed (none: not a browser page, so allowed).
    bool origin_ok(const request& req) const {
        const auto it = req.find(http::field::origin);
        if (it == req.end()) return true;
        const std::string origin = core::ascii_lower(it->value());
        if (origin == own_origin(req)) return true;
        return std::any_of(sh_.opts.allowed_origins.begin(), sh_.opts.allowed_origins.end(),
                           [&](const std::string& a) { return core::ascii_lower(a) == origin; });
    }

    /// A loopback server answers only to a loopback Host: a page on another site that rebinds
    /// its name to 127.0.0.1 sends its own name as Host (and as Origin, which then matches).
    bool host_ok(const request& req) const {
        if (!sh_.loopback) return true;
        const auto it = req.find(http::field::host);
        if (it == req.end()) return false;
        return is_loopback_host(host_part(it->value()));
    }

    bool server_token_ok(const request& req, std::string_view query) const {
        if (sh_.opts.token.empty()) return true;
        if (same_secret(bearer(req), sh_.opts.token)) return true;
        const auto t = query_param(query, "token");
        return t && same_secret(*t, sh_.opts.token);
    }

    /// The upgrade's token: the server's, or a one-time stream token (used up here).
    bool stream_token_ok(const request& req, std::string_view query) {
        if (server_token_ok(req, query)) return true;
        const auto t = query_param(query, "token");
        if (!t) return false;
        const auto now = clock::now();
        std::erase_if(sh_.stream_tokens, [&](const auto& kv) { return kv.second < now; });
        const auto it = sh_.stream_tokens.find(*t);
        if (it == sh_.stream_tokens.end()) return false;
        sh_.stream_tokens.erase(it);
        return true;
    }

    void refuse(http::status st, std::string_view code, std::string_view message) {
        sh_.m.refused.fetch_add(1);
        sh_.log->info("relay: refused a request: {} ({})", message, code);
        send(error(st, code, message), false);
    }

    void route(request req) {
        const target t = split_target(req.target());
        if (!host_ok(req)) {
            return refuse(http::status::forbidden, "host",
                          "this server listens on the loopback and answers only to a loopback "
                          "Host");
        }
        const bool keep = req.keep_alive();
        if (t.path == "/realtime/stream") return upgrade(std::move(req), t);
        if (t.path == "/realtime/session/start") {
            if (req.method() != http::verb::post) {
                return send(error(http::status::method_not_allowed, "method", "use POST"), keep);
            }
            if (!origin_ok(req)) {
                return refuse(http::status::forbidden, "origin", "this origin is not allowed");
            }
            if (!server_token_ok(req, t.query)) {
                return refuse(http::status::unauthorized, "token",
                              "a token is required: Authorization: Bearer TOKEN");
            }
            if (sh_.active.load() >= sh_.opts.max_sessions) {
                return refuse(http::status::service_unavailable, "session_limit",
                              "the session limit is reached");
            }
            json j{
                {"status", "ready"},
                {"websocket_url", "/realtime/stream"},
                {"audio_format", {{"encoding", "pcm16"}, {"sample_rate", 24000}, {"channels", 1}}},
                {"provider", sh_.opts.provider},
                {"voice", sh_.opts.voice},
                {"auth", !sh_.opts.token.empty()},
                {"limits",
                 {{"max_message_bytes", sh_.opts.max_message},
                  {"max_sessions", sh_.opts.max_sessions}}}};
            if (!sh_.opts.token.empty()) {
                // Unused stream tokens expire; a client asking for thousands is refused.
                const auto now = clock::now();
                std::erase_if(sh_.stream_tokens, [&](const auto& kv) { return kv.second < now; });
                if (sh_.stream_tokens.size() >= max_stream_tokens) {
                    return refuse(http::status::too_many_requests, "too_many_tokens",
                                  "too many unused stream tokens; use one or wait a minute");
                }
                std::string tok = random_token();
                sh_.stream_tokens[tok] = clock::now() + stream_token_life;
                j["stream_token"] = tok;
                j["stream_token_expires_in_s"] = stream_token_life.count();
            }
            return send(json_response(j), keep);
        }
        if (req.method() != http::verb::get && req.method() != http::verb::head) {
            return send(error(http::status::method_not_allowed, "method", "use GET"), keep);
        }
        if (t.path == "/healthz") {
            return send(json_response({{"status", "ok"},
                                       {"provider", sh_.opts.provider},
                                       {"sessions_active", sh_.active.load()},
                                       {"uptime_s", sh_.snapshot().uptime_s}}),
                        keep);
        }
        if (t.path == "/metrics") {
            if (!server_token_ok(req, t.query)) {
                return refuse(http::status::unauthorized, "token", "a token is required");
            }
            response r{http::status::ok, 11};
            r.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
            r.body() = metrics_text(sh_);
            return send(std::move(r), keep);
        }
        return file(t.path, keep);
    }

    void file(const std::string& path, bool keep) {
        std::string name = path == "/" ? "index.html" : path.substr(1);
        if (!plain_name(name)) {
            return send(error(http::status::not_found, "not_found", "no such page"), keep);
        }
        if (sh_.opts.console_dir.empty()) {
            return send(error(http::status::not_found, "no_console",
                              "the console's files are not installed; give --console-dir DIR"),
                        keep);
        }
        const fs::path p = fs::path(sh_.opts.console_dir) / name;
        std::ifstream in(p, std::ios::binary);
        if (!in) return send(error(http::status::not_found, "not_found", "no such page"), keep);
        std::ostringstream ss;
        ss << in.rdbuf();
        response r{http::status::ok, 11};
        r.set(http::field::content_type, content_type(p));
        r.set(http::field::cache_control, "no-cache");
        r.set("X-Content-Type-Options", "nosniff");
        r.set("Referrer-Policy", "no-referrer");
        r.set("Content-Security-Policy",
              "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
              "style-src 'self' 'unsafe-inline'; media-src 'self' blob:; frame-ancestors 'none'");
        r.body() = ss.str();
        send(std::move(r), keep);
    }

    void upgrade(request req, const target& t) {
        if (!websocket::is_upgrade(req)) {
            return send(
                error(http::status::upgrade_required, "upgrade", "/realtime/stream is a WebSocket"),
                false);
        }
        if (!origin_ok(req)) {
            return refuse(http::status::forbidden, "origin",
                          "this origin may not open the stream (allow it with --allow-origin)");
        }
        if (!stream_token_ok(req, t.query)) {
            return refuse(http::status::unauthorized, "token",
                          "a token is required: ?token= (from /realtime/session/start) or "
                          "Authorization: Bearer");
        }
        if (sh_.stopping || sh_.active.load() >= sh_.opts.max_sessions) {
            return refuse(http::status::service_unavailable, "session_limit",
                          "the session limit is reached");
        }
        stream_settings st;
        if (auto v = query_param(t.query, "voice"); v && !v->empty()) {
            if (v->size() > 32 || !plain_name(*v)) {
                return send(error(http::status::bad_request, "bad_voice", "voice: a voice name"),
                            false);
            }
            st.voice = *v;
        }
        if (auto v = query_param(t.query, "speed"); v && !v->empty()) {
            char* end = nullptr;
            const double d = std::strtod(v->c_str(), &end);
            if (end == v->c_str() || *end != '\0' || !(d >= 0.25 && d <= 1.5)) {
                return send(error(http::status::bad_request, "bad_speed", "speed: 0.25..1.5"),
                            false);
            }
            st.speed = d;
        }
        if (auto v = query_param(t.query, "vad"); v && !v->empty()) {
            st.vad = proto::parse_vad(*v);
            if (!st.vad) {
                return send(
                    error(http::status::bad_request, "bad_vad", "vad: server, semantic or none"),
                    false);
            }
        }
        if (auto v = query_param(t.query, "events"); v) st.events = *v == "1" || *v == "true";
        beast::get_lowest_layer(stream_).expires_never();
        start_stream(sh_, std::move(stream_), std::move(req), std::move(st));
    }

    void send(response r, bool keep) {
        r.set(http::field::server, "ava-voice");
        r.keep_alive(keep);
        r.prepare_payload();
        auto sp = std::make_shared<response>(std::move(r));
        beast::get_lowest_layer(stream_).expires_after(request_timeout);
        http::async_write(
            stream_, *sp,
            [self = this->shared_from_this(), sp, keep](beast::error_code ec, std::size_t) {
                if (ec || !keep) return self->close();
                self->read();
            });
    }

    void close() {
        beast::error_code ec;
        beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    shared& sh_;
    Stream stream_;
    beast::flat_buffer buf_;
    std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

template <class Stream>
void serve_http(shared& sh, Stream stream) {
    std::make_shared<http_conn<Stream>>(sh, std::move(stream))->run();
}

template void serve_http<plain_stream>(shared&, plain_stream);
template void serve_http<tls_stream>(shared&, tls_stream);

}  // namespace ava::relay::detail
