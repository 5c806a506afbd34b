// The straight mic path (conversation::on_mic_frame) and end_playback: the conversation decides,
// the integrator encodes from its own frame.
#include <gtest/gtest.h>

#include <array>
#include <variant>
#include <vector>

#include "ava/realtime/conversation.hpp"

namespace {

using namespace ava::realtime;
namespace core = ava::core;

template <class T>
std::vector<T> of(const std::vector<action>& acts) {
    std::vector<T> out;
    for (const action& a : acts) {
        if (const T* x = std::get_if<T>(&a)) out.push_back(*x);
    }
    return out;
}

struct MicFrame : ::testing::Test {
    steady_time now = std::chrono::steady_clock::now();
    std::array<core::sample, core::frame_samples> frame{};
    conversation c{conversation_options{}};

    void SetUp() override {
        for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<core::sample>(i);
    }
};

TEST_F(MicFrame, OnlineFrameIsSentFromTheCallersBuffer) {
    c.on_connected(now);
    (void)c.drain();
    c.on_mic_frame(frame, now);
    std::vector<action> acts;
    c.drain(acts);
    const auto sends = of<act::send_audio>(acts);
    ASSERT_EQ(sends.size(), 1u);
    EXPECT_EQ(sends[0].pcm.data(), frame.data());  // a view, not a copy
    EXPECT_EQ(sends[0].pcm.size(), frame.size());
    EXPECT_FALSE(sends[0].event_id.empty());
    EXPECT_TRUE(of<act::send>(acts).empty());
    // drain(out) swaps buffers: the next drain reuses the capacity and is empty.
    c.drain(acts);
    EXPECT_TRUE(acts.empty());
}

TEST_F(MicFrame, EventIdsIncreaseLikeOtherEvents) {
    c.on_connected(now);
    (void)c.drain();
    c.on_mic_frame(frame, now);
    c.on_mic_frame(frame, now);
    const auto sends = of<act::send_audio>(c.drain());
    ASSERT_EQ(sends.size(), 2u);
    EXPECT_NE(sends[0].event_id, sends[1].event_id);
}

TEST_F(MicFrame, MutedOrPushToTalkReleasedSendsNothing) {
    c.on_connected(now);
    (void)c.drain();
    c.set_muted(true, now);
    c.on_mic_frame(frame, now);
    EXPECT_TRUE(of<act::send_audio>(c.drain()).empty());

    conversation_options manual;
    manual.session.turn = turn_detection{};
    manual.session.turn->type = vad_type::none;
    conversation ptt(manual);
    ptt.on_connected(now);
    (void)ptt.drain();
    ptt.on_mic_frame(frame, now);  // the key is not held
    EXPECT_TRUE(of<act::send_audio>(ptt.drain()).empty());
    ptt.on_talk_start(now);
    ptt.on_mic_frame(frame, now);
    EXPECT_EQ(of<act::send_audio>(ptt.drain()).size(), 1u);
}

TEST_F(MicFrame, OfflineFramesAreCopiedAndSentAfterConnecting) {
    c.on_mic_frame(frame, now);  // never connected: buffered (a copy)
    frame.fill(0);               // the caller reuses its buffer
    EXPECT_TRUE(of<act::send_audio>(c.drain()).empty());
    c.on_connected(now);
    const auto acts = c.drain();
    std::vector<core::sample> sent;
    for (const auto& s : of<act::send>(acts)) {
        if (const auto* a = std::get_if<client::input_audio_buffer_append>(&s.event)) {
            sent.insert(sent.end(), a->audio.begin(), a->audio.end());
        }
    }
    ASSERT_EQ(sent.size(), core::frame_samples);
    EXPECT_EQ(sent[5], 5);
}

TEST_F(MicFrame, OtherLengthsGoThroughTheCopyingPath) {
    c.on_connected(now);
    (void)c.drain();
    c.on_mic_frame(core::pcm_view(frame).first(100), now);  // a partial frame waits
    EXPECT_TRUE(c.drain().empty());
    c.on_mic_frame(frame, now);  // the partial one goes first: copied, in order
    const auto acts = c.drain();
    EXPECT_TRUE(of<act::send_audio>(acts).empty());
    ASSERT_EQ(of<act::send>(acts).size(), 1u);
}

TEST(EndPlayback, AudioDoneOfAPlayingItemSaysTheItemIsComplete) {
    const steady_time now = std::chrono::steady_clock::now();
    conversation c{conversation_options{}};
    c.on_connected(now);
    server::response_created rc;
    rc.response.id = "r1";
    c.on_server_event(rc, now);
    server::output_item_added item;
    item.response_id = "r1";
    item.item.id = "a1";
    item.item.type = "message";
    item.item.role = "assistant";
    c.on_server_event(item, now);
    server::output_audio_delta d;
    d.response_id = "r1";
    d.item_id = "a1";
    d.audio.assign(2400, 100);
    c.on_server_event(d, now);
    (void)c.drain();
    server::output_audio_done done;
    done.response_id = "r1";
    done.item_id = "a1";
    c.on_server_event(done, now);
    const auto ends = of<act::end_playback>(c.drain());
    ASSERT_EQ(ends.size(), 1u);
    EXPECT_EQ(ends[0].item_id, "a1");
    // An unknown item's audio_done says nothing.
    done.item_id = "nobody";
    c.on_server_event(done, now);
    EXPECT_TRUE(of<act::end_playback>(c.drain()).empty());
}

}  // namespace
