// The renderer's output as bytes (plain and ANSI) and the key decoder, in-process.
#include <gtest/gtest.h>

#include <string>

#include "ava/app/terminal.hpp"
#include "ava/app/ui.hpp"
#include "ava/core/log.hpp"

namespace ava::app {
namespace {

struct capture {
    std::string out;
    std::string err;
};

ui_renderer make(capture& c, bool ansi, bool color, int width = 100, bool ptt = false) {
    ui_options o;
    o.ansi = ansi;
    o.color = color;
    o.width = width;
    o.push_to_talk = ptt;
    return ui_renderer(
        o, [&c](std::string_view b) { c.out += b; }, [&c](std::string_view b) { c.err += b; });
}

transcript_line line(realtime::speaker who, std::string text, bool final, std::string id = "i1") {
    transcript_line t;
    t.item_id = std::move(id);
    t.role = who;
    t.text = std::move(text);
    t.final = final;
    return t;
}

/// The text of the last frame: everything after the last "clear to end of screen".
std::string last_frame(const std::string& out) {
    const auto p = out.rfind("\x1b[J");
    return p == std::string::npos ? out : out.substr(p + 3);
}

TEST(UiPlain, FinalLinesOnlyNoEscapes) {
    capture c;
    {
        auto ui = make(c, false, false);
        ui.status(realtime::conv_status::user_speaking);
        ui.transcript(line(realtime::speaker::user, "turn on the", false));
        ui.transcript(line(realtime::speaker::user, "turn on the lights", true));
        auto a = line(realtime::speaker::assistant, "Done, the lights", true, "i2");
        a.unheard = "are on.";
        ui.transcript(a);
        tool_event e;
        e.name = "set_lights";
        e.arguments_json = R"({"on":true})";
        ui.tool(e);
        e.finished = true;
        e.ok = false;
        e.output_json = R"({"error":"no bridge"})";
        e.elapsed = std::chrono::milliseconds(12);
        ui.tool(e);
        ui.levels(-10, -10);
        ui.refresh();
        ui.warning("careful");
    }
    EXPECT_EQ(c.out,
              "You: turn on the lights\n"
              "AVA: Done, the lights [interrupted; not heard: are on.]\n"
              "  -> set_lights {\"on\":true}\n"
              "  <- set_lights failed (12 ms) {\"error\":\"no bridge\"}\n");
    EXPECT_EQ(c.err, "ava-voice: warning: careful\n");
    EXPECT_EQ(c.out.find('\x1b'), std::string::npos);
}

TEST(UiPlain, EscapeSequencesFromOutsideAreShownInert) {
    // Server or model text with an OSC title, a clear screen and a cursor move, a C1 CSI and a
    // stray byte: none of it may act on the terminal; accents, CJK and RTL text pass.
    capture c;
    {
        auto ui = make(c, false, false);
        ui.transcript(line(realtime::speaker::assistant,
                           "Hi\x1b]0;pwned\x07 \x1b[2J\x1b[10;10H\xc2\x9b"
                           "31m caf\xc3\xa9 "
                           "\xe4\xbd\xa0\xe5\xa5\xbd \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xff",
                           true, "i3"));
        tool_event e;
        e.name = "evil\x1b[2Jtool";
        ui.tool(e);
        ui.warning("server said \x1b]52;c;AAAA\x07");
        ui.error("bad\x1b[H");
    }
    EXPECT_EQ(c.out.find('\x1b'), std::string::npos) << c.out;
    EXPECT_EQ(c.err.find('\x1b'), std::string::npos) << c.err;
    EXPECT_EQ(c.out.find('\x07'), std::string::npos);
    EXPECT_EQ(c.out.find("\xc2\x9b"), std::string::npos);
    EXPECT_NE(c.out.find("caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d"),
              std::string::npos)
        << c.out;
    EXPECT_NE(c.out.find("AVA: Hi?]0;pwned? ?[2J?[10;10H?31m"), std::string::npos) << c.out;
    EXPECT_NE(c.out.find("evil?[2Jtool"), std::string::npos) << c.out;
}

TEST(UiPlain, AKeyEchoedByTheServerIsRedacted) {
    // #20 probe 4: the log line was redacted, the warning line on stderr was not.
    ava::log::add_secret("ui-test-registered-secret-42");
    capture c;
    {
        auto ui = make(c, false, false);
        ui.warning("Incorrect API key provided: sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX.");
        ui.error("rejected ui-test-registered-secret-42");
        ui.notice("echo sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX");
    }
    EXPECT_EQ(c.err.find("ABCDEFGHIJKLMNOP"), std::string::npos) << c.err;
    EXPECT_EQ(c.err.find("registered-secret"), std::string::npos) << c.err;
    EXPECT_EQ(c.out.find("ABCDEFGHIJKLMNOP"), std::string::npos) << c.out;
    EXPECT_NE(c.err.find("Incorrect API key provided: [redacted]"), std::string::npos) << c.err;
}

TEST(UiPlain, ColourWithoutCursorMovement) {
    capture c;
    auto ui = make(c, false, true);
    ui.transcript(line(realtime::speaker::user, "hi", true));
    EXPECT_EQ(c.out, "\x1b[1;36mYou: \x1b[0mhi\n");
    EXPECT_EQ(c.out.find("\x1b[J"), std::string::npos);
}

TEST(UiAnsi, PartialTextUpdatesInPlaceThenScrolls) {
    capture c;
    auto ui = make(c, true, false);
    ui.transcript(line(realtime::speaker::assistant, "Hello", false));
    EXPECT_NE(last_frame(c.out).find("AVA: Hello"), std::string::npos);
    ui.transcript(line(realtime::speaker::assistant, "Hello there", false));
    const std::string frame = last_frame(c.out);
    EXPECT_NE(frame.find("AVA: Hello there"), std::string::npos);
    // The footer is redrawn over itself: back to column 0, up to its first row, cleared.
    EXPECT_NE(c.out.find("\r\x1b[2A\x1b[J"), std::string::npos);
    ui.transcript(line(realtime::speaker::assistant, "Hello there, friend.", true));
    const std::string after = c.out.substr(c.out.rfind("\x1b[J") + 3);
    // The final line scrolls (ends with a newline) and the partial row is gone from the footer.
    EXPECT_EQ(after.rfind("AVA: Hello there, friend.\x1b[0m\n", 0), 0u) << after;
    EXPECT_EQ(after.find("AVA:", 5), std::string::npos);
}

TEST(UiAnsi, StatusMetersCostLatencyAndMute) {
    capture c;
    auto ui = make(c, true, false, 160);
    ui.status(realtime::conv_status::assistant_speaking);
    ui.levels(0.0f, -60.0f);
    realtime::act::usage_metrics u;
    u.tokens.total_tokens = 1234;
    u.session_cost_usd = 0.0123;
    ui.usage(u);
    ui.turn({1, std::chrono::milliseconds(640)});
    ui.muted(true);
    const std::string f = last_frame(c.out);
    EXPECT_NE(f.find("AVA speaking"), std::string::npos) << f;
    EXPECT_NE(f.find("MUTED"), std::string::npos);
    EXPECT_NE(f.find("mic ........"), std::string::npos) << "muted shows an empty meter: " << f;
    EXPECT_NE(f.find("out ........"), std::string::npos) << f;
    EXPECT_NE(f.find("tokens 1234 $0.0123"), std::string::npos) << f;
    EXPECT_NE(f.find("last turn 640 ms"), std::string::npos) << f;
    ui.muted(false);
    ui.refresh();
    EXPECT_NE(last_frame(c.out).find("mic ########"), std::string::npos) << last_frame(c.out);
}

TEST(UiAnsi, EditorAndHintsOnTheBottomRow) {
    capture c;
    auto ui = make(c, true, false, 100, true);
    ui.refresh();
    EXPECT_NE(last_frame(c.out).find("SPACE talk"), std::string::npos);
    ui.editing(std::string("hello"));
    EXPECT_NE(last_frame(c.out).find("Type: hello"), std::string::npos);
    ui.editing(std::nullopt);
    ui.hint("microphone muted");
    EXPECT_NE(last_frame(c.out).find("microphone muted"), std::string::npos);
    ui.interrupted();
    EXPECT_NE(last_frame(c.out).find("interrupted 1"), std::string::npos) << last_frame(c.out);
}

TEST(UiAnsi, ARunningToolShowsItsTimeAndAnApprovalTakesTheBottomRows) {
    // #19: the footer shows what is running (C cancels) and a tool waiting for a yes.
    capture c;
    auto ui = make(c, true, false, 100);
    tool_event start;
    start.call_id = "call_1";
    start.name = "backup";
    start.arguments_json = "{}";
    ui.tool(start);
    EXPECT_TRUE(ui.tools_running());
    EXPECT_NE(last_frame(c.out).find("running: backup 0.0 s  (C cancels)"), std::string::npos)
        << last_frame(c.out);
    approval_request r;
    r.call_id = "call_2";
    r.name = "delete_files";
    r.arguments_json = R"({"folder":"tmp"})";
    r.timeout = std::chrono::seconds(30);
    ui.approval(r);
    EXPECT_EQ(ui.pending_approval(), "call_2");
    const std::string f = last_frame(c.out);
    EXPECT_NE(f.find(R"(Run delete_files {"folder":"tmp"}?)"), std::string::npos) << f;
    EXPECT_NE(f.find("Y run it  N refuse"), std::string::npos) << f;
    r.st = approval_request::state::denied;
    ui.approval(r);
    EXPECT_FALSE(ui.pending_approval().has_value());
    EXPECT_NE(c.out.find("no delete_files refused"), std::string::npos);
    EXPECT_EQ(last_frame(c.out).find("Y run it"), std::string::npos);
    tool_event done = start;
    done.finished = true;
    done.ok = true;
    ui.tool(done);
    EXPECT_FALSE(ui.tools_running());
    EXPECT_EQ(last_frame(c.out).find("running:"), std::string::npos);
}

TEST(UiPlain, AnApprovalPromptIsOneLineThatSaysTheKeys) {
    capture c;
    auto ui = make(c, false, false);
    approval_request r;
    r.call_id = "call_2";
    r.name = "delete_files";
    r.arguments_json = "{}";
    r.timeout = std::chrono::seconds(30);
    ui.approval(r);
    EXPECT_NE(c.out.find("delete_files {} needs your yes: press Y to run it, N to refuse (no "
                         "answer in 30 s = no)"),
              std::string::npos)
        << c.out;
}

TEST(UiAnsi, RowsNeverWrapAndFinishClears) {
    capture c;
    auto ui = make(c, true, true, 40);
    ui.transcript(line(realtime::speaker::user, std::string(200, 'x') + "END", false));
    const std::string f = last_frame(c.out);
    std::size_t start = 0;
    while (start <= f.size()) {
        const auto nl = f.find('\n', start);
        const auto row = f.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        EXPECT_LT(ui_renderer::display_width(row), 40u) << row;
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    EXPECT_NE(f.find("END"), std::string::npos) << "partial text keeps its newest words";
    ui.finish();
    EXPECT_EQ(c.out.substr(c.out.size() - 6), "\x1b[?25h");
    ui.line("summary");
    EXPECT_EQ(c.out.substr(c.out.size() - 8), "summary\n");
}

TEST(UiHelpers, MeterFitAndWidth) {
    EXPECT_EQ(ui_renderer::meter(-120, 4, false), "....");
    EXPECT_EQ(ui_renderer::meter(-30, 4, false), "##..");
    EXPECT_EQ(ui_renderer::meter(3, 4, false), "####");
    EXPECT_EQ(ui_renderer::display_width("\x1b[1mab\x1b[0m\u00e9\u2588"), 4u);
    EXPECT_EQ(ui_renderer::fit("abcdefgh", 6, false), "abc...");
    EXPECT_EQ(ui_renderer::fit("abcdefgh", 6, true), "...fgh");
    EXPECT_EQ(ui_renderer::fit("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", 5, true),
              "...\u00e9\u00e9");
    EXPECT_EQ(ui_renderer::status_text(realtime::conv_status::user_speaking), "you are speaking");
    EXPECT_EQ(ui_renderer::status_text(realtime::conv_status::calling_tool), "calling a tool");
    EXPECT_EQ(ui_renderer::status_text(realtime::conv_status::reconnecting), "reconnecting");
}

TEST(KeyDecoder, KeysSequencesAndSplitCharacters) {
    key_decoder d;
    auto k = d.feed("t\x1b[A\r\n\x7f");
    ASSERT_EQ(k.size(), 4u);
    EXPECT_EQ(k[0].k, key::kind::character);
    EXPECT_EQ(k[0].text, "t");
    EXPECT_EQ(k[1].k, key::kind::other);  // arrow up is one key, ignored
    EXPECT_EQ(k[2].k, key::kind::enter);  // CR LF is one Enter
    EXPECT_EQ(k[3].k, key::kind::backspace);
    k = d.feed("\x1b");
    ASSERT_EQ(k.size(), 1u);
    EXPECT_EQ(k[0].k, key::kind::escape);
    k = d.feed("\xc3");  // first byte of "é"
    EXPECT_TRUE(k.empty());
    k = d.feed("\xa9\x03");
    ASSERT_EQ(k.size(), 2u);
    EXPECT_EQ(k[0].text, "\xc3\xa9");
    EXPECT_EQ(k[1].k, key::kind::ctrl_c);
    std::string s = "a\xc3\xa9";
    pop_utf8_char(s);
    EXPECT_EQ(s, "a");
    pop_utf8_char(s);
    pop_utf8_char(s);
    EXPECT_EQ(s, "");
}

TEST(RawMode, NotATerminalIsHarmless) {
    raw_mode r(-1);
    EXPECT_FALSE(r.active());
    r.restore();
    restore_terminal_now();
}

}  // namespace
}  // namespace ava::app
