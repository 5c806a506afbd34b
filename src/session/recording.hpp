// The session's two-channel recording (session_options::record_wav) and the DSP tap that feeds
// it. Io thread only. libsndfile is confined to recording.cpp.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "ava/audio/dsp.hpp"
#include "ava/core/pcm.hpp"

struct sf_private_tag;  // libsndfile's SNDFILE

namespace ava::session_detail {

/// Two-channel session recording: left = microphone as sent, right = assistant as played.
/// Fed by recording_dsp in the engine's 10 ms DSP order (render, then capture), on the io
/// thread; written with libsndfile in ~1 s chunks.
class wav_recorder {
  public:
    /// Throws std::system_error (errc::bad_config) when the file cannot be written.
    explicit wav_recorder(const std::string& path);
    ~wav_recorder() { close(); }
    wav_recorder(const wav_recorder&) = delete;
    wav_recorder& operator=(const wav_recorder&) = delete;

    void speaker(core::pcm_view block) { speaker_.assign(block.begin(), block.end()); }
    void mic(core::pcm_view block);
    /// Embedder mode: the mic audio given to send_audio() (the device's mic is silent).
    void push_embed_mic(core::pcm_view pcm);
    void close();

    bool use_embed_mic = false;

  private:
    void write_out();

    sf_private_tag* file_ = nullptr;
    std::vector<core::sample> speaker_;
    std::vector<short> interleaved_;
    std::deque<core::sample> embed_mic_;
};

/// Wraps the configured DSP stage and taps both directions for the recording.
class recording_dsp final : public audio::dsp_stage {
  public:
    recording_dsp(std::unique_ptr<audio::dsp_stage> inner, wav_recorder& rec)
        : inner_(std::move(inner)), rec_(rec) {}
    void render(core::pcm_view speaker) override {
        inner_->render(speaker);
        rec_.speaker(speaker);
    }
    void capture(core::pcm_span mic) override {
        inner_->capture(mic);
        rec_.mic(mic);
    }
    [[nodiscard]] bool voice_active() const noexcept override { return inner_->voice_active(); }
    [[nodiscard]] bool voice_heard() const noexcept override { return inner_->voice_heard(); }
    void set_echo_delay(std::int64_t samples) override { inner_->set_echo_delay(samples); }
    [[nodiscard]] audio::dsp_report report() const override { return inner_->report(); }

  private:
    std::unique_ptr<audio::dsp_stage> inner_;
    wav_recorder& rec_;
};

}  // namespace ava::session_detail
