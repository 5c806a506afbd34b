// The terminal front end's input during a run (private to src/app/run*.cpp): SIGINT/SIGTERM
// turned into a clean stop, typed lines on stdin when there is no terminal, and what the keys do
// in raw mode.
#pragma once

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ava/app/terminal.hpp"
#include "ava/app/ui.hpp"
#include "ava/session.hpp"

namespace ava::app {

/// Blocks SIGINT/SIGTERM in every thread started from here on; a watcher thread takes them.
class signal_watch {
  public:
    explicit signal_watch(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGHUP);  // the terminal closed: finish as for SIGTERM
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        // Blocks until a signal comes: no periodic wake-up (this thread once woke 5 times a
        // second, ~3% of a headless session's CPU). The destructor wakes it with a signal of
        // its own.
        thread_ = std::thread([this] {
            for (;;) {
                int sig = 0;
                if (sigwait(&set_, &sig) != 0) continue;
                if (done_.load()) return;
                on_signal_(sig);
            }
        });
    }
    ~signal_watch() {
        done_ = true;
        pthread_kill(thread_.native_handle(), SIGTERM);  // blocked there: sigwait takes it
        thread_.join();
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

  private:
    std::function<void(int)> on_signal_;
    sigset_t set_{};
    sigset_t old_{};
    std::atomic<bool> done_{false};
    std::thread thread_;
};

/// Typed lines on stdin become user messages. The reading thread blocks in getline, so it is
/// detached; it reaches the session only through this shared, lockable pointer.
struct line_channel {
    std::mutex mutex;
    session* target = nullptr;
};

/// Starts the detached thread that feeds typed lines to `channel`'s session.
void start_stdin_reader(const std::shared_ptr<line_channel>& channel);

/// What the keys do (see the top of run.hpp). Runs on the key thread only; reaches the session
/// through its thread-safe methods and the UI through the renderer.
class key_controller {
  public:
    key_controller(session& s, ui_renderer& ui, bool push_to_talk)
        : session_(s), ui_(ui), push_to_talk_(push_to_talk) {}

    /// Returns false once the user asked to quit.
    bool handle(const key& k) {
        if (editing_) return edit(k);
        switch (k.k) {
            case key::kind::ctrl_c:
            case key::kind::ctrl_d:
                return quit();
            case key::kind::character:
                break;
            default:
                return true;
        }
        if (k.text.size() != 1) return true;
        if (const auto pending = ui_.pending_approval()) {
            // A tool waits for the user's yes: Y and N answer it, every other key still works.
            if (k.text[0] == 'y' || k.text[0] == 'Y' || k.text[0] == 'n' || k.text[0] == 'N') {
                session_.approve(*pending, k.text[0] == 'y' || k.text[0] == 'Y');
                return true;
            }
        }
        switch (k.text[0]) {
            case ' ':
                space();
                return true;
            case 'm':
            case 'M':
                muted_ = !muted_;
                session_.set_muted(muted_);
                ui_.muted(muted_);
                ui_.hint(muted_ ? "microphone muted (M unmutes)" : "microphone on");
                return true;
            case 'c':
            case 'C':
                if (talking_) end_talk();
                session_.interrupt();
                if (ui_.tools_running() || ui_.pending_approval()) {
                    session_.cancel_tools();
                    ui_.hint("cancelling the reply and the running tool");
                } else {
                    ui_.hint("cancelling the reply");
                }
                return true;
            case 't':
            case 'T':
                editing_ = true;
                text_.clear();
                ui_.editing(text_);
                return true;
            case 'q':
            case 'Q':
                return quit();
            default:
                ui_.hint("keys: " + std::string(push_to_talk_ ? "SPACE talk, " : "") +
                         "M mute, C cancel the reply or a running tool, T type a message, Q quit");
                return true;
        }
    }

    /// The key thread is ending (the session is over): release a held push-to-talk.
    void release() {
        if (talking_) end_talk();
    }

  private:
    void space() {
        if (!push_to_talk_) {
            // Terminals report no key release, so holding SPACE cannot work; under voice activity
            // detection turns are automatic and SPACE is not needed.
            ui_.hint(
                "turns are automatic here (voice activity); for push-to-talk run with "
                "--vad manual (SPACE starts, SPACE again ends the turn)");
            return;
        }
        if (talking_) {
            end_talk();
        } else {
            talking_ = true;
            session_.talk(true);
            ui_.talking(true);
        }
    }
    void end_talk() {
        talking_ = false;
        session_.talk(false);
        ui_.talking(false);
    }
    bool quit() {
        ui_.hint("quitting");
        release();
        session_.stop();
        return false;
    }
    bool edit(const key& k) {
        switch (k.k) {
            case key::kind::enter:
                editing_ = false;
                ui_.editing(std::nullopt);
                if (!text_.empty()) session_.send_text(text_);
                text_.clear();
                return true;
            case key::kind::escape:
                editing_ = false;
                text_.clear();
                ui_.editing(std::nullopt);
                return true;
            case key::kind::backspace:
                pop_utf8_char(text_);
                ui_.editing(text_);
                return true;
            case key::kind::ctrl_c:
                return quit();
            case key::kind::character:
                if (text_.size() < 4000) text_ += k.text;
                ui_.editing(text_);
                return true;
            default:
                return true;
        }
    }

    session& session_;
    ui_renderer& ui_;
    bool push_to_talk_;
    bool muted_ = false;
    bool talking_ = false;
    bool editing_ = false;
    std::string text_;
};

}  // namespace ava::app
