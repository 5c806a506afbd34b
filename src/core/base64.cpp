// Base64 through OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock (include/ava/core/base64.hpp).
#include "ava/core/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

namespace ava::core {

void base64_append(std::string& out, std::span<const std::byte> bytes) {
    if (bytes.empty()) return;
    const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t start = out.size();
    const std::size_t len = base64_size(bytes.size());
    out.resize(start + len + 1);  // EVP_EncodeBlock writes a terminating NUL
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
    // EVP_EncodeBlock takes an int length: feed it chunks that are a multiple of 3 bytes so the
    // pieces concatenate into one valid base64 text.
    constexpr std::size_t chunk = std::size_t{3} << 20;
    for (std::size_t off = 0; off < bytes.size(); off += chunk) {
        const std::size_t n = std::min(chunk, bytes.size() - off);
        dst += EVP_EncodeBlock(dst, src + off, static_cast<int>(n));
    }
    out.resize(start + len);
}

std::string base64_encode(std::span<const std::byte> bytes) {
    std::string out;
    base64_append(out, bytes);
    return out;
}

std::string base64_encode(std::string_view text) {
    return base64_encode(std::as_bytes(std::span(text.data(), text.size())));
}

std::size_t base64_decoded_size(std::string_view b64) noexcept {
    std::size_t pad = 0;
    if (!b64.empty() && b64.back() == '=') {
        pad = (b64.size() >= 2 && b64[b64.size() - 2] == '=') ? 2 : 1;
    }
    const std::size_t raw = b64.size() / 4 * 3;
    return raw >= pad ? raw - pad : 0;
}

std::optional<std::size_t> base64_decode_to(std::string_view b64, std::span<std::byte> out) {
    if (b64.empty()) return std::size_t{0};
    if (b64.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    if (b64.back() == '=') pad = b64[b64.size() - 2] == '=' ? 2 : 1;
    // '=' is only valid as trailing padding (EVP_DecodeBlock would read it as zero bits).
    if (std::memchr(b64.data(), '=', b64.size() - pad) != nullptr) return std::nullopt;
    const std::size_t raw = b64.size() / 4 * 3;  // what EVP_DecodeBlock writes, padding included
    if (out.size() < raw) return std::nullopt;
    auto* dst = reinterpret_cast<unsigned char*>(out.data());
    const auto* src = reinterpret_cast<const unsigned char*>(b64.data());
    constexpr std::size_t chunk = std::size_t{4} << 20;  // characters; a multiple of 4
    for (std::size_t off = 0; off < b64.size(); off += chunk) {
        const std::size_t n = std::min(chunk, b64.size() - off);
        const int got = EVP_DecodeBlock(dst, src + off, static_cast<int>(n));
        // -1 = a character outside the alphabet; a short count = EVP trimmed whitespace.
        if (got < 0 || static_cast<std::size_t>(got) != n / 4 * 3) return std::nullopt;
        dst += got;
    }
    return raw - pad;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view b64) {
    std::vector<std::uint8_t> out(b64.size() / 4 * 3 + 3);
    const auto n = base64_decode_to(b64, std::as_writable_bytes(std::span(out)));
    if (!n) return std::nullopt;
    out.resize(*n);
    return out;
}

}  // namespace ava::core
