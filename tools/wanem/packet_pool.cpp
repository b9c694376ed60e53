#include "tools/wanem/packet_pool.h"

#include <algorithm>

namespace dwcp::wanem {

PacketPool::PacketPool(std::uint32_t max_buffers) : max_buffers_(max_buffers) {}

std::optional<std::uint32_t> PacketPool::acquire() {
  if (free_.empty()) {
    if (allocated_ >= max_buffers_) return std::nullopt;
    const std::uint32_t count = std::min(kChunk, max_buffers_ - allocated_);
    // for_overwrite: the memory is not touched until a frame is written into it.
    chunks_.push_back(std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(kChunk) *
                                                                  kBufferSize));
    lengths_.resize(allocated_ + count);
    for (std::uint32_t i = count; i > 0; --i) free_.push_back(allocated_ + i - 1);
    allocated_ += count;
  }
  const std::uint32_t handle = free_.back();
  free_.pop_back();
  return handle;
}

void PacketPool::release(std::uint32_t handle) {
  free_.push_back(handle);
}

std::span<std::byte, PacketPool::kBufferSize> PacketPool::buffer(std::uint32_t handle) {
  std::byte* base = chunks_[handle / kChunk].get();
  return std::span<std::byte, kBufferSize>(base + (handle % kChunk) * kBufferSize, kBufferSize);
}

}  // namespace dwcp::wanem
