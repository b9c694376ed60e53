#include "mempool/buffer_pool.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mempool/size_class.h"
#include "mempool/thread_cache.h"

namespace dwcp::mempool {
namespace {

constexpr std::size_t kBufferAlign = 64;
constexpr std::size_t kRegionAlign = 4096;
constexpr std::uint32_t kMaxBuffersPerClass = std::uint32_t{1} << 31;

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

PoolResult<void> validate(const PoolConfig& config) {
  auto invalid = [](std::string detail) {
    return std::unexpected(PoolError{PoolErrc::invalid_config, std::move(detail)});
  };
  if (config.classes.empty()) return invalid("no size classes");
  if (config.classes.size() > kMaxSizeClasses) {
    return invalid("more than " + std::to_string(kMaxSizeClasses) + " size classes");
  }
  for (std::size_t i = 0; i < config.classes.size(); ++i) {
    const SizeClassConfig& c = config.classes[i];
    const std::string name = "size class " + std::to_string(i);
    if (c.buffer_size == 0) return invalid(name + " has buffer_size 0");
    if (c.buffer_size > (std::size_t{1} << 30)) return invalid(name + " buffers exceed 1 GiB");
    if (c.buffer_count == 0) return invalid(name + " has buffer_count 0");
    if (c.buffer_count > kMaxBuffersPerClass) return invalid(name + " has more than 2^31 buffers");
    if (i > 0 && c.buffer_size <= config.classes[i - 1].buffer_size) {
      return invalid(name + " is not larger than the class before it");
    }
  }
  return {};
}

}  // namespace

PoolResult<std::unique_ptr<BufferPool>> BufferPool::create(const PoolConfig& config) {
  if (auto ok = validate(config); !ok) return std::unexpected(ok.error());

  std::size_t total = 0;
  for (const SizeClassConfig& c : config.classes) {
    total += round_up(round_up(c.buffer_size, kBufferAlign) * c.buffer_count, kRegionAlign);
  }
  auto arena = Arena::map(total, config.arena);
  if (!arena) return std::unexpected(arena.error());

  std::unique_ptr<BufferPool> pool(new BufferPool(std::move(*arena)));
  std::byte* region = pool->arena_.data();
  for (std::size_t i = 0; i < config.classes.size(); ++i) {
    const SizeClassConfig& c = config.classes[i];
    const std::size_t size = round_up(c.buffer_size, kBufferAlign);
    pool->classes_.push_back(std::make_unique<detail::SizeClass>(
        *pool, static_cast<std::uint32_t>(i), region, size, c.buffer_count, c.thread_cache_size));
    pool->class_sizes_[i] = size;
    pool->class_ptrs_[i] = pool->classes_.back().get();
    pool->class_count_ = i + 1;
    region += round_up(size * c.buffer_count, kRegionAlign);
  }
  return pool;
}

BufferPool::BufferPool(Arena arena) : arena_(std::move(arena)) {}

BufferPool::~BufferPool() {
  // Destroying the pool under a live cache or handle would leave them pointing at freed
  // memory; stop here with a message instead.
  if (!caches_.empty()) {
    std::fprintf(stderr, "dwcp mempool: pool destroyed while %zu thread cache(s) still use it\n",
                 caches_.size());
    std::abort();
  }
  for (const auto& c : classes_) {
    std::uint32_t scratch = 0;
    const std::size_t free_now = [&] {
      std::size_t n = 0;
      while (c->pop_shared(&scratch, 1) == 1) ++n;
      return n;
    }();
    if (free_now != c->buffer_count()) {
      std::fprintf(stderr,
                   "dwcp mempool: pool destroyed while %zu buffer(s) of size class %u are held\n",
                   static_cast<std::size_t>(c->buffer_count()) - free_now, c->class_index());
      std::abort();
    }
  }
}

std::optional<std::size_t> BufferPool::class_for(std::size_t size) const noexcept {
  for (std::size_t i = 0; i < class_count_; ++i) {
    if (class_sizes_[i] >= size) return i;
  }
  return std::nullopt;
}

std::size_t BufferPool::buffer_size(std::size_t class_index) const noexcept {
  return class_sizes_[class_index];
}

BufferHandle BufferPool::try_allocate(std::size_t min_size) noexcept {
  for (std::size_t i = 0; i < class_count_; ++i) {
    if (class_sizes_[i] < min_size) continue;
    ThreadCache* cache = ThreadCache::of_this_thread(*this);
    if (detail::BufferHeader* header = cache != nullptr ? cache->try_take(i) : nullptr) {
      return BufferHandle(detail::SizeClass::hand_out(header));
    }
    return allocate_slow(i, cache);
  }
  class_ptrs_[class_count_ - 1]->shared_counters().misses.fetch_add(1, std::memory_order_relaxed);
  return {};
}

BufferHandle BufferPool::try_allocate_class(std::size_t class_index) noexcept {
  ThreadCache* cache = ThreadCache::of_this_thread(*this);
  if (detail::BufferHeader* header = cache != nullptr ? cache->try_take(class_index) : nullptr) {
    return BufferHandle(detail::SizeClass::hand_out(header));
  }
  return allocate_slow(class_index, cache);
}

BufferHandle BufferPool::allocate_slow(std::size_t class_index, ThreadCache* cache) noexcept {
  detail::SizeClass& sc = *class_ptrs_[class_index];
  if (cache != nullptr && sc.thread_cache_size() != 0) {
    detail::BufferHeader* header = cache->refill_and_take(class_index);
    return header != nullptr ? BufferHandle(detail::SizeClass::hand_out(header)) : BufferHandle();
  }
  std::uint32_t index = 0;
  if (sc.pop_shared(&index, 1) != 1) {
    sc.shared_counters().misses.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  sc.shared_counters().allocations.fetch_add(1, std::memory_order_relaxed);
  return BufferHandle(detail::SizeClass::hand_out(sc.header(index)));
}

PoolResult<BufferHandle> BufferPool::from_raw(std::byte* data) noexcept {
  for (const auto& c : classes_) {
    detail::BufferHeader* header = c->header_of(data);
    if (header == nullptr) continue;
    if (header->refs.load(std::memory_order_acquire) == 0) {
      c->shared_counters().double_frees.fetch_add(1, std::memory_order_relaxed);
      return std::unexpected(PoolError{
          PoolErrc::double_free, "buffer " + std::to_string(header->index) + " of size class " +
                                     std::to_string(c->class_index()) + " is free"});
    }
    return BufferHandle(header);
  }
  foreign_frees_.fetch_add(1, std::memory_order_relaxed);
  return std::unexpected(
      PoolError{PoolErrc::foreign_buffer, "pointer is not the start of a buffer of this pool"});
}

PoolStats BufferPool::stats() const {
  PoolStats out;
  out.backing = arena_.backing();
  out.numa_node = arena_.numa_node();
  out.arena_bytes = arena_.size();
  out.foreign_frees = foreign_frees_.load(std::memory_order_relaxed);
  const std::scoped_lock lock(caches_mutex_);
  for (std::size_t i = 0; i < classes_.size(); ++i) {
    const detail::SizeClass& sc = *classes_[i];
    SizeClassStats s;
    s.buffer_size = sc.buffer_size();
    s.buffer_count = sc.buffer_count();
    s.high_water = sc.high_water();
    auto add = [&s](const detail::ClassCounters& c) {
      s.allocations += c.allocations.load(std::memory_order_relaxed);
      s.misses += c.misses.load(std::memory_order_relaxed);
      s.releases += c.releases.load(std::memory_order_relaxed);
      s.double_frees += c.double_frees.load(std::memory_order_relaxed);
    };
    add(sc.shared_counters());
    for (const ThreadCache* cache : caches_) add(cache->counters(i));
    s.in_use = s.allocations >= s.releases ? s.allocations - s.releases : 0;
    out.classes.push_back(s);
  }
  return out;
}

void BufferPool::register_cache(ThreadCache* cache) {
  const std::scoped_lock lock(caches_mutex_);
  caches_.push_back(cache);
}

void BufferPool::unregister_cache(ThreadCache* cache) noexcept {
  const std::scoped_lock lock(caches_mutex_);
  // Fold the cache's counters into the shared ones in the same critical section, so
  // stats() never counts them twice or drops them.
  for (std::size_t i = 0; i < classes_.size(); ++i) {
    detail::ClassCounters& to = classes_[i]->shared_counters();
    const detail::ClassCounters& from = cache->counters(i);
    to.allocations.fetch_add(from.allocations.load(std::memory_order_relaxed));
    to.misses.fetch_add(from.misses.load(std::memory_order_relaxed));
    to.releases.fetch_add(from.releases.load(std::memory_order_relaxed));
    to.double_frees.fetch_add(from.double_frees.load(std::memory_order_relaxed));
  }
  std::erase(caches_, cache);
}

}  // namespace dwcp::mempool
