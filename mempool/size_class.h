// One size class of a BufferPool: its buffers, their headers and the shared free ring.
// Internal to mempool; BufferPool and ThreadCache are the public face.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "lockfree/mpmc_ring.h"
#include "mempool/buffer_handle.h"

namespace dwcp::mempool {
class BufferPool;
}

namespace dwcp::mempool::detail {

// Counters of one size class, written by one thread (a ThreadCache) or by many (the
// shared path, with atomic adds).
struct ClassCounters {
  std::atomic<std::uint64_t> allocations{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> releases{0};
  std::atomic<std::uint64_t> double_frees{0};
};

// Adds one on a counter only its owning thread writes: a plain load and store, no locked
// instruction, still safe for other threads to read.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

class SizeClass {
 public:
  SizeClass(BufferPool& pool, std::uint32_t class_index, std::byte* region, std::size_t buffer_size,
            std::uint32_t buffer_count, std::uint32_t thread_cache_size);

  BufferPool& pool() const noexcept { return pool_; }
  std::uint32_t class_index() const noexcept { return class_index_; }
  std::size_t buffer_size() const noexcept { return buffer_size_; }
  std::uint32_t buffer_count() const noexcept { return buffer_count_; }
  std::uint32_t thread_cache_size() const noexcept { return thread_cache_size_; }

  BufferHeader* header(std::uint32_t index) const noexcept { return &headers_[index]; }
  // The header of the buffer starting at `data`, or nullptr if no buffer of this class
  // starts there.
  BufferHeader* header_of(const std::byte* data) const noexcept;

  // Marks a free buffer allocated (one reference, empty payload).
  static BufferHeader* hand_out(BufferHeader* h) noexcept {
    h->refs.store(1, std::memory_order_relaxed);
    h->length = 0;
    return h;
  }

  // The shared free ring. Pops update the high-water mark.
  std::size_t pop_shared(std::uint32_t* out, std::size_t count) noexcept;
  void push_shared(std::uint32_t* indices, std::size_t count) noexcept;

  // Returns a buffer whose last reference is gone to the shared ring.
  void release_to_shared(BufferHeader* header) noexcept;

  ClassCounters& shared_counters() noexcept { return counters_; }
  const ClassCounters& shared_counters() const noexcept { return counters_; }
  std::uint32_t high_water() const noexcept { return high_water_.load(std::memory_order_relaxed); }

 private:
  BufferPool& pool_;
  const std::uint32_t class_index_;
  const std::size_t buffer_size_;
  const std::uint32_t buffer_count_;
  const std::uint32_t thread_cache_size_;
  std::byte* const region_;
  std::unique_ptr<BufferHeader[]> headers_;
  lockfree::MpmcRing<std::uint32_t> free_ring_;
  ClassCounters counters_;
  std::atomic<std::uint32_t> high_water_{0};
};

}  // namespace dwcp::mempool::detail
