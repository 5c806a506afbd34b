// The session's two-channel recording (recording.hpp).
#include "recording.hpp"

#include <sndfile.h>

#include <system_error>

#include "ava/core/error.hpp"

namespace ava::session_detail {
namespace {

/// Mic audio of send_audio() kept for the recording's left channel (embedder mode).
constexpr std::size_t max_embed_mic = static_cast<std::size_t>(core::wire_rate) * 10;

}  // namespace

wav_recorder::wav_recorder(const std::string& path) {
    SF_INFO info{};
    info.samplerate = core::wire_rate;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    file_ = sf_open(path.c_str(), SFM_WRITE, &info);
    if (file_ == nullptr) {
        throw std::system_error(
            make_error_code(errc::bad_config),
            "cannot write the recording '" + path + "': " + sf_strerror(nullptr));
    }
    interleaved_.reserve(static_cast<std::size_t>(core::wire_rate) * 2 * 2);
}

void wav_recorder::mic(core::pcm_view block) {
    for (std::size_t i = 0; i < block.size(); ++i) {
        core::sample m = block[i];
        if (use_embed_mic) {
            m = 0;
            if (!embed_mic_.empty()) {
                m = embed_mic_.front();
                embed_mic_.pop_front();
            }
        }
        interleaved_.push_back(m);
        interleaved_.push_back(i < speaker_.size() ? speaker_[i] : core::sample{0});
    }
    speaker_.clear();
    if (interleaved_.size() >= static_cast<std::size_t>(core::wire_rate) * 2) write_out();
}

void wav_recorder::push_embed_mic(core::pcm_view pcm) {
    embed_mic_.insert(embed_mic_.end(), pcm.begin(), pcm.end());
    while (embed_mic_.size() > max_embed_mic) embed_mic_.pop_front();
}

void wav_recorder::close() {
    if (file_ == nullptr) return;
    write_out();
    sf_close(file_);
    file_ = nullptr;
}

void wav_recorder::write_out() {
    if (file_ != nullptr && !interleaved_.empty()) {
        sf_writef_short(file_, interleaved_.data(),
                        static_cast<sf_count_t>(interleaved_.size() / 2));
    }
    interleaved_.clear();
}

}  // namespace ava::session_detail
