// The conversation's memory seed (earlier sessions as text items on every connect) and context
// pruning (keep_turns: old items deleted once their lines are out, when nothing is in flight).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "action_helpers.hpp"
#include "ava/realtime/conversation.hpp"

namespace {

using namespace ava::realtime;
using std::chrono::milliseconds;

using test::of;
using test::sent;

class MemoryPrune : public ::testing::Test {
  protected:
    steady_time now = steady_time{} + std::chrono::hours(1);
    std::unique_ptr<conversation> c;
    std::vector<action> all;

    static conversation_options options() {
        conversation_options o;
        o.session.model = "gpt-realtime";
        o.session.input_transcription = transcription{.model = "gpt-4o-mini-transcribe"};
        o.jitter = [] { return 0.5; };
        return o;
    }
    void make(conversation_options o) {
        c = std::make_unique<conversation>(std::move(o));
        c->drain();
    }
    std::vector<action> ev(server_event e) {
        c->on_server_event(std::move(e), now);
        auto a = c->drain();
        all.insert(all.end(), a.begin(), a.end());
        return a;
    }
    /// One whole spoken turn n: user item u<n> (after the previous reply), reply a<n>, played out.
    void turn(int n) {
        const std::string u = "u" + std::to_string(n);
        const std::string a = "a" + std::to_string(n);
        const std::string r = "r" + std::to_string(n);
        const std::optional<std::string> prev =
            n > 1 ? std::optional<std::string>("a" + std::to_string(n - 1)) : std::nullopt;
        ev(server::speech_started{.item_id = u});
        ev(server::speech_stopped{.item_id = u});
        ev(server::input_audio_committed{.previous_item_id = prev, .item_id = u});
        server::conversation_item_added added;
        added.previous_item_id = prev;
        added.item.id = u;
        added.item.type = "message";
        added.item.role = "user";
        added.item.content.push_back(content_part{.type = "input_audio"});
        ev(added);
        ev(server::input_transcription_completed{.item_id = u, .transcript = "question " + u});
        server::response_created rc;
        rc.response.id = r;
        ev(rc);
        server::output_item_added oi;
        oi.response_id = r;
        oi.item.id = a;
        oi.item.type = "message";
        oi.item.role = "assistant";
        ev(oi);
        server::output_audio_delta d;
        d.response_id = r;
        d.item_id = a;
        d.audio.assign(2400, 100);
        ev(d);
        c->on_playback_started(a, now);
        server::output_audio_transcript_done td;
        td.response_id = r;
        td.item_id = a;
        td.transcript = "answer " + a;
        ev(td);
        ev(server::output_audio_done{.response_id = r, .item_id = a});
        server::response_done done;
        done.response.id = r;
        done.response.status = "completed";
        ev(done);
        now += milliseconds(200);
        c->on_playback_progress(a, 2400, now);
        c->on_playback_idle(now);
        auto rest = c->drain();
        all.insert(all.end(), rest.begin(), rest.end());
    }
    std::vector<std::string> deleted() const {
        std::vector<std::string> ids;
        for (const auto& d : sent<client::conversation_item_delete>(all)) ids.push_back(d.item_id);
        return ids;
    }
};

TEST_F(MemoryPrune, MemoryLinesGoOutAsTextItemsRightAfterSessionUpdateOnEveryConnect) {
    auto o = options();
    o.memory = {{speaker::user, "My sister is called Sarah."},
                {speaker::assistant, "Got it, Sarah."},
                {speaker::user, "   "}};  // blank lines are skipped
    make(o);
    c->on_connected(now);
    auto first = c->drain();
    const auto sends = of<act::send>(first);
    ASSERT_GE(sends.size(), 3u);
    EXPECT_TRUE(std::holds_alternative<client::session_update>(sends[0].event));
    const auto items = sent<client::conversation_item_create>(first);
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].item.role, "user");
    EXPECT_EQ(items[0].item.content.at(0).type, "input_text");
    EXPECT_EQ(items[0].item.content.at(0).text, "My sister is called Sarah.");
    EXPECT_EQ(items[1].item.role, "assistant");
    EXPECT_EQ(items[1].item.content.at(0).type, "output_text");
    EXPECT_TRUE(sent<client::response_create>(first).empty());  // nothing is answered

    // Their echoes are not lines of this session.
    server::conversation_item_added echo;
    echo.item = items[0].item;
    c->on_server_event(echo, now);
    for (const auto& t : of<act::transcript>(c->drain())) {
        EXPECT_NE(t.text, "My sister is called Sarah.");
    }

    // A new server conversation (reconnect) gets them again, before this session's re-seed.
    c->on_disconnected({.close_code = 1006, .reason = "gone"}, now);
    c->drain();
    now += std::chrono::seconds(2);
    c->on_connected(now);
    const auto again = sent<client::conversation_item_create>(c->drain());
    ASSERT_GE(again.size(), 2u);
    EXPECT_EQ(again[0].item.content.at(0).text, "My sister is called Sarah.");
    EXPECT_NE(again[0].item.id, items[0].item.id);
}

