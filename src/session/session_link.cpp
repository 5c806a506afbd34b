// ava::session's connections: open, messages in, close, reconnect (session_impl.hpp).
#include "session_impl.hpp"

#include "ava/core/text.hpp"

#include <algorithm>
#include <type_traits>
#include "ava/core/error.hpp"
#include "ava/core/json_string.hpp"
#include "ava/realtime/codec.hpp"

namespace ava {
namespace {

/// Received messages larger than this (after audio elision) are logged by size only: a 17 MiB
/// frame from a faulty server must not turn the event log into a disk-filler.
constexpr std::size_t max_logged_event = 256u * 1024u;

template <class T>
std::string_view server_type(const T& ev) {
    if constexpr (std::is_same_v<T, realtime::unknown_event>) {
        return ev.type;
    } else if constexpr (std::is_same_v<T, realtime::decode_error>) {
        return "decode_error";
    } else {
        return T::type;
    }
}

}  // namespace

void session::impl::on_start() {
    if (ending_) return;
    local("session.start", core::json_object()
                               .field("device", device_->description())
                               .field("embedder_audio", embedder_audio_)
                               .str());
    connect();
    schedule_tick();
}

void session::impl::connect() {
    const std::uint64_t gen = ++conn_gen_;
    realtime::connection::handlers h;
    h.on_open = [this, gen] { on_open(gen); };
    h.on_message = [this, gen](std::string_view m) { on_message(gen, m); };
    h.on_close = [this, gen](const realtime::close_info& i) { on_close(gen, i); };
    conn_ = std::make_unique<realtime::connection>(ioc_, opts_.connection, std::move(h));
    conn_closed_ = false;
    local("connection.start", core::json_object().field("attempt", gen).str());
    conn_->start();
}

void session::impl::on_open(std::uint64_t gen) {
    if (gen != conn_gen_ || ending_) return;
    const auto now = clock::now();
    ever_open_ = true;
    log_->info("session: connected to {}", opts_.connection.target.url.str());
    local("connection.open", core::json_object().field("attempt", gen).str());
    const auto unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    conv_->on_connected(now, static_cast<std::int64_t>(unix_s));
    drain();
}

void session::impl::on_message(std::uint64_t gen, std::string_view text) {
    if (gen != conn_gen_ || ending_) return;
    const auto now = clock::now();
    quiet_since_.reset();
    realtime::server_event ev = realtime::decode_server(text);
    const std::string_view type = std::visit([](const auto& e) { return server_type(e); }, ev);
    if (recording_events()) {
        if (std::holds_alternative<realtime::decode_error>(ev)) {
            const auto& de = std::get<realtime::decode_error>(ev);
            record(now, "recv", type,
                   core::json_object()
                       .field("error", de.message)
                       .field("field", de.field)
                       .field("bytes", text.size())
                       .field("text", core::clip(text, 512))  // never half a character
                       .str());
        } else {
            std::string logged = realtime::elide_audio(text);
            if (logged.size() > max_logged_event) {
                logged = core::json_object()
                             .field("type", type)
                             .field("elided_bytes", text.size())
                             .str();
            }
            record(now, "recv", type, logged);
        }
    }
    if (std::holds_alternative<realtime::server::session_updated>(ev) &&
        to_session_updated_ns_.load() < 0) {
        to_session_updated_ns_.store(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_time_).count());
    }
    conv_->on_server_event(std::move(ev), now);
    drain();
}

void session::impl::on_close(std::uint64_t gen, const realtime::close_info& info) {
    if (gen != conn_gen_) {
        // A connection we retired (rollover) finished closing: destroy it outside its
        // own handler.
        auto it = retired_.find(gen);
        if (it != retired_.end()) {
            std::shared_ptr<realtime::connection> dead(std::move(it->second));
            retired_.erase(it);
            asio::post(ioc_, [dead] {});
        }
        return;
    }
    conn_closed_ = true;
    const auto now = clock::now();
    local("connection.close", core::json_object()
                                  .field("ws_code", info.ws_code)
                                  .field("http_status", info.http_status)
                                  .field("local", info.local)
                                  .field("stage", info.stage)
                                  .field("message", info.message)
                                  .str());
    if (ending_) {
        asio::post(ioc_, [this] { complete_end(); });
        return;
    }
    if (info.local) return;  // we asked for it (not while ending: nothing to report)
    last_close_message_ = info.message.empty() ? info.reason : info.message;
    if (!info.fatal()) {
        log_->warn("session: connection ended: {}",
                   info.message.empty() ? info.reason : info.message);
    }
    // The connection's verdict goes to the conversation, which acts on it (close_policy.hpp):
    // a fatal one ends the session with one error line, anything else reconnects.
    realtime::disconnect_info d;
    d.http_status = info.http_status;
    d.close_code = info.ws_code;
    d.reason = info.message.empty() ? info.reason : info.message;
    d.kind = info.kind;
    d.error = info.error;
    conv_->on_disconnected(d, now);
    drain();
}

void session::impl::retire_connection(bool close_it) {
    if (!conn_) return;
    if (close_it && !conn_closed_) {
        conn_->close(1000, "session rollover");
        retired_.emplace(conn_gen_, std::move(conn_));
    } else {
        std::shared_ptr<realtime::connection> dead(std::move(conn_));
        asio::post(ioc_, [dead] {});
    }
    conn_.reset();
}

}  // namespace ava
