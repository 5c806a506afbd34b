// JSON-RPC 2.0 over a child's pipes: the I/O thread, line framing, matching answers to requests.
#include "mcp/channel.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "ava/core/log.hpp"
#include "ava/core/text.hpp"
#include "mcp/protocol.hpp"

namespace ava::tools::mcp {
namespace {

using clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr std::size_t k_log_clip = 300;      // bytes of a bad stdout line shown in the log
constexpr std::size_t k_stderr_clip = 4096;  // bytes of one stderr line
constexpr std::size_t k_read_chunk = 64 * 1024;
constexpr auto k_poll_interval = std::chrono::milliseconds(50);  // waitpid and deadline checks
// After the child exits, how long its stdout may stay open (a grandchild holding it) before we
// stop reading it.
constexpr auto k_drain_after_exit = std::chrono::milliseconds(200);

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A JSON-RPC error code that fits an int, into `out`.
bool int_code(const json& c, int& out) {
    if (c.is_number_unsigned()) {
        if (c.get<std::uint64_t>() > static_cast<std::uint64_t>(INT_MAX)) return false;
    } else if (!c.is_number_integer() || c.get<std::int64_t>() < INT_MIN ||
               c.get<std::int64_t>() > INT_MAX) {
        return false;
    }
    out = c.get<int>();
    return true;
}

// Reads what is there (at most a few chunks, so one busy stream cannot starve the others).
// Returns false at EOF or on an error other than EAGAIN.
bool read_some(int fd, std::string& into) {
    char buf[k_read_chunk];
    for (int i = 0; i < 4; ++i) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r > 0) {
            into.append(buf, static_cast<std::size_t>(r));
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        return false;
    }
    return true;
}

}  // namespace

bool channel::log_budget::allow(unsigned& skipped) {
    const auto now = clock::now();
    if (now - window >= std::chrono::seconds(10)) {
        window = now;
        logged = 0;
    }
    if (logged >= per_window) {
        ++suppressed;
        return false;
    }
    ++logged;
    skipped = suppressed;
    suppressed = 0;
    return true;
}

channel::channel(options opts, handlers h)
    : opts_(std::move(opts)),
      handlers_(std::move(h)),
      child_(spawn_child(opts_.process)),
      pid_(child_.pid),
      log_(ava::log::get("mcp")) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        throw std::runtime_error(std::string("cannot create a pipe: ") + std::strerror(errno));
    }
    wake_r_ = unique_fd(fds[0]);
    wake_w_ = unique_fd(fds[1]);
    thread_ = std::thread([this] { run(); });
}

channel::~channel() {
    shutdown();
}

void channel::shutdown() {
    const std::lock_guard join_lock(join_mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    const char c = 's';
    [[maybe_unused]] const ssize_t w = ::write(wake_w_.get(), &c, 1);
    thread_.join();
}

json channel::request(const std::string& method, json params, std::chrono::milliseconds timeout,
                      std::stop_token stop, bool cancel_on_abort) {
    std::unique_lock lock(mutex_);
    if (closed_) throw rpc_failure(rpc_failure::kind::closed, close_reason_);
    const std::int64_t id = next_id_++;
    auto p = std::make_shared<pending>();
    waiting_[id] = p;
    json msg = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) msg["params"] = std::move(params);
    lock.unlock();
    send_line(dump(msg));
    lock.lock();

    const bool answered =
        cv_.wait_until(lock, stop, clock::now() + timeout, [&] { return p->done; });
    waiting_.erase(id);
    if (answered) {
        if (p->response.is_null()) throw rpc_failure(rpc_failure::kind::closed, close_reason_);
        if (const auto e = p->response.find("error"); e != p->response.end()) {
            std::string message =
                e->is_object() && e->contains("message") && (*e)["message"].is_string()
                    ? (*e)["message"].get<std::string>()
                    : dump(*e);
            int code = 0;
            if (e->is_object()) {
                // JSON-RPC says an integer; anything else (a string, 1.5, 1e30, beyond int)
                // reads as 0, and the message says so, naming the field.
                const auto c = e->find("code");
                if (c == e->end()) {
                    message += " (error.code missing)";
                } else if (!int_code(*c, code)) {
                    message += " (error.code is not an integer: " + core::clip(dump(*c), 60) + ")";
                }
            }
            json data = e->is_object() ? e->value("data", json()) : json();
            throw rpc_failure(rpc_failure::kind::error, message, code, std::move(data));
        }
        const auto r = p->response.find("result");
        return r == p->response.end() ? json::object() : *r;
    }
    lock.unlock();
    const bool cancelled = stop.stop_requested();
    if (cancel_on_abort) {
        notify("notifications/cancelled",
               {{"requestId", id}, {"reason", cancelled ? "cancelled by the user" : "timed out"}});
    }
    if (cancelled) throw rpc_failure(rpc_failure::kind::cancelled, method + " was cancelled");
    throw rpc_failure(rpc_failure::kind::timeout,
                      "did not answer " + method + " within " + duration_text(timeout));
}

