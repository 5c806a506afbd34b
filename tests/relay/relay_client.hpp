// A scripted client of the relay for its tests: plain HTTP requests and a WebSocket stream with
// binary and text frames, each read bounded by a timeout. Real sockets; Beast stays in the .cpp.
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace ava::relay::test {

using json = nlohmann::json;
using namespace std::chrono_literals;
using headers = std::vector<std::pair<std::string, std::string>>;

struct http_reply {
    int status = 0;
    std::string body;
    std::string content_type;
};

/// One HTTP/1.1 request to 127.0.0.1:port (Host: 127.0.0.1:port unless given).
http_reply http_request(unsigned short port, const std::string& method, const std::string& target,
                        const headers& h = {}, const std::string& body = {});

/// A frame from the server: text (JSON) or binary (audio).
struct frame {
    bool binary = false;
    std::string data;
    [[nodiscard]] json parsed() const { return json::parse(data); }
};

class stream_client {
  public:
    /// Upgrades `target` on 127.0.0.1:port; throws std::runtime_error with the HTTP status
    /// when the upgrade is refused.
    /// `rcvbuf` > 0: a small socket receive buffer (a slow client fills it quickly).
    stream_client(unsigned short port, const std::string& target = "/realtime/stream",
                  const headers& h = {}, int rcvbuf = 0);
    ~stream_client();
    stream_client(const stream_client&) = delete;
    stream_client& operator=(const stream_client&) = delete;

    void send_json(const json& j);
    void send_text(const std::string& t);
    void send_binary(const std::string& bytes);
    void send_pcm(const std::vector<std::int16_t>& pcm);
    /// The next frame; nullopt on timeout; throws when the connection closes.
    std::optional<frame> next(std::chrono::milliseconds timeout = 5s);
    /// Reads frames until a text message of `type` (binary frames are kept in audio()).
    json wait_for(const std::string& type, std::chrono::milliseconds timeout = 10s);
    /// Reads until the connection ends; returns the close code (1006: dropped without one).
    int wait_closed(std::chrono::milliseconds timeout = 10s);
    /// Every text message read so far, and the audio bytes per item (by audio_start).
    const std::vector<json>& messages() const { return messages_; }
    std::int64_t audio_samples(const std::string& item) const;
    void close();

  private:
    void keep(const frame& f);
    struct impl;
    std::unique_ptr<impl> impl_;
    std::vector<json> messages_;
    std::string current_item_;
    std::vector<std::pair<std::string, std::int64_t>> audio_;
};

}  // namespace ava::relay::test
