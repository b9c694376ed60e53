// Helpers shared by the proto tests: seeded random field values and byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "proto/varint.h"

namespace dwcp::proto::testing {

using Bytes = std::vector<std::byte>;

// A value of random encoded size (1, 2, 4 or 8 bytes), edges included.
inline std::uint64_t random_varint(std::mt19937_64& rng, std::uint64_t max = kMaxVarint) {
  static constexpr std::uint64_t kTops[] = {63, 16383, (1u << 30) - 1, kMaxVarint};
  const std::uint64_t top = std::min(kTops[rng() % 4], max);
  switch (rng() % 4) {
    case 0:
      return 0;
    case 1:
      return top;
    default:
      return rng() % (top + 1);
  }
}

inline Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

inline Bytes to_bytes(std::span<const std::byte> s) {
  return {s.begin(), s.end()};
}

}  // namespace dwcp::proto::testing
