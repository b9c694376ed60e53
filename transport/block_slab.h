// Fixed-size units of memory carved from large chunks: the storage of a reorder buffer's
// blocks. A bulk stream's receive window is megabytes; taken block by block from malloc,
// every 4 KiB page of it faults on first touch, and under a hypervisor a fault costs
// ~10 µs, so the first 16 MiB of a stream cost ~50 ms of faults. Chunks of 2 MiB aligned to
// huge pages fault once each instead. A slab that will never hold 2 MiB takes small chunks
// from the heap, so a thousand streams with small windows cost no more than before.
//
// Units are not zeroed. Memory goes back to the system when the slab is destroyed; a
// released unit waits in the slab for the next allocation.
// Not thread-safe: one per reorder buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace dwcp::transport {

class BlockSlab {
 public:
  static constexpr std::size_t kHugeChunk = std::size_t{2} << 20;

  // `unit_size` bytes per unit (rounded up to 64); `expected_units`: most units the owner
  // holds at once, which sizes the chunks.
  BlockSlab(std::size_t unit_size, std::size_t expected_units);

  // A unit of unit_size() bytes, 64-byte aligned. Throws std::bad_alloc.
  [[nodiscard]] std::byte* allocate();
  // Gives back a unit from allocate().
  void release(std::byte* unit) noexcept { free_.push_back(unit); }

  [[nodiscard]] std::size_t unit_size() const noexcept { return unit_size_; }
  // Memory taken from the system so far.
  [[nodiscard]] std::size_t reserved_bytes() const noexcept {
    return chunks_.size() * chunk_bytes_;
  }

 private:
  struct FreeChunk {
    void operator()(std::byte* chunk) const noexcept;
  };

  std::size_t unit_size_;
  std::size_t chunk_bytes_;
  std::size_t units_per_chunk_;
  std::vector<std::unique_ptr<std::byte, FreeChunk>> chunks_;
  std::size_t carved_ = 0;  // units handed out of the newest chunk
  std::vector<std::byte*> free_;
};

}  // namespace dwcp::transport
