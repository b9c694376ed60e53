#include "tools/common/test_pattern.h"

#include <bit>
#include <cstring>

namespace dwcp::tools {
namespace {

std::byte pattern_byte(std::uint64_t key, std::uint64_t offset) noexcept {
  const std::uint64_t word = pattern_word(key, offset / 8);
  return static_cast<std::byte>(word >> (8 * (offset % 8)));
}

// The word as it sits in memory: least significant byte first.
std::uint64_t to_memory_order(std::uint64_t word) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    return word;
  } else {
    return std::byteswap(word);
  }
}

}  // namespace

std::uint64_t pattern_word(std::uint64_t key, std::uint64_t index) noexcept {
  std::uint64_t z = index + key * 0x9e3779b97f4a7c15ULL + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void fill_pattern(std::uint64_t key, std::uint64_t offset, std::span<std::byte> out) noexcept {
  std::size_t i = 0;
  // The bytes before the next word boundary, one at a time.
  for (; i < out.size() && (offset + i) % 8 != 0; ++i) out[i] = pattern_byte(key, offset + i);
  std::uint64_t index = (offset + i) / 8;
  for (; i + 8 <= out.size(); i += 8, ++index) {
    const std::uint64_t word = to_memory_order(pattern_word(key, index));
    std::memcpy(out.data() + i, &word, 8);
  }
  for (; i < out.size(); ++i) out[i] = pattern_byte(key, offset + i);
}

bool matches_pattern(std::uint64_t key, std::uint64_t offset,
                     std::span<const std::byte> data) noexcept {
  std::size_t i = 0;
  for (; i < data.size() && (offset + i) % 8 != 0; ++i) {
    if (data[i] != pattern_byte(key, offset + i)) return false;
  }
  std::uint64_t index = (offset + i) / 8;
  // Differences are OR-ed together and tested once per 64 bytes: the loop stays free of
  // branches the data could mispredict.
  std::uint64_t diff = 0;
  for (; i + 8 <= data.size(); i += 8, ++index) {
    std::uint64_t got = 0;
    std::memcpy(&got, data.data() + i, 8);
    diff |= got ^ to_memory_order(pattern_word(key, index));
    if (index % 8 == 7 && diff != 0) return false;
  }
  if (diff != 0) return false;
  for (; i < data.size(); ++i) {
    if (data[i] != pattern_byte(key, offset + i)) return false;
  }
  return true;
}

}  // namespace dwcp::tools
