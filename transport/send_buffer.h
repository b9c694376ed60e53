// The sending side of one stream (docs/protocol.md §5.3): the application appends whole
// messages, the packetizer takes chunks to put in STREAM frames, and acknowledgements and
// losses come back as byte ranges. Lost bytes go out again before new ones, lowest offset
// first, and may be cut differently from the first time; the buffer remembers where every
// message ends so that each chunk stops at the first message end it reaches ("a frame
// carries the bytes of at most one message end (its last byte)").
//
// Memory: bytes live in a ring from the lowest unacknowledged offset to the end of the
// appended data, never more than `capacity` bytes; the ring grows on demand up to the
// capacity, and the acknowledged prefix is released at once.
//
// Flow control is the caller's (transport/flow_credit.h): it limits `max_bytes` of new data
// by the credit it has, using highest_sent() and bytes_unsent(). No clock, no I/O.
// Not thread-safe: one per stream, driven by the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace dwcp::transport {

// What append() did with a message. Only `accepted` takes the message; nothing is ever
// partly accepted.
enum class AppendStatus : std::uint8_t {
  accepted,
  back_pressured,  // would block: the message fits the capacity but not the free space now;
                   // retry after acknowledgements free some (not an error)
  too_large,       // error: the message is larger than the capacity and can never fit
  empty,           // error: a message has at least one byte (MSG marks its last data byte)
  finished,        // error: finish() was called; the stream takes no more data
};

std::string_view to_string(AppendStatus status) noexcept;
// True for the statuses that retrying cannot fix.
bool is_error(AppendStatus status) noexcept;

// A stretch of the stream to put in one STREAM frame. Its bytes come from copy_out().
struct SendChunk {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;     // 0 only for a frame that carries nothing but the FIN
  bool fin = false;             // the chunk ends at the final size: set FIN
  bool message_end = false;     // the chunk's last byte ends a message: set MSG
  bool retransmission = false;  // bytes declared lost, sent again
  friend bool operator==(const SendChunk&, const SendChunk&) = default;
};

class SendBuffer {
 public:
  // `capacity`: most bytes held at once (unacknowledged plus unsent); at least 1.
  explicit SendBuffer(std::size_t capacity);

  // Takes a whole message, or nothing (see AppendStatus). Its bytes are copied.
  AppendStatus append(std::span<const std::byte> message);

  // No more messages: the final size is the end of what was appended. A FIN goes out with
  // the chunk that reaches it, or alone if everything was sent already. Idempotent.
  void finish() noexcept;

  // The next chunk to send, at most `max_bytes` long, marked as sent: lost bytes first
  // (lowest offset first), then a lost FIN, then new data, then a FIN not yet sent. The
  // chunk stops at the first message end after its offset. nullopt when there is nothing
  // to send, or when `max_bytes` is 0 and no bare FIN is due.
  std::optional<SendChunk> next_chunk(std::uint64_t max_bytes);

  // Copies the bytes at [offset, offset + out.size()) that the buffer still holds into
  // `out`; returns how many. Bytes handed out by next_chunk() stay here until acknowledged,
  // so copying a chunk right after taking it always copies all of it. Returns 0 for an
  // offset below the acknowledged prefix (those bytes are gone).
  std::size_t copy_out(std::uint64_t offset, std::span<std::byte> out) const noexcept;

  // Bytes [offset, offset + length) (and the FIN, when `fin`) reached the peer. Parts
  // outside what was sent are ignored; acknowledging twice is harmless. An acknowledgement
  // wins over a loss: acknowledged bytes are never sent again, even if declared lost later
  // (a spurious loss) or earlier (then they leave the retransmission queue).
  void on_acked(std::uint64_t offset, std::uint64_t length, bool fin = false);
  // Bytes [offset, offset + length) (and the FIN, when `fin`) were in a packet declared
  // lost: the parts not yet acknowledged are due again.
  void on_lost(std::uint64_t offset, std::uint64_t length, bool fin = false);

