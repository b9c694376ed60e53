#include "transport/send_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <new>

namespace dwcp::transport {

namespace {

using RangeMap = std::map<std::uint64_t, std::uint64_t>;

// Adds [begin, end) to `set`, merging with what it overlaps or touches; returns how many of
// those offsets were not in the set before.
std::uint64_t add_range(RangeMap& set, std::uint64_t begin, std::uint64_t end) {
  if (begin >= end) return 0;
  const std::uint64_t new_begin = begin;
  const std::uint64_t new_end = end;
  std::uint64_t added = end - begin;
  auto it = set.upper_bound(begin);
  if (it != set.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) {
      if (prev->second > new_begin) added -= std::min(prev->second, new_end) - new_begin;
      begin = prev->first;
      end = std::max(end, prev->second);
      set.erase(prev);
    }
  }
  while (it != set.end() && it->first <= end) {
    if (it->first < new_end) added -= std::min(it->second, new_end) - it->first;
    end = std::max(end, it->second);
    it = set.erase(it);
  }
  set.emplace_hint(it, begin, end);
  return added;
}

// Removes [begin, end) from `set`, splitting ranges it cuts; returns how many offsets went.
std::uint64_t remove_range(RangeMap& set, std::uint64_t begin, std::uint64_t end) {
  if (begin >= end) return 0;
  std::uint64_t removed = 0;
  auto it = set.upper_bound(begin);
  if (it != set.begin()) {
    auto prev = std::prev(it);
    if (prev->second > begin) {
      const std::uint64_t prev_end = prev->second;
      removed += std::min(prev_end, end) - begin;
      if (prev->first == begin) {
        set.erase(prev);
      } else {
        prev->second = begin;
      }
      if (prev_end > end) {
        set.emplace(end, prev_end);
        return removed;
      }
    }
  }
  while (it != set.end() && it->first < end) {
    if (it->second > end) {
      removed += end - it->first;
      const std::uint64_t tail = it->second;
      set.erase(it);
      set.emplace(end, tail);
      return removed;
    }
    removed += it->second - it->first;
    it = set.erase(it);
  }
  return removed;
}

std::uint64_t saturating_end(std::uint64_t offset, std::uint64_t length) noexcept {
  return length > std::numeric_limits<std::uint64_t>::max() - offset
             ? std::numeric_limits<std::uint64_t>::max()
             : offset + length;
}

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

void SendBuffer::FreeRing::operator()(std::byte* memory) const noexcept {
  std::free(memory);  // NOLINT(cppcoreguidelines-no-malloc): from aligned_alloc
}

// Not zeroed: only bytes copied in are ever read. A ring of megabytes is aligned to huge
// pages and asks for them: faulting in 4 KiB pages one by one is most of what a bulk
// stream's first megabytes cost, under a hypervisor above all.
SendBuffer::RingMemory SendBuffer::allocate_ring(std::size_t size) {
  if (size < kHugePage) {
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): released by FreeRing
    auto* memory = static_cast<std::byte*>(std::malloc(size));
    if (memory == nullptr) throw std::bad_alloc();
    return RingMemory(memory);
  }
  const std::size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
  // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): released by FreeRing
  auto* memory = static_cast<std::byte*>(std::aligned_alloc(kHugePage, rounded));
  if (memory == nullptr) throw std::bad_alloc();
  (void)madvise(memory, rounded, MADV_HUGEPAGE);  // a hint: 4 KiB pages work too
  return RingMemory(memory);
}

std::string_view to_string(AppendStatus status) noexcept {
  switch (status) {
    case AppendStatus::accepted:
      return "accepted";
    case AppendStatus::back_pressured:
      return "back_pressured";
    case AppendStatus::too_large:
      return "too_large";
    case AppendStatus::empty:
      return "empty";
    case AppendStatus::finished:
      return "finished";
  }
  return "unknown";
}

bool is_error(AppendStatus status) noexcept {
  return status != AppendStatus::accepted && status != AppendStatus::back_pressured;
}

