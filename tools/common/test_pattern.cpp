#include "tools/common/test_pattern.h"

#include <array>
#include <bit>
#include <cstring>
#include <memory>

namespace dwcp::tools {
namespace {

// The word as it sits in memory: least significant byte first.
std::uint64_t to_memory_order(std::uint64_t word) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    return word;
  } else {
    return std::byteswap(word);
  }
}

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

std::uint64_t splitmix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
// The words of the table: a prime number, so that no power-of-two ring or window in the
// transport lines up with the table's period.
constexpr std::uint64_t kTableWords = 131'071;  // 2^17 - 1
constexpr std::uint64_t kTableBytes = kTableWords * 8;
constexpr std::uint64_t kStampBytes = std::uint64_t{8} * kStampEveryWords;

// splitmix64 of 0 .. kTableWords - 1 in memory order, followed by a copy of its first
// kStampBytes, so a run between two stamps never wraps. Built once (1 MiB, ~1 ms).
const std::byte* table() {
  static const std::unique_ptr<std::byte[]> bytes = [] {
    auto t = std::make_unique<std::byte[]>(kTableBytes + kStampBytes);
    for (std::uint64_t i = 0; i < kTableWords; ++i) {
      const std::uint64_t word = to_memory_order(splitmix64(i));
      std::memcpy(t.get() + 8 * i, &word, 8);
    }
    std::memcpy(t.get() + kTableBytes, t.get(), kStampBytes);
    return t;
  }();
  return bytes.get();
}

// Calls f(position in the span, length, expected bytes) for consecutive pieces of the
// pattern's bytes [offset, offset + size) of stream `key`: table runs and (parts of) stamps.
template <typename F>
void for_each_piece(std::uint64_t key, std::uint64_t offset, std::size_t size, F&& f) {
  const std::byte* bytes = table();
  // Where byte 0 of the stream sits in the table: the key picks the starting word.
  const std::uint64_t start = 8 * ((key * kGolden) % kTableWords);
  std::size_t done = 0;
  while (done < size) {
    const std::uint64_t at = offset + done;
    const std::uint64_t in_block = at % kStampBytes;
    if (in_block < 8) {
      const std::uint64_t stamp = to_memory_order(pattern_word(key, at / 8));
      std::array<std::byte, 8> expected{};
      std::memcpy(expected.data(), &stamp, 8);
      const std::size_t length = std::min<std::size_t>(8 - in_block, size - done);
      f(done, length, expected.data() + in_block);
      done += length;
      continue;
    }
    const std::size_t length = std::min<std::size_t>(kStampBytes - in_block, size - done);
    f(done, length, bytes + (start + at) % kTableBytes);
    done += length;
  }
}

}  // namespace

std::uint64_t pattern_word(std::uint64_t key, std::uint64_t index) noexcept {
  return splitmix64(index + key * kGolden + kGolden);
}

void fill_pattern(std::uint64_t key, std::uint64_t offset, std::span<std::byte> out) noexcept {
  for_each_piece(key, offset, out.size(),
                 [&](std::size_t at, std::size_t length, const std::byte* expected) {
                   std::memcpy(out.data() + at, expected, length);
                 });
}

bool matches_pattern(std::uint64_t key, std::uint64_t offset,
                     std::span<const std::byte> data) noexcept {
  bool same = true;
  // No early exit: a mismatch is rare, and the loop stays free of data-dependent branches.
  for_each_piece(key, offset, data.size(),
                 [&](std::size_t at, std::size_t length, const std::byte* expected) {
                   same &= std::memcmp(data.data() + at, expected, length) == 0;
                 });
  return same;
}

}  // namespace dwcp::tools
