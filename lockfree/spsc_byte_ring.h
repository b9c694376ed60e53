// Bounded single-producer single-consumer ring of variable-size records (Aeron's
// one-to-one ring buffer): the producer claims room for a record, writes its bytes in place
// and commits; the consumer peeks the oldest record, reads it in place and releases it.
// Nothing is copied by the ring itself, so a caller that builds its message in the claimed
// span pays no copy at all.
//
// Layout: a power-of-two byte array. Each record is an 8-byte header (length, kind) and its
// bytes, padded to 8. A record never wraps: when it does not fit before the end of the
// array, a padding record fills the rest and the record starts at the beginning. Positions
// grow without wrapping (64-bit) and are masked.
//
// A producer past the first kRewindOffset bytes that finds the ring empty pads to the end
// and starts again at the beginning: a consumer that keeps up then touches only the first
// few hundred KiB of a large ring, which stay in cache (and in memory already faulted in),
// instead of sweeping all of it.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>

#include "lockfree/cache_line.h"

namespace dwcp::lockfree {

// Thread safety: one producer thread calls try_claim()/commit(), one consumer thread
// peek()/release(), concurrently. used_bytes() and the size limits may be read by either.
class SpscByteRing {
 public:
  // Capacity in bytes, rounded up to a power of two (at least 64). Throws
  // std::length_error if that overflows, std::bad_alloc if the memory cannot be had.
  explicit SpscByteRing(std::size_t min_capacity)
      : mask_(round_up_capacity(min_capacity) - 1),
        bytes_(static_cast<std::byte*>(
            ::operator new (mask_ + 1, std::align_val_t{kFalseSharingRange}))) {}
  SpscByteRing(const SpscByteRing&) = delete;
  SpscByteRing& operator=(const SpscByteRing&) = delete;
  ~SpscByteRing() { ::operator delete (bytes_, std::align_val_t{kFalseSharingRange}); }

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }
  // The largest record the ring always has room for once empty.
  [[nodiscard]] std::size_t max_record() const noexcept { return capacity() / 2 - kHeaderSize; }
  // Bytes taken by committed, unreleased records (headers and the padding of records that
  // did not fit before the end included; the padding of a rewind not).
  [[nodiscard]] std::size_t used_bytes() const noexcept {
    // The head first: it never passes the tail read after it.
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    auto used = static_cast<std::size_t>(tail - head);
    const std::uint64_t rewind = rewind_at_.load(std::memory_order_relaxed);
    if (rewind != kNoRewind && head <= rewind && rewind < tail) {
      used -= std::min(used, capacity() - (static_cast<std::size_t>(rewind) & mask_));
    }
    return used;
  }

