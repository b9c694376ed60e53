#include "mempool/buffer_pool.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace dwcp::mempool;

namespace {

PoolConfig small_config(std::uint32_t small = 8, std::uint32_t large = 2) {
  PoolConfig config;
  config.classes = {{2048, small, 4}, {65536, large, 0}};
  return config;
}

std::unique_ptr<BufferPool> make_pool(const PoolConfig& config) {
  auto pool = BufferPool::create(config);
  REQUIRE(pool.has_value());
  return std::move(*pool);
}

}  // namespace

TEST_CASE("create rejects every kind of bad configuration") {
  auto expect_invalid = [](PoolConfig config, const char* what) {
    auto pool = BufferPool::create(config);
    REQUIRE_FALSE(pool.has_value());
    CHECK(pool.error().code == PoolErrc::invalid_config);
    CHECK_MESSAGE(to_string(pool.error()).find(what) != std::string::npos, to_string(pool.error()));
  };
  PoolConfig none;
  none.classes.clear();
  expect_invalid(none, "no size classes");
  expect_invalid(PoolConfig{.classes = {{0, 4}}}, "buffer_size 0");
  expect_invalid(PoolConfig{.classes = {{2048, 0}}}, "buffer_count 0");
  expect_invalid(PoolConfig{.classes = {{4096, 4}, {2048, 4}}}, "not larger");
  expect_invalid(PoolConfig{.classes = {{2048, 4}, {2048, 4}}}, "not larger");
}

TEST_CASE("allocation picks the smallest class that fits") {
  auto pool = make_pool(small_config());
  CHECK(pool->class_for(1) == 0u);
  CHECK(pool->class_for(2048) == 0u);
  CHECK(pool->class_for(2049) == 1u);
  CHECK_FALSE(pool->class_for(65537).has_value());

  BufferHandle small = pool->try_allocate(100);
  BufferHandle large = pool->try_allocate(3000);
  REQUIRE(small);
  REQUIRE(large);
  CHECK(small.capacity() == 2048);
  CHECK(large.capacity() == 65536);
  CHECK(small.length() == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(small.data()) % 64 == 0);
  CHECK_FALSE(pool->try_allocate(65537));
  CHECK(pool->stats().classes[1].misses == 1);
}

TEST_CASE("buffers are distinct and do not overlap") {
  auto pool = make_pool(small_config(16, 2));
  std::vector<BufferHandle> held;
  for (int i = 0; i < 16; ++i) {
    held.push_back(pool->try_allocate(1));
    REQUIRE(held.back());
    std::memset(held.back().data(), i, held.back().capacity());
  }
  std::set<std::uint32_t> indices;
  for (int i = 0; i < 16; ++i) {
    indices.insert(held[i].index());
    const auto* p = held[i].data();
    CHECK(std::all_of(p, p + held[i].capacity(), [i](std::byte b) { return b == std::byte(i); }));
  }
  CHECK(indices.size() == 16);
}

TEST_CASE("an exhausted class hands out an empty handle and counts a miss") {
  auto pool = make_pool(small_config(2, 1));
  BufferHandle a = pool->try_allocate(1);
  BufferHandle b = pool->try_allocate(1);
  REQUIRE(a);
  REQUIRE(b);
  BufferHandle c = pool->try_allocate(1);
  CHECK_FALSE(c);
  PoolStats stats = pool->stats();
  CHECK(stats.classes[0].allocations == 2);
  CHECK(stats.classes[0].misses == 1);
  CHECK(stats.classes[0].in_use == 2);
  CHECK(stats.classes[0].high_water == 2);

  a.reset();
  CHECK(pool->try_allocate(1));
  CHECK(pool->stats().classes[0].in_use == 1);
}

TEST_CASE("a shared buffer returns to the pool only when its last handle lets go") {
  auto pool = make_pool(small_config(1, 1));
  BufferHandle first = pool->try_allocate(1);
  REQUIRE(first);
  REQUIRE(first.set_length(5));
  std::memcpy(first.data(), "hello", 5);
  BufferHandle second = first;
  CHECK(first.use_count() == 2);
  CHECK(second.payload().size() == 5);
  CHECK(std::memcmp(second.data(), "hello", 5) == 0);

  first.reset();
  CHECK(second.use_count() == 1);
  CHECK_FALSE(pool->try_allocate(1));  // still held by `second`

  BufferHandle third = std::move(second);
  CHECK_FALSE(second);
  third = BufferHandle();
  BufferHandle again = pool->try_allocate(1);
  REQUIRE(again);
  CHECK(again.length() == 0);
  CHECK(pool->stats().classes[0].releases == 1);
}

TEST_CASE("set_length refuses more than the capacity") {
  auto pool = make_pool(small_config());
  BufferHandle h = pool->try_allocate(1);
  CHECK(h.set_length(2048));
  CHECK_FALSE(h.set_length(2049));
  CHECK(h.length() == 2048);
}

TEST_CASE("a raw reference round-trips through into_raw and from_raw") {
  auto pool = make_pool(small_config(1, 1));
  BufferHandle h = pool->try_allocate(1);
  std::byte* raw = std::move(h).into_raw();
  CHECK_FALSE(h);
  CHECK_FALSE(pool->try_allocate(1));  // the raw reference still holds it

  auto back = pool->from_raw(raw);
  REQUIRE(back.has_value());
  CHECK(back->data() == raw);
  back->reset();
  CHECK(pool->stats().classes[0].in_use == 0);

  auto twice = pool->from_raw(raw);
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error().code == PoolErrc::double_free);
  CHECK(pool->stats().classes[0].double_frees == 1);
}

TEST_CASE("dropping a reference taken back twice is caught as a double free") {
  // Runs in a child: debug builds abort on the spot, release builds count and go on.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto pool = BufferPool::create(small_config(1, 1));
    if (!pool) _exit(10);
    std::byte* raw = (*pool)->try_allocate(1).into_raw();
    auto first = (*pool)->from_raw(raw);
    auto second = (*pool)->from_raw(raw);  // succeeds: the buffer is still held once
    if (!first || !second) _exit(11);
    first->reset();
    second->reset();
    _exit((*pool)->stats().classes[0].double_frees == 1 ? 0 : 12);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
#ifdef NDEBUG
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
#else
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
#endif
}

TEST_CASE("from_raw refuses pointers that are not this pool's buffers") {
  auto pool = make_pool(small_config());
  auto other = make_pool(small_config());
  BufferHandle h = pool->try_allocate(1);
  BufferHandle theirs = other->try_allocate(1);
  std::byte local[16];

  for (std::byte* p : {local, h.data() + 1, theirs.data()}) {
    auto r = pool->from_raw(p);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == PoolErrc::foreign_buffer);
  }
  CHECK(pool->stats().foreign_frees == 3);
  CHECK(h.use_count() == 1);
}

TEST_CASE("the pool reports its arena") {
  auto pool = make_pool(small_config());
  const PoolStats stats = pool->stats();
  CHECK(stats.arena_bytes >= 8 * 2048 + 2 * 65536);
  CHECK(stats.numa_node >= 0);
  CHECK(stats.classes.size() == 2);
  CHECK(stats.classes[1].buffer_size == 65536);
}
