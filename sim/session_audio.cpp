// ava-realtime-sim: the session's input audio buffer (session.hpp): input_audio_buffer.append,
// .commit and .clear, the server VAD with its speech events, the optional WAV recording of the
// input, and the (late) input transcription.
#include "session.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "ava/core/base64.hpp"

namespace ava::sim::detail {

void session::on_append(const json& ev, const json& eid) {
    if (!ev.contains("audio") || !ev["audio"].is_string()) {
        send_error({"missing_required_parameter", "Missing required parameter: 'audio'.", "audio"},
                   eid);
        return;
    }
    const std::string& b64 = ev["audio"].get_ref<const std::string&>();
    if (core::base64_decoded_size(b64) > max_append_bytes) {
        send_error({"string_above_max_length",
                    "Invalid 'audio': string too long. Expected at most 15 MiB of audio per "
                    "input_audio_buffer.append event.",
                    "audio"},
                   eid);
        return;
    }
    auto bytes = core::base64_decode(b64);
    if (!bytes) {
        send_error(
            {"invalid_value", "Invalid 'audio'. Expected base64-encoded audio data.", "audio"},
            eid);
        return;
    }
    std::vector<std::int16_t> pcm;
    const std::string fmt = input_format();
    if (fmt == "audio/pcm") {
        // Keep an odd trailing byte for the next append: clients may split anywhere.
        std::vector<std::uint8_t>& b = *bytes;
        if (odd_byte_) b.insert(b.begin(), *odd_byte_), odd_byte_.reset();
        if (b.size() % 2 == 1) odd_byte_ = b.back(), b.pop_back();
        pcm.resize(b.size() / 2);
        for (std::size_t i = 0; i < pcm.size(); ++i)
            pcm[i] = static_cast<std::int16_t>(b[2 * i] | (b[2 * i + 1] << 8));
    } else {
        pcm = detail::g711_to_pcm24k(*bytes, fmt == "audio/pcmu");
    }
    record(pcm);
    in_buf_.insert(in_buf_.end(), pcm.begin(), pcm.end());
    in_total_ += static_cast<std::int64_t>(pcm.size());
    run_vad();
    if (in_buf_.size() > max_uncommitted_samples) {
        const std::size_t drop = in_buf_.size() - max_uncommitted_samples;
        in_buf_.erase(in_buf_.begin(), in_buf_.begin() + static_cast<std::ptrdiff_t>(drop));
        if (!buffer_capped_) {
            st_.log->warn("sim {}: over 15 min of uncommitted input audio; the oldest is dropped",
                          id_);
            buffer_capped_ = true;
        }
    }
}

void session::record(const std::vector<std::int16_t>& pcm) {
    st_.update(index_, [&](summary&, session_summary& ss) {
        ss.input_audio_ms = (in_total_ + static_cast<std::int64_t>(pcm.size())) / samples_per_ms;
    });
    if (st_.opts.record_dir.empty() || pcm.empty()) return;
    if (wav_ == nullptr && !wav_failed_) {
        SF_INFO info{};
        info.samplerate = 24000;
        info.channels = 1;
        info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
        const std::string path = st_.opts.record_dir + "/" + id_ + "-input.wav";
        wav_ = sf_open(path.c_str(), SFM_WRITE, &info);
        if (wav_ == nullptr) {
            wav_failed_ = true;
            st_.log->warn("sim {}: cannot write {}: {}", id_, path, sf_strerror(nullptr));
            return;
        }
    }
    if (wav_ != nullptr) {
        sf_write_short(wav_, pcm.data(), static_cast<sf_count_t>(pcm.size()));
        sf_write_sync(wav_);
    }
}

void session::run_vad() {
    if (turn_detection().is_null()) {
        vad_pos_ = in_total_;
        return;
    }
    vad_pos_ = std::max(vad_pos_, buf_start());
    while (in_total_ - vad_pos_ >= 240) {
        const auto offset = static_cast<std::size_t>(vad_pos_ - buf_start());
        const auto ev = vad_.feed_block(in_buf_.data() + offset, 240, vad_pos_ + 240);
        vad_pos_ += 240;
        if (ev == detail::energy_vad::event::started)
            on_speech_started();
        else if (ev == detail::energy_vad::event::stopped)
            on_speech_stopped();
        if (closing_ || ended_) return;
        check_idle_timeout();
    }
}

/// server_vad's idle_timeout_ms: no speech for that long (in input audio) while no response
/// runs: input_audio_buffer.timeout_triggered, the idle audio committed, and a response (the
/// model prompts the user), as the service does.
void session::check_idle_timeout() {
    const json& td = turn_detection();
    if (!td.is_object() || !td.contains("idle_timeout_ms") || !td["idle_timeout_ms"].is_number()) {
        idle_from_ = vad_pos_;  // counted from when it is turned on
        return;
    }
    if (resp_ || vad_.in_speech()) {
        idle_from_ = vad_pos_;
        return;
    }
    const auto idle_ms = td["idle_timeout_ms"].get<std::int64_t>();
    if (idle_ms <= 0 || vad_pos_ - idle_from_ < idle_ms * samples_per_ms) return;
    const std::string item_id = random_id("item_");
    send({{"type", "input_audio_buffer.timeout_triggered"},
          {"audio_start_ms", idle_from_ / samples_per_ms},
          {"audio_end_ms", vad_pos_ / samples_per_ms},
          {"item_id", item_id}});
    commit_audio(idle_from_, vad_pos_, item_id);
    idle_from_ = vad_pos_;
    if (td.value("create_response", true)) start_response(json::object());
}

void session::on_speech_started() {
    speech_item_id_ = random_id("item_");
    send({{"type", "input_audio_buffer.speech_started"},
          {"audio_start_ms", vad_.start_sample() / samples_per_ms},
          {"item_id", speech_item_id_}});
    if (resp_ && turn_detection().value("interrupt_response", true))
        cancel_response("turn_detected");
}

void session::on_speech_stopped() {
    const std::int64_t end = vad_pos_;
    send({{"type", "input_audio_buffer.speech_stopped"},
          {"audio_end_ms", end / samples_per_ms},
          {"item_id", speech_item_id_}});
    commit_audio(vad_.start_sample(), end, speech_item_id_);
    if (turn_detection().value("create_response", true)) {
        if (resp_) {
            st_.log->debug("sim {}: speech ended during a response; no new response", id_);
        } else {
            start_response(json::object());
        }
    }
}

void session::on_commit(const json& eid) {
    const std::int64_t ms = static_cast<std::int64_t>(in_buf_.size()) / samples_per_ms;
    if (ms < 100) {
        std::ostringstream m;
        m.setf(std::ios::fixed);
        m.precision(2);
        m << "Error committing input audio buffer: buffer too small. Expected at least "
             "100ms of audio, but buffer only has "
          << static_cast<double>(in_buf_.size()) / 24.0 << "ms of audio.";
        send_error({"input_audio_buffer_commit_empty", m.str(), ""}, eid);
        return;
    }
    const std::string item_id =
        vad_.in_speech() && !speech_item_id_.empty() ? speech_item_id_ : random_id("item_");
    vad_.reset();
    commit_audio(buf_start(), in_total_, item_id);
}

void session::on_clear() {
    in_buf_.clear();
    vad_.reset();
    vad_pos_ = in_total_;
    send({{"type", "input_audio_buffer.cleared"}});
}

std::string session::last_item_id() const {
    return conv_.empty() ? "" : conv_.back()->item["id"].get<std::string>();
}

void session::commit_audio(std::int64_t from, std::int64_t to, const std::string& item_id) {
    from = std::max(from, buf_start());
    to = std::min(to, in_total_);
    auto item = std::make_shared<conv_item>();
    if (to > from) {
        const auto a = static_cast<std::size_t>(from - buf_start());
        const auto b = static_cast<std::size_t>(to - buf_start());
        item->audio.assign(in_buf_.begin() + static_cast<std::ptrdiff_t>(a),
                           in_buf_.begin() + static_cast<std::ptrdiff_t>(b));
        in_buf_.erase(in_buf_.begin(), in_buf_.begin() + static_cast<std::ptrdiff_t>(b));
    } else {
        in_buf_.clear();
    }
    item->item = {{"id", item_id},
                  {"object", "realtime.item"},
                  {"type", "message"},
                  {"status", "completed"},
                  {"role", "user"},
                  {"content", json::array({{{"type", "input_audio"}, {"transcript", nullptr}}})}};
    const std::string prev = last_item_id();
    conv_.push_back(item);
    send({{"type", "input_audio_buffer.committed"},
          {"previous_item_id", id_or_null(prev)},
          {"item_id", item_id}});
    send({{"type", "conversation.item.added"},
          {"previous_item_id", id_or_null(prev)},
          {"item", item->item}});
    send({{"type", "conversation.item.done"},
          {"previous_item_id", id_or_null(prev)},
          {"item", item->item}});
    if (!config_["audio"]["input"]["transcription"].is_null()) {
        item->expected_user = expected_user_text();  // the turn that will answer it
        pending_transcripts_.push_back(item);
        arm_transcript_fallback();
    }
}

std::string session::expected_user_text() const {
    if (!pending_calls_.empty()) return {};
    const auto& turns = st_.scen.turns;
    std::size_t i = turn_index_;
    if (i >= turns.size()) {
        if (!st_.scen.loop || turns.empty()) return {};
        i %= turns.size();
    }
    return turns[i].user;
}

void session::arm_transcript_fallback() {
    // Transcripts arrive after the reply started (flush_transcripts() from the responder);
    // without a response (create_response off, manual turns) they come after ~1.5 s.
    transcript_timer_.expires_after(std::chrono::milliseconds(1500));
    transcript_timer_.async_wait([w = weak_from_this()](error_code ec) {
        if (ec) return;
        if (auto self = w.lock(); self && !self->resp_) self->flush_transcripts();
    });
}

void session::flush_transcripts() {
    for (const item_ptr& it : pending_transcripts_) {
        const double seconds = static_cast<double>(it->audio.size()) / 24000.0;
        std::string text = it->expected_user;
        if (text.empty()) {
            std::ostringstream t;
            t.setf(std::ios::fixed);
            t.precision(1);
            t << "[" << seconds << " s of speech]";
            text = t.str();
        }
        it->item["content"][0]["transcript"] = text;
        send({{"type", "conversation.item.input_audio_transcription.completed"},
              {"item_id", it->item["id"]},
              {"content_index", 0},
              {"transcript", text},
              {"usage", {{"type", "duration"}, {"seconds", std::ceil(seconds * 10) / 10}}}});
    }
    pending_transcripts_.clear();
}

}  // namespace ava::sim::detail
