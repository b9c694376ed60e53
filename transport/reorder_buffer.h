// The receiving side of one stream (docs/protocol.md §5.3, §5.5): STREAM frames arrive in
// any order, duplicated or overlapping, and whole messages leave in order.
//
// Storage is fixed-size blocks, as in ngtcp2's reorder buffer (lib/ngtcp2_rob.c), allocated
// when data first lands in them and released once everything in them is delivered (kept
// for reuse while the window has room for them, and a few more). Instead of ngtcp2's list of gaps,
// each block keeps one bit per byte for "received" and one for "a message ends here", so memory is
// bounded by the credit window (offset_limit() − consumed(), rounded out to whole blocks, plus 1/4
// for the bits and a word per block or per 4 KiB summarising where the end marks are, plus a
// 32-byte slot per block of window) however finely the peer fragments its data. The summary
// lets the search for the next message end skip a 64 KiB message in 16 reads instead of 1024.
//
// Rules, where the spec leaves a choice:
// - Overlapping data with different bytes: the first write wins. A packet whose bytes were
//   corrupted on the way fails its checksum and never gets here, so a difference can only
//   come from a broken or hostile peer, and the bytes already there are as good as any.
// - Message ends accumulate: a byte marked as a message end by any frame stays one; a frame
//   without MSG clears nothing. Marks on bytes already delivered are ignored. (A sender
//   cuts every frame at the first message end it reaches, so honest frames never
//   disagree.)
// - The final size also ends a message: bytes after the last MSG mark up to the final size
//   are delivered as the last message.
// - A frame with no data carries only its FIN; MSG on it is ignored (it has no last byte).
//   A frame with no data and no FIN is accepted and does nothing (the codec rejects it).
// - A frame that fails changes nothing.
// - Credit follows consumed(), which moves only when a whole message is delivered, so a
//   message larger than the receive window can never complete: the window must be at least
//   the largest message the application sends.
//
// Not thread-safe: one per stream, driven by the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "proto/errc.h"
#include "transport/block_slab.h"

namespace dwcp::transport {

// Why insert() refused a frame; both are connection errors (docs/protocol.md §8).
enum class ReorderError : std::uint8_t {
  flow_control,  // data past offset_limit(): FLOW_CONTROL_ERROR
  final_size,    // data past a known final size, a second different final size, or a final
                 // size below data already received: FINAL_SIZE_ERROR
};

std::string_view to_string(ReorderError error) noexcept;
// The CONNECTION_CLOSE code it calls for.
proto::TransportError close_code(ReorderError error) noexcept;

// insert()'s outcome: nullopt when the frame was taken.
using ReorderStatus = std::optional<ReorderError>;

class ReorderBuffer {
 public:
  static constexpr std::size_t kDefaultBlockSize = std::size_t{16} * 1024;

  // `offset_limit`: the credit granted so far (MAX_STREAM_DATA); data must end at or below
  // it. `block_size`: bytes per storage block, rounded up to a power of two (at least 64)
  // so that offsets split into block and position by shifts.
  explicit ReorderBuffer(std::uint64_t offset_limit, std::size_t block_size = kDefaultBlockSize);

  // A STREAM frame's data at `offset`. `fin`: the stream ends at offset + data.size().
  // `message_end`: the last byte of `data` ends a message. Nothing is kept on error.
  ReorderStatus insert(std::uint64_t offset, std::span<const std::byte> data, bool fin,
                       bool message_end);

  // Raises the credit (a new MAX_STREAM_DATA sent to the peer); a lower value is ignored.
  void set_offset_limit(std::uint64_t limit) noexcept;

  // Size of the next message if all of it is here, else nullopt.
  [[nodiscard]] std::optional<std::uint64_t> next_message_size() const noexcept;
  // Copies the next whole message into `out` and consumes it; returns its size. nullopt,
  // consuming nothing, when no whole message is here or when `out` is smaller than it
  // (next_message_size() says how much room it needs).
  std::optional<std::size_t> read_message(std::span<std::byte> out);
  // read_message() into a new vector.
  std::optional<std::vector<std::byte>> pop_message();

