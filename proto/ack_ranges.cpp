#include "proto/ack_ranges.h"

#include <algorithm>
#include <stdexcept>

#include "proto/varint.h"

namespace dwcp::proto {

AckRanges::AckRanges(std::size_t max_ranges) : max_ranges_(max_ranges) {
  if (max_ranges == 0) throw std::invalid_argument("AckRanges: max_ranges must be at least 1");
  ranges_.reserve(std::min<std::size_t>(max_ranges, 64));
}

bool AckRanges::add(std::uint64_t pn) {
  if (pn < floor_ || pn > kMaxVarint) return false;
  if (ranges_.empty() || pn > ranges_.front().largest + 1) {
    ranges_.insert(ranges_.begin(), PacketRange{pn, pn});
  } else if (pn == ranges_.front().largest + 1) {
    ranges_.front().largest = pn;  // the usual case: the next packet in order
    return true;
  } else {
    // First range (largest first) whose smallest is ≤ pn + 1: pn joins it, its successor,
    // or sits alone between them.
    auto it = std::partition_point(ranges_.begin(), ranges_.end(),
                                   [pn](const PacketRange& r) { return r.smallest > pn + 1; });
    if (it != ranges_.end() && pn <= it->largest) {
      if (pn >= it->smallest) return false;
      it->smallest = pn;  // pn == smallest - 1
    } else if (it != ranges_.end() && pn == it->largest + 1) {
      it->largest = pn;
    } else {
      it = ranges_.insert(it, PacketRange{pn, pn});
    }
    // The range holding pn may now touch the one above it, or the one below it.
    auto i = static_cast<std::size_t>(it - ranges_.begin());
    if (i > 0 && ranges_[i - 1].smallest == ranges_[i].largest + 1) {
      ranges_[i - 1].smallest = ranges_[i].smallest;
      ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(i));
      --i;
    }
    if (i + 1 < ranges_.size() && ranges_[i].smallest == ranges_[i + 1].largest + 1) {
      ranges_[i].smallest = ranges_[i + 1].smallest;
      ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(i + 1));
    }
  }
  if (ranges_.size() > max_ranges_) {
    floor_ = ranges_.back().largest + 1;
    ranges_.pop_back();
  }
  return true;
}

bool AckRanges::contains(std::uint64_t pn) const noexcept {
  auto it = std::partition_point(ranges_.begin(), ranges_.end(),
                                 [pn](const PacketRange& r) { return r.smallest > pn; });
  return it != ranges_.end() && pn <= it->largest;
}

void AckRanges::remove_below(std::uint64_t pn) {
  if (pn <= floor_) return;
  floor_ = pn;
  while (!ranges_.empty() && ranges_.back().largest < pn) ranges_.pop_back();
  if (!ranges_.empty() && ranges_.back().smallest < pn) ranges_.back().smallest = pn;
}

}  // namespace dwcp::proto
