// A thread's private stock of free buffers in front of a BufferPool's shared rings.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "lockfree/cache_line.h"
#include "mempool/buffer_pool.h"
#include "mempool/size_class.h"

namespace dwcp::mempool {

class ThreadCache;

namespace detail {
// Head of the calling thread's list of caches. constinit, so other translation units read
// it directly instead of through a TLS wrapper call; initial-exec, so the read is one
// %fs-relative load. Both matter on the allocate/release path.
[[gnu::tls_model("initial-exec")]] extern constinit thread_local ThreadCache* tl_thread_caches;
}  // namespace detail

// Create one on a thread that allocates or releases many buffers (an I/O thread, say):
// while it lives, that thread's allocations and releases on `pool` go through it and
// touch no shared state except to move half a cache's worth of buffers at a time.
//
// Thread safety: owned by the thread that created it; it must be destroyed on that
// thread, before the pool. stats() on the pool may read its counters from any thread.
// One per pool per thread: a second one throws std::logic_error.
//
// Aligned and padded so that two threads' caches never share a cache line, wherever they
// are allocated: a cache is written on every allocation and release.
class alignas(lockfree::kFalseSharingRange) ThreadCache {
 public:
  explicit ThreadCache(BufferPool& pool);
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  // Returns every cached buffer to the shared rings.
  ~ThreadCache();

  // The same as pool.try_allocate(min_size) on this thread, without looking the cache up:
  // the cheapest allocation there is. Must be called on the thread that owns the cache.
  [[nodiscard]] BufferHandle try_allocate(std::size_t min_size) noexcept {
    for (std::size_t i = 0; i < class_count_; ++i) {
      if (stocks_[i].buffer_size < min_size) continue;
      if (detail::BufferHeader* header = try_take(i)) {
        return BufferHandle(detail::SizeClass::hand_out(header));
      }
      return pool_->allocate_slow(i, this);
    }
    return pool_->try_allocate(min_size);  // too large for every class: counted as a miss
  }

  // Returns every cached buffer to the shared rings, so other threads can have them.
  void flush() noexcept;
  [[nodiscard]] std::size_t cached(std::size_t class_index) const noexcept;

  // The calling thread's cache for `pool`, or nullptr.
  [[nodiscard]] static ThreadCache* of_this_thread(const BufferPool& pool) noexcept {
    for (ThreadCache* c = detail::tl_thread_caches; c != nullptr; c = c->next_) {
      if (c->pool_ == &pool) return c;
    }
    return nullptr;
  }

  // Pool internals. The fast paths, inline and free of calls: a free buffer out of the
  // cache (nullptr when it has none of that class) and into it (false when full).
  [[nodiscard]] detail::BufferHeader* try_take(std::size_t class_index) noexcept {
    Stock& s = stocks_[class_index];
    if (s.count == 0) return nullptr;
    detail::bump(s.counters.allocations);
    return &s.headers[s.indices[--s.count]];
  }
  [[nodiscard]] bool try_give(const detail::BufferHeader& header) noexcept {
    Stock& s = stocks_[header.class_index];
    if (s.count == s.capacity) return false;
    s.indices[s.count++] = header.index;
    detail::bump(s.counters.releases);
    return true;
  }
  // The slow paths, through the shared ring: refill half the cache, then take (nullptr
  // when the class is exhausted); spill half, then give. Both refuse (nullptr, false) for a
  // class without thread caching.
  [[nodiscard]] detail::BufferHeader* refill_and_take(std::size_t class_index) noexcept;
  [[nodiscard]] bool spill_and_give(const detail::BufferHeader& header) noexcept;

  [[nodiscard]] const detail::ClassCounters& counters(std::size_t class_index) const noexcept {
    return stocks_[class_index].counters;
  }
  [[nodiscard]] detail::ClassCounters& counters(std::size_t class_index) noexcept {
    return stocks_[class_index].counters;
  }

 private:
  // What take() and give() touch sits together, in the cache object itself: the hot path
  // is a short chain of dependent loads, and each link costs a few cycles.
  struct Stock {
    std::uint32_t count = 0;
    std::uint32_t capacity = 0;
    std::size_t buffer_size = 0;
    std::uint32_t* indices = nullptr;
    detail::BufferHeader* headers = nullptr;
    detail::SizeClass* size_class = nullptr;
    detail::ClassCounters counters;
  };

  BufferPool* const pool_;
  ThreadCache* next_ = nullptr;  // this thread's list of caches, one per pool
  std::size_t class_count_ = 0;
  Stock stocks_[kMaxSizeClasses];
  struct AlignedDelete {
    void operator()(std::uint32_t* p) const noexcept {
      ::operator delete (p, std::align_val_t{lockfree::kFalseSharingRange});
    }
  };
  std::unique_ptr<std::uint32_t, AlignedDelete> index_storage_;
};

}  // namespace dwcp::mempool
