// Typed lines on stdin (when stdin is not a terminal). See run_input.hpp.
#include "run_input.hpp"

#include <iostream>

namespace ava::app {

void start_stdin_reader(const std::shared_ptr<line_channel>& channel) {
    std::thread([channel] {
        std::string text;
        bool any = false;
        while (std::getline(std::cin, text)) {
            if (text.empty()) continue;
            const std::lock_guard lock(channel->mutex);
            if (channel->target == nullptr) return;
            channel->target->send_text(text);
            any = true;
        }
        // Piped lines at EOF: the conversation ends after the last answer, with a sound card
        // too. (An empty stdin, /dev/null from a launcher, leaves a voice session running.)
        const std::lock_guard lock(channel->mutex);
        if (any && channel->target != nullptr) channel->target->end_input();
    }).detach();
}

}  // namespace ava::app
