// A file walked block by block from its start, for dwcp-send --sync and dwcp-recv
// --sync-dir (docs/tools.md, "Sync"): the sender compares each block's XXH3-64 with what
// the replica holds, the receiver lists its replica's block hashes, and both hash the whole
// file with XXH3-128 as they go. The file is read in large chunks (pread), so a block
// costs a hash, not a system call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "simd/checksum.h"

namespace dwcp::tools {

struct ScannedBlock {
  std::uint64_t index = 0;           // the block's number: it starts at index × block size
  std::span<const std::byte> bytes;  // block size bytes, fewer for the last block
};

class BlockScanner {
 public:
  // Reads `fd` (not owned; it must stay open) from offset 0 in blocks of `block_size`
  // bytes (at least 1).
  BlockScanner(int fd, std::uint32_t block_size);

  // The next block, valid until the next call; nullopt at the end of the file. Error: a
  // read failed (one line, without the file's name).
  std::expected<std::optional<ScannedBlock>, std::string> next();

  // Bytes read so far, and their XXH3-128: the whole file's once next() said the end.
  [[nodiscard]] std::uint64_t length() const noexcept { return offset_; }
  [[nodiscard]] simd::Hash128 hash() const noexcept { return hasher_.digest(); }

 private:
  std::expected<void, std::string> fill();

  int fd_;
  std::uint32_t block_size_;
  std::vector<std::byte> chunk_;
  std::size_t filled_ = 0;    // bytes of chunk_ read
  std::size_t consumed_ = 0;  // bytes of chunk_ handed out
  bool at_end_ = false;
  std::uint64_t offset_ = 0;  // file offset of the end of what was handed out
  std::uint64_t chunk_offset_ = 0;
  std::uint64_t next_index_ = 0;
  simd::Xxh3_128Stream hasher_;
};

// The XXH3-64 of every block of `fd` and the file's length. Error: a read failed.
struct BlockHashes {
  std::uint64_t length = 0;
  std::vector<std::uint64_t> hashes;
};
std::expected<BlockHashes, std::string> hash_blocks(int fd, std::uint32_t block_size);

// The whole file's length and XXH3-128. Error: a read failed.
struct FileDigest {
  std::uint64_t length = 0;
  simd::Hash128 hash;
};
std::expected<FileDigest, std::string> digest_file(int fd);

}  // namespace dwcp::tools
