#include "ava/core/lazy_library.hpp"

#include <array>
#include <cstdlib>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

using ava::core::lazy_library;
using std::string;

// libm is part of glibc, so it is on every machine the tests run on.
constexpr const char* libm_sonames[] = {"libm.so.6", "libm.so"};
constexpr const char* libm_symbols[] = {"cos", "sqrt"};
constexpr lazy_library::spec libm_spec{.name = "libm",
                                       .key = "test-libm",
                                       .package = "libc6",
                                       .sonames = libm_sonames,
                                       .symbols = libm_symbols};

constexpr const char* missing_sonames[] = {"libava-no-such-library.so.7", "libava-no-such.so"};
constexpr const char* missing_symbols[] = {"nothing"};
constexpr lazy_library::spec missing_spec{.name = "Nothing",
                                          .key = "test-missing",
                                          .package = "libava-nothing7",
                                          .sonames = missing_sonames,
                                          .symbols = missing_symbols};

constexpr const char* bad_symbols[] = {"cos", "ava_no_such_function"};
constexpr lazy_library::spec bad_symbol_spec{.name = "libm",
                                             .key = "test-libm",
                                             .package = "libc6",
                                             .sonames = libm_sonames,
                                             .symbols = bad_symbols};

// Constant-initialised like the shims' globals (a compile error otherwise).
constinit lazy_library global_libm(libm_spec);

using cos_fn = double (*)(double);
using sqrt_fn = double (*)(double);

}  // namespace

TEST(lazy_library, loads_a_real_library_and_resolves_its_symbols) {
    EXPECT_STREQ(global_libm.error(), "") << "untried";
    ASSERT_TRUE(global_libm.load()) << global_libm.error();
    EXPECT_STREQ(global_libm.error(), "");
    ASSERT_NE(global_libm.symbol(0), nullptr);
    EXPECT_DOUBLE_EQ(global_libm.function<cos_fn>(0)(0.0), 1.0);
    EXPECT_DOUBLE_EQ(global_libm.function<sqrt_fn>(1)(9.0), 3.0);
}

TEST(lazy_library, a_missing_library_gives_one_clear_line_and_no_crash) {
    lazy_library lib(missing_spec);
    EXPECT_FALSE(lib.load());
    const string error = lib.error();
    EXPECT_EQ(error.rfind("Nothing (libava-no-such-library.so.7) could not be loaded: ", 0), 0u)
        << error;
    EXPECT_NE(error.find("cannot open shared object file"), string::npos) << error;
    EXPECT_NE(error.find("libava-no-such-library.so.7: "), string::npos)
        << "the first soname's dlerror, not the fallback's: " << error;
    EXPECT_NE(error.find("; install the libava-nothing7 package"), string::npos) << error;
    EXPECT_EQ(error.find('\n'), string::npos) << error;
    EXPECT_EQ(lib.symbol(0), nullptr);
    EXPECT_FALSE(lib.load()) << "asked again: the same answer";
    EXPECT_EQ(lib.error(), error);
}

TEST(lazy_library, a_missing_symbol_fails_the_whole_table) {
    lazy_library lib(bad_symbol_spec);
    EXPECT_FALSE(lib.load());
    const string error = lib.error();
    EXPECT_NE(error.find("ava_no_such_function"), string::npos) << error;
    EXPECT_NE(error.find("install the libc6 package"), string::npos) << error;
    EXPECT_EQ(lib.symbol(0), nullptr) << "no half-resolved table";
}

TEST(lazy_library, the_environment_disables_a_library_and_the_outcome_is_kept) {
    ASSERT_EQ(::setenv("AVA_LAZY_LIBS_DISABLE", "curl, test-libm,espeak", 1), 0);
    lazy_library disabled(libm_spec);
    EXPECT_FALSE(disabled.load());
    EXPECT_STREQ(disabled.error(),
                 "libm (libm.so.6) could not be loaded: disabled by AVA_LAZY_LIBS_DISABLE");
    ASSERT_EQ(::unsetenv("AVA_LAZY_LIBS_DISABLE"), 0);
    EXPECT_FALSE(disabled.load()) << "resolved once: a later environment does not matter";

    lazy_library enabled(libm_spec);
    ASSERT_TRUE(enabled.load()) << enabled.error();
    ASSERT_EQ(::setenv("AVA_LAZY_LIBS_DISABLE", "all", 1), 0);
    EXPECT_TRUE(enabled.load()) << "resolved once";
    lazy_library all(libm_spec);
    EXPECT_FALSE(all.load()) << "`all` disables every library";
    ASSERT_EQ(::setenv("AVA_LAZY_LIBS_DISABLE", "test-libmx,xtest-libm", 1), 0);
    lazy_library other(libm_spec);
    EXPECT_TRUE(other.load()) << "whole keys only: " << other.error();
    ASSERT_EQ(::unsetenv("AVA_LAZY_LIBS_DISABLE"), 0);
}

// Many threads race to the first use; every one must see the loaded table (run under
// ThreadSanitizer by core_lazy_tsan_test).
TEST(lazy_library, concurrent_first_use_is_safe) {
    for (int round = 0; round < 20; ++round) {
        lazy_library lib(libm_spec);
        constexpr int threads = 8;
        std::latch start(threads);
        std::array<double, threads> results{};
        std::array<void*, threads> seen{};
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                start.arrive_and_wait();
                if (lib.load()) {
                    seen[static_cast<std::size_t>(t)] = lib.symbol(1);
                    results[static_cast<std::size_t>(t)] = lib.function<sqrt_fn>(1)(16.0);
                }
            });
        }
        for (auto& th : pool) th.join();
        for (int t = 0; t < threads; ++t) {
            EXPECT_EQ(seen[static_cast<std::size_t>(t)], lib.symbol(1));
            EXPECT_DOUBLE_EQ(results[static_cast<std::size_t>(t)], 4.0);
        }
    }
}
