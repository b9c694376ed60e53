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
    h.data = region + std::size_t{i} * buffer_size;
    h.owner = this;
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

void SizeClass::give_back(BufferHeader* header) noexcept {
  header->refs.store(0, std::memory_order_relaxed);
  ThreadCache* cache = thread_cache_size_ != 0 ? ThreadCache::of_this_thread(pool_) : nullptr;
  if (cache != nullptr) {
    cache->give(class_index_, header->index);
    return;
  }
  counters_.releases.fetch_add(1, std::memory_order_relaxed);
  std::uint32_t index = header->index;
  push_shared(&index, 1);
}

void release_reference(BufferHeader* header) noexcept {
  // Sole owner: nobody else can add a reference, so skip the locked decrement.
  std::uint32_t refs = header->refs.load(std::memory_order_acquire);
  if (refs != 1) {
    refs = header->refs.fetch_sub(1, std::memory_order_acq_rel);
    if (refs > 1) return;
    if (refs == 0) {
      header->refs.store(0, std::memory_order_relaxed);
      header->owner->shared_counters().double_frees.fetch_add(1, std::memory_order_relaxed);
#ifndef NDEBUG
      std::fprintf(stderr, "dwcp mempool: double free of buffer %u (size class %u)\n",
                   header->index, header->owner->class_index());
      std::abort();
#endif
      return;
    }
  }
  header->owner->give_back(header);
}

}  // namespace dwcp::mempool::detail
