#include "lockfree/spsc_byte_ring.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <random>
#include <thread>
#include <vector>

using dwcp::lockfree::SpscByteRing;

namespace {

// Record `index` of a deterministic stream: its size and bytes depend only on the index.
std::vector<std::byte> record(std::uint64_t index, std::size_t max_size) {
  std::mt19937_64 rng(index);
  std::vector<std::byte> bytes(1 + rng() % max_size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

// Record `index` again, but exactly `size` bytes long.
std::vector<std::byte> sized_record(std::uint64_t index, std::size_t size) {
  std::mt19937_64 rng(index);
  std::vector<std::byte> bytes(size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

bool push(SpscByteRing& ring, const std::vector<std::byte>& bytes) {
  auto room = ring.try_claim(bytes.size());
  if (room.empty()) return false;
  std::memcpy(room.data(), bytes.data(), bytes.size());
  ring.commit();
  return true;
}

}  // namespace

TEST_CASE("capacity rounds up to a power of two and bounds the record size") {
  CHECK(SpscByteRing(0).capacity() == 64);
  CHECK(SpscByteRing(100).capacity() == 128);
  CHECK(SpscByteRing(4096).max_record() == 2040);
  CHECK_THROWS_AS(SpscByteRing(std::size_t{1} << 62), std::length_error);
  SpscByteRing ring(4096);
  CHECK(ring.try_claim(0).empty());
  CHECK(ring.try_claim(2041).empty());
  CHECK(ring.try_claim(2040).size() == 2040);
}

TEST_CASE("a committed record is peeked in place and released; an empty ring peeks nothing") {
  SpscByteRing ring(256);
  CHECK(ring.peek().empty());
  auto room = ring.try_claim(5);
  REQUIRE(room.size() == 5);
  std::memcpy(room.data(), "hello", 5);
  CHECK(ring.peek().empty());  // not committed yet
  ring.commit();
  CHECK(ring.used_bytes() == 16);
  auto got = ring.peek();
  REQUIRE(got.size() == 5);
  CHECK(std::memcmp(got.data(), "hello", 5) == 0);
  CHECK(ring.peek().data() == got.data());  // peeking again returns the same record
  ring.release();
  CHECK(ring.peek().empty());
  CHECK(ring.used_bytes() == 0);
}

TEST_CASE("commit may shrink the claim") {
  SpscByteRing ring(256);
  auto room = ring.try_claim(100);
  REQUIRE(room.size() == 100);
  room[0] = std::byte{7};
  ring.commit(1);
  auto got = ring.peek();
  REQUIRE(got.size() == 1);
  CHECK(got[0] == std::byte{7});
  CHECK(ring.used_bytes() == 16);
}

TEST_CASE("a record's tag comes back with it, also after a wrap; commit() tags 0") {
  SpscByteRing ring(256);
  for (std::uint32_t i = 0; i < 40; ++i) {
    auto room = ring.try_claim(1 + (i * 37) % 100);  // sizes that make the ring wrap
    REQUIRE(!room.empty());
    room[0] = static_cast<std::byte>(i);
    const std::uint32_t tag = i % 3 == 0 ? 0 : (i * 7919) % SpscByteRing::kMaxTag;
    if (tag == 0) {
      ring.commit();
    } else {
      ring.commit_tagged(0, tag);
    }
    const auto record = ring.peek();
    REQUIRE(record.size() == 1 + (i * 37) % 100);
    CHECK(record[0] == static_cast<std::byte>(i));
    CHECK(ring.peek_tag() == tag);
    ring.release();
  }
}

TEST_CASE("claims fail when full and succeed again once records are released") {
  SpscByteRing ring(256);
  int pushed = 0;
  while (push(ring, std::vector<std::byte>(24, std::byte{1}))) ++pushed;
  CHECK(pushed == 256 / 32);
  CHECK(ring.used_bytes() == 256);
  REQUIRE(!ring.peek().empty());
  ring.release();
  CHECK(push(ring, std::vector<std::byte>(24, std::byte{2})));
  CHECK_FALSE(push(ring, std::vector<std::byte>(1, std::byte{2})));
}

TEST_CASE("records that do not fit before the end start over at the beginning, in order") {
  SpscByteRing ring(1024);
  std::deque<std::vector<std::byte>> expected;
  std::uint64_t next = 0;
  std::uint64_t released = 0;
  std::mt19937_64 rng(3);
  for (int step = 0; step < 20000; ++step) {
    if (rng() % 2 == 0) {
      auto bytes = record(next, ring.max_record());
      if (push(ring, bytes)) {
        expected.push_back(std::move(bytes));
        ++next;
      }
    } else {
      auto got = ring.peek();
      REQUIRE(got.empty() == expected.empty());
      if (got.empty()) continue;
      REQUIRE(got.size() == expected.front().size());
      REQUIRE(std::memcmp(got.data(), expected.front().data(), got.size()) == 0);
      ring.release();
      expected.pop_front();
      ++released;
    }
    REQUIRE(ring.used_bytes() <= ring.capacity());
  }
  CHECK(released > 1000);
}

TEST_CASE("a producer and a consumer thread pass every record once, in order, intact") {
  constexpr std::uint64_t kRecords = 200000;
  // A small ring that wraps often, and one past the rewind offset that rewinds as well.
  for (const std::size_t capacity : {std::size_t{1} << 14, std::size_t{1} << 20}) {
    CAPTURE(capacity);
    SpscByteRing ring(capacity);
    std::thread producer([&] {
      for (std::uint64_t i = 0; i < kRecords;) {
        const auto bytes = record(i, 600);
        if (push(ring, bytes)) ++i;
      }
    });
    std::uint64_t received = 0;
    std::uint64_t mismatches = 0;
    while (received < kRecords) {
      auto got = ring.peek();
      if (got.empty()) continue;
      const auto bytes = record(received, 600);
      if (got.size() != bytes.size() || std::memcmp(got.data(), bytes.data(), got.size()) != 0) {
        ++mismatches;
      }
      ring.release();
      ++received;
    }
    producer.join();
    CHECK(mismatches == 0);
    CHECK(ring.peek().empty());
  }
}

TEST_CASE("a consumer that keeps up keeps a large ring's records near its beginning") {
  SpscByteRing ring(std::size_t{4} << 20);
  constexpr std::size_t kSize = 4000;
  const std::byte* first = nullptr;
  std::ptrdiff_t furthest = 0;
  for (std::uint64_t i = 0; i < 4000; ++i) {  // 16 MB through the ring: four laps' worth
    const auto bytes = sized_record(i, kSize);
    REQUIRE(push(ring, bytes));
    const auto got = ring.peek();
    REQUIRE(got.size() == bytes.size());
    REQUIRE(std::memcmp(got.data(), bytes.data(), got.size()) == 0);
    if (first == nullptr) first = got.data();
    furthest = std::max(furthest, got.data() - first);
    ring.release();
    CHECK(ring.used_bytes() == 0);
  }
  CHECK(furthest + 2 * static_cast<std::ptrdiff_t>(kSize) >=
        static_cast<std::ptrdiff_t>(SpscByteRing::kRewindOffset));
  CHECK(furthest < static_cast<std::ptrdiff_t>(SpscByteRing::kRewindOffset + 2 * kSize));
}

TEST_CASE("a rewind waits for an empty ring, so a lagging consumer keeps the whole capacity") {
  constexpr std::size_t kCapacity = std::size_t{1} << 20;
  constexpr std::size_t kSize = 65528;  // a record of 64 KiB with its header
  constexpr std::size_t kRecord = kSize + 8;
  SpscByteRing ring(kCapacity);
  std::uint64_t pushed = 0;
  std::uint64_t taken = 0;
  const std::byte* base = nullptr;
  auto take = [&] {
    const auto got = ring.peek();
    const auto expected = sized_record(taken, kSize);
    REQUIRE(got.size() == expected.size());
    CHECK(std::memcmp(got.data(), expected.data(), got.size()) == 0);
    if (base == nullptr) base = got.data();
    ring.release();
    ++taken;
  };
  // Five records reach past kRewindOffset; the consumer takes four and lags by one.
  for (; pushed < 5; ++pushed) REQUIRE(push(ring, sized_record(pushed, kSize)));
  for (int i = 0; i < 4; ++i) take();
  // Not empty: no rewind, and the producer has the whole ring to fill.
  while (push(ring, sized_record(pushed, kSize))) ++pushed;
  CHECK(ring.used_bytes() == kCapacity);
  CHECK(pushed - taken == kCapacity / kRecord);
  // Emptied, the next record past kRewindOffset goes back to the beginning...
  while (taken < pushed) take();
  CHECK(ring.used_bytes() == 0);
  while (true) {
    REQUIRE(push(ring, sized_record(pushed, kSize)));
    ++pushed;
    // ...and the padding it leaves is not counted as used.
    CHECK(ring.used_bytes() == kRecord);
    const auto got = ring.peek();
    const bool at_start = got.data() == base;
    take();
    if (at_start) break;
    REQUIRE(pushed < 64);
  }
  CHECK(ring.peek().empty());
}
