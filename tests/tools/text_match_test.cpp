#include "support/text_match.hpp"

#include <gtest/gtest.h>

namespace {

using namespace ava::tools::detail;

TEST(text_match, normalises_case_punctuation_articles_and_plurals) {
    EXPECT_EQ(name_words("The Living-Room LIGHTS!"),
              (std::vector<std::string>{"living", "room", "light"}));
    EXPECT_EQ(name_words("glass"), (std::vector<std::string>{"glass"}));
    EXPECT_EQ(name_words("Anna's lamp", {"lamp"}), (std::vector<std::string>{"anna"}));
}

TEST(text_match, scores) {
    EXPECT_EQ(match_score("living room", "Living Room"), 3);
    EXPECT_EQ(match_score("the livingroom", "Living Room"), 3);
    EXPECT_EQ(match_score("kitchen", "Kitchen Ceiling"), 2);
    EXPECT_EQ(match_score("livng room", "Living Room"), 1);
    EXPECT_EQ(match_score("kitchen celing", "Kitchen Ceiling"), 1);
    EXPECT_EQ(match_score("garage", "Living Room"), 0);
    EXPECT_EQ(match_score("tv", "tx"), 0) << "no typo budget for very short words";
    EXPECT_EQ(edit_distance("ab", "ba"), 1u);
}

TEST(text_match, best_matches_prefers_exact_and_reports_ties) {
    const std::vector<std::string> names{"Kitchen Ceiling", "Kitchen Counter", "Kitchen"};
    EXPECT_EQ(best_matches("the kitchen", names), (std::vector<std::size_t>{2}));
    const std::vector<std::string> two{"Kitchen Ceiling", "Kitchen Counter"};
    EXPECT_EQ(best_matches("kitchen lights", two, {"light"}), (std::vector<std::size_t>{0, 1}));
    EXPECT_TRUE(best_matches("porch", two).empty());
}

}  // namespace