SendBuffer::SendBuffer(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

AppendStatus SendBuffer::append(std::span<const std::byte> message) {
  if (final_size_) return AppendStatus::finished;
  if (message.empty()) return AppendStatus::empty;
  if (message.size() > capacity_) return AppendStatus::too_large;
  if (message.size() > free_space()) return AppendStatus::back_pressured;
  grow_ring(bytes_buffered() + message.size());
  const std::size_t at = end_ % ring_size_;
  const std::size_t first = std::min(message.size(), ring_size_ - at);
  std::memcpy(ring_.get() + at, message.data(), first);
  std::memcpy(ring_.get(), message.data() + first, message.size() - first);
  end_ += message.size();
  message_ends_.push_back(end_);
  return AppendStatus::accepted;
}

void SendBuffer::finish() noexcept {
  if (!final_size_) final_size_ = end_;
}

void SendBuffer::grow_ring(std::size_t needed) {
  if (needed <= ring_size_) return;
  // Doubling keeps the copies amortised; small streams never pay for the full capacity.
  constexpr std::size_t kMinRing = 4096;
  const std::size_t size =
      std::min(capacity_, std::max({needed, ring_size_ * 2, std::min(kMinRing, capacity_)}));
  RingMemory grown = allocate_ring(size);
  for (std::uint64_t offset = acked_floor_; offset < end_;) {
    const std::size_t from = offset % ring_size_;
    const std::size_t to = offset % size;
    const std::size_t run = static_cast<std::size_t>(
        std::min<std::uint64_t>({end_ - offset, ring_size_ - from, size - to}));
    std::memcpy(grown.get() + to, ring_.get() + from, run);
    offset += run;
  }
  ring_ = std::move(grown);
  ring_size_ = size;
}

std::deque<std::uint64_t>::const_iterator SendBuffer::first_end_after(
    std::uint64_t offset) const noexcept {
  if (offset != sent_end_) {
    return std::upper_bound(message_ends_.begin(), message_ends_.end(), offset);
  }
  // The send cursor only moves forward, as sent_end_ does.
  send_cursor_ = std::max(send_cursor_, ends_released_);
  auto it = message_ends_.begin() + static_cast<std::ptrdiff_t>(send_cursor_ - ends_released_);
  while (it != message_ends_.end() && *it <= offset) {
    ++it;
    ++send_cursor_;
  }
  return it;
}

std::optional<std::uint64_t> SendBuffer::message_end_after(std::uint64_t offset) const {
  const auto next_end = first_end_after(offset);
  if (next_end == message_ends_.end()) return std::nullopt;
  return *next_end;
}

std::uint64_t SendBuffer::cut(std::uint64_t offset, std::uint64_t max_bytes,
                              bool& message_end) const {
  const auto next_end = first_end_after(offset);
  message_end = next_end != message_ends_.end() && *next_end - offset <= max_bytes;
  return message_end ? *next_end - offset : max_bytes;
}

std::optional<SendChunk> SendBuffer::next_chunk(std::uint64_t max_bytes) {
  if (max_bytes > 0 && !lost_.empty()) {
    const auto [begin, end] = *lost_.begin();
    SendChunk chunk{.offset = begin, .retransmission = true};
    chunk.length = cut(begin, std::min(end - begin, max_bytes), chunk.message_end);
    lost_bytes_ -= remove_range(lost_, begin, begin + chunk.length);
    chunk.fin = ends_at_final(begin + chunk.length);
    if (chunk.fin) {
      fin_sent_ = true;
      fin_lost_ = false;
    }
    return chunk;
  }
  if (fin_lost_ && final_size_) {  // a FIN was sent, so the final size is known
    fin_lost_ = false;
    return SendChunk{.offset = *final_size_, .fin = true, .retransmission = true};
  }
  if (max_bytes > 0 && sent_end_ < end_) {
    SendChunk chunk{.offset = sent_end_};
    chunk.length = cut(sent_end_, std::min(end_ - sent_end_, max_bytes), chunk.message_end);
    sent_end_ += chunk.length;
    chunk.fin = ends_at_final(sent_end_);
    if (chunk.fin) fin_sent_ = true;
    return chunk;
  }
  if (final_size_ && !fin_sent_ && sent_end_ == end_) {
    fin_sent_ = true;
    return SendChunk{.offset = end_, .fin = true};
  }
  return std::nullopt;
}

std::size_t SendBuffer::copy_out(std::uint64_t offset, std::span<std::byte> out) const noexcept {
  if (offset < acked_floor_ || offset >= end_ || ring_size_ == 0) return 0;
  const auto total = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), end_ - offset));
  const std::size_t at = offset % ring_size_;
  const std::size_t first = std::min(total, ring_size_ - at);
  std::memcpy(out.data(), ring_.get() + at, first);
  std::memcpy(out.data() + first, ring_.get(), total - first);
  return total;
}

void SendBuffer::on_acked(std::uint64_t offset, std::uint64_t length, bool fin) {
  if (fin && fin_sent_) {
    fin_acked_ = true;
    fin_lost_ = false;
  }
  const std::uint64_t begin = std::max(offset, acked_floor_);
  const std::uint64_t end = std::min(saturating_end(offset, length), sent_end_);
  if (begin >= end) return;
  if (!lost_.empty()) lost_bytes_ -= remove_range(lost_, begin, end);
  if (begin == acked_floor_) {
    // In order, the usual case: the prefix grows without a range of its own.
    acked_floor_ = end;
    while (!acked_.empty() && acked_.begin()->first <= acked_floor_) {
      acked_floor_ = std::max(acked_floor_, acked_.begin()->second);
      acked_.erase(acked_.begin());
    }
    release_message_ends();
    return;
  }
  add_range(acked_, begin, end);
  release_acked_prefix();
}

void SendBuffer::release_message_ends() noexcept {
  while (!message_ends_.empty() && message_ends_.front() <= acked_floor_) {
    message_ends_.pop_front();
    ++ends_released_;
  }
}

void SendBuffer::release_acked_prefix() {
  // add_range merges touching ranges, so at most one range starts at the floor.
  const auto first = acked_.begin();
  if (first == acked_.end() || first->first != acked_floor_) return;
  acked_floor_ = first->second;
  acked_.erase(first);
  release_message_ends();
}

void SendBuffer::on_lost(std::uint64_t offset, std::uint64_t length, bool fin) {
  if (fin && fin_sent_ && !fin_acked_) fin_lost_ = true;
  std::uint64_t cursor = std::max(offset, acked_floor_);
  const std::uint64_t end = std::min(saturating_end(offset, length), sent_end_);
  // Only the gaps between acknowledged ranges become due again.
  auto acked = acked_.upper_bound(cursor);
  if (acked != acked_.begin()) {
    const auto prev = std::prev(acked);
    cursor = std::max(cursor, prev->second);
  }
  while (cursor < end) {
    if (acked == acked_.end() || acked->first >= end) {
      lost_bytes_ += add_range(lost_, cursor, end);
      break;
    }
    lost_bytes_ += add_range(lost_, cursor, acked->first);
    cursor = acked->second;
    ++acked;
  }
}

bool SendBuffer::has_data_to_send() const noexcept {
  return !lost_.empty() || fin_lost_ || sent_end_ < end_ || (final_size_ && !fin_sent_);
}

bool SendBuffer::all_acked() const noexcept {
  return final_size_ && fin_acked_ && acked_floor_ == *final_size_;
}

}  // namespace dwcp::transport
