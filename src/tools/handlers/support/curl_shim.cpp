// libcurl loaded on first use (AVA_LAZY_LIBS; why: include/ava/core/lazy_library.hpp).
//
// Defines the curl_* functions that http_client.cpp and email/email_tool.cpp call, with curl.h's
// own declarations (so the compiler checks every signature), each forwarding to the real one in
// libcurl.so.4, dlopen'ed by the first tool call that makes a transfer (make_curl's
// curl_global_init). A conversation without such a tool call never maps libcurl and the ~25
// libraries it needs (nghttp2, ssh2, krb5, ldap, gnutls ...).
//
// When the library cannot be loaded: curl_global_init and every CURLcode function return
// CURLE_FAILED_INIT, curl_easy_init and curl_slist_append return null, the cleanup functions do
// nothing, and curl_easy_strerror returns the loader's line for any code, so make_curl()'s
// tool_error ("libcurl could not be initialised: <why>") reaches the model and the user.
// AVA_LAZY_LIBS_DISABLE=curl makes it behave so on purpose.
#include <cstdarg>
#include <cstddef>

#include <curl/curl.h>

#include "ava/core/lazy_library.hpp"

namespace {

#define AVA_CURL_SYMBOLS(X) \
    X(curl_global_init)     \
    X(curl_easy_strerror)   \
    X(curl_easy_init)       \
    X(curl_easy_setopt)     \
    X(curl_easy_perform)    \
    X(curl_easy_getinfo)    \
    X(curl_easy_cleanup)    \
    X(curl_slist_append)    \
    X(curl_slist_free_all)

enum class sym : std::size_t { AVA_CURL_SYMBOLS(AVA_LAZY_ENUM_ENTRY) };
constexpr const char* symbol_names[] = {AVA_CURL_SYMBOLS(AVA_LAZY_NAME_ENTRY)};
constexpr const char* sonames[] = {"libcurl.so.4", "libcurl.so"};

constinit ava::core::lazy_library libcurl({.name = "libcurl",
                                           .key = "curl",
                                           .package = "libcurl4",
                                           .sonames = sonames,
                                           .symbols = symbol_names});

// curl_easy_setopt and curl_easy_getinfo are variadic with exactly one trailing argument, and a
// C function cannot pass its own `...` on. So the shim reads that one argument and passes it as
// a single fixed-size value. That is exact on the LP64 ABIs this shim is built for (Linux
// x86-64 SysV and AArch64 AAPCS64): every option argument is a long, a pointer (to data or to a
// callback) or a curl_off_t, and getinfo's is always a pointer. All are 8-byte values of the
// INTEGER class, passed in the same general register or 8-byte stack slot, so reading any of them
// as one 8-byte integer and passing that integer on gives the callee the same bits in the same
// place, which libcurl then reads with va_arg at its real type. (No option takes a double or a
// struct, which would travel in other registers.)
using vararg = unsigned long;
static_assert(sizeof(vararg) == sizeof(long) && sizeof(vararg) == sizeof(void*) &&
                  sizeof(vararg) == sizeof(curl_off_t) && sizeof(vararg) == sizeof(void (*)()),
              "curl_shim forwards curl_easy_setopt/getinfo's argument as one 8-byte integer");
using setopt_fn = CURLcode (*)(CURL*, CURLoption, ...);
using getinfo_fn = CURLcode (*)(CURL*, CURLINFO, ...);

}  // namespace

// The real `name`, typed exactly as curl.h declares it. Only after libcurl.load().
#define AVA_REAL(name) libcurl.function<decltype(&::name)>(static_cast<std::size_t>(sym::name))

extern "C" {

CURLcode curl_global_init(long flags) {
    if (!libcurl.load()) return CURLE_FAILED_INIT;
    return AVA_REAL(curl_global_init)(flags);
}

const char* curl_easy_strerror(CURLcode code) {
    if (!libcurl.load()) return libcurl.error();
    return AVA_REAL(curl_easy_strerror)(code);
}

CURL* curl_easy_init(void) {
    if (!libcurl.load()) return nullptr;
    return AVA_REAL(curl_easy_init)();
}

CURLcode curl_easy_setopt(CURL* curl, CURLoption option, ...) {
    if (!libcurl.load()) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, option);
    const vararg value = va_arg(args, vararg);
    va_end(args);
    const setopt_fn real = AVA_REAL(curl_easy_setopt);
    return real(curl, option, value);
}

CURLcode curl_easy_perform(CURL* curl) {
    if (!libcurl.load()) return CURLE_FAILED_INIT;
    return AVA_REAL(curl_easy_perform)(curl);
}

CURLcode curl_easy_getinfo(CURL* curl, CURLINFO info, ...) {
    if (!libcurl.load()) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, info);
    const vararg value = va_arg(args, vararg);
    va_end(args);
    const getinfo_fn real = AVA_REAL(curl_easy_getinfo);
    return real(curl, info, value);
}

void curl_easy_cleanup(CURL* curl) {
    if (libcurl.load()) AVA_REAL(curl_easy_cleanup)(curl);
}

curl_slist* curl_slist_append(curl_slist* list, const char* data) {
    if (!libcurl.load()) return nullptr;
    return AVA_REAL(curl_slist_append)(list, data);
}

void curl_slist_free_all(curl_slist* list) {
    if (libcurl.load()) AVA_REAL(curl_slist_free_all)(list);
}

}  // extern "C"
