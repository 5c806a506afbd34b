// One relay stream (relay_detail.hpp): a WebSocket from a client and the ava::session behind it.
//
// The socket belongs to the relay's io thread. The session's callbacks run on the session's own
// io thread: they turn what happened into messages and post them here, in order (one poster,
// one io thread). Everything the client sends goes to the session's thread-safe inputs.
// A client that stops reading is closed once max_send_queue bytes wait for it: no session's
// audio ever waits behind another's socket, and nothing is buffered without a bound.
#include <cstring>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ava/core/json_string.hpp"
#include "protocol.hpp"
#include "relay_detail.hpp"

namespace ava::relay::detail {
namespace {

using json = nlohmann::json;

struct out_msg {
    bool binary = false;
    std::string data;
};

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// Tool arguments or output as JSON when they are JSON, else as text.
json json_or_text(const std::string& s) {
    json j = json::parse(s, nullptr, false);
    if (j.is_discarded()) return s;
    return j;
}

template <class Stream>
class ws_stream final : public stream_base, public std::enable_shared_from_this<ws_stream<Stream>> {
  public:
    ws_stream(shared& sh, Stream s, stream_settings settings, std::uint64_t id)
        : sh_(sh),
          ws_(std::move(s)),
          settings_(std::move(settings)),
          id_(id),
          name_("r-" + std::to_string(id)),
          link_(std::make_shared<link_state>()) {
        link_->events.store(settings_.events);
    }

