#include "transport/block_cache.h"

namespace dwcp::transport {

BlockCache::Entry* BlockCache::find(std::uint64_t key) noexcept {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &*it->second;
}

const BlockCache::Entry* BlockCache::find(std::uint64_t key) const noexcept {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &*it->second;
}

BlockCache::Entry* BlockCache::update(std::uint64_t key, std::uint64_t version,
                                      std::uint64_t length) {
  auto found = index_.find(key);
  if (!enabled() || length > max_bytes_) {
    if (found != index_.end()) evict(found->second);
    return nullptr;
  }
  std::list<Entry>::iterator it;
  if (found != index_.end()) {
    it = found->second;
    bytes_ -= it->length;
    order_.splice(order_.end(), order_, it);  // iterators stay valid
  } else {
    it = order_.insert(order_.end(), Entry{});
    it->key = key;
    index_.emplace(key, it);
  }
  it->version = version;
  it->length = length;
  bytes_ += length;
  // The entry just updated is last in the order, and alone it fits: the loop stops before it.
  while (index_.size() > max_keys_ || bytes_ > max_bytes_) evict(order_.begin());
  return &*it;
}

void BlockCache::evict(std::list<Entry>::iterator it) {
  bytes_ -= it->length;
  index_.erase(it->key);
  order_.erase(it);
  ++evictions_;
}

}  // namespace dwcp::transport
