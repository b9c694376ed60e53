// Pool of fixed-size packet buffers in a few size classes.
//
// Each class is carved from one NUMA-local, huge-page-backed arena (see arena.h) and keeps
// its free buffers in a lock-free MPMC ring of indices. A thread that allocates a lot puts
// a ThreadCache in front of that ring: allocation and release then touch only the thread's
// own array, and buffers move to and from the shared ring in batches.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "mempool/arena.h"
#include "mempool/buffer_handle.h"
#include "mempool/pool_error.h"

namespace dwcp::mempool {

class ThreadCache;

inline constexpr std::size_t kMaxSizeClasses = 8;

struct SizeClassConfig {
  std::size_t buffer_size = 0;     // bytes per buffer; rounded up to 64
  std::uint32_t buffer_count = 0;  // buffers in this class
  // Buffers of this class one ThreadCache may hold; half of it moves per refill or flush.
  // 0 turns thread caching off for the class.
  std::uint32_t thread_cache_size = 256;
};

struct PoolConfig {
  // 1 to kMaxSizeClasses classes, ordered by strictly increasing buffer_size.
  // Default: packets and GSO super-buffers.
  std::vector<SizeClassConfig> classes = {{2048, 4096, 256}, {65536, 256, 16}};
  ArenaOptions arena = {};
};

struct SizeClassStats {
  std::size_t buffer_size = 0;
  std::uint32_t buffer_count = 0;
  std::uint64_t allocations = 0;
  std::uint64_t misses = 0;    // allocations refused because the class was exhausted
  std::uint64_t releases = 0;  // buffers returned (last reference dropped)
  std::uint64_t in_use = 0;    // allocations - releases
  // Peak number of buffers out of the shared ring at once, counting those parked in
  // thread caches: an upper bound on the peak in use.
  std::uint32_t high_water = 0;
  std::uint64_t double_frees = 0;
};

struct PoolStats {
  std::vector<SizeClassStats> classes;
  PageBacking backing = PageBacking::normal_pages;
  int numa_node = 0;
  std::size_t arena_bytes = 0;
  std::uint64_t foreign_frees = 0;  // from_raw calls with a pointer to no buffer of the pool
};

namespace detail {
class SizeClass;
}

// Thread safety: every member function may be called from any thread concurrently.
// Lifetime: the pool must outlive every handle and every ThreadCache made from it; its
// destructor aborts with a message if that is broken (the alternative is memory
// corruption). The pool does not move: create() returns it behind a unique_ptr.
class BufferPool {
 public:
  // Errors: invalid_config (no classes, a zero size or count, sizes not increasing,
  // more than 2^31 buffers), no_such_node, out_of_memory.
  static PoolResult<std::unique_ptr<BufferPool>> create(const PoolConfig& config = {});

  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool();

  // A buffer of the smallest class holding `min_size` bytes, with length 0 and one
  // reference. An empty handle if no class is that large or the class is exhausted; both
  // count as a miss. Never allocates from the heap.
  [[nodiscard]] BufferHandle try_allocate(std::size_t min_size) noexcept;
  [[nodiscard]] BufferHandle try_allocate_class(std::size_t class_index) noexcept;

  // Takes back a reference given up by BufferHandle::into_raw. Errors (counted in the
  // stats, the pool left unchanged): foreign_buffer if `data` is not the start of one of
  // this pool's buffers, double_free if that buffer is free.
  [[nodiscard]] PoolResult<BufferHandle> from_raw(std::byte* data) noexcept;

  [[nodiscard]] std::size_t class_count() const noexcept { return class_count_; }
  // Index of the smallest class holding `size` bytes, if any.
  [[nodiscard]] std::optional<std::size_t> class_for(std::size_t size) const noexcept;
  [[nodiscard]] std::size_t buffer_size(std::size_t class_index) const noexcept;

  // Counters summed over the shared path and every live ThreadCache; exact when no
  // thread is allocating or releasing.
  [[nodiscard]] PoolStats stats() const;

 private:
  friend class ThreadCache;
  friend class detail::SizeClass;
  explicit BufferPool(Arena arena);

  // Allocation through the shared ring, or refilling the thread's cache from it.
  [[gnu::noinline]] BufferHandle allocate_slow(std::size_t class_index,
                                               ThreadCache* cache) noexcept;
  void register_cache(ThreadCache* cache);
  void unregister_cache(ThreadCache* cache) noexcept;

  Arena arena_;
  std::vector<std::unique_ptr<detail::SizeClass>> classes_;
  // Copies for the allocation path, which should not chase pointers to find a class.
  std::size_t class_count_ = 0;
  std::size_t class_sizes_[kMaxSizeClasses] = {};
  detail::SizeClass* class_ptrs_[kMaxSizeClasses] = {};
  mutable std::mutex caches_mutex_;
  std::vector<ThreadCache*> caches_;
  std::atomic<std::uint64_t> foreign_frees_{0};
};

}  // namespace dwcp::mempool