    void run(request req) {
        beast::get_lowest_layer(ws_).expires_never();
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator(
            [](websocket::response_type& r) { r.set(http::field::server, "ava-voice"); }));
        ws_.read_message_max(sh_.opts.max_message);
        ws_.async_accept(
            req, [self = this->shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
    }

    void shutdown() override {
        if (closed_) return;
        send_json({{"type", "closed"}, {"reason", "the server is stopping"}});
        close_after_drain(websocket::close_code::going_away);
        end_session();
    }

  private:
    /// What the session's callbacks share with the stream (they outlive neither).
    struct link_state {
        std::atomic<bool> events{false};
        std::string audio_item;  // session io thread only
        clock::time_point start = clock::now();
        bool reconnecting = false;  // session io thread only
    };

    void on_accept(beast::error_code ec) {
        if (ec) {
            sh_.log->info("relay: {}: the WebSocket handshake failed: {}", name_, ec.message());
            finish();
            return;
        }
        sh_.active.fetch_add(1);
        counted_ = true;
        sh_.m.sessions_total.fetch_add(1);
        sh_.streams[id_] = this->shared_from_this();
        if (!open_session()) return;
        read();
    }

    bool open_session() {
        try {
            session_options so = sh_.opts.make_session(settings_);
            so.device.reset();
            so.client_playback = true;
            sess_ = std::make_unique<session>(std::move(so), callbacks());
            if (sh_.opts.add_tools) sh_.opts.add_tools(*sess_);
            sess_->start();
        } catch (const std::exception& e) {
            const std::string why = log::redact(e.what());
            sh_.log->warn("relay: {}: cannot start a session: {}", name_, why);
            sh_.m.errors.fetch_add(1);
            send_json(
                {{"type", "error"}, {"code", "session_failed"}, {"message", why}, {"fatal", true}});
            close_after_drain(websocket::close_code::internal_error);
            end_session();
            return false;
        }
        sh_.log->info("relay: {}: stream open ({} active)", name_, sh_.active.load());
        send_json(
            {{"type", "ready"},
             {"session", name_},
             {"provider", sh_.opts.provider},
             {"voice", settings_.voice.value_or(sh_.opts.voice)},
             {"audio_format", {{"encoding", "pcm16"}, {"sample_rate", 24000}, {"channels", 1}}}});
        return true;
    }

    /// Posts `fn(stream)` to the relay's io thread, if the stream still exists then.
    template <class F>
    static void to_stream(asio::io_context& ioc, std::weak_ptr<ws_stream> w, F fn) {
        asio::post(ioc, [w = std::move(w), fn = std::move(fn)]() mutable {
            if (auto s = w.lock()) fn(*s);
        });
    }

    session_callbacks callbacks() {
        session_callbacks cb;
        asio::io_context& ioc = sh_.ioc;
        std::weak_ptr<ws_stream> w = this->shared_from_this();
        std::shared_ptr<link_state> link = link_;
        counters& m = sh_.m;
        auto text = [&ioc, w](json j) {
            to_stream(ioc, w, [s = dump(j)](ws_stream& st) mutable {
                st.deliver({false, std::move(s)});
            });
        };
        cb.on_transcript = [text](const transcript_line& t) {
            text({{"type", "transcript"},
                  {"item_id", t.item_id},
                  {"role", t.role == realtime::speaker::user ? "user" : "assistant"},
                  {"text", t.text},
                  {"unheard", t.unheard},
                  {"final", t.final},
                  {"failed", t.failed},
                  {"unheard_estimated", t.unheard_estimated},
                  {"position", t.position}});
        };
        cb.on_audio = [&ioc, w, link](std::string_view item, core::pcm_view pcm) {
            std::string start;
            if (item != link->audio_item) {
                link->audio_item = std::string(item);
                start = dump({{"type", "audio_start"}, {"item_id", link->audio_item}});
            }
            std::string bytes(pcm.size() * sizeof(core::sample), '\0');
            std::memcpy(bytes.data(), pcm.data(), bytes.size());  // PCM16 LE (the host order)
            to_stream(ioc, w,
                      [start = std::move(start), b = std::move(bytes)](ws_stream& st) mutable {
                          if (!start.empty()) st.deliver({false, std::move(start)});
                          st.deliver({true, std::move(b)});
                      });
        };
        cb.on_audio_done = [text](std::string_view item, std::int64_t samples) {
            text({{"type", "audio_end"}, {"item_id", item}, {"samples", samples}});
        };
        cb.on_stop_audio = [text, link](std::string_view item) {
            link->audio_item.clear();  // audio after this is announced again
            text({{"type", "interrupted"}, {"item_id", item}});
        };
        cb.on_tool = [text, &m](const tool_event& e) {
            if (!e.finished) {
                m.tool_calls.fetch_add(1);
                text({{"type", "tool_call"},
                      {"call_id", e.call_id},
                      {"name", e.name},
                      {"arguments", json_or_text(e.arguments_json)}});
                return;
            }
            text({{"type", "tool_result"},
                  {"call_id", e.call_id},
                  {"name", e.name},
                  {"ok", e.ok},
                  {"output", json_or_text(e.output_json)},
                  {"elapsed_ms", e.elapsed.count()}});
        };
        cb.on_status = [text, link, &m](realtime::conv_status s) {
            const bool rc = s == realtime::conv_status::reconnecting;
            if (rc && !link->reconnecting) m.reconnects.fetch_add(1);
            link->reconnecting = rc;
            std::string state(
                realtime::to_string(s));  // "assistant speaking" -> "assistant_speaking"
            for (char& c : state) {
                if (c == ' ') c = '_';
            }
            text({{"type", "status"}, {"state", state}});
        };
        cb.on_notice = [text](std::string_view t, bool warning) {
            text({{"type", "notice"}, {"level", warning ? "warning" : "info"}, {"text", t}});
        };
        cb.on_turn = [text, &m](const realtime::act::turn_metrics& t) {
            m.add_turn(t.latency);
            text({{"type", "turn"}, {"turn", t.turn}, {"latency_ms", t.latency.count()}});
        };
        cb.on_usage = [text](const realtime::act::usage_metrics& u) {
            text({{"type", "usage"},
                  {"response_id", u.response_id},
                  {"input_tokens", u.tokens.input_tokens},
                  {"output_tokens", u.tokens.output_tokens},
                  {"cached_tokens", u.tokens.input_details.cached_tokens},
                  {"cost_usd", u.cost_usd},
                  {"session_cost_usd", u.session_cost_usd}});
        };
        cb.on_event = [&ioc, w, text, link](std::string_view dir, std::string_view type,
                                            std::string_view ev) {
            if (dir == "recv" && type == "session.created") {
                const json j = json::parse(ev, nullptr, false);
                if (j.is_object() && j.contains("session") && j["session"].is_object() &&
                    j["session"].contains("id") && j["session"]["id"].is_string()) {
                    text({{"type", "upstream"}, {"session_id", j["session"]["id"]}});
                }
            }
            if (!link->events.load(std::memory_order_relaxed)) return;
            const auto t_ms =
                std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - link->start)
                    .count();
            // The session's record is one JSON value already (an object, or a string): embedded
            // as is rather than parsed and dumped again, 50 times a second for the mic's appends.
            core::json_object msg;
            msg.field("type", "event")
                .field("dir", dir)
                .field("event_type", type)
                .field("t_ms", t_ms);
            if (!ev.empty() && (ev.front() == '{' || ev.front() == '"')) {
                msg.raw("event", ev);
            } else {
                msg.field("event", ev);
            }
            to_stream(ioc, w, [s = msg.str()](ws_stream& st) mutable {
                st.deliver({false, std::move(s)});
            });
        };
        cb.on_end = [&ioc, w](const session_result& r) {
            std::string reason = r.how == session_result::end::fatal        ? log::redact(r.message)
                                 : r.how == session_result::end::input_done ? "input done"
                                                                            : "stopped";
            const bool fatal = r.how == session_result::end::fatal;
            to_stream(ioc, w, [reason = std::move(reason), fatal](ws_stream& st) {
                st.on_session_end(reason, fatal);
            });
        };
        return cb;
    }

