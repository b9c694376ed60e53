// The receiving side of versioned blocks on one stream (docs/protocol.md §5.9–5.11): keeps
// each record's DELTA_BLOCK header by stream offset while its bytes are reassembled as
// ordinary stream data, then, when the record is read in stream order, rebuilds the block
// (whole, or the XOR delta applied to the cached version), checks its CRC32C, updates the
// cache and holds the block for the application.
//
// A block that fails its CRC is never handed over: the cache entry takes the new version
// and length but is marked poisoned, and a BLOCK_REQUEST for the key becomes due. Deltas
// against a poisoned entry are dropped as well (counted) until a whole block heals it.
//
// Memory: the cache (at most delta_cache_bytes of block bytes plus a node per key), one
// header per record not yet read (bounded by the stream window: a record has at least one
// byte), one buffer of the largest block, and one request per poisoned key.
//
// Not thread-safe: one per stream, driven by the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "proto/errc.h"
#include "proto/frames.h"
#include "transport/block_cache.h"

namespace dwcp::transport {

struct BlockReceiveCounters {
  std::uint64_t delivered = 0;
  std::uint64_t crc_failures = 0;       // rebuilt blocks whose CRC32C did not match
  std::uint64_t poisoned_drops = 0;     // deltas against a poisoned entry, not delivered
  std::uint64_t requests = 0;           // keys asked for whole (once per poisoning)
  std::uint64_t uncached_failures = 0;  // failed blocks too large to cache: nothing to ask
};

// A connection error a record or frame calls for.
struct BlockError {
  proto::TransportError code;
  std::string_view reason;
};

class BlockReceiver {
 public:
  // The limits this side offered (delta_cache_keys / delta_cache_bytes).
  BlockReceiver(std::uint64_t cache_keys, std::uint64_t cache_bytes) noexcept
      : cache_(cache_keys, cache_bytes) {}

  // A DELTA_BLOCK frame arrived; `consumed` is how far the stream has been read. Remembers
  // the record's header until the record is read. Errors: a header that differs from one
  // already seen for the record, a record overlapping another or straddling `consumed`.
  std::optional<BlockError> on_frame(const proto::DeltaBlockFrame& frame, std::uint64_t consumed);

  // The header of a record that starts at `offset`, if one was seen.
  [[nodiscard]] const proto::DeltaBlockFrame* record_at(std::uint64_t offset) const noexcept;
  // Whether a record starts inside (from, to).
  [[nodiscard]] bool record_starts_within(std::uint64_t from, std::uint64_t to) const noexcept;

  enum class Outcome : std::uint8_t {
    delivered,  // ready() holds the block
    dropped,    // failed its CRC or its base is poisoned: counted, nothing to deliver
  };
  // The bytes of the record that starts at `offset` (its header seen), read in stream
  // order: rebuilds and checks the block, updates the cache and forgets the header. A
  // delta with no such base in the cache, a malformed delta and a whole block that fails
  // its CRC are errors (the peer broke the protocol; caches are identical by design).
  std::expected<Outcome, BlockError> process(std::uint64_t offset,
                                             std::span<const std::byte> record);

  // The block process() delivered, until take_ready().
  [[nodiscard]] bool has_ready() const noexcept { return has_ready_; }
  [[nodiscard]] std::uint64_t ready_key() const noexcept { return ready_key_; }
  [[nodiscard]] std::uint64_t ready_version() const noexcept { return ready_version_; }
  [[nodiscard]] std::span<const std::byte> ready_bytes() const noexcept { return ready_; }
  void take_ready() noexcept { has_ready_ = false; }

  // BLOCK_REQUESTs to send: those due, which then count as sent. Requests for keys no
  // longer poisoned (healed or evicted) are dropped on the way.
  [[nodiscard]] bool has_due_requests() const noexcept { return !due_.empty(); }
  std::vector<proto::BlockRequestFrame> take_due_requests(std::uint64_t stream_id,
                                                          std::size_t max_count);
  // A packet with BLOCK_REQUESTs was lost: every request still standing is due again.
  void on_requests_lost();

  // Tests: flips a byte of the cached block of `key` (a base that differs from the
  // sender's). False when the key is not cached or has no bytes.
  bool corrupt_for_testing(std::uint64_t key);

  [[nodiscard]] const BlockCache& cache() const noexcept { return cache_; }
  [[nodiscard]] const BlockReceiveCounters& counters() const noexcept { return counters_; }

 private:
  void poison(std::uint64_t key, std::uint64_t version, std::uint64_t length);
  void ready(const proto::DeltaBlockFrame& header);

  BlockCache cache_;
  std::map<std::uint64_t, proto::DeltaBlockFrame> records_;  // by record offset, unread
  std::vector<std::byte> ready_;
  bool has_ready_ = false;
  std::uint64_t ready_key_ = 0;
  std::uint64_t ready_version_ = 0;
  std::map<std::uint64_t, std::uint64_t> due_;   // key → version: requests to send
  std::map<std::uint64_t, std::uint64_t> sent_;  // requests sent, key not yet healed
  BlockReceiveCounters counters_;
};

}  // namespace dwcp::transport
