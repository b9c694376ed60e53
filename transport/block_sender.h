// The sending side of versioned blocks on one stream (docs/protocol.md §5.9–5.11): numbers
// each key's versions, chooses between a whole block and an XOR delta against the copy the
// peer's cache holds, and remembers each record's DELTA_BLOCK header by stream offset, so
// that the packetizer can send (and resend) the record's bytes in DELTA_BLOCK frames.
//
// A record's bytes are ordinary stream data in the stream's send buffer: one message. This
// class only knows where records are and what their headers say. Its cache mirrors the
// peer's (same limits, updated at the same record), which is what lets a delta's base be
// known to be there when the peer reads the record.
//
// Memory: the cache (at most the peer's delta_cache_bytes of block bytes plus a list node
// per key), a version counter per key ever sent on the stream (16 bytes and a hash node
// each), a header per unacknowledged record, and one scratch buffer of the largest block.
//
// Not thread-safe: one per stream, driven by the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proto/frames.h"
#include "transport/block_cache.h"

namespace dwcp::transport {

struct BlockSendCounters {
  std::uint64_t sent_whole = 0;
  std::uint64_t sent_delta = 0;
  std::uint64_t bytes_saved = 0;  // block bytes minus record bytes, over the deltas
  std::uint64_t resends = 0;      // whole blocks sent to answer a BLOCK_REQUEST
};

class BlockSender {
 public:
  // A record ready to go into the stream: its header (record_offset, fragment fields and
  // fin unset) and its bytes, which stay valid until the next call on this object.
  struct Record {
    proto::DeltaBlockFrame header;
    std::span<const std::byte> bytes;
    bool resend = false;
  };

  // `stream_id` goes into every header. `cache_keys`, `cache_bytes`: the limits the peer
  // keeps (its delta_cache_keys / delta_cache_bytes). A delta is chosen only when it is at
  // most block size × (1 − `margin`).
  BlockSender(std::uint64_t stream_id, std::uint64_t cache_keys, std::uint64_t cache_bytes,
              double margin);

  // The record that sends `block` as the next version of `key`. Changes nothing until
  // commit(): a record the stream could not take may be prepared again later.
  Record prepare(std::uint64_t key, std::span<const std::byte> block);
  // The prepared record went into the stream at `offset`; `block` is the block prepare()
  // got (ignored for a resend). The versions, the cache and the counters follow.
  void commit(const Record& record, std::uint64_t offset, std::span<const std::byte> block);

  // The peer asked for `key` whole: it holds `version` and could not rebuild it. Queued
  // (one per key) when the cache holds the key and no whole record of it at `version` or
  // newer went since; next_resend() gives the record for it.
  void on_request(std::uint64_t key, std::uint64_t version);
  [[nodiscard]] bool has_requests() const noexcept { return !requests_.empty(); }
  // Forgets every queued request (the stream takes no more data).
  void drop_requests() noexcept { requests_.clear(); }
  // The whole record answering a queued request (lowest key first); requests with nothing to send
  // (the key was evicted, or went whole at or after that version since) are dropped on the
  // way; nullopt when none is left. The request stays queued until its record is
  // commit()ed.
  std::optional<Record> next_resend();

  // The header of the record that holds stream offset `offset`, if any.
  [[nodiscard]] const proto::DeltaBlockFrame* record_at(std::uint64_t offset) const noexcept;
  [[nodiscard]] bool has_records() const noexcept { return !records_.empty(); }
  // Forgets the records that end at or below `acked`: the stream will not send them again.
  void release_below(std::uint64_t acked);
  // Bytes of a DELTA_BLOCK frame's fields for `record`, its fragment starting at
  // `fragment_offset` and at most `room` bytes long.
  [[nodiscard]] static std::size_t header_size(const proto::DeltaBlockFrame& record,
                                               std::uint64_t fragment_offset,
                                               std::size_t room) noexcept;
  // An upper bound of header_size() over every record held, for a fragment of at most
  // `room` bytes.
  [[nodiscard]] std::size_t max_header_size(std::size_t room) const noexcept;

  [[nodiscard]] const BlockCache& cache() const noexcept { return cache_; }
  [[nodiscard]] const BlockSendCounters& counters() const noexcept { return counters_; }

 private:
  std::uint64_t stream_id_;
  double margin_;
  BlockCache cache_;
  std::unordered_map<std::uint64_t, std::uint64_t> versions_;  // key → newest version sent
  std::map<std::uint64_t, proto::DeltaBlockFrame> records_;    // by record offset
  std::map<std::uint64_t, std::uint64_t> requests_;            // key → version asked for
  std::vector<std::byte> scratch_;                             // an encoded delta
  // The largest field values ever held, so max_header_size() needs no walk of records_.
  std::uint64_t max_key_ = 0;
  std::uint64_t max_version_ = 0;
  std::uint64_t max_end_ = 0;
  BlockSendCounters counters_;
};

}  // namespace dwcp::transport
