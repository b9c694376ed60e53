#include "mempool/size_class.h"

#include <cassert>
#include <cstdio>
#include <cstdlib>

#include "mempool/buffer_pool.h"
#include "mempool/thread_cache.h"

namespace dwcp::mempool::detail {

SizeClass::SizeClass(BufferPool& pool, std::uint32_t class_index, std::byte* region,
                     std::size_t buffer_size, std::uint32_t buffer_count,
                     std::uint32_t thread_cache_size)
    : pool_(pool),
      class_index_(class_index),
      buffer_size_(buffer_size),
      buffer_count_(buffer_count),
      thread_cache_size_(thread_cache_size),
      region_(region),
      headers_(std::make_unique<BufferHeader[]>(buffer_count)),
      free_ring_(buffer_count) {
  for (std::uint32_t i = 0; i < buffer_count; ++i) {
    BufferHeader& h = headers_[i];
    h.index = i;
    h.capacity = static_cast<std::uint32_t>(buffer_size);
    h.class_index = class_index;
    h.data = region + std::size_t{i} * buffer_size;
    h.owner = this;
    h.pool = &pool;
    // The ring holds every buffer, so this cannot fail.
    [[maybe_unused]] const bool pushed = free_ring_.try_push(i);
    assert(pushed);
  }
}

BufferHeader* SizeClass::header_of(const std::byte* data) const noexcept {
  if (data < region_ || data >= region_ + std::size_t{buffer_count_} * buffer_size_) {
    return nullptr;
  }
  const auto offset = static_cast<std::size_t>(data - region_);
  if (offset % buffer_size_ != 0) return nullptr;
  return header(static_cast<std::uint32_t>(offset / buffer_size_));
}

std::size_t SizeClass::pop_shared(std::uint32_t* out, std::size_t count) noexcept {
  const std::size_t n = free_ring_.pop_n(out, count);
  if (n != 0) {
    const auto taken = static_cast<std::uint32_t>(buffer_count_ - free_ring_.size_approx());
    std::uint32_t peak = high_water_.load(std::memory_order_relaxed);
    while (taken > peak &&
           !high_water_.compare_exchange_weak(peak, taken, std::memory_order_relaxed)) {
    }
  }
  return n;
}

void SizeClass::push_shared(std::uint32_t* indices, std::size_t count) noexcept {
  // The ring has room for every buffer of the class, so a free buffer always fits.
  [[maybe_unused]] const std::size_t pushed = free_ring_.push_n(indices, count);
  assert(pushed == count);
}

void SizeClass::release_to_shared(BufferHeader* header) noexcept {
  counters_.releases.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t index = header->index;
  push_shared(&index, 1);
}

namespace {

// Not the sole owner: a locked decrement, and the double-free check. True when this was
// the last reference.
[[gnu::noinline]] bool drop_shared_reference(BufferHeader* header) noexcept {
  const std::uint32_t refs = header->refs.fetch_sub(1, std::memory_order_acq_rel);
  if (refs > 1) return false;
  if (refs == 1) return true;
  header->refs.store(0, std::memory_order_relaxed);
  header->owner->shared_counters().double_frees.fetch_add(1, std::memory_order_relaxed);
#ifndef NDEBUG
  std::fprintf(stderr, "dwcp mempool: double free of buffer %u (size class %u)\n", header->index,
               header->class_index);
  std::abort();
#endif
  return false;
}

[[gnu::noinline]] void release_slow(BufferHeader* header, ThreadCache* cache) noexcept {
  if (cache == nullptr || !cache->spill_and_give(*header)) header->owner->release_to_shared(header);
}

}  // namespace

void release_reference(BufferHeader* header) noexcept {
  // Sole owner: nobody else can add a reference, so skip the locked decrement.
  if (header->refs.load(std::memory_order_acquire) != 1 && !drop_shared_reference(header)) return;
  header->refs.store(0, std::memory_order_relaxed);
  ThreadCache* cache = ThreadCache::of_this_thread(*header->pool);
  if (cache != nullptr && cache->try_give(*header)) return;
  release_slow(header, cache);
}

}  // namespace dwcp::mempool::detail
