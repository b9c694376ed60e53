// What dwcp-send --sync knows the receiver's replica holds: its length and the XXH3-64 of
// each block. It starts from the manifest dwcp-recv sends (docs/tools.md, "Sync"), and
// after each verified round it is the round's file.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "tools/common/stream_header.h"

namespace dwcp::tools {

struct ReplicaImage {
  std::uint64_t length = 0;
  std::vector<std::uint64_t> hashes;  // block i's XXH3-64; the last block may be short

  // Whether the replica's block `index` has the hash `hash`.
  [[nodiscard]] bool holds(std::uint64_t index, std::uint64_t hash) const noexcept {
    return index < hashes.size() && hashes[index] == hash;
  }
};

// Puts the manifest's messages together. They come from the network: each must continue
// where the last one ended and name the same length, and the whole must list exactly the
// blocks of that length.
class ManifestAssembler {
 public:
  explicit ManifestAssembler(std::uint32_t block_size) : block_size_(block_size) {}

  // Takes the next message. Error: one that does not fit (one line).
  std::expected<void, std::string> add(const SyncManifest& message);
  // The last message arrived.
  [[nodiscard]] bool complete() const noexcept { return complete_; }
  // The image, once complete().
  [[nodiscard]] const ReplicaImage& image() const noexcept { return image_; }

 private:
  std::uint32_t block_size_;
  bool complete_ = false;
  bool started_ = false;
  ReplicaImage image_;
};

}  // namespace dwcp::tools