    void on_session_end(const std::string& reason, bool fatal) {
        // No session here: the relay ended it (the client went, the server stops) and said so.
        if (closed_ || !sess_) return;
        if (fatal) {
            sh_.m.errors.fetch_add(1);
            send_json({{"type", "error"},
                       {"code", "session_failed"},
                       {"message", reason},
                       {"fatal", true}});
        }
        send_json({{"type", "closed"}, {"reason", reason}});
        close_after_drain(fatal ? websocket::close_code::internal_error
                                : websocket::close_code::normal);
        end_session();
    }

    // ---- reading ------------------------------------------------------------------------------
    void read() {
        ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

    void on_read(beast::error_code ec) {
        if (ec && closed_) return;  // we closed it (a limit, a write failure, the end)
        if (ec) {
            if (ec == websocket::error::message_too_big) {
                sh_.m.errors.fetch_add(1);
                sh_.log->warn("relay: {}: a message over {} bytes; closed (1009)", name_,
                              sh_.opts.max_message);
            } else if (ec != websocket::error::closed && ec != asio::error::operation_aborted) {
                sh_.log->debug("relay: {}: read ended: {}", name_, ec.message());
            }
            sh_.log->info("relay: {}: the client went away; ending its session", name_);
            end_session();
            finish();
            return;
        }
        if (ws_.got_binary()) {
            on_audio(in_.cdata());
        } else {
            on_control(beast::buffers_to_string(in_.cdata()));
        }
        in_.consume(in_.size());
        if (!closed_) read();
    }

    template <class Buffers>
    void on_audio(const Buffers& b) {
        sh_.m.audio_in.fetch_add(1, std::memory_order_relaxed);
        const std::size_t n = beast::buffer_bytes(b);
        if (n % 2 != 0) {
            error_to_client("bad_audio", "binary frames are PCM16: an even number of bytes");
            return;
        }
        mic_.resize(n / 2);
        beast::net::buffer_copy(beast::net::buffer(mic_.data(), n), b);
        if (sess_) sess_->send_audio(core::pcm_view(mic_.data(), mic_.size()));
    }

    void on_control(const std::string& text) {
        sh_.m.control_in.fetch_add(1, std::memory_order_relaxed);
        proto::control c = proto::parse_control(text);
        std::visit([this](auto& m) { act(m); }, c);
    }

    void act(proto::text_input& m) { sess_->send_text(std::move(m.text)); }
    void act(proto::interrupt&) { sess_->interrupt(); }
    void act(proto::mute& m) { sess_->set_muted(m.on); }
    void act(proto::talk& m) { sess_->talk(m.pressed); }
    void act(proto::settings& m) { sess_->update_settings(std::move(m.patch)); }
    void act(proto::playback_position& m) {
        sess_->played(std::move(m.item_id), m.played_samples, m.interrupted);
    }
    void act(proto::events& m) { link_->events.store(m.enabled); }
    void act(proto::ping&) { send_json({{"type", "pong"}}); }
    void act(proto::bad& m) { error_to_client(m.code, m.message); }

    void error_to_client(const std::string& code, const std::string& message) {
        sh_.m.errors.fetch_add(1, std::memory_order_relaxed);
        if (bad_logged_++ < 5) {
            sh_.log->info("relay: {}: a bad message from the client ({}: {})", name_, code,
                          message);
        }
        send_json({{"type", "error"}, {"code", code}, {"message", message}});
    }

    // ---- writing ------------------------------------------------------------------------------
    void send_json(const json& j) { deliver({false, dump(j)}); }

    void deliver(out_msg m) {
        if (closed_ || overflowed_) return;
        if (queued_ + m.data.size() > sh_.opts.max_send_queue) {
            // A client that stops reading: close it, never buffer without a bound. A close
            // frame cannot reach a client that does not read, so the connection is dropped.
            overflowed_ = true;
            sh_.m.errors.fetch_add(1);
            sh_.log->warn("relay: {}: the client stopped reading ({} bytes waiting); closing it",
                          name_, queued_);
            end_session();
            beast::error_code ec;
            beast::get_lowest_layer(ws_).socket().close(ec);
            finish();
            return;
        }
        queued_ += m.data.size();
        q_.push_back(std::move(m));
        if (!writing_) write_next();
    }

    void write_next() {
        if (q_.empty()) {
            writing_ = false;
            if (close_code_ && !close_sent_) {
                close_sent_ = true;
                ws_.async_close(*close_code_, [self = this->shared_from_this()](beast::error_code) {
                    self->finish();
                });
            }
            return;
        }
        writing_ = true;
        ws_.binary(q_.front().binary);
        ws_.async_write(asio::buffer(q_.front().data),
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_write(ec);
                        });
    }