  // Bytes delivered to the application: what credit updates count (ReceiveCredit's
  // on_consumed). Always a message boundary.
  [[nodiscard]] std::uint64_t consumed() const noexcept { return delivered_; }
  // Bytes received and not yet delivered (each byte once, however often it came).
  [[nodiscard]] std::uint64_t bytes_buffered() const noexcept { return buffered_; }
  // Every byte below this has been received.
  [[nodiscard]] std::uint64_t contiguous() const noexcept { return contiguous_; }
  // One past the highest byte received (connection-level flow control counts this).
  [[nodiscard]] std::uint64_t highest_received() const noexcept { return highest_; }
  [[nodiscard]] std::uint64_t offset_limit() const noexcept { return limit_; }
  [[nodiscard]] std::optional<std::uint64_t> final_size() const noexcept { return final_size_; }
  // The final size is known and every byte up to it has been delivered.
  [[nodiscard]] bool finished() const noexcept { return final_size_ && delivered_ == *final_size_; }
  // Storage holding received data, in bytes, counting the bits. Released blocks kept for
  // reuse are not counted.
  [[nodiscard]] std::size_t allocated_bytes() const noexcept;

 private:
  // One slab unit: the data, then the two bit arrays.
  struct Block {
    std::byte* data = nullptr;
    std::uint64_t* received = nullptr;   // bit i: byte i is here
    std::uint64_t* ends = nullptr;       // bit i: a message ends with byte i
    std::uint64_t* end_words = nullptr;  // bit i: word i of `ends` has a mark
    // Which bit arrays hold a set bit, so that a released block is cleared only where it
    // must be: a stream arriving in order sets no `received` bit (see store_fresh), and a
    // stream of large messages marks few ends.
    bool received_marked = false;
    bool ends_marked = false;
    [[nodiscard]] bool allocated() const noexcept { return data != nullptr; }
  };

  // The blocks from first_block_ on, oldest first, in a ring indexed by a mask: each frame
  // and each message looks blocks up several times, and a deque's index costs a multiply
  // and two dependent loads. Slots outside the window are always unallocated.
  class BlockWindow {
   public:
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] Block& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & mask_]; }
    [[nodiscard]] const Block& operator[](std::size_t i) const noexcept {
      return slots_[(head_ + i) & mask_];
    }
    [[nodiscard]] Block& front() noexcept { return slots_[head_]; }
    void pop_front() noexcept {
      slots_[head_] = Block{};
      head_ = (head_ + 1) & mask_;
      --size_;
    }
    // Widens the window to `count` blocks (the new ones unallocated); never narrows it.
    void grow_to(std::size_t count);

   private:
    std::vector<Block> slots_;  // a power of two of them, or none
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
  };

  Block& block_for(std::uint64_t offset);
  [[nodiscard]] const Block* find_block(std::uint64_t offset) const noexcept;
  // Copies the bytes of [offset, end) not yet here; returns how many were new.
  std::uint64_t store(std::uint64_t offset, std::span<const std::byte> data);
  // store() for bytes none of which has been received: no bit to test. `mark`: set their
  // `received` bits; not needed for bytes that extend the contiguous run, since every byte
  // below contiguous_ is known to be here and no bit below it is ever read.
  std::uint64_t store_fresh(std::uint64_t offset, std::span<const std::byte> data, bool mark);
  // The first word of `block.ends` at or after `from` with a mark.
  [[nodiscard]] std::optional<std::size_t> next_marked_word(const Block& block,
                                                            std::size_t from) const noexcept;
  [[nodiscard]] std::size_t block_offset(std::uint64_t offset) const noexcept {
    return static_cast<std::size_t>(offset & (block_size_ - 1));
  }
  void mark_end(std::uint64_t last_byte);
  // Advances contiguous_ and finds the next whole message.
  void advance();
  // The two halves of advance().
  void extend_contiguous();
  void find_ready();
  void release_delivered_blocks();

  std::size_t block_size_;
  unsigned block_shift_;  // log2(block_size_)
  std::uint64_t limit_;
  BlockSlab slab_;
  BlockWindow blocks_;  // blocks_[i] holds offsets from (first_block_ + i) * block_size_
  // Released blocks kept for reuse, bits cleared: a stream in steady flow then reuses warm
  // memory instead of allocating and faulting in a block per 16 KiB. At most what the
  // credit window leaves beside the blocks in use, or kSpareBlocks if that is more.
  static constexpr std::size_t kSpareBlocks = 8;
  [[nodiscard]] std::size_t spare_limit() const noexcept;
  std::vector<Block> spare_;
  std::uint64_t first_block_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t contiguous_ = 0;
  std::uint64_t end_scan_ = 0;              // no message end in [delivered_, end_scan_)
  std::uint64_t ends_below_ = 0;            // no message end marked at or past this
  std::optional<std::uint64_t> ready_end_;  // end of the next whole message
  std::uint64_t buffered_ = 0;
  std::uint64_t highest_ = 0;
  std::optional<std::uint64_t> final_size_;
};

}  // namespace dwcp::transport
