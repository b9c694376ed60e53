// dwcp::mempool::BufferPool against glibc malloc/free for 2 KiB packet buffers.
//
// pair:  allocate one block, write a byte, free it; ns per pair.
// burst: allocate kBurst blocks (writing a byte into each), then free them all; ns per block.
// cross: the thread on CPU 0 allocates and writes, hands the block to the thread on CPU 1
//        through a dwcp SpscRing, which frees it; ns per block end to end.
// The pool runs with a ThreadCache on every thread that touches it, or, labelled
// no_thread_cache, through its shared ring alone.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "affinity/cpu_set.h"
#include "affinity/pinning.h"
#include "bench/bench_support.h"
#include "lockfree/spsc_ring.h"
#include "mempool/buffer_handle.h"
#include "mempool/buffer_pool.h"
#include "mempool/thread_cache.h"

namespace {

using dwcp::bench::Backoff;
using dwcp::bench::cpu_relax;
using dwcp::bench::pin_to;
using dwcp::bench::ScopedPin;

namespace lf = dwcp::lockfree;
namespace mp = dwcp::mempool;

constexpr std::size_t kBlockSize = 2048;
constexpr std::uint32_t kPoolBuffers = 8192;
constexpr std::uint32_t kThreadCacheSize = 256;
constexpr std::size_t kBurst = 256;
constexpr std::uint64_t kCrossBlocks = std::uint64_t{1} << 20;
constexpr std::size_t kCrossRing = 4096;  // in flight at most; well under kPoolBuffers
constexpr std::size_t kDrainBatch = 64;
constexpr int kAllocCpu = 0;
constexpr int kFreeCpu = 1;

std::unique_ptr<mp::BufferPool> make_pool(std::string& error) {
  mp::PoolConfig config;
  config.classes = {{kBlockSize, kPoolBuffers, kThreadCacheSize}};
  auto pool = mp::BufferPool::create(config);
  if (!pool) {
    error = "BufferPool::create: " + mp::to_string(pool.error());
    return nullptr;
  }
  return std::move(*pool);
}

// Faults in and warms every buffer once, so no case starts on cold pool memory.
bool warm(mp::BufferPool& pool) {
  std::vector<mp::BufferHandle> all;
  all.reserve(kPoolBuffers);
  for (std::uint32_t i = 0; i < kPoolBuffers; ++i) {
    auto h = pool.try_allocate(kBlockSize);
    if (!h) return false;
    h.data()[0] = std::byte{1};
    all.push_back(std::move(h));
  }
  return true;
}

void set_per_block(benchmark::State& state, std::chrono::steady_clock::duration elapsed,
                   std::uint64_t blocks) {
  state.SetItemsProcessed(static_cast<std::int64_t>(blocks));
  const double ns =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  state.counters["ns_per_op"] = blocks == 0 ? 0.0 : ns / static_cast<double>(blocks);
}

// Sources of blocks with one shape: allocate() returns an owner with data(), release()
// frees it.
// With a ThreadCache, allocation goes through it directly (what an I/O thread that owns
// its cache does); without one, through the pool's shared ring.
struct PoolSource {
  mp::BufferPool& pool;
  mp::ThreadCache* cache = nullptr;
  using Block = mp::BufferHandle;
  Block allocate() noexcept {
    return cache != nullptr ? cache->try_allocate(kBlockSize) : pool.try_allocate(kBlockSize);
  }
  static std::byte* data(Block& b) noexcept { return b.data(); }
  static bool ok(const Block& b) noexcept { return static_cast<bool>(b); }
  static void release(Block& b) noexcept { b.reset(); }
};

struct MallocSource {
  using Block = void*;
  Block allocate() noexcept { return std::malloc(kBlockSize); }
  static std::byte* data(Block& b) noexcept { return static_cast<std::byte*>(b); }
  static bool ok(const Block& b) noexcept { return b != nullptr; }
  static void release(Block& b) noexcept {
    std::free(b);
    b = nullptr;
  }
};

template <typename Source>
void run_pair(benchmark::State& state, Source source) {
  std::uint64_t pairs = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    auto block = source.allocate();
    if (!Source::ok(block)) {
      state.SkipWithError("allocation failed");
      break;
    }
    std::byte* p = Source::data(block);
    p[0] = static_cast<std::byte>(pairs);
    benchmark::DoNotOptimize(p);
    Source::release(block);
    ++pairs;
  }
  set_per_block(state, std::chrono::steady_clock::now() - start, pairs);
}

