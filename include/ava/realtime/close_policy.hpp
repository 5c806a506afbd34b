#pragma once
// The one decision on how a connection's end is treated: reconnect, stop, or nothing to do.
// The connection classifies each close with it and reports the verdict (close_info::kind); the
// session hands that verdict to the conversation (disconnect_info::kind), which acts on it.
// Pure and header-only, so the sans-IO conversation can use it without linking the network.

namespace ava::realtime {

/// What a caller should do after a close.
enum class close_class {
    normal,       ///< closed on purpose (by us, or the server with 1000): nothing failed
    recoverable,  ///< network drop, 1001/1005/1006/1009/1011-1015, timeouts, HTTP 408/429/5xx
    fatal,        ///< HTTP 401/403/404 and other 4xx, protocol close codes, TLS, bad config
};

/// How a WebSocket close code is to be treated (RFC 6455 section 7.4).
constexpr close_class classify_close_code(int ws_code) noexcept {
    switch (ws_code) {
        case 1000:
            return close_class::normal;
        case 1001:  // going away: the session cap
        case 1005:  // no status: a drop with a bare close frame
        case 1006:  // abnormal: no close frame at all
        case 1009:  // the SERVER sent a message over our limit: the next session may not repeat it
        case 1011:  // server error
        case 1012:  // service restart
        case 1013:  // try again later
        case 1014:  // bad gateway
        case 1015:  // TLS failure on the server's side
            return close_class::recoverable;
        default:  // 1002 protocol, 1003, 1007, 1008 policy, 1010, 4xxx application codes:
            return close_class::fatal;  // our client broke a rule; retrying does it again
    }
}

/// How an HTTP status at upgrade (or at a proxy's CONNECT) is to be treated.
constexpr close_class classify_http_status(int status) noexcept {
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        return close_class::recoverable;
    }
    return close_class::fatal;
}

/// A disconnect from its codes alone (0 = none): the HTTP status first, as the upgrade failed
/// before any close code could exist; neither means a network failure, which is recoverable.
constexpr close_class classify_disconnect(int http_status, int ws_code) noexcept {
    if (http_status != 0) return classify_http_status(http_status);
    if (ws_code != 0) return classify_close_code(ws_code);
    return close_class::recoverable;
}

}  // namespace ava::realtime