TEST_F(MemoryPrune, KeepTurnsDeletesOlderItemsOnceTheirLinesAreOut) {
    auto o = options();
    o.keep_turns = 3;
    make(o);
    c->on_connected(now);
    c->drain();
    for (int n = 1; n <= 3; ++n) turn(n);
    EXPECT_TRUE(deleted().empty());
    turn(4);
    // Four user turns held, three kept: turn 1's items go.
    EXPECT_EQ(deleted(), (std::vector<std::string>{"u1", "a1"}));
    for (int n = 5; n <= 8; ++n) turn(n);
    const auto ids = deleted();
    EXPECT_EQ(ids.size(), 10u);  // turns 1..5, each user + assistant item, once each
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "u5"), 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "u6"), 0);
    EXPECT_EQ(c->summary().context_items_deleted, 10);
    // Every line still reached the transcript.
    int finals = 0;
    for (const auto& t : of<act::transcript>(all)) finals += t.final ? 1 : 0;
    EXPECT_EQ(finals, 16);
}

TEST_F(MemoryPrune, AReplyStillPlayingIsKeptUntilItHasPlayedOut) {
    auto o = options();
    o.keep_turns = 1;
    make(o);
    c->on_connected(now);
    c->drain();
    turn(1);
    turn(2);
    EXPECT_EQ(deleted(), (std::vector<std::string>{"u1", "a1"}));
    // Turn 3's reply is playing when a typed line (u4) arrives: u3 goes, a3 stays (a barge-in
    // would truncate it) until it has played out.
    server::conversation_item_added u3;
    u3.previous_item_id = "a2";
    u3.item.id = "u3";
    u3.item.type = "message";
    u3.item.role = "user";
    u3.item.content.push_back(content_part{.type = "input_text", .text = "typed three"});
    ev(u3);
    server::response_created rc;
    rc.response.id = "r3";
    ev(rc);
    server::output_item_added oi;
    oi.response_id = "r3";
    oi.item.id = "a3";
    oi.item.type = "message";
    oi.item.role = "assistant";
    ev(oi);
    server::output_audio_delta d;
    d.response_id = "r3";
    d.item_id = "a3";
    d.audio.assign(24000, 100);
    ev(d);
    c->on_playback_started("a3", now);
    server::output_audio_transcript_done td;
    td.response_id = "r3";
    td.item_id = "a3";
    td.transcript = "a long answer";
    ev(td);
    ev(server::output_audio_done{.response_id = "r3", .item_id = "a3"});
    server::response_done done;
    done.response.id = "r3";
    done.response.status = "completed";
    ev(done);
    server::conversation_item_added u4 = u3;
    u4.previous_item_id = "a3";
    u4.item.id = "u4";
    ev(u4);
    auto ids = deleted();
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "u2"), 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "a2"), 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "a3"), 0) << "deleted while playing";
    now += milliseconds(1000);
    c->on_playback_progress("a3", 24000, now);
    c->on_playback_idle(now);
    auto rest = c->drain();
    all.insert(all.end(), rest.begin(), rest.end());
    // It goes with the next turn's prune (played out by then).
    server::conversation_item_added u5 = u3;
    u5.previous_item_id = "u4";
    u5.item.id = "u5";
    ev(u5);
    ids = deleted();
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "a3"), 1);
}

TEST_F(MemoryPrune, PruneBatchLetsTurnsGatherThenPrunesDownToKeepTurns) {
    auto o = options();
    o.keep_turns = 2;
    o.prune_batch = 2;
    make(o);
    c->on_connected(now);
    c->drain();
    for (int n = 1; n <= 4; ++n) turn(n);
    EXPECT_TRUE(deleted().empty());
    turn(5);  // five held > 2 + 2: down to the last two turns at once
    EXPECT_EQ(deleted(), (std::vector<std::string>{"u1", "a1", "u2", "a2", "u3", "a3"}));
    turn(6);
    turn(7);
    EXPECT_EQ(deleted().size(), 6u);
}

TEST_F(MemoryPrune, ZeroKeepsEverything) {
    make(options());
    c->on_connected(now);
    c->drain();
    for (int n = 1; n <= 30; ++n) turn(n);
    EXPECT_TRUE(deleted().empty());
}

}  // namespace