void channel::notify(const std::string& method, json params) {
    json msg = {{"jsonrpc", "2.0"}, {"method", method}};
    if (!params.is_null()) msg["params"] = std::move(params);
    send_line(dump(msg));
}

void channel::send_line(std::string line) {
    {
        const std::lock_guard lock(mutex_);
        if (closed_) return;
        outbox_ += line;
        outbox_ += '\n';
    }
    const char c = 'w';
    [[maybe_unused]] const ssize_t w = ::write(wake_w_.get(), &c, 1);  // full pipe: already awake
}

void channel::kill(const std::string& why) {
    {
        const std::lock_guard lock(mutex_);
        kill_now_ = true;
    }
    mark_closed(why);
    const char c = 'k';
    [[maybe_unused]] const ssize_t w = ::write(wake_w_.get(), &c, 1);
}

bool channel::closed() const {
    const std::lock_guard lock(mutex_);
    return closed_;
}

std::string channel::close_reason() const {
    const std::lock_guard lock(mutex_);
    return close_reason_;
}

void channel::mark_closed(const std::string& why) {
    std::string reason;
    {
        const std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        close_reason_ = why;
        // The one line of its own that says why (stderr is only logged at debug level).
        if (!last_stderr_.empty()) close_reason_ += " (its last words: " + last_stderr_ + ")";
        reason = close_reason_;
        outbox_.clear();
    }
    // The owner hears first, so that by the time a waiting caller returns, the owner already
    // counts the server as down.
    if (handlers_.on_closed) handlers_.on_closed(reason);
    {
        const std::lock_guard lock(mutex_);
        for (auto& [id, p] : waiting_) p->done = true;  // with a null response: "closed"
    }
    cv_.notify_all();
}

