#include "mempool/thread_cache.h"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lockfree/spsc_ring.h"
#include "mempool/buffer_pool.h"

using namespace dwcp::mempool;

namespace {

std::unique_ptr<BufferPool> make_pool(std::uint32_t count, std::uint32_t cache_size) {
  PoolConfig config;
  config.classes = {{2048, count, cache_size}};
  auto pool = BufferPool::create(config);
  REQUIRE(pool.has_value());
  return std::move(*pool);
}

}  // namespace

TEST_CASE("a thread cache refills half its size at a time and keeps released buffers") {
  auto pool = make_pool(64, 8);
  ThreadCache cache(*pool);
  BufferHandle h = pool->try_allocate(1);
  REQUIRE(h);
  CHECK(cache.cached(0) == 3);  // refilled 4, handed out 1
  h.reset();
  CHECK(cache.cached(0) == 4);
  CHECK(pool->stats().classes[0].high_water == 4);
}

TEST_CASE("a full thread cache spills half to the shared ring") {
  auto pool = make_pool(64, 8);
  std::vector<BufferHandle> held;
  {
    ThreadCache cache(*pool);
    for (int i = 0; i < 20; ++i) held.push_back(pool->try_allocate(1));
    held.clear();
    CHECK(cache.cached(0) <= 8);
    cache.flush();
    CHECK(cache.cached(0) == 0);
  }
  // With nothing cached anywhere, every buffer can be had again.
  for (int i = 0; i < 64; ++i) {
    held.push_back(pool->try_allocate(1));
    REQUIRE(held.back());
  }
  CHECK_FALSE(pool->try_allocate(1));
}

TEST_CASE("allocating through the cache picks the class and counts like the pool") {
  PoolConfig config;
  config.classes = {{2048, 8, 4}, {65536, 2, 0}};
  auto pool = BufferPool::create(config);
  REQUIRE(pool.has_value());
  ThreadCache cache(**pool);
  BufferHandle small = cache.try_allocate(100);
  BufferHandle large = cache.try_allocate(3000);  // a class without thread caching
  REQUIRE(small);
  REQUIRE(large);
  CHECK(small.capacity() == 2048);
  CHECK(large.capacity() == 65536);
  CHECK_FALSE(cache.try_allocate(70000));
  const PoolStats stats = (*pool)->stats();
  CHECK(stats.classes[0].allocations == 1);
  CHECK(stats.classes[1].allocations == 1);
  CHECK(stats.classes[1].misses == 1);
}

TEST_CASE("a second cache for the same pool on one thread is refused") {
  auto pool = make_pool(8, 4);
  auto other = make_pool(8, 4);
  ThreadCache cache(*pool);
  CHECK_THROWS_AS(ThreadCache{*pool}, std::logic_error);
  ThreadCache other_cache(*other);  // a different pool is fine
  CHECK(ThreadCache::of_this_thread(*pool) == &cache);
  CHECK(ThreadCache::of_this_thread(*other) == &other_cache);
}

TEST_CASE("stats count a cache's work while it lives and after it is gone") {
  auto pool = make_pool(32, 8);
  {
    ThreadCache cache(*pool);
    for (int i = 0; i < 10; ++i) CHECK(pool->try_allocate(1));
    PoolStats live = pool->stats();
    CHECK(live.classes[0].allocations == 10);
    CHECK(live.classes[0].releases == 10);
    CHECK(live.classes[0].in_use == 0);
  }
  PoolStats after = pool->stats();
  CHECK(after.classes[0].allocations == 10);
  CHECK(after.classes[0].releases == 10);
}

TEST_CASE("buffers allocated on one thread and released on another are never handed out twice") {
  constexpr std::uint32_t kBuffers = 256;
  constexpr int kRounds = 40'000;
  auto pool = make_pool(kBuffers, 32);
  std::vector<std::atomic<bool>> in_use(kBuffers);
  std::atomic<int> reuse_while_held{0};
  dwcp::lockfree::SpscRing<BufferHandle> pipe(64);
  std::atomic<bool> producer_done{false};

  std::thread consumer([&] {
    ThreadCache cache(*pool);
    BufferHandle h;
    auto drop = [&](BufferHandle& handle) {
      in_use[handle.index()].store(false, std::memory_order_relaxed);
      handle.reset();
    };
    while (true) {
      if (pipe.try_pop(h)) {
        drop(h);
      } else if (producer_done.load(std::memory_order_acquire)) {
        while (pipe.try_pop(h)) drop(h);
        break;
      }
    }
  });

  {
    ThreadCache cache(*pool);
    int sent = 0;
    while (sent < kRounds) {
      BufferHandle h = pool->try_allocate(1);
      if (!h) continue;  // every buffer is in flight; the consumer is releasing them
      if (in_use[h.index()].exchange(true, std::memory_order_relaxed)) ++reuse_while_held;
      while (!pipe.try_push(std::move(h))) {
      }
      ++sent;
    }
    producer_done.store(true, std::memory_order_release);
    consumer.join();
  }

  CHECK(reuse_while_held == 0);
  PoolStats stats = pool->stats();
  CHECK(stats.classes[0].allocations == kRounds);
  CHECK(stats.classes[0].releases == kRounds);
  CHECK(stats.classes[0].in_use == 0);
}
