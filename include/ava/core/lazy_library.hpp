// A shared library loaded on first use (dlopen) instead of at program start (DT_NEEDED).
//
// Why: ava-voice's memory floor (DESIGN: peak RSS <= 1/4 of the Node `openai` client's, and under
// 30 MB). A plain conversation never calls libcurl (tools' HTTP and SMTP), libical (the calendar
// tool), espeak-ng (the in-process simulator's voice) or PortAudio (only with a real sound card,
// not with --input/--output WAV files), yet as DT_NEEDED entries the dynamic loader maps and
// relocates them and their ~40 dependencies (nghttp2, krb5, ldap, ICU, pulse, dbus, X11, ALSA,
// JACK ...) before main(): about 9 MB of file-backed RSS out of 24.5 MB. With AVA_LAZY_LIBS=ON
// (the default on Linux) those libraries are no longer linked; instead one shim .cpp per library
// defines the library's C functions with its exact signatures (the real header is included, so
// the compiler checks them) and forwards each call through a `lazy_library`:
//
//   src/audio/portaudio_shim.cpp   src/tools/handlers/support/curl_shim.cpp
//   src/tools/handlers/calendar/libical_shim.cpp   sim/espeak_shim.cpp
//
// The callers do not change: they still call Pa_Initialize(), curl_easy_init() and so on.
//
// Loading: on the first load() the first soname of the list that dlopen accepts is opened with
// RTLD_NOW | RTLD_LOCAL (nothing leaks into the global symbol namespace, and a missing
// dependency fails here rather than at some later call) and every symbol of the table is
// resolved at once. A library that loaded is never closed (its threads, atexit handlers and
// plugins may outlive any owner we could name). Failure is sticky too: it is tried once, and
// error() keeps one clear line for the user, e.g.
//
//   PortAudio (libportaudio.so.2) could not be loaded: libportaudio.so.2: cannot open shared
//   object file: No such file or directory; install the libportaudio2 package
//
// Each shim's documented fallback then takes over: the library's functions return its own error
// values, and its error-text function (Pa_GetErrorText, curl_easy_strerror, icalerror_strerror)
// returns that line, so the callers' existing error paths show it.
//
// Diagnostics: AVA_LAZY_LIBS_DISABLE=portaudio,curl,ical,espeak (any of the keys, separated by
// commas or spaces, or `all`) makes those libraries behave as if they were not installed. The
// tests use it; users can use it to check that a run does not need a library, or to take a
// misbehaving one out of the way (e.g. `AVA_LAZY_LIBS_DISABLE=espeak` for the synthetic voice).
//
// Threads: load(), symbol() and error() may be called from any thread, concurrently, and from
// PortAudio's own threads. The first load() runs under std::call_once (concurrent first callers
// wait for it); after that load() is one acquire load of an atomic, lock-free. Do not call
// load() from a realtime audio callback the first time (dlopen takes locks and reads files);
// the shims' callers never do: PortAudio is loaded by Pa_Initialize on a control thread.
//
// Objects are meant to be `constinit` globals (constexpr constructor, trivially destructible):
// no static-initialisation order, and nothing is destroyed at exit while another thread might
// still call through the shim.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string_view>

namespace ava::core {

class lazy_library {
  public:
    /// The most symbols one library may resolve (libical's shim uses about 30).
    static constexpr std::size_t max_symbols = 48;

    struct spec {
        std::string_view name;     ///< for messages: "PortAudio"
        std::string_view key;      ///< for AVA_LAZY_LIBS_DISABLE: "portaudio"
        std::string_view package;  ///< the distribution package: "libportaudio2" (may be empty)
        std::span<const char* const> sonames;  ///< tried in order; the first names the library
        std::span<const char* const> symbols;  ///< all resolved at load; symbol(i) is symbols[i]
    };

    /// `s` and the arrays it points to must outlive the object (they are static tables).
    constexpr explicit lazy_library(const spec& s) : spec_(s) {
        if (s.sonames.empty()) throw std::invalid_argument("lazy_library: no soname");
        if (s.symbols.size() > max_symbols) throw std::length_error("lazy_library: max_symbols");
    }

    lazy_library(const lazy_library&) = delete;
    lazy_library& operator=(const lazy_library&) = delete;

    /// Loads the library and resolves every symbol on the first call; returns whether that
    /// succeeded (the same answer every time). Any thread; lock-free after the first call.
    bool load() noexcept {
        if (const status s = status_.load(std::memory_order_acquire); s != status::unloaded)
            return s == status::loaded;
        return load_once();
    }

    /// The address of spec().symbols[i]. Only after load() returned true (on this thread).
    [[nodiscard]] void* symbol(std::size_t i) const noexcept { return slots_[i]; }

    /// symbol(i) as the function pointer type `Fn` (the shims pass decltype(&::name), so the
    /// type is the one the library's header declares).
    template <class Fn>
    [[nodiscard]] Fn function(std::size_t i) const noexcept {
        return reinterpret_cast<Fn>(slots_[i]);
    }

    /// Why load() failed: one line for the user, NUL-terminated. Empty while loaded or untried.
    [[nodiscard]] const char* error() const noexcept {
        return status_.load(std::memory_order_acquire) == status::failed ? error_.data() : "";
    }

    [[nodiscard]] const spec& description() const noexcept { return spec_; }

  private:
    enum class status : std::uint8_t { unloaded, loaded, failed };

    bool load_once() noexcept;
    status try_load() noexcept;
    [[nodiscard]] bool disabled_by_environment() const noexcept;

    spec spec_;
    std::array<void*, max_symbols> slots_{};  // written once, before status_ is published
    std::array<char, 512> error_{};           // likewise
    std::atomic<status> status_{status::unloaded};
    std::once_flag once_;
};

}  // namespace ava::core

/// Helpers for a shim's symbol list: with `#define LIST(X) X(Pa_Initialize) X(Pa_Terminate)`,
/// `enum class sym : std::size_t { LIST(AVA_LAZY_ENUM_ENTRY) };` numbers the symbols and
/// `constexpr const char* names[] = {LIST(AVA_LAZY_NAME_ENTRY)};` names them in the same order.
#define AVA_LAZY_ENUM_ENTRY(name) name,
#define AVA_LAZY_NAME_ENTRY(name) #name,