  // Producer. Room for a record of `size` bytes (1 to max_record()), to be filled and then
  // published with commit(). An empty span when the ring has no room now, or when `size`
  // is out of range. Claiming again before commit() abandons the earlier claim.
  [[nodiscard]] std::span<std::byte> try_claim(std::size_t size) noexcept {
    if (size == 0 || size > max_record()) return {};
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t offset = static_cast<std::size_t>(tail) & mask_;
    const std::size_t record = kHeaderSize + align(size);
    const std::size_t to_end = capacity() - offset;
    std::size_t padding = record > to_end ? to_end : 0;
    if (padding == 0 && offset >= kRewindOffset && record <= offset && to_end <= kMaxPadding) {
      // Back to the beginning only when the ring is empty: the consumer then skips the
      // padding at its next peek, and the whole ring is free again. (Rewinding as soon as
      // the beginning had room would leave a lagging consumer only the room it had freed
      // there, a fraction of the capacity, for as long as it lags.) A stale head is only
      // too cautious; the consumer's line is read at most once per kRewindCheck bytes.
      if (head_cache_ != tail && tail >= next_rewind_check_) {
        next_rewind_check_ = tail + kRewindCheck;
        head_cache_ = head_.load(std::memory_order_acquire);
      }
      if (head_cache_ == tail) padding = to_end;
    }
    const std::size_t needed = padding + record;
    if (tail + needed - head_cache_ > capacity()) {
      // Pairs with the release store of head_ in release(): those bytes are free.
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail + needed - head_cache_ > capacity()) return {};
    }
    claim_padding_ = padding;
    claim_rewind_ = padding != 0 && record <= to_end;
    claim_size_ = size;
    return {bytes_ + ((offset + padding) & mask_) + kHeaderSize, size};
  }

  // Producer. Publishes the claimed record with its first `size` bytes (at most what was
  // claimed; 0 keeps the whole claim). Precondition: a claim is open.
  void commit(std::size_t size = 0) noexcept { commit_tagged(size, 0); }
  // Producer. commit() with a `tag` (below kMaxTag) the consumer reads back with
  // peek_tag(): what kind of record this is, for the caller's purposes.
  void commit_tagged(std::size_t size, std::uint32_t tag) noexcept {
    if (size == 0 || size > claim_size_) size = claim_size_;
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t offset = static_cast<std::size_t>(tail) & mask_;
    if (claim_padding_ != 0) write_header(offset, claim_padding_ - kHeaderSize, kPadding);
    if (claim_rewind_) rewind_at_.store(tail, std::memory_order_relaxed);
    write_header((offset + claim_padding_) & mask_, size, kData | (tag << kTagShift));
    // Publishes the record; pairs with the acquire load of tail_ in peek().
    tail_.store(tail + claim_padding_ + kHeaderSize + align(size), std::memory_order_release);
    claim_padding_ = 0;
    claim_rewind_ = false;
    claim_size_ = 0;
  }

  // Consumer. The oldest record's bytes, valid until release(); empty when there is none.
  [[nodiscard]] std::span<const std::byte> peek() noexcept {
    for (;;) {
      const std::uint64_t head = head_.load(std::memory_order_relaxed);
      if (head == tail_cache_) {
        tail_cache_ = tail_.load(std::memory_order_acquire);
        if (head == tail_cache_) return {};
      }
      const std::size_t offset = static_cast<std::size_t>(head) & mask_;
      Header header{};
      std::memcpy(&header, bytes_ + offset, sizeof header);
      if (header.kind == kPadding) {
        head_.store(head + kHeaderSize + header.length, std::memory_order_release);
        continue;
      }
      return {bytes_ + offset + kHeaderSize, header.length};
    }
  }

  // Consumer. The tag the record peek() returned was committed with (0 by commit()).
  // Precondition: peek() returned a record.
  [[nodiscard]] std::uint32_t peek_tag() const noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    Header header{};
    std::memcpy(&header, bytes_ + (static_cast<std::size_t>(head) & mask_), sizeof header);
    return header.kind >> kTagShift;
  }

  static constexpr std::uint32_t kMaxTag = std::uint32_t{1} << 24;
  // Past this offset the producer goes back to the beginning when it can (see above).
  static constexpr std::size_t kRewindOffset = std::size_t{256} << 10;

  // Consumer. Frees the record peek() returned. Precondition: peek() returned one.
  void release() noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    Header header{};
    std::memcpy(&header, bytes_ + (static_cast<std::size_t>(head) & mask_), sizeof header);
    // Hands the bytes back; pairs with the acquire load of head_ in try_claim().
    head_.store(head + kHeaderSize + align(header.length), std::memory_order_release);
  }

 private:
  struct Header {
    std::uint32_t length;
    std::uint32_t kind;
  };
  static constexpr std::size_t kHeaderSize = sizeof(Header);
  static constexpr std::uint32_t kData = 1;
  static constexpr std::uint32_t kPadding = 2;
  static constexpr std::uint32_t kTagShift = 8;  // a data record's kind: kData | tag << 8
  static constexpr std::size_t kRewindCheck = std::size_t{16} << 10;
  static constexpr std::uint64_t kNoRewind = std::numeric_limits<std::uint64_t>::max();
  // A padding header's length field.
  static constexpr std::size_t kMaxPadding = std::numeric_limits<std::uint32_t>::max();

  static std::size_t align(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }
  static std::size_t round_up_capacity(std::size_t n) {
    if (n > (std::size_t{1} << 40)) throw std::length_error("SpscByteRing: capacity too large");
    return std::bit_ceil(n < 64 ? std::size_t{64} : n);
  }
  void write_header(std::size_t offset, std::size_t length, std::uint32_t kind) noexcept {
    const Header header{static_cast<std::uint32_t>(length), kind};
    std::memcpy(bytes_ + offset, &header, sizeof header);
  }

  const std::size_t mask_;
  std::byte* const bytes_;
  // Producer's line: its position, its view of the consumer's, and the open claim.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t head_cache_ = 0;
  std::uint64_t next_rewind_check_ = 0;
  std::size_t claim_padding_ = 0;
  std::size_t claim_size_ = 0;
  bool claim_rewind_ = false;
  // Where the last rewind's padding starts, for used_bytes(); written before the tail that
  // publishes it. At most one rewind is ever unpassed by the consumer: another needs the
  // ring empty again, the padding passed.
  std::atomic<std::uint64_t> rewind_at_{kNoRewind};
  // Consumer's line.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_cache_ = 0;
  [[maybe_unused]] char padding_[kFalseSharingRange - sizeof(std::atomic<std::uint64_t>) -
                                 sizeof(std::uint64_t)] = {};
};

}  // namespace dwcp::lockfree
