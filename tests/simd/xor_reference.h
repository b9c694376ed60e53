// Byte-at-a-time reference for the XOR-delta codec: the tier every variant is tested
// against. Written for clarity, not speed; same format and same literal rule as
// simd/xor_delta.h describes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "simd/xor_delta.h"

namespace dwcp::test {

inline void reference_xor(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] ^ b[i];
}

inline void reference_put_varint(std::vector<std::byte>& out, std::uint64_t v) {
  do {
    const auto low = static_cast<std::uint8_t>(v & 0x7f);
    v >>= 7;
    out.push_back(static_cast<std::byte>(low | (v != 0 ? 0x80 : 0)));
  } while (v != 0);
}

// nullopt when the delta would not be smaller than the block.
inline std::optional<std::vector<std::byte>> reference_encode(std::span<const std::byte> base,
                                                              std::span<const std::byte> block) {
  const std::size_t n = block.size();
  const std::size_t common = std::min(base.size(), n);
  auto equal = [&](std::size_t i) { return i < common && block[i] == base[i]; };
  // Length of the run of equal bytes starting at i.
  auto run = [&](std::size_t i) {
    std::size_t len = 0;
    while (equal(i + len)) ++len;
    return len;
  };

  std::vector<std::byte> out;
  reference_put_varint(out, n);
  std::size_t pos = 0;
  while (pos < n) {
    const std::size_t zero = run(pos);
    const std::size_t start = pos + zero;
    std::size_t stop = start;
    while (stop < n) {
      if (stop >= common) {
        stop = n;
        break;
      }
      const std::size_t r = run(stop);
      if (r >= simd::kDeltaMinEqualRun || (r > 0 && stop + r == n)) break;
      ++stop;
    }
    reference_put_varint(out, zero);
    reference_put_varint(out, stop - start);
    for (std::size_t i = start; i < stop; ++i) {
      out.push_back(i < common ? block[i] ^ base[i] : block[i]);
    }
    pos = stop;
  }
  if (out.size() >= n) return std::nullopt;
  return out;
}

}  // namespace dwcp::test
