#include "tools/common/test_pattern.h"

#include <doctest/doctest.h>

#include <vector>

using namespace dwcp::tools;
using Bytes = std::vector<std::byte>;

namespace {

Bytes pattern(std::uint64_t key, std::uint64_t offset, std::size_t size) {
  Bytes bytes(size);
  fill_pattern(key, offset, bytes);
  return bytes;
}

}  // namespace

TEST_CASE("the pattern has fixed known answers") {
  // splitmix64's first output for seed 0.
  CHECK(pattern_word(0, 0) == 0xe220a8397b1dcdafULL);
  CHECK(pattern_word(1, 1000) == 0xd07a9d82d4f4bbafULL);
  const Bytes first = pattern(0, 0, 2);
  CHECK(first[0] == std::byte{0xaf});
  CHECK(first[1] == std::byte{0xcd});
}

TEST_CASE("any split of a stream into messages gives the same bytes") {
  const Bytes whole = pattern(7, 0, 1000);
  for (std::size_t cut = 0; cut <= 1000; cut += 37) {
    const Bytes head = pattern(7, 0, cut);
    const Bytes tail = pattern(7, cut, 1000 - cut);
    Bytes joined = head;
    joined.insert(joined.end(), tail.begin(), tail.end());
    CHECK(joined == whole);
    CHECK(matches_pattern(7, 0, head));
    CHECK(matches_pattern(7, cut, tail));
  }
  CHECK(matches_pattern(7, 5, {}));
  CHECK(pattern(7, 0, 64) != pattern(8, 0, 64));
}

TEST_CASE("a flipped bit anywhere is caught, at any alignment") {
  for (std::uint64_t offset : {0u, 1u, 7u, 8u, 13u}) {
    for (std::size_t size : {1u, 7u, 8u, 9u, 63u, 64u, 65u, 200u}) {
      for (std::size_t at = 0; at < size; at += 5) {
        Bytes bytes = pattern(3, offset, size);
        bytes[at] ^= std::byte{0x10};
        CHECK_FALSE(matches_pattern(3, offset, bytes));
      }
    }
  }
}

TEST_CASE("long spans: stamps every 4 KiB, the table's wrap, and shifts by its period") {
  // 2^17 - 1 table words: stream 11 crosses the table's end somewhere in its first 1 MiB.
  constexpr std::uint64_t kPeriod = 8 * ((std::uint64_t{1} << 17) - 1);
  for (std::uint64_t key : {0u, 11u}) {
    for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{4093}, kPeriod - 5000}) {
      const Bytes whole = pattern(key, offset, 20000);
      CHECK(matches_pattern(key, offset, whole));
      for (std::size_t cut : {1u, 4095u, 4096u, 4100u, 12288u}) {
        Bytes joined = pattern(key, offset, cut);
        const Bytes tail = pattern(key, offset + cut, 20000 - cut);
        joined.insert(joined.end(), tail.begin(), tail.end());
        CHECK(joined == whole);
      }
      for (std::size_t at = 0; at < whole.size(); at += 997) {
        Bytes bytes = whole;
        bytes[at] ^= std::byte{0x01};
        CHECK_FALSE(matches_pattern(key, offset, bytes));
      }
      // The same table bytes one period later: the stamps tell them apart.
      CHECK_FALSE(matches_pattern(key, offset + kPeriod, whole));
      CHECK_FALSE(matches_pattern(key + 1, offset, whole));
    }
  }
}

TEST_CASE("the verifier counts bad, reordered and misplaced messages") {
  StreamVerifier verifier(5);
  verifier.consume(pattern(5, 0, 100));
  verifier.consume(pattern(5, 200, 100));  // the bytes 100..200 went missing
  verifier.consume(pattern(5, 100, 100));  // ... and came late
  Bytes corrupt = pattern(5, 300, 100);
  corrupt[99] = ~corrupt[99];
  verifier.consume(corrupt);
  verifier.consume(pattern(5, 400, 50));
  verifier.consume(pattern(6, 450, 50));  // another stream's data
  CHECK(verifier.bytes() == 500);
  CHECK(verifier.messages() == 6);
  CHECK(verifier.errors() == 4);
}
