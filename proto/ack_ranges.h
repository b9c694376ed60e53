// The packet numbers a receiver has seen, as ranges, for building ACK frames.
//
// Ranges are kept disjoint, non-adjacent (a missing number between any two) and sorted. The
// count is bounded: past the limit the oldest (smallest) range is forgotten, as an ACK frame
// can carry only so many anyway. Packets arrive mostly in order, so adding the next number
// is O(1); a reordered one costs a binary search and at worst a move of the ranges above it.
// Not thread-safe; one per connection, used by its I/O thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/frames.h"

namespace dwcp::proto {

class AckRanges {
 public:
  // At most `max_ranges` ranges (≥ 1); the default fills one maximal ACK frame.
  explicit AckRanges(std::size_t max_ranges = kMaxAckRanges + 1);

  // Records `packet_number`; false when it was already recorded (a duplicate), lies below
  // what has been forgotten (too old to tell, treated as a duplicate) or above kMaxVarint.
  bool add(std::uint64_t packet_number);
  [[nodiscard]] bool contains(std::uint64_t packet_number) const noexcept;
  // Forgets every number below `packet_number` (once the peer has seen an ACK for them).
  void remove_below(std::uint64_t packet_number);

  // Largest first, the order encode_ack() takes.
  [[nodiscard]] std::span<const PacketRange> ranges() const noexcept { return ranges_; }
  [[nodiscard]] std::size_t size() const noexcept { return ranges_.size(); }
  [[nodiscard]] bool empty() const noexcept { return ranges_.empty(); }
  [[nodiscard]] std::uint64_t largest() const noexcept {
    return ranges_.empty() ? 0 : ranges_.front().largest;
  }
  [[nodiscard]] std::size_t max_ranges() const noexcept { return max_ranges_; }
  // Numbers below this were forgotten (by remove_below or by the range limit).
  [[nodiscard]] std::uint64_t floor() const noexcept { return floor_; }

 private:
  std::vector<PacketRange> ranges_;  // largest first
  std::size_t max_ranges_;
  std::uint64_t floor_ = 0;
};

}  // namespace dwcp::proto