    void on_write(beast::error_code ec) {
        if (q_.empty()) return;  // dropped by an overflow close
        const bool binary = q_.front().binary;
        queued_ -= q_.front().data.size();
        q_.pop_front();
        if (ec) {
            writing_ = false;
            end_session();
            finish();
            return;
        }
        (binary ? sh_.m.audio_out : sh_.m.control_out).fetch_add(1, std::memory_order_relaxed);
        write_next();
    }

    void close_after_drain(websocket::close_code code) {
        if (close_code_) return;
        close_code_ = code;
        if (!writing_) write_next();
    }

    // ---- the end ------------------------------------------------------------------------------
    /// Stops the session (its end is the reaper's job, off this thread).
    void end_session() {
        if (!sess_) return;
        sess_->stop();
        sh_.reap.put(std::move(sess_));
    }

    /// The stream is done: uncounted and unregistered (the socket closes with the object).
    void finish() {
        if (closed_) return;
        closed_ = true;
        end_session();
        if (counted_) {
            counted_ = false;
            sh_.active.fetch_sub(1);
        }
        sh_.streams.erase(id_);
        // The queue stays until the object goes: a write in flight still refers to its front.
    }

    shared& sh_;
    websocket::stream<Stream> ws_;
    stream_settings settings_;
    std::uint64_t id_;
    std::string name_;
    std::shared_ptr<link_state> link_;
    std::unique_ptr<session> sess_;
    beast::flat_buffer in_;
    std::vector<core::sample> mic_;
    std::deque<out_msg> q_;
    std::size_t queued_ = 0;
    bool writing_ = false;
    bool closed_ = false;
    bool counted_ = false;
    bool overflowed_ = false;
    bool close_sent_ = false;
    std::optional<websocket::close_code> close_code_;
    int bad_logged_ = 0;
};

}  // namespace

template <class Stream>
void start_stream(shared& sh, Stream stream, request req, stream_settings settings) {
    const std::uint64_t id = sh.next_stream++;
    auto s = std::make_shared<ws_stream<Stream>>(sh, std::move(stream), std::move(settings), id);
    s->run(std::move(req));
}

template void start_stream<plain_stream>(shared&, plain_stream, request, stream_settings);
template void start_stream<tls_stream>(shared&, tls_stream, request, stream_settings);

}  // namespace ava::relay::detail