template <typename Source>
void run_burst(benchmark::State& state, Source source) {
  std::array<typename Source::Block, kBurst> blocks{};
  std::uint64_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    bool failed = false;
    for (std::size_t i = 0; i < kBurst; ++i) {
      blocks[i] = source.allocate();
      if (!Source::ok(blocks[i])) {
        failed = true;
        break;
      }
      std::byte* p = Source::data(blocks[i]);
      p[0] = static_cast<std::byte>(i);
      benchmark::DoNotOptimize(p);
    }
    for (auto& b : blocks) {
      if (Source::ok(b)) Source::release(b);
    }
    if (failed) {
      state.SkipWithError("allocation failed");
      break;
    }
    done += kBurst;
  }
  set_per_block(state, std::chrono::steady_clock::now() - start, done);
}

enum class Cache { per_thread, none };

// A pair or burst case on a warmed pool, with or without a ThreadCache on this thread.
template <typename Run>
void run_on_pool(benchmark::State& state, Cache cache, Run run) {
  ScopedPin pin(kAllocCpu);
  std::string error;
  auto pool = make_pool(error);
  if (pin.error()) error = *pin.error();
  if (!error.empty() || !warm(*pool)) {
    state.SkipWithError(error.empty() ? "cannot warm the pool" : error.c_str());
    return;
  }
  std::optional<mp::ThreadCache> thread_cache;
  if (cache == Cache::per_thread) thread_cache.emplace(*pool);
  run(state, PoolSource{*pool, thread_cache ? &*thread_cache : nullptr});
}

void bm_pool_pair(benchmark::State& state, Cache cache) {
  run_on_pool(state, cache, [](benchmark::State& s, PoolSource source) { run_pair(s, source); });
}

void bm_pool_burst(benchmark::State& state, Cache cache) {
  run_on_pool(state, cache, [](benchmark::State& s, PoolSource source) { run_burst(s, source); });
}

void bm_malloc_pair(benchmark::State& state) {
  ScopedPin pin(kAllocCpu);
  if (pin.error()) {
    state.SkipWithError(pin.error()->c_str());
    return;
  }
  run_pair(state, MallocSource{});
}

void bm_malloc_burst(benchmark::State& state) {
  ScopedPin pin(kAllocCpu);
  if (pin.error()) {
    state.SkipWithError(pin.error()->c_str());
    return;
  }
  run_burst(state, MallocSource{});
}

