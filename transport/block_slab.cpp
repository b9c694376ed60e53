#include "transport/block_slab.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace dwcp::transport {

namespace {

constexpr std::size_t kAlignment = 64;
// A slab that will not fill a huge page takes chunks of this many units from the heap.
constexpr std::size_t kSmallChunkUnits = 4;

}  // namespace

BlockSlab::BlockSlab(std::size_t unit_size, std::size_t expected_units)
    : unit_size_((std::max<std::size_t>(unit_size, 1) + kAlignment - 1) / kAlignment * kAlignment) {
  if (unit_size_ <= kHugeChunk && unit_size_ * expected_units >= kHugeChunk) {
    chunk_bytes_ = kHugeChunk;
  } else {
    chunk_bytes_ = unit_size_ * std::clamp<std::size_t>(expected_units, 1, kSmallChunkUnits);
  }
  units_per_chunk_ = chunk_bytes_ / unit_size_;
  carved_ = units_per_chunk_;  // no chunk yet
}

std::byte* BlockSlab::allocate() {
  if (!free_.empty()) {
    std::byte* unit = free_.back();
    free_.pop_back();
    return unit;
  }
  if (carved_ == units_per_chunk_) {
    const std::size_t alignment = chunk_bytes_ == kHugeChunk ? kHugeChunk : kAlignment;
    // NOLINTNEXTLINE(cppcoreguidelines-no-malloc): released by FreeChunk
    auto* chunk = static_cast<std::byte*>(std::aligned_alloc(alignment, chunk_bytes_));
    if (chunk == nullptr) throw std::bad_alloc();
    chunks_.emplace_back(chunk);
    // A hint: 4 KiB pages work too.
    if (chunk_bytes_ == kHugeChunk) (void)madvise(chunk, chunk_bytes_, MADV_HUGEPAGE);
    free_.reserve(chunks_.size() * units_per_chunk_);
    carved_ = 0;
  }
  return chunks_.back().get() + unit_size_ * carved_++;
}

void BlockSlab::FreeChunk::operator()(std::byte* chunk) const noexcept {
  std::free(chunk);  // NOLINT(cppcoreguidelines-no-malloc): from aligned_alloc
}

}  // namespace dwcp::transport
