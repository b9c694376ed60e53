// QUIC-style variable-length integers (docs/protocol.md §2): the two high bits of the first
// byte give the length (1, 2, 4 or 8 bytes), the rest is the value, big-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "proto/errc.h"

namespace dwcp::proto {

inline constexpr std::uint64_t kMaxVarint = (std::uint64_t{1} << 62) - 1;

// Bytes the shortest encoding of `value` takes; 0 when it is above kMaxVarint.
constexpr std::size_t varint_size(std::uint64_t value) noexcept {
  if (value < (1u << 6)) return 1;
  if (value < (1u << 14)) return 2;
  if (value < (std::uint64_t{1} << 30)) return 4;
  if (value <= kMaxVarint) return 8;
  return 0;
}

// Writes `value` in exactly `size` bytes (1, 2, 4 or 8, at least varint_size(value)) at
// `out`, which must have room. Longer-than-needed forms fill a field reserved in advance.
inline void put_varint(std::byte* out, std::uint64_t value, std::size_t size) noexcept {
  const unsigned prefix = size == 1 ? 0u : size == 2 ? 1u : size == 4 ? 2u : 3u;
  value |= std::uint64_t{prefix} << (8 * size - 2);
  for (std::size_t i = size; i-- > 0;) {
    out[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}

// Bytes written, or value_too_large / no_space.
inline Result<std::size_t> encode_varint(std::span<std::byte> out, std::uint64_t value) noexcept {
  const std::size_t size = varint_size(value);
  if (size == 0) return std::unexpected(Errc::value_too_large);
  if (out.size() < size) return std::unexpected(Errc::no_space);
  put_varint(out.data(), value, size);
  return size;
}

// The value and the bytes it took, or truncated. Accepts longer-than-needed forms.
inline Result<std::pair<std::uint64_t, std::size_t>> decode_varint(
    std::span<const std::byte> in) noexcept {
  if (in.empty()) return std::unexpected(Errc::truncated);
  const auto first = static_cast<std::uint8_t>(in[0]);
  const std::size_t size = std::size_t{1} << (first >> 6);
  if (in.size() < size) return std::unexpected(Errc::truncated);
  std::uint64_t value = first & 0x3fu;
  for (std::size_t i = 1; i < size; ++i) value = (value << 8) | static_cast<std::uint8_t>(in[i]);
  return std::pair{value, size};
}

}  // namespace dwcp::proto
