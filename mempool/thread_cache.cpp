#include "mempool/thread_cache.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace dwcp::mempool {
namespace {

// Head of this thread's list of caches. initial-exec: a plain %fs-relative load instead
// of a __tls_get_addr call, which matters on the allocate/release path.
[[gnu::tls_model("initial-exec")]] thread_local ThreadCache* tl_caches = nullptr;

}  // namespace

ThreadCache* ThreadCache::of_this_thread(const BufferPool& pool) noexcept {
  for (ThreadCache* c = tl_caches; c != nullptr; c = c->next_) {
    if (&c->pool_ == &pool) return c;
  }
  return nullptr;
}

ThreadCache::ThreadCache(BufferPool& pool)
    : pool_(pool), stocks_(std::make_unique<Stock[]>(pool.class_count())) {
  if (of_this_thread(pool) != nullptr) {
    throw std::logic_error("dwcp mempool: this thread already has a cache for this pool");
  }
  for (std::size_t c = 0; c < pool.class_count(); ++c) {
    Stock& s = stocks_[c];
    s.size_class = pool.classes_[c].get();
    s.capacity = s.size_class->thread_cache_size();
    s.indices = std::make_unique<std::uint32_t[]>(s.capacity);
  }
  pool_.register_cache(this);
  next_ = tl_caches;
  tl_caches = this;
}

ThreadCache::~ThreadCache() {
  flush();
  pool_.unregister_cache(this);
  for (ThreadCache** link = &tl_caches; *link != nullptr; link = &(*link)->next_) {
    if (*link == this) {
      *link = next_;
      break;
    }
  }
}

void ThreadCache::flush() noexcept {
  for (std::size_t c = 0; c < pool_.class_count(); ++c) {
    Stock& s = stocks_[c];
    if (s.count != 0) s.size_class->push_shared(s.indices.get(), s.count);
    s.count = 0;
  }
}

std::size_t ThreadCache::cached(std::size_t class_index) const noexcept {
  return stocks_[class_index].count;
}

bool ThreadCache::take(std::size_t class_index, std::uint32_t& index) noexcept {
  Stock& s = stocks_[class_index];
  if (s.count == 0) {
    s.count = static_cast<std::uint32_t>(
        s.size_class->pop_shared(s.indices.get(), std::max<std::uint32_t>(1, s.capacity / 2)));
    if (s.count == 0) {
      detail::bump(s.counters.misses);
      return false;
    }
  }
  index = s.indices[--s.count];
  detail::bump(s.counters.allocations);
  return true;
}

void ThreadCache::give(std::size_t class_index, std::uint32_t index) noexcept {
  Stock& s = stocks_[class_index];
  if (s.count == s.capacity) {
    // Spill the coldest half; the most recently freed buffers stay, warm in this core's
    // cache, for the next allocations.
    const std::uint32_t spill = std::max<std::uint32_t>(1, s.capacity / 2);
    s.size_class->push_shared(s.indices.get(), spill);
    s.count -= spill;
    std::memmove(s.indices.get(), s.indices.get() + spill, s.count * sizeof(std::uint32_t));
  }
  s.indices[s.count++] = index;
  detail::bump(s.counters.releases);
}

}  // namespace dwcp::mempool