  // New bytes appended but never sent.
  [[nodiscard]] std::uint64_t bytes_unsent() const noexcept { return end_ - sent_end_; }
  // Bytes declared lost and not yet sent again or acknowledged. While it is above 0,
  // next_chunk() returns retransmissions, which lie below highest_sent() and so need no new
  // credit; otherwise limit `max_bytes` by the credit left above highest_sent().
  [[nodiscard]] std::uint64_t bytes_lost() const noexcept { return lost_bytes_; }
  // One past the highest offset handed out by next_chunk(): what credit must cover.
  [[nodiscard]] std::uint64_t highest_sent() const noexcept { return sent_end_; }
  // One past the last byte of the message holding byte `offset`; nullopt when `offset` is
  // at or past the end of what was appended.
  [[nodiscard]] std::optional<std::uint64_t> message_end_after(std::uint64_t offset) const;
  // Offset of the next appended byte.
  [[nodiscard]] std::uint64_t end_offset() const noexcept { return end_; }
  // Every byte below this is acknowledged and released.
  [[nodiscard]] std::uint64_t acked_prefix() const noexcept { return acked_floor_; }
  // Set by finish().
  [[nodiscard]] std::optional<std::uint64_t> final_size() const noexcept { return final_size_; }
  // Bytes held: unacknowledged plus unsent (at most capacity()).
  [[nodiscard]] std::uint64_t bytes_buffered() const noexcept { return end_ - acked_floor_; }
  [[nodiscard]] std::uint64_t free_space() const noexcept { return capacity_ - bytes_buffered(); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  // Bytes the ring has allocated (at most capacity()).
  [[nodiscard]] std::size_t allocated() const noexcept { return ring_size_; }
  // Whether next_chunk() has something (given enough max_bytes).
  [[nodiscard]] bool has_data_to_send() const noexcept;
  // finish() was called and every byte and the FIN are acknowledged.
  [[nodiscard]] bool all_acked() const noexcept;

 private:
  // Disjoint, non-touching ranges [first, second) of offsets.
  using RangeMap = std::map<std::uint64_t, std::uint64_t>;

  // Length of a chunk starting at `offset` with at most `max_bytes`, cut at the first
  // message end after `offset`; sets `message_end`.
  std::uint64_t cut(std::uint64_t offset, std::uint64_t max_bytes, bool& message_end) const;
  [[nodiscard]] bool ends_at_final(std::uint64_t end) const noexcept {
    return final_size_ && *final_size_ == end;
  }
  void grow_ring(std::size_t needed);
  void release_acked_prefix();
  // Drops the message ends at or below the acknowledged prefix.
  void release_message_ends() noexcept;
  // The first message end above `offset`, or message_ends_.end().
  [[nodiscard]] std::deque<std::uint64_t>::const_iterator first_end_after(
      std::uint64_t offset) const noexcept;

  std::size_t capacity_;
  struct FreeRing {
    void operator()(std::byte* memory) const noexcept;
  };
  using RingMemory = std::unique_ptr<std::byte[], FreeRing>;
  static RingMemory allocate_ring(std::size_t size);

  RingMemory ring_;  // offset o lives at o % ring_size_
  std::size_t ring_size_ = 0;
  std::uint64_t acked_floor_ = 0;
  std::uint64_t sent_end_ = 0;
  std::uint64_t end_ = 0;
  std::deque<std::uint64_t> message_ends_;  // one past each message's last byte, ascending,
                                            // only those above acked_floor_
  // New data is sent in order: the first message end above sent_end_, as an index counted
  // from the first end ever appended (ends_released_ of them are gone), saves a search per
  // chunk when messages are small.
  std::uint64_t ends_released_ = 0;
  mutable std::uint64_t send_cursor_ = 0;
  RangeMap acked_;  // acknowledged ranges above acked_floor_ (never touching it)
  RangeMap lost_;   // due again, none acknowledged
  std::uint64_t lost_bytes_ = 0;
  std::optional<std::uint64_t> final_size_;
  bool fin_sent_ = false;
  bool fin_lost_ = false;
  bool fin_acked_ = false;
};

}  // namespace dwcp::transport
