// A thread's private stock of free buffers in front of a BufferPool's shared rings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "mempool/buffer_pool.h"
#include "mempool/size_class.h"

namespace dwcp::mempool {

// Create one on a thread that allocates or releases many buffers (an I/O thread, say):
// while it lives, that thread's allocations and releases on `pool` go through it and
// touch no shared state except to move half a cache's worth of buffers at a time.
//
// Thread safety: owned by the thread that created it; it must be destroyed on that
// thread, before the pool. stats() on the pool may read its counters from any thread.
// One per pool per thread: a second one throws std::logic_error.
class ThreadCache {
 public:
  explicit ThreadCache(BufferPool& pool);
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;
  // Returns every cached buffer to the shared rings.
  ~ThreadCache();

  // Returns every cached buffer to the shared rings, so other threads can have them.
  void flush() noexcept;
  [[nodiscard]] std::size_t cached(std::size_t class_index) const noexcept;

  // The calling thread's cache for `pool`, or nullptr.
  [[nodiscard]] static ThreadCache* of_this_thread(const BufferPool& pool) noexcept;

  // Pool internals: one buffer index in and out, refilling or spilling half the cache
  // through the shared ring. take() returns false when the class is exhausted.
  [[nodiscard]] bool take(std::size_t class_index, std::uint32_t& index) noexcept;
  void give(std::size_t class_index, std::uint32_t index) noexcept;

  [[nodiscard]] const detail::ClassCounters& counters(std::size_t class_index) const noexcept {
    return stocks_[class_index].counters;
  }
  [[nodiscard]] detail::ClassCounters& counters(std::size_t class_index) noexcept {
    return stocks_[class_index].counters;
  }

 private:
  struct Stock {
    detail::SizeClass* size_class = nullptr;
    std::unique_ptr<std::uint32_t[]> indices;
    std::uint32_t count = 0;
    std::uint32_t capacity = 0;
    detail::ClassCounters counters;
  };

  BufferPool& pool_;
  std::unique_ptr<Stock[]> stocks_;
  ThreadCache* next_ = nullptr;  // this thread's list of caches, one per pool
};

}  // namespace dwcp::mempool
