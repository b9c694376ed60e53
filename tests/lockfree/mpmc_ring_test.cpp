#include "lockfree/mpmc_ring.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "tests/support/lifetime_tracker.h"

using dwcp::lockfree::MpmcRing;
using dwcp::test::LifetimeTracker;

TEST_CASE("capacity rounds up to a power of two") {
  CHECK(MpmcRing<int>(1).capacity() == 2);
  CHECK(MpmcRing<int>(100).capacity() == 128);
}

TEST_CASE("push fails when the ring is full and pop fails when it is empty") {
  MpmcRing<int> ring(4);
  int out = -1;
  CHECK_FALSE(ring.try_pop(out));
  for (int i = 0; i < 4; ++i) REQUIRE(ring.try_push(i));
  CHECK_FALSE(ring.try_push(4));
  int batch[2] = {7, 8};
  CHECK(ring.push_n(batch, 2) == 0);
  for (int i = 0; i < 4; ++i) {
    REQUIRE(ring.try_pop(out));
    CHECK(out == i);
  }
  CHECK_FALSE(ring.try_pop(out));
  CHECK(ring.pop_n(batch, 2) == 0);
}

TEST_CASE("order survives many wrap-arounds with single and batch operations") {
  MpmcRing<std::uint64_t> ring(8);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    std::uint64_t batch[11];
    const std::size_t want = round % 11;
    for (std::size_t i = 0; i < want; ++i) batch[i] = next_in + i;
    const std::size_t pushed = ring.push_n(batch, want);
    CHECK(pushed == std::min<std::size_t>(want, 8));
    next_in += pushed;
    if (round % 2 == 0) {
      std::uint64_t out = 0;
      while (ring.try_pop(out)) REQUIRE(out == next_out++);
    } else {
      std::uint64_t out[5];
      std::size_t n = 0;
      while ((n = ring.pop_n(out, 5)) != 0) {
        for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == next_out++);
      }
    }
  }
  CHECK(next_out == next_in);
}

TEST_CASE("elements are constructed and destroyed exactly once") {
  LifetimeTracker::reset();
  {
    MpmcRing<LifetimeTracker> ring(16);
    for (std::uint64_t i = 0; i < 12; ++i) REQUIRE(ring.try_emplace(i));
    std::vector<LifetimeTracker> out(5);
    CHECK(ring.pop_n(out.data(), 5) == 5);
    CHECK(out[4].value == 4);
    CHECK(LifetimeTracker::live == 7 + 5);
  }
  CHECK(LifetimeTracker::live == 0);
  CHECK(LifetimeTracker::errors == 0);
}

TEST_CASE("several producers and consumers keep each producer's order and lose nothing") {
  constexpr int kProducers = 3;
  constexpr int kConsumers = 3;
  constexpr std::uint64_t kPerProducer = 60'000;
  MpmcRing<std::uint64_t> ring(64);
  std::atomic<std::uint64_t> consumed{0};

  struct ConsumerLog {
    std::uint64_t count[kProducers] = {};
    std::uint64_t sum[kProducers] = {};
    std::uint64_t order_violations = 0;
  };
  std::vector<ConsumerLog> logs(kConsumers);

  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&ring, p] {
      const std::uint64_t tag = std::uint64_t(p) << 32;
      for (std::uint64_t i = 0; i < kPerProducer;) {
        if (p == 0) {
          std::uint64_t batch[8];
          const std::size_t n = std::min<std::uint64_t>(8, kPerProducer - i);
          for (std::size_t k = 0; k < n; ++k) batch[k] = tag | (i + k);
          i += ring.push_n(batch, n);
        } else if (ring.try_push(tag | i)) {
          ++i;
        }
      }
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      ConsumerLog& log = logs[c];
      std::int64_t last[kProducers];
      std::fill(std::begin(last), std::end(last), -1);
      auto take = [&](std::uint64_t v) {
        const auto p = static_cast<int>(v >> 32);
        const auto seq = static_cast<std::int64_t>(v & 0xffffffffu);
        log.order_violations += (seq <= last[p]);
        last[p] = seq;
        ++log.count[p];
        log.sum[p] += static_cast<std::uint64_t>(seq);
      };
      constexpr std::uint64_t kTotal = kProducers * kPerProducer;
      while (consumed.load(std::memory_order_relaxed) < kTotal) {
        std::size_t n = 0;
        if (c == 0) {
          n = ring.drain([&](std::uint64_t&& v) noexcept { take(v); }, 16);
        } else {
          std::uint64_t v = 0;
          if (ring.try_pop(v)) {
            take(v);
            n = 1;
          }
        }
        if (n != 0) consumed.fetch_add(n, std::memory_order_relaxed);
      }
    });
  }
  for (auto& t : threads) t.join();

  CHECK(consumed.load() == kProducers * kPerProducer);
  for (int p = 0; p < kProducers; ++p) {
    std::uint64_t count = 0;
    std::uint64_t sum = 0;
    for (const auto& log : logs) {
      count += log.count[p];
      sum += log.sum[p];
    }
    CHECK(count == kPerProducer);
    CHECK(sum == kPerProducer * (kPerProducer - 1) / 2);
  }
  for (const auto& log : logs) CHECK(log.order_violations == 0);
  CHECK(ring.size_approx() == 0);
}
