#include "mempool/thread_cache.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace dwcp::mempool {
namespace detail {
constinit thread_local ThreadCache* tl_thread_caches = nullptr;
}  // namespace detail

ThreadCache::ThreadCache(BufferPool& pool) : pool_(&pool), class_count_(pool.class_count()) {
  if (of_this_thread(pool) != nullptr) {
    throw std::logic_error("dwcp mempool: this thread already has a cache for this pool");
  }
  std::size_t total = 0;
  for (std::size_t c = 0; c < class_count_; ++c) total += pool.class_ptrs_[c]->thread_cache_size();
  // Whole lines, so the indices share no line with another thread's data.
  const std::size_t line_words = lockfree::kFalseSharingRange / sizeof(std::uint32_t);
  const std::size_t words = (total + line_words - 1) / line_words * line_words;
  index_storage_.reset(static_cast<std::uint32_t*>(
      ::operator new (std::max<std::size_t>(words, 1) * sizeof(std::uint32_t),
                      std::align_val_t{lockfree::kFalseSharingRange})));
  std::uint32_t* next_indices = index_storage_.get();
  for (std::size_t c = 0; c < class_count_; ++c) {
    Stock& s = stocks_[c];
    s.size_class = pool.class_ptrs_[c];
    s.capacity = s.size_class->thread_cache_size();
    s.buffer_size = s.size_class->buffer_size();
    s.headers = s.size_class->header(0);
    s.indices = next_indices;
    next_indices += s.capacity;
  }
  pool_->register_cache(this);
  next_ = detail::tl_thread_caches;
  detail::tl_thread_caches = this;
}

ThreadCache::~ThreadCache() {
  flush();
  pool_->unregister_cache(this);
  for (ThreadCache** link = &detail::tl_thread_caches; *link != nullptr; link = &(*link)->next_) {
    if (*link == this) {
      *link = next_;
      break;
    }
  }
}

void ThreadCache::flush() noexcept {
  for (std::size_t c = 0; c < class_count_; ++c) {
    Stock& s = stocks_[c];
    if (s.count != 0) s.size_class->push_shared(s.indices, s.count);
    s.count = 0;
  }
}

std::size_t ThreadCache::cached(std::size_t class_index) const noexcept {
  return stocks_[class_index].count;
}

detail::BufferHeader* ThreadCache::refill_and_take(std::size_t class_index) noexcept {
  Stock& s = stocks_[class_index];
  if (s.capacity == 0) return nullptr;
  if (s.count == 0) {
    s.count = static_cast<std::uint32_t>(
        s.size_class->pop_shared(s.indices, std::max<std::uint32_t>(1, s.capacity / 2)));
    if (s.count == 0) {
      detail::bump(s.counters.misses);
      return nullptr;
    }
  }
  return try_take(class_index);
}

bool ThreadCache::spill_and_give(const detail::BufferHeader& header) noexcept {
  Stock& s = stocks_[header.class_index];
  if (s.capacity == 0) return false;
  if (s.count == s.capacity) {
    // Spill the coldest half; the most recently freed buffers stay, warm in this core's
    // cache, for the next allocations.
    const std::uint32_t spill = std::max<std::uint32_t>(1, s.capacity / 2);
    s.size_class->push_shared(s.indices, spill);
    s.count -= spill;
    std::memmove(s.indices, s.indices + spill, s.count * sizeof(std::uint32_t));
  }
  return try_give(header);
}

}  // namespace dwcp::mempool