void channel::run() {
    // SIGPIPE stays blocked on this thread, the only one that writes to the child: a write to a
    // child that has gone then fails with EPIPE instead of killing the whole app.
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);

    // Ending the child, step by step: close its stdin and give it stop_grace to leave, then
    // SIGTERM to its group and stop_grace again, then SIGKILL.
    enum class phase { running, stdin_closed, terminated, killed } ph = phase::running;
    clock::time_point phase_deadline{};
    bool ending = false;  // stop requested, or the child is of no further use
    bool reaped = false;
    clock::time_point reaped_at{};
    std::string exit_text = "stopped";
    std::string tx;  // bytes taken from outbox_, not yet written

    while (true) {
        const auto now = clock::now();
        bool kill_now = false;
        {
            const std::lock_guard lock(mutex_);
            kill_now = kill_now_;
            if (child_.in && tx.empty()) tx.swap(outbox_);
        }
        if (stopping_) ending = true;
        if (!reaped) {
            if (kill_now && ph != phase::killed) {
                ::kill(-pid_, SIGKILL);
                ph = phase::killed;
            } else if (ending && ph == phase::running) {
                child_.in.reset();
                ph = phase::stdin_closed;
                phase_deadline = now + opts_.stop_grace;
            } else if (ph == phase::stdin_closed && now >= phase_deadline) {
                ::kill(-pid_, SIGTERM);
                ph = phase::terminated;
                phase_deadline = now + opts_.stop_grace;
            } else if (ph == phase::terminated && now >= phase_deadline) {
                ::kill(-pid_, SIGKILL);
                ph = phase::killed;
            }
        }
        if (reaped && (!child_.out || now - reaped_at >= k_drain_after_exit)) break;

        constexpr nfds_t k_none = 4;  // "not polled this round"
        pollfd fds[4];
        nfds_t n = 0;
        fds[n++] = {wake_r_.get(), POLLIN, 0};
        const nfds_t out_i = child_.out ? n : k_none;
        if (child_.out) fds[n++] = {child_.out.get(), POLLIN, 0};
        const nfds_t err_i = child_.err ? n : k_none;
        if (child_.err) fds[n++] = {child_.err.get(), POLLIN, 0};
        const nfds_t in_i = child_.in && !tx.empty() ? n : k_none;
        if (in_i != k_none) fds[n++] = {child_.in.get(), POLLOUT, 0};
        if (::poll(fds, n, static_cast<int>(k_poll_interval.count())) < 0 && errno != EINTR) {
            log_->error("MCP server '{}': poll failed: {}", opts_.server, std::strerror(errno));
            ::kill(-pid_, SIGKILL);
            ph = phase::killed;
        }

        if (fds[0].revents != 0) {
            char drain[256];
            while (::read(wake_r_.get(), drain, sizeof drain) > 0) {
            }
        }
        if (in_i != k_none && fds[in_i].revents != 0) {
            const ssize_t w = ::write(child_.in.get(), tx.data(), tx.size());
            if (w > 0) {
                tx.erase(0, static_cast<std::size_t>(w));
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                // EPIPE: it closed its stdin (or died). Swallow the pending SIGPIPE.
                timespec zero{};
                while (sigtimedwait(&pipe_set, nullptr, &zero) > 0) {
                }
                child_.in.reset();
                tx.clear();
            }
        }
        if (out_i != k_none && fds[out_i].revents != 0) {
            const bool open = read_some(child_.out.get(), out_buf_);
            split_stdout();
            if (!open) {
                child_.out.reset();
                // A child that exits closes both pipes at once, and what it wrote to stderr on
                // its way out is in that pipe already: read it before saying why it went, so
                // the reason quotes its last words rather than an older line (whether they
                // were read first depended on which pipe poll() listed first).
                if (child_.err) read_stderr();
                // EOF usually comes just before the exit can be collected: wait a moment for it,
                // so the log says "exited with status 3" rather than "closed its stdout".
                for (int i = 0; i < 20 && !reaped; ++i) {
                    int status = 0;
                    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                        reaped = true;
                        reaped_at = clock::now();
                        exit_text = describe_exit(status);
                    } else {
                        std::this_thread::sleep_for(std::chrono::milliseconds(10));
                    }
                }
                mark_closed(reaped ? exit_text : "closed its stdout");
                ending = true;
            }
        }
        if (err_i != k_none && fds[err_i].revents != 0 && child_.err) read_stderr();
        if (!reaped) {
            int status = 0;
            const pid_t w = ::waitpid(pid_, &status, WNOHANG);
            if (w == pid_ || (w < 0 && errno == ECHILD)) {
                reaped = true;
                reaped_at = clock::now();
                exit_text = w == pid_ ? describe_exit(status) : "ended";
                child_.in.reset();
                // What it wrote before exiting is still read (until EOF or k_drain_after_exit).
                if (!child_.out) mark_closed(exit_text);
            }
        }
    }
    // Whatever is left in its group (the leader exited on its own, or was SIGKILLed).
    ::kill(-pid_, SIGKILL);
    mark_closed(exit_text);
}

void channel::read_stderr() {
    const bool open = read_some(child_.err.get(), err_buf_);
    std::size_t start = 0;
    for (std::size_t nl = err_buf_.find('\n'); nl != std::string::npos;
         nl = err_buf_.find('\n', start)) {
        handle_stderr_line(std::string_view(err_buf_.data() + start, nl - start));
        start = nl + 1;
    }
    err_buf_.erase(0, start);
    if (err_buf_.size() > k_stderr_clip || (!open && !err_buf_.empty())) {
        handle_stderr_line(err_buf_);
        err_buf_.clear();
    }
    if (!open) child_.err.reset();
}

