// The item player (include/ava/audio/item_player.hpp). Io thread only.
#include "ava/audio/item_player.hpp"

#include <utility>

namespace ava::audio {

using namespace std::chrono_literals;

std::uint32_t item_player::tag_of(std::string_view item_id) const {
    const auto it = tags_.find(item_id);
    return it == tags_.end() ? 0 : it->second;
}

item_player::play_result item_player::play(std::string_view item_id, core::pcm_view pcm) {
    auto it = tags_.find(item_id);
    const bool first = it == tags_.end();
    if (first) {
        // The engine REQUIRES increasing tags (a flush drops every tag played so far).
        it = tags_.emplace(std::string(item_id), ++next_tag_).first;
    }
    const std::uint32_t tag = it->second;
    engine_.play(tag, pcm);
    auto [p, added] = playing_.try_emplace(tag);
    if (added) p->second.item_id = it->first;
    played_since_idle_ = true;
    return {tag, first};
}

void item_player::end_item(std::string_view item_id) {
    if (const std::uint32_t tag = tag_of(item_id); tag != 0) engine_.end_item(tag);
}

item_player::flush_request item_player::flush(std::string_view item_id) {
    const std::uint32_t tag = tag_of(item_id);
    const std::uint64_t gen = engine_.flush();
    // The flush drops everything queued: no other item will be heard any more.
    playing_.clear();
    played_since_idle_ = true;
    pending_flushes_.push_back({gen, std::string(item_id), tag});
    return {gen, tag};
}

void item_player::poll(clock::time_point now, bool device_running) {
    for (auto& [tag, p] : playing_) {
        const std::int64_t heard = engine_.heard_samples(tag);
        if (heard > 0 && !p.started) {
            p.started = true;
            reports_.push_back({.what = playback_report::kind::started,
                                .item_id = p.item_id,
                                .heard = heard,
                                .tag = tag,
                                .at = engine_.first_rendered_at(tag)});
        }
        if (heard > p.last_heard &&
            (now - p.last_report >= 50ms || heard >= engine_.received_samples(tag))) {
            p.last_heard = heard;
            p.last_report = now;
            reports_.push_back(
                {.what = playback_report::kind::progress, .item_id = p.item_id, .heard = heard});
        }
    }
    poll_flushes(now, device_running);
    // Idle is confirmed here, on the io thread, where every play() has been applied: a drained
    // engine now means nothing newer is queued (conversation.hpp contract).
    if (played_since_idle_ && pending_flushes_.empty() && engine_.drained()) {
        played_since_idle_ = false;
        for (const auto& [tag, p] : playing_) {
            const std::int64_t heard = engine_.heard_samples(tag);
            if (heard > p.last_heard) {
                reports_.push_back({.what = playback_report::kind::progress,
                                    .item_id = p.item_id,
                                    .heard = heard});
            }
        }
        playing_.clear();
        reports_.push_back({.what = playback_report::kind::idle});
    }
}

void item_player::poll_flushes(clock::time_point now, bool device_running) {
    while (!pending_flushes_.empty()) {
        pending_flush& f = pending_flushes_.front();
        if (device_running && !engine_.flush_completed(f.generation)) return;
        reports_.push_back({.what = playback_report::kind::flushed,
                            .item_id = std::move(f.item_id),
                            .heard = f.tag == 0 ? 0 : engine_.heard_samples(f.tag),
                            .tag = f.tag,
                            .at = device_running ? engine_.last_flush_done_at() : now,
                            .received = f.tag == 0 ? 0 : engine_.received_samples(f.tag)});
        pending_flushes_.pop_front();
    }
}

void item_player::drain(std::vector<playback_report>& out) {
    out.clear();
    std::swap(out, reports_);
}

}  // namespace ava::audio
