// The item player: tags per item, the report queue (started, progress, flushed, idle) in the
// order the conversation needs, and flushes confirmed by the device's periods.
#include "ava/audio/item_player.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace ava::audio;
using kind = playback_report::kind;
using ava::core::sample;
using clock_type = std::chrono::steady_clock;

struct ItemPlayer : ::testing::Test {
    engine eng{engine_config{}};
    item_player player{eng};
    std::vector<sample> in = std::vector<sample>(240);
    std::vector<sample> out = std::vector<sample>(240);
    std::vector<playback_report> reports;

    // One 10 ms device period at 24 kHz (a WAV-like device: what is handed over is heard).
    void period() { eng.process(in, out, callback_timing{.now = clock_type::now()}); }
    std::vector<playback_report> poll(bool running = true) {
        player.poll(clock_type::now(), running);
        player.drain(reports);
        return reports;
    }
};

TEST_F(ItemPlayer, TagsIncreasePerItemAndFirstPlaySaysSo) {
    const std::vector<sample> pcm(480, 1000);
    const auto a = player.play("item_a", pcm);
    const auto a2 = player.play("item_a", pcm);
    const auto b = player.play("item_b", pcm);
    EXPECT_TRUE(a.first);
    EXPECT_FALSE(a2.first);
    EXPECT_EQ(a.tag, a2.tag);
    EXPECT_TRUE(b.first);
    EXPECT_GT(b.tag, a.tag);
}

TEST_F(ItemPlayer, StartedProgressThenIdle) {
    const std::vector<sample> pcm(2400, 1000);  // 100 ms: above the start threshold
    player.play("item_a", pcm);
    player.end_item("item_a");
    EXPECT_FALSE(player.settled());
    std::vector<playback_report> all;
    for (int i = 0; i < 20; ++i) {
        period();
        const auto r = poll();
        all.insert(all.end(), r.begin(), r.end());
    }
    ASSERT_FALSE(all.empty());
    EXPECT_EQ(all.front().what, kind::started);
    EXPECT_EQ(all.front().item_id, "item_a");
    EXPECT_EQ(all.back().what, kind::idle);
    std::int64_t last = 0;
    for (const auto& r : all) {
        if (r.what == kind::progress) {
            EXPECT_GT(r.heard, last);
            last = r.heard;
        }
    }
    EXPECT_EQ(last, 2400);  // everything received was heard before idle
    EXPECT_TRUE(player.settled());
}

TEST_F(ItemPlayer, FlushWaitsForTheDeviceAndReportsWhatWasHeard) {
    const std::vector<sample> pcm(4800, 1000);
    player.play("item_a", pcm);
    for (int i = 0; i < 5; ++i) period();
    (void)poll();
    const auto f = player.flush("item_a");
    EXPECT_GT(f.generation, 0u);
    EXPECT_TRUE(player.flush_pending());
    auto r = poll();  // the device has not run a period since the request
    for (const auto& x : r) EXPECT_NE(x.what, kind::flushed);
    period();
    r = poll();
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r.front().what, kind::flushed);
    EXPECT_EQ(r.front().item_id, "item_a");
    EXPECT_GT(r.front().heard, 0);
    EXPECT_LT(r.front().heard, 4800);
    EXPECT_EQ(r.front().received, 4800);
    EXPECT_FALSE(player.flush_pending());
}

TEST_F(ItemPlayer, FlushWithoutARunningDeviceCompletesAtOnce) {
    player.flush("never_played");
    player.poll_flushes(clock_type::now(), false);
    player.drain(reports);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].what, kind::flushed);
    EXPECT_EQ(reports[0].tag, 0u);
    EXPECT_EQ(reports[0].heard, 0);
}

TEST_F(ItemPlayer, AudioOfAFlushedItemIsDropped) {
    const std::vector<sample> pcm(2400, 1000);
    player.play("item_a", pcm);
    player.flush("item_a");
    player.play("item_a", pcm);  // a late delta
    EXPECT_GE(eng.stats().dropped_plays, 1u);
}

}  // namespace