// Allocates on CPU 0, frees on CPU 1. Each iteration moves kCrossBlocks blocks; the
// freeing thread starts before the timed loop and is joined after it.
// `make_source` runs on each thread (so a ThreadCache lands on the thread that uses it) and
// returns an object holding whatever that thread needs plus a `source` member.
template <typename Block, typename MakeSource>
void run_cross(benchmark::State& state, MakeSource make_source) {
  ScopedPin pin(kAllocCpu);
  if (pin.error()) {
    state.SkipWithError(pin.error()->c_str());
    return;
  }
  lf::SpscRing<Block> ring(kCrossRing);
  // On their own lines: the freeing thread polls them while the allocating thread's
  // locals, on the same stack, change with every block.
  struct alignas(lf::kFalseSharingRange) {
    std::atomic<std::uint64_t> freed{0};
    std::atomic<bool> stop{false};
  } progress;
  auto& [freed, stop] = progress;
  std::atomic<bool> ready{false};
  std::atomic<bool> failed{false};
  std::string error;  // written before `failed` is set

  std::thread freer([&] {
    if (auto e = pin_to(kFreeCpu)) {
      error = *e;
      failed.store(true, std::memory_order_release);
      ready.store(true, std::memory_order_release);
      return;
    }
    auto local = make_source();
    ready.store(true, std::memory_order_release);
    std::uint64_t count = 0;
    while (!stop.load(std::memory_order_acquire)) {
      const std::size_t n = ring.drain(
          [&](Block&& b) noexcept {
            Block owned = std::move(b);
            decltype(local.source)::release(owned);
          },
          kDrainBatch);
      if (n == 0) {
        // Idle between iterations, so no stall limit here.
        cpu_relax();
        continue;
      }
      count += n;
      // Publishes progress; pairs with the acquire load in the allocating loop.
      freed.store(count, std::memory_order_release);
    }
  });
  while (!ready.load(std::memory_order_acquire)) cpu_relax();

  std::uint64_t sent = 0;
  std::chrono::steady_clock::duration elapsed{};
  if (!failed.load(std::memory_order_acquire)) {
    auto local = make_source();
    auto& source = local.source;
    using Source = std::remove_reference_t<decltype(source)>;
    Backoff backoff;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
      for (std::uint64_t i = 0; i < kCrossBlocks; ++i) {
        Block block = source.allocate();
        while (!Source::ok(block)) {  // the pool may be momentarily drained into caches
          if (!backoff.wait()) break;
          block = source.allocate();
        }
        if (!Source::ok(block)) {
          error = "allocation failed";
          failed.store(true, std::memory_order_release);
          break;
        }
        backoff.reset();
        std::byte* p = Source::data(block);
        p[0] = static_cast<std::byte>(i);
        benchmark::DoNotOptimize(p);
        bool pushed = false;
        while (!(pushed = ring.try_push(std::move(block)))) {
          if (!backoff.wait()) break;
        }
        if (!pushed) {  // still ours: the freeing side stalled
          Source::release(block);
          error = "the freeing thread stalled";
          failed.store(true, std::memory_order_release);
          break;
        }
        backoff.reset();
        ++sent;
      }
      if (failed.load(std::memory_order_relaxed)) break;
      while (freed.load(std::memory_order_acquire) != sent) {
        if (!backoff.wait()) {
          error = "blocks were lost between the threads";
          failed.store(true, std::memory_order_release);
          break;
        }
      }
      backoff.reset();
      if (failed.load(std::memory_order_relaxed)) break;
    }
    elapsed = std::chrono::steady_clock::now() - start;
    // The freeing thread must let go of everything (and its ThreadCache) before the pool.
    while (freed.load(std::memory_order_acquire) != sent) {
      if (!backoff.wait()) break;
    }
  }
  stop.store(true, std::memory_order_release);
  freer.join();
  if (failed.load(std::memory_order_acquire)) {
    state.SkipWithError(error.c_str());
    return;
  }
  set_per_block(state, elapsed, sent);
}

struct MallocLocal {
  MallocSource source;
};

void bm_malloc_cross(benchmark::State& state) {
  run_cross<void*>(state, [] { return MallocLocal{}; });
}

// A thread's view of the pool: its ThreadCache (if any) must live on that thread.
struct PoolLocal {
  PoolLocal(mp::BufferPool& pool, Cache cache) : source{pool} {
    if (cache == Cache::per_thread) {
      thread_cache.emplace(pool);
      source.cache = &*thread_cache;
    }
  }
  PoolSource source;
  std::optional<mp::ThreadCache> thread_cache;
};

void bm_pool_cross(benchmark::State& state, Cache cache) {
  std::string error;
  auto pool = make_pool(error);
  if (!error.empty() || !warm(*pool)) {
    state.SkipWithError(error.empty() ? "cannot warm the pool" : error.c_str());
    return;
  }
  run_cross<mp::BufferHandle>(state, [&] { return PoolLocal(*pool, cache); });
}

void register_all() {
  const std::string cached = "buffer_pool/thread_cache:" + std::to_string(kThreadCacheSize);
  const std::string uncached = "buffer_pool/no_thread_cache";
  using benchmark::RegisterBenchmark;

  // glibc first: destroying a pool frees its index ring, a chunk big enough to have been
  // mmapped, and glibc then raises its mmap and trim thresholds for the rest of the
  // process, which would stop the burst case from trimming and re-faulting the heap as a
  // fresh process does.
  RegisterBenchmark("pair/glibc_malloc", bm_malloc_pair)->UseRealTime();
  RegisterBenchmark("burst256/glibc_malloc", bm_malloc_burst)->UseRealTime();
  RegisterBenchmark("cross_thread/glibc_malloc", bm_malloc_cross)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);

  RegisterBenchmark(("pair/" + cached).c_str(), bm_pool_pair, Cache::per_thread)->UseRealTime();
  RegisterBenchmark(("pair/" + uncached).c_str(), bm_pool_pair, Cache::none)->UseRealTime();
  RegisterBenchmark(("burst256/" + cached).c_str(), bm_pool_burst, Cache::per_thread)
      ->UseRealTime();
  RegisterBenchmark(("burst256/" + uncached).c_str(), bm_pool_burst, Cache::none)->UseRealTime();
  RegisterBenchmark(("cross_thread/" + cached).c_str(), bm_pool_cross, Cache::per_thread)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
