// Base64 (RFC 4648, standard alphabet, padded) through OpenSSL's EVP block coder: the one
// implementation every module uses (wire audio, proxy credentials, MIME headers, the simulator).
//
// Decoding is strict: no whitespace, '=' only as trailing padding, length a multiple of 4.
// Every function is pure and reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ava::core {

/// Length of the base64 text of `bytes` bytes (padding included).
constexpr std::size_t base64_size(std::size_t bytes) noexcept {
    return (bytes + 2) / 3 * 4;
}

/// Appends the base64 of `bytes` to `out` (one resize of `out`, no other allocation).
void base64_append(std::string& out, std::span<const std::byte> bytes);

/// The base64 of `bytes`.
std::string base64_encode(std::span<const std::byte> bytes);
/// The base64 of the bytes of `text` (for credentials and MIME words).
std::string base64_encode(std::string_view text);

/// Decoded size of valid base64 text `b64` (padding taken into account), without validating.
std::size_t base64_decoded_size(std::string_view b64) noexcept;

/// Decodes `b64` into `out`, which must hold base64_decoded_size(b64) bytes rounded up to a
/// multiple of 3 (EVP writes whole groups). Returns the decoded byte count, or nullopt when
/// `b64` is not valid base64 (bad character, whitespace, length or padding).
std::optional<std::size_t> base64_decode_to(std::string_view b64, std::span<std::byte> out);

/// Decodes `b64`; nullopt when it is not valid base64. "" gives an empty vector.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view b64);

}  // namespace ava::core
