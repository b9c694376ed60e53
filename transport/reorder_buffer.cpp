#include "transport/reorder_buffer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

namespace dwcp::transport {

namespace {

constexpr std::size_t kBitsPerWord = 64;

// Bits [from, from + count) of a word; count in 1..64.
constexpr std::uint64_t bit_run(std::size_t from, std::size_t count) noexcept {
  const std::uint64_t ones =
      count == kBitsPerWord ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
  return ones << from;
}

}  // namespace

std::string_view to_string(ReorderError error) noexcept {
  switch (error) {
    case ReorderError::flow_control:
      return "flow_control";
    case ReorderError::final_size:
      return "final_size";
  }
  return "unknown";
}

proto::TransportError close_code(ReorderError error) noexcept {
  return error == ReorderError::flow_control ? proto::TransportError::flow_control_error
                                             : proto::TransportError::final_size_error;
}

namespace {

// Words of the summary of a block's end marks: one bit per word of marks.
constexpr std::size_t summary_words(std::size_t block_size) noexcept {
  return (block_size / kBitsPerWord + kBitsPerWord - 1) / kBitsPerWord;
}

// Bytes of one block in the slab: its data, its two bit arrays and the summary.
constexpr std::size_t unit_bytes(std::size_t block_size) noexcept {
  return block_size + 2 * (block_size / 8) + 8 * summary_words(block_size);
}

}  // namespace

ReorderBuffer::ReorderBuffer(std::uint64_t offset_limit, std::size_t block_size)
    : block_size_(std::bit_ceil(std::max(kBitsPerWord, block_size))),
      block_shift_(static_cast<unsigned>(std::countr_zero(block_size_))),
      limit_(offset_limit),
      // The blocks the initial window can fill, as spare_limit() counts them.
      slab_(unit_bytes(block_size_),
            static_cast<std::size_t>(std::min<std::uint64_t>(
                offset_limit / block_size_ + 2 + kSpareBlocks, std::uint64_t{1} << 20))) {}

void ReorderBuffer::set_offset_limit(std::uint64_t limit) noexcept {
  limit_ = std::max(limit_, limit);
}

ReorderStatus ReorderBuffer::insert(std::uint64_t offset, std::span<const std::byte> data, bool fin,
                                    bool message_end) {
  // Past 2^64 is past any limit; the codec stops frames past 2^62 − 1 before this.
  if (data.size() > std::numeric_limits<std::uint64_t>::max() - offset) {
    return ReorderError::flow_control;
  }
  const std::uint64_t end = offset + data.size();
  if (final_size_) {
    if (end > *final_size_ || (fin && end != *final_size_)) return ReorderError::final_size;
  } else if (fin && end < highest_) {
    return ReorderError::final_size;
  }
  if (end > limit_) return ReorderError::flow_control;

  const std::uint64_t highest_before = highest_;
  highest_ = std::max(highest_, end);
  if (end > delivered_) {
    // Every byte below contiguous_ is here already (and its bit may be unset).
    const std::uint64_t begin = std::max(offset, contiguous_);
    if (begin < end) {
      // Past everything received so far (a stream arriving in order): every byte is new.
      buffered_ += begin >= highest_before
                       ? store_fresh(begin, data.subspan(begin - offset), begin != contiguous_)
                       : store(begin, data.subspan(begin - offset));
      // Joined to the received run: all of it is here now, no need to scan its bits.
      if (begin <= contiguous_ && end > contiguous_) contiguous_ = end;
    }
    if (message_end && !data.empty()) mark_end(end - 1);
    if (fin && !final_size_) mark_end(end - 1);
  }
  if (fin) final_size_ = end;
  // A whole message found before stays the next one (mark_end() forgets it if this frame
  // ended one before it): only the run of received bytes may have grown.
  if (ready_end_) {
    extend_contiguous();
  } else {
    advance();
  }
  return std::nullopt;
}

ReorderBuffer::Block& ReorderBuffer::block_for(std::uint64_t offset) {
  const std::uint64_t index = (offset >> block_shift_) - first_block_;
  if (index >= blocks_.size()) blocks_.grow_to(index + 1);
  Block& block = blocks_[index];
  if (!block.allocated() && !spare_.empty()) {
    block = spare_.back();
    spare_.pop_back();
  }
  if (!block.allocated()) {
    const std::size_t words = block_size_ / kBitsPerWord;
    std::byte* unit = slab_.allocate();
    block.data = unit;
    block.received = reinterpret_cast<std::uint64_t*>(unit + block_size_);
    block.ends = block.received + words;
    block.end_words = block.ends + words;
    std::fill_n(block.received, 2 * words + summary_words(block_size_), 0);
    block.received_marked = false;
    block.ends_marked = false;
  }
  return block;
}

const ReorderBuffer::Block* ReorderBuffer::find_block(std::uint64_t offset) const noexcept {
  const std::uint64_t number = offset >> block_shift_;
  if (number < first_block_ || number - first_block_ >= blocks_.size()) return nullptr;
  const Block& block = blocks_[number - first_block_];
  return block.allocated() ? &block : nullptr;
}

std::uint64_t ReorderBuffer::store(std::uint64_t offset, std::span<const std::byte> data) {
  std::uint64_t fresh_bytes = 0;
  std::size_t done = 0;
  while (done < data.size()) {
    Block& block = block_for(offset + done);
    block.received_marked = true;
    const std::size_t local = block_offset(offset + done);
    const std::size_t stop = std::min(block_size_, local + (data.size() - done));
    for (std::size_t i = local; i < stop;) {
      const std::size_t word = i / kBitsPerWord;
      const std::size_t bit = i % kBitsPerWord;
      const std::size_t run = std::min(kBitsPerWord - bit, stop - i);
      const std::uint64_t mask = bit_run(bit, run);
      std::uint64_t fresh = mask & ~block.received[word];
      const std::byte* from = data.data() + done + (i - local);
      if (fresh == mask) {
        // All new, the usual case: copy the whole run. Copying run by run until the block
        // ends keeps the copies long.
        std::size_t end = i + run;
        while (end < stop && block.received[end / kBitsPerWord] == 0 &&
               stop - end >= kBitsPerWord) {
          block.received[end / kBitsPerWord] = ~std::uint64_t{0};
          end += kBitsPerWord;
        }
        std::memcpy(block.data + i, from, end - i);
        fresh_bytes += end - i;
        block.received[word] |= mask;
        i = end;
        continue;
      }
      // First write wins: only the bytes not here yet are copied.
      for (std::uint64_t left = fresh; left != 0; left &= left - 1) {
        const auto at = static_cast<std::size_t>(std::countr_zero(left));
        block.data[word * kBitsPerWord + at] = from[word * kBitsPerWord + at - i];
      }
      fresh_bytes += static_cast<std::uint64_t>(std::popcount(fresh));
      block.received[word] |= mask;
      i += run;
    }
    done += stop - local;
  }
  return fresh_bytes;
}

std::uint64_t ReorderBuffer::store_fresh(std::uint64_t offset, std::span<const std::byte> data,
                                         bool mark) {
  std::size_t done = 0;
  while (done < data.size()) {
    Block& block = block_for(offset + done);
    const std::size_t local = block_offset(offset + done);
    const std::size_t run = std::min(block_size_ - local, data.size() - done);
    std::memcpy(block.data + local, data.data() + done, run);
    done += run;
    if (!mark) continue;
    block.received_marked = true;
    // Set bits [local, local + run).
    std::size_t first_word = local / kBitsPerWord;
    const std::size_t last_word = (local + run - 1) / kBitsPerWord;
    const std::size_t head_bit = local % kBitsPerWord;
    if (first_word == last_word) {
      block.received[first_word] |= bit_run(head_bit, run);
    } else {
      block.received[first_word] |= bit_run(head_bit, kBitsPerWord - head_bit);
      std::fill(block.received + first_word + 1, block.received + last_word, ~std::uint64_t{0});
      block.received[last_word] |= bit_run(0, (local + run - 1) % kBitsPerWord + 1);
    }
  }
  return data.size();
}

void ReorderBuffer::mark_end(std::uint64_t last_byte) {
  Block& block = block_for(last_byte);
  block.ends_marked = true;
  const std::size_t local = block_offset(last_byte);
  const std::size_t word = local / kBitsPerWord;
  block.ends[word] |= std::uint64_t{1} << (local % kBitsPerWord);
  block.end_words[word / kBitsPerWord] |= std::uint64_t{1} << (word % kBitsPerWord);
  end_scan_ = std::min(end_scan_, last_byte);
  ends_below_ = std::max(ends_below_, last_byte + 1);
  // An end before the message found ends an earlier one: insert() looks again.
  if (ready_end_ && last_byte + 1 < *ready_end_) ready_end_.reset();
}

void ReorderBuffer::advance() {
  extend_contiguous();
  find_ready();
}

void ReorderBuffer::extend_contiguous() {
  const std::size_t words = block_size_ / kBitsPerWord;
  for (const Block* block = find_block(contiguous_); block != nullptr;
       block = find_block(contiguous_)) {
    const std::uint64_t block_start = contiguous_ - block_offset(contiguous_);
    std::size_t word = block_offset(contiguous_) / kBitsPerWord;
    std::uint64_t missing =
        ~block->received[word] & (~std::uint64_t{0} << (contiguous_ % kBitsPerWord));
    while (missing == 0 && ++word < words) missing = ~block->received[word];
    if (missing != 0) {
      contiguous_ =
          block_start + word * kBitsPerWord + static_cast<std::uint64_t>(std::countr_zero(missing));
      break;
    }
    contiguous_ = block_start + block_size_;
  }
}

void ReorderBuffer::find_ready() {
  ready_end_.reset();
  std::uint64_t at = std::max(end_scan_, delivered_);
  // No mark at or past ends_below_: the scan stops there (in a stream of large messages
  // arriving in order, it then skips most packets entirely).
  const std::uint64_t scan_end = std::min(contiguous_, ends_below_);
  while (at < scan_end) {
    const Block* block = find_block(at);  // received, so allocated
    const std::uint64_t block_start = at - block_offset(at);
    const std::uint64_t stop = std::min(block_start + block_size_, scan_end);
    std::size_t word = block_offset(at) / kBitsPerWord;
    std::uint64_t ends = block->ends[word] & (~std::uint64_t{0} << (at % kBitsPerWord));
    if (ends == 0) {
      // The summary finds the next word with a mark without reading the words between.
      if (auto next = next_marked_word(*block, word + 1)) {
        word = *next;
        ends = block->ends[word];
      }
    }
    if (ends != 0) {
      const std::uint64_t last_byte =
          block_start + word * kBitsPerWord + static_cast<std::uint64_t>(std::countr_zero(ends));
      if (last_byte < contiguous_) {
        end_scan_ = last_byte;
        ready_end_ = last_byte + 1;
        return;
      }
    }
    at = stop;
  }
  end_scan_ = contiguous_;
}

std::optional<std::size_t> ReorderBuffer::next_marked_word(const Block& block,
                                                           std::size_t from) const noexcept {
  const std::size_t words = block_size_ / kBitsPerWord;
  if (from >= words) return std::nullopt;
  const std::size_t count = summary_words(block_size_);
  std::uint64_t bits =
      block.end_words[from / kBitsPerWord] & (~std::uint64_t{0} << (from % kBitsPerWord));
  for (std::size_t i = from / kBitsPerWord;;) {
    if (bits != 0) return i * kBitsPerWord + static_cast<std::size_t>(std::countr_zero(bits));
    if (++i == count) return std::nullopt;
    bits = block.end_words[i];
  }
}

std::optional<std::uint64_t> ReorderBuffer::next_message_size() const noexcept {
  if (!ready_end_) return std::nullopt;
  return *ready_end_ - delivered_;
}

std::optional<std::size_t> ReorderBuffer::read_message(std::span<std::byte> out) {
  if (!ready_end_ || out.size() < *ready_end_ - delivered_) return std::nullopt;
  const auto size = static_cast<std::size_t>(*ready_end_ - delivered_);
  for (std::size_t done = 0; done < size;) {
    const Block* block = find_block(delivered_ + done);
    const std::size_t local = block_offset(delivered_ + done);
    const std::size_t run = std::min(block_size_ - local, size - done);
    std::memcpy(out.data() + done, block->data + local, run);
    done += run;
  }
  delivered_ += size;
  buffered_ -= size;
  release_delivered_blocks();
  advance();
  return size;
}

std::optional<std::vector<std::byte>> ReorderBuffer::pop_message() {
  const auto size = next_message_size();
  if (!size) return std::nullopt;
  std::vector<std::byte> message(static_cast<std::size_t>(*size));
  read_message(message);
  return message;
}

std::size_t ReorderBuffer::spare_limit() const noexcept {
  // Spares and blocks in use together stay within the blocks the credit window can fill,
  // so keeping them never raises the memory bound.
  const std::uint64_t window_blocks = ((limit_ - std::min(limit_, delivered_)) >> block_shift_) + 2;
  const std::uint64_t in_use = static_cast<std::uint64_t>(blocks_.size());
  const std::uint64_t room = window_blocks > in_use ? window_blocks - in_use : 0;
  return static_cast<std::size_t>(std::max<std::uint64_t>(room, kSpareBlocks));
}

void ReorderBuffer::release_delivered_blocks() {
  const std::uint64_t first_needed = delivered_ >> block_shift_;
  while (!blocks_.empty() && first_block_ < first_needed) {
    Block& block = blocks_.front();
    if (block.allocated()) {
      if (spare_.size() < spare_limit()) {
        const std::size_t words = block_size_ / kBitsPerWord;
        if (block.received_marked) std::fill_n(block.received, words, 0);
        if (block.ends_marked) std::fill_n(block.ends, words + summary_words(block_size_), 0);
        block.received_marked = false;
        block.ends_marked = false;
        spare_.push_back(block);
      } else {
        slab_.release(block.data);
      }
    }
    blocks_.pop_front();
    ++first_block_;
  }
  first_block_ = std::max(first_block_, first_needed);
}

std::size_t ReorderBuffer::allocated_bytes() const noexcept {
  std::size_t allocated = 0;
  for (std::size_t i = 0; i < blocks_.size(); ++i) allocated += blocks_[i].allocated() ? 1 : 0;
  return unit_bytes(block_size_) * allocated;
}

void ReorderBuffer::BlockWindow::grow_to(std::size_t count) {
  if (count <= size_) return;
  if (count > slots_.size()) {
    std::vector<Block> wider(std::bit_ceil(std::max<std::size_t>(count, 8)));
    for (std::size_t i = 0; i < size_; ++i) wider[i] = (*this)[i];
    slots_ = std::move(wider);
    head_ = 0;
    mask_ = slots_.size() - 1;
  }
  size_ = count;
}

}  // namespace dwcp::transport
