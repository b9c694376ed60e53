#include "lockfree/spsc_ring.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/lifetime_tracker.h"

using dwcp::lockfree::SpscRing;
using dwcp::test::LifetimeTracker;

namespace {

struct ThrowingCopy {
  ThrowingCopy() = default;
  ThrowingCopy(const ThrowingCopy&) { throw std::runtime_error("copy"); }
  ThrowingCopy& operator=(const ThrowingCopy&) = default;
};

static_assert(noexcept(std::declval<SpscRing<int>&>().try_push(1)));
static_assert(noexcept(std::declval<SpscRing<int>&>().try_pop(std::declval<int&>())));
static_assert(!noexcept(std::declval<SpscRing<ThrowingCopy>&>().try_push(ThrowingCopy{})));

}  // namespace

TEST_CASE("capacity rounds up to a power of two") {
  CHECK(SpscRing<int>(0).capacity() == 2);
  CHECK(SpscRing<int>(5).capacity() == 8);
  CHECK(SpscRing<int>(64).capacity() == 64);
  CHECK_THROWS_AS(SpscRing<int>(std::size_t{1} << 63), std::length_error);
}

TEST_CASE("push fails when the ring is full and pop fails when it is empty") {
  SpscRing<int> ring(4);
  int out = -1;
  CHECK_FALSE(ring.try_pop(out));
  for (int i = 0; i < 4; ++i) REQUIRE(ring.try_push(i));
  CHECK_FALSE(ring.try_push(99));
  CHECK(ring.size_approx() == 4);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(ring.try_pop(out));
    CHECK(out == i);
  }
  CHECK_FALSE(ring.try_pop(out));
  CHECK(out == 3);
}

TEST_CASE("order survives many wrap-arounds at every fill level") {
  SpscRing<std::uint64_t> ring(8);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    const int fill = round % 9;
    for (int i = 0; i < fill; ++i) REQUIRE(ring.try_push(next_in++));
    std::uint64_t out = 0;
    while (ring.try_pop(out)) REQUIRE(out == next_out++);
  }
  CHECK(next_out == next_in);
}

TEST_CASE("elements are constructed and destroyed exactly once") {
  LifetimeTracker::reset();
  {
    SpscRing<LifetimeTracker> ring(16);
    for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(ring.try_emplace(i));
    LifetimeTracker out;
    for (std::uint64_t i = 0; i < 4; ++i) {
      REQUIRE(ring.try_pop(out));
      CHECK(out.value == i);
    }
    CHECK(LifetimeTracker::live == 6 + 1);  // six queued, plus `out`
  }
  CHECK(LifetimeTracker::live == 0);
  CHECK(LifetimeTracker::errors == 0);
}

TEST_CASE("a throwing copy leaves the ring unchanged") {
  SpscRing<ThrowingCopy> ring(2);
  const ThrowingCopy value;
  CHECK_THROWS_AS((void)ring.try_push(value), std::runtime_error);
  CHECK(ring.size_approx() == 0);
}

TEST_CASE("push_n pushes only what fits and drain honours its limit") {
  LifetimeTracker::reset();
  {
    SpscRing<LifetimeTracker> ring(8);
    std::vector<LifetimeTracker> batch;
    for (std::uint64_t i = 0; i < 12; ++i) batch.emplace_back(i);
    CHECK(ring.push_n(batch.data(), batch.size()) == 8);
    CHECK(ring.push_n(batch.data() + 8, 4) == 0);

    std::vector<std::uint64_t> seen;
    CHECK(ring.drain([&](LifetimeTracker&& t) noexcept { seen.push_back(t.value); }, 3) == 3);
    CHECK(seen == std::vector<std::uint64_t>{0, 1, 2});
    CHECK(ring.push_n(batch.data() + 8, 4) == 3);

    std::vector<LifetimeTracker> out(20);
    CHECK(ring.pop_n(out.data(), out.size()) == 8);
    for (std::uint64_t i = 0; i < 8; ++i) CHECK(out[i].value == i + 3);
    CHECK(ring.pop_n(out.data(), out.size()) == 0);
    CHECK(ring.drain([](LifetimeTracker&&) noexcept {}, 0) == 0);
  }
  CHECK(LifetimeTracker::live == 0);
  CHECK(LifetimeTracker::errors == 0);
}

TEST_CASE("batches of plain values keep their order across the wrap") {
  SpscRing<std::uint64_t> ring(8);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (std::size_t round = 0; round < 500; ++round) {
    std::uint64_t batch[11];
    const std::size_t want = round % 11;
    for (std::size_t i = 0; i < want; ++i) batch[i] = next_in + i;
    const std::size_t room = ring.capacity() - ring.size_approx();
    const std::size_t pushed = ring.push_n(batch, want);
    CHECK(pushed == std::min(want, room));
    next_in += pushed;
    std::uint64_t out[11];
    const std::size_t popped = ring.pop_n(out, (round * 7) % 11);
    for (std::size_t i = 0; i < popped; ++i) REQUIRE(out[i] == next_out++);
  }
  std::uint64_t rest[8];
  const std::size_t popped = ring.pop_n(rest, 8);
  for (std::size_t i = 0; i < popped; ++i) REQUIRE(rest[i] == next_out++);
  CHECK(next_out == next_in);
}

TEST_CASE("a producer and a consumer thread pass every item once and in order") {
  constexpr std::uint64_t kItems = 300'000;
  SpscRing<std::uint64_t> ring(256);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kItems;) {
      if (i % 3 == 0) {
        std::uint64_t batch[16];
        const std::size_t n = std::min<std::uint64_t>(16, kItems - i);
        for (std::size_t k = 0; k < n; ++k) batch[k] = i + k;
        i += ring.push_n(batch, n);
      } else if (ring.try_push(i)) {
        ++i;
      }
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t out_of_order = 0;
  while (expected < kItems) {
    if (expected % 2 == 0) {
      ring.drain([&](std::uint64_t&& v) noexcept { out_of_order += (v != expected++); }, 32);
    } else {
      std::uint64_t v = 0;
      if (ring.try_pop(v)) out_of_order += (v != expected++);
    }
  }
  producer.join();
  CHECK(out_of_order == 0);
  CHECK(ring.size_approx() == 0);
}
