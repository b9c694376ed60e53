// Frame buffers for packets in flight through the emulator, addressed by a 32-bit handle.
// Buffers come from chunks allocated on demand up to a fixed ceiling, so a long delay at a
// high rate gets the memory it needs and an idle emulator holds little. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace dwcp::wanem {

class PacketPool {
 public:
  static constexpr std::size_t kBufferSize = 2048;  // an Ethernet frame up to MTU 2000
  static constexpr std::uint32_t kChunk = 4096;     // buffers allocated at a time

  explicit PacketPool(std::uint32_t max_buffers);

  // A free buffer, or nullopt when max_buffers are all in use.
  std::optional<std::uint32_t> acquire();
  void release(std::uint32_t handle);

  std::span<std::byte, kBufferSize> buffer(std::uint32_t handle);
  // Length of the frame stored in the buffer (set by the caller).
  std::uint16_t& length(std::uint32_t handle) { return lengths_[handle]; }

  std::uint32_t in_use() const { return allocated_ - static_cast<std::uint32_t>(free_.size()); }

 private:
  std::uint32_t max_buffers_;
  std::uint32_t allocated_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint16_t> lengths_;
};

}  // namespace dwcp::wanem
