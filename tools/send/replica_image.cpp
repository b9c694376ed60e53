#include "tools/send/replica_image.h"

namespace dwcp::tools {

std::expected<void, std::string> ManifestAssembler::add(const SyncManifest& message) {
  if (complete_) return std::unexpected("a manifest message after the last one");
  if (started_ && message.length != image_.length) {
    return std::unexpected("manifest messages name different lengths");
  }
  if (message.first_block != image_.hashes.size()) {
    return std::unexpected("a manifest message out of order");
  }
  started_ = true;
  image_.length = message.length;
  image_.hashes.insert(image_.hashes.end(), message.hashes.begin(), message.hashes.end());
  const std::uint64_t blocks = (image_.length + block_size_ - 1) / block_size_;
  if (image_.hashes.size() > blocks) {
    return std::unexpected("a manifest with more blocks than its length holds");
  }
  if (message.last) {
    if (image_.hashes.size() != blocks) {
      return std::unexpected("a manifest with fewer blocks than its length holds");
    }
    complete_ = true;
  }
  return {};
}

}  // namespace dwcp::tools
