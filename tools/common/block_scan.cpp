#include "tools/common/block_scan.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dwcp::tools {
namespace {

// Large enough that the system calls vanish next to hashing, small enough to stay in L2.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

}  // namespace

BlockScanner::BlockScanner(int fd, std::uint32_t block_size)
    : fd_(fd), block_size_(std::max<std::uint32_t>(block_size, 1)) {
  // A whole number of blocks per chunk, so no block straddles two reads.
  const std::size_t blocks = std::max<std::size_t>(kChunkBytes / block_size_, 1);
  chunk_.resize(blocks * block_size_);
}

std::expected<void, std::string> BlockScanner::fill() {
  chunk_offset_ += filled_;
  filled_ = 0;
  consumed_ = 0;
  while (filled_ < chunk_.size()) {
    const ssize_t got = ::pread(fd_, chunk_.data() + filled_, chunk_.size() - filled_,
                                static_cast<off_t>(chunk_offset_ + filled_));
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(std::string("read failed: ") + std::strerror(errno));
    }
    if (got == 0) {
      at_end_ = true;
      break;
    }
    filled_ += static_cast<std::size_t>(got);
  }
  return {};
}

std::expected<std::optional<ScannedBlock>, std::string> BlockScanner::next() {
  if (consumed_ == filled_) {
    if (at_end_) return std::nullopt;
    if (auto read = fill(); !read) return std::unexpected(read.error());
    if (filled_ == 0) return std::nullopt;
  }
  const std::size_t size = std::min<std::size_t>(block_size_, filled_ - consumed_);
  ScannedBlock block;
  block.index = next_index_++;
  block.bytes = std::span<const std::byte>(chunk_.data() + consumed_, size);
  consumed_ += size;
  offset_ += size;
  hasher_.update(block.bytes);
  return block;
}

std::expected<BlockHashes, std::string> hash_blocks(int fd, std::uint32_t block_size) {
  BlockScanner scanner(fd, block_size);
  BlockHashes result;
  for (;;) {
    auto block = scanner.next();
    if (!block) return std::unexpected(block.error());
    const std::optional<ScannedBlock> next = *block;
    if (!next) break;
    result.hashes.push_back(simd::xxh3_64(next->bytes));
  }
  result.length = scanner.length();
  return result;
}

std::expected<FileDigest, std::string> digest_file(int fd) {
  BlockScanner scanner(fd, static_cast<std::uint32_t>(kChunkBytes));
  for (;;) {
    auto block = scanner.next();
    if (!block) return std::unexpected(block.error());
    if (!*block) break;
  }
  return FileDigest{scanner.length(), scanner.hash()};
}

}  // namespace dwcp::tools
