// ava::history::writer: puts a running session into the store from a thread of its own.
//
// The session's callbacks (the io thread) only queue a record (a short lock, no I/O); the
// writer thread commits each one in its own transaction as it comes, so a crash or kill -9
// loses at most the record in flight. Text is redacted (ava::log::redact) before it is stored,
// so no registered secret reaches the file.
//
// Threads: post() from any thread; the destructor drains what is queued (at most
// `drain_limit`), then joins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>

#include "ava/history/store.hpp"

namespace ava::history {

struct session_end {
    std::int64_t session_id = 0;
    session_totals totals;
};

using record = std::variant<line_record, tool_record, reconnect_record, session_end>;

class writer {
  public:
    explicit writer(std::shared_ptr<store> db,
                    std::chrono::milliseconds drain_limit = std::chrono::seconds(5));
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void post(record r);
    /// Waits until everything posted so far is committed (at most `timeout`); true if it was.
    bool flush(std::chrono::milliseconds timeout);
    /// Records committed so far.
    [[nodiscard]] std::int64_t written() const;

  private:
    void run();

    std::shared_ptr<store> db_;
    std::chrono::milliseconds drain_limit_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable done_cv_;
    std::deque<record> queue_;
    std::int64_t posted_ = 0;
    std::int64_t written_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace ava::history
