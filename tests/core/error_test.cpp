#include "ava/core/error.hpp"

#include <gtest/gtest.h>

TEST(error, codes_have_category_and_message) {
    const std::error_code ec = ava::errc::auth_failed;
    EXPECT_STREQ(ec.category().name(), "ava");
    EXPECT_NE(ec.message().find("API key"), std::string::npos);
    EXPECT_TRUE(static_cast<bool>(ec));
    EXPECT_FALSE(static_cast<bool>(std::error_code(ava::errc::ok)));
}
