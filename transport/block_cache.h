// The last version of each key of versioned blocks on one stream, as both ends hold it
// (docs/protocol.md §5.9): the sender keeps the copy the peer's cache holds, the receiver
// its own, and both update theirs at the same point of the stream, so the two stay
// identical and a new version can go as an XOR delta against the old one.
//
// Bounded by a key count and a byte count (the sum of the blocks' lengths). Eviction is
// deterministic: after each update, the least recently updated entries go until both
// limits hold. "Recently" means in stream order, never in time, so both ends evict the
// same keys at the same record. A block longer than the byte limit is not kept at all:
// its key's entry goes instead.
//
// A receiver's entry can be poisoned: its rebuilt block failed the CRC, so the bytes are
// not the sender's. It still counts the block's length, as the sender's copy does, so the
// two caches keep making the same eviction decisions; only its bytes are gone.
//
// Not thread-safe: one per stream and direction, driven by the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace dwcp::transport {

class BlockCache {
 public:
  struct Entry {
    std::uint64_t key = 0;
    std::uint64_t version = 0;
    std::uint64_t length = 0;         // the block's length: what the byte limit counts
    std::vector<std::byte> bytes;     // the block; empty while poisoned
    bool poisoned = false;            // receiver: the bytes failed their CRC (see above)
    std::uint64_t whole_version = 0;  // sender: the newest version that went whole
  };

  // 0 keys or 0 bytes: no cache (enabled() is false and update() keeps nothing).
  BlockCache(std::uint64_t max_keys, std::uint64_t max_bytes) noexcept
      : max_keys_(max_keys), max_bytes_(max_bytes) {}

  [[nodiscard]] bool enabled() const noexcept { return max_keys_ > 0 && max_bytes_ > 0; }
  [[nodiscard]] Entry* find(std::uint64_t key) noexcept;
  [[nodiscard]] const Entry* find(std::uint64_t key) const noexcept;

  // Makes `key` the most recently updated entry, with `version` and `length` (its bytes,
  // poisoned flag and whole_version are left as they were, for the caller to set), then
  // evicts the least recently updated others until the limits hold. Returns the entry, or
  // nullptr when a block of `length` bytes alone exceeds the byte limit (or the cache is
  // disabled): then the key's entry, if any, is evicted.
  Entry* update(std::uint64_t key, std::uint64_t version, std::uint64_t length);

  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::uint64_t evictions() const noexcept { return evictions_; }
  [[nodiscard]] std::uint64_t max_keys() const noexcept { return max_keys_; }
  [[nodiscard]] std::uint64_t max_bytes() const noexcept { return max_bytes_; }
  // Least recently updated first: two caches that saw the same records list the same keys,
  // versions and lengths in the same order.
  [[nodiscard]] const std::list<Entry>& entries() const noexcept { return order_; }

 private:
  void evict(std::list<Entry>::iterator it);

  std::uint64_t max_keys_;
  std::uint64_t max_bytes_;
  std::uint64_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
  std::list<Entry> order_;  // least recently updated first
  std::unordered_map<std::uint64_t, std::list<Entry>::iterator> index_;
};

}  // namespace dwcp::transport