void channel::split_stdout() {
    // [0, out_scanned_) holds no newline: scan only what is new. An over-long line is warned
    // about once, when it is seen to be too long, and dropped up to its newline.
    std::size_t start = 0;
    for (std::size_t nl = out_buf_.find('\n', out_scanned_); nl != std::string::npos;
         nl = out_buf_.find('\n', start)) {
        if (!discarding_ && nl - start > opts_.max_line_bytes) warn_too_long();
        if (!discarding_ && nl - start <= opts_.max_line_bytes) {
            handle_line(std::string_view(out_buf_.data() + start, nl - start));
        }
        discarding_ = false;
        start = nl + 1;
    }
    out_buf_.erase(0, start);
    out_scanned_ = out_buf_.size();
    if (!discarding_ && out_buf_.size() > opts_.max_line_bytes) {
        warn_too_long();
        discarding_ = true;
    }
    if (discarding_) {
        out_buf_.clear();
        out_scanned_ = 0;
    }
}

void channel::warn_too_long() {
    log_->warn("MCP server '{}' wrote a line longer than {} bytes to stdout; it was discarded",
               opts_.server, opts_.max_line_bytes);
}

void channel::handle_stderr_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (core::trim(line).empty()) return;
    {
        const std::lock_guard lock(mutex_);
        last_stderr_ = core::printable(core::clip(core::trim(line), 200), true);
    }
    unsigned skipped = 0;
    if (!stderr_budget_.allow(skipped)) return;
    if (skipped > 0) {
        log_->debug("[{}] ({} stderr lines not logged)", opts_.server, skipped);
    }
    log_->debug("[{}] {}", opts_.server, core::clip(line, k_stderr_clip));
}

void channel::garbage(std::string_view what, std::string_view line) {
    unsigned skipped = 0;
    if (!garbage_budget_.allow(skipped)) return;
    log_->warn("MCP server '{}' wrote {} to stdout, ignored{}: {}", opts_.server, what,
               skipped > 0 ? " (" + std::to_string(skipped) + " more not logged)" : std::string(),
               core::printable(core::clip(line, k_log_clip), true));
}

void channel::handle_line(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (core::trim(line).empty()) return;
    std::string problem;
    const std::optional<json> parsed = parse_line(line, problem);
    if (!parsed) return garbage(problem, line);
    const json& msg = *parsed;
    if (msg.is_array()) {  // a JSON-RPC batch (2025-03-26 allowed them)
        for (const auto& one : msg) handle_message(one);
        return;
    }
    handle_message(msg);
}

void channel::handle_message(const json& msg) {
    if (!msg.is_object() || msg.value("jsonrpc", json()) != "2.0") {
        return garbage("JSON that is not JSON-RPC 2.0", dump(msg));
    }
    const auto method = msg.find("method");
    const auto id = msg.find("id");
    if (method != msg.end() && method->is_string()) {
        const std::string name = method->get<std::string>();
        if (id == msg.end()) {
            if (handlers_.on_notification) {
                handlers_.on_notification(name, msg.value("params", json()));
            }
            return;
        }
        // A request from the server. We declare no client capabilities; answer ping only.
        json reply = {{"jsonrpc", "2.0"}, {"id", *id}};
        if (name == "ping") {
            reply["result"] = json::object();
        } else {
            log_->debug("MCP server '{}' asked for '{}', which ava-voice does not offer",
                        opts_.server, core::clip(name, 100));
            reply["error"] = {{"code", -32601}, {"message", "Method not found"}};
        }
        send_line(dump(reply));
        return;
    }
    if (id == msg.end() || (!msg.contains("result") && !msg.contains("error"))) {
        return garbage("a JSON-RPC message that is neither request nor answer", dump(msg));
    }
    if (!id->is_number_integer()) {
        log_->debug("MCP server '{}' answered an id we never sent: {}", opts_.server,
                    core::clip(dump(*id), 100));
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        const auto it = waiting_.find(id->get<std::int64_t>());
        if (it == waiting_.end()) {
            // Usually an answer that came after its request timed out.
            log_->debug("MCP server '{}' answered request {} late", opts_.server,
                        id->get<std::int64_t>());
            return;
        }
        it->second->response = msg;
        it->second->done = true;
    }
    cv_.notify_all();
}

}  // namespace ava::tools::mcp
