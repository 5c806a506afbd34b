// The history writer thread.
#include "ava/history/writer.hpp"

#include <utility>

#include "ava/core/log.hpp"

namespace ava::history {
namespace {

void redact_in_place(std::string& s) {
    s = log::redact(s);
}

void write(store& db, record& r) {
    if (auto* l = std::get_if<line_record>(&r)) {
        redact_in_place(l->text);
        redact_in_place(l->unheard);
        db.add_line(*l);
    } else if (auto* t = std::get_if<tool_record>(&r)) {
        redact_in_place(t->arguments);
        redact_in_place(t->result);
        db.add_tool_call(*t);
    } else if (auto* c = std::get_if<reconnect_record>(&r)) {
        redact_in_place(c->reason);
        db.add_reconnect(*c);
    } else if (auto* e = std::get_if<session_end>(&r)) {
        db.end_session(e->session_id, e->totals);
    }
}

}  // namespace

writer::writer(std::shared_ptr<store> db, std::chrono::milliseconds drain_limit)
    : db_(std::move(db)), drain_limit_(drain_limit), thread_([this] { run(); }) {}

writer::~writer() {
    flush(drain_limit_);
    {
        const std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void writer::post(record r) {
    {
        const std::lock_guard lock(mu_);
        queue_.push_back(std::move(r));
        ++posted_;
    }
    cv_.notify_one();
}

bool writer::flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const std::int64_t target = posted_;
    return done_cv_.wait_for(lock, timeout, [&] { return written_ >= target; });
}

std::int64_t writer::written() const {
    const std::lock_guard lock(mu_);
    return written_;
}

void writer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        // Stopping: the destructor has already waited (drain_limit) for what was queued.
        if (stop_) return;
        record r = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        if (db_) write(*db_, r);  // the store turns a failure into one warning
        lock.lock();
        ++written_;
        done_cv_.notify_all();
    }
}

}  // namespace ava::history
