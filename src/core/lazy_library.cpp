// dlopen on first use; see include/ava/core/lazy_library.hpp for the why and the rules.
#include "ava/core/lazy_library.hpp"

#include <dlfcn.h>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace ava::core {

// No destructor runs at exit while another thread may still call through a shim.
static_assert(std::is_trivially_destructible_v<lazy_library>);

namespace {

// printf into a fixed buffer (truncating); error lines are short and written once.
[[gnu::format(printf, 3, 4)]] void format_into(char* out, std::size_t size, const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(out, size, fmt, args);
    va_end(args);
}

const char* dl_error() {
    const char* e = ::dlerror();
    return e != nullptr ? e : "unknown dlopen error";
}

}  // namespace

bool lazy_library::load_once() noexcept {
    // call_once: concurrent first callers block until the winner has published the outcome.
    // try_load() does not throw (fixed buffers only), so the flag is always set.
    std::call_once(once_, [this] { status_.store(try_load(), std::memory_order_release); });
    return status_.load(std::memory_order_acquire) == status::loaded;
}

bool lazy_library::disabled_by_environment() const noexcept {
    const char* env = std::getenv("AVA_LAZY_LIBS_DISABLE");
    if (env == nullptr) return false;
    const std::string_view list(env);
    std::size_t pos = 0;
    while (pos < list.size()) {
        const std::size_t end = list.find_first_of(", ", pos);
        const std::string_view item =
            list.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
        if (item == spec_.key || item == "all") return true;
        if (end == std::string_view::npos) break;
        pos = end + 1;
    }
    return false;
}

lazy_library::status lazy_library::try_load() noexcept {
    const std::string_view first = spec_.sonames.front();
    const auto name_len = static_cast<int>(spec_.name.size());
    const auto first_len = static_cast<int>(first.size());
    // "; install the libportaudio2 package", or nothing when no package is known.
    char hint[128] = {};
    if (!spec_.package.empty()) {
        format_into(hint, sizeof hint, "; install the %.*s package",
                    static_cast<int>(spec_.package.size()), spec_.package.data());
    }

    if (disabled_by_environment()) {
        format_into(error_.data(), error_.size(),
                    "%.*s (%.*s) could not be loaded: disabled by AVA_LAZY_LIBS_DISABLE", name_len,
                    spec_.name.data(), first_len, first.data());
        return status::failed;
    }

    // The first soname's error is the one worth showing: the others are fallbacks (the
    // unversioned development link), and "not found" for them says nothing new.
    void* handle = nullptr;
    char first_error[256] = {};
    for (const char* soname : spec_.sonames) {
        handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (handle != nullptr) break;
        if (first_error[0] == '\0') format_into(first_error, sizeof first_error, "%s", dl_error());
    }
    if (handle == nullptr) {
        format_into(error_.data(), error_.size(), "%.*s (%.*s) could not be loaded: %s%s", name_len,
                    spec_.name.data(), first_len, first.data(), first_error, hint);
        return status::failed;
    }

    for (std::size_t i = 0; i < spec_.symbols.size(); ++i) {
        ::dlerror();  // clear, so a null result can be told from an error
        void* sym = ::dlsym(handle, spec_.symbols[i]);
        if (sym == nullptr) {
            // An older or foreign build of the library: say which symbol, and what to install.
            format_into(error_.data(), error_.size(), "%.*s (%.*s) could not be loaded: %s%s",
                        name_len, spec_.name.data(), first_len, first.data(), dl_error(), hint);
            ::dlclose(handle);
            slots_.fill(nullptr);
            return status::failed;
        }
        slots_[i] = sym;
    }
    return status::loaded;
}

}  // namespace ava::core
