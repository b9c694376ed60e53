// The file dwcp-recv --sync-dir keeps up to date for one dwcp-send --sync (docs/tools.md,
// "Sync"): DIR/NAME, written in place block by block (a block of key k lands at k × block
// size), cut to the sender's length at the end of each round and then verified whole with
// XXH3-128.
//
// The name comes from the network: it must be one plain path component, and the file is
// opened with O_NOFOLLOW, so a symlink in the directory cannot lead a write out of it. An
// exclusive flock keeps two senders from syncing into the same replica at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tools/common/stream_header.h"

namespace dwcp::tools {

struct ReplicaError {
  Verdict verdict = Verdict::write_failed;  // rejected_path, refused (in use), write_failed
  std::string message;                      // one line
};

class SyncReplica {
 public:
  SyncReplica() = default;
  SyncReplica(SyncReplica&& other) noexcept;
  SyncReplica& operator=(SyncReplica&& other) noexcept;
  SyncReplica(const SyncReplica&) = delete;
  SyncReplica& operator=(const SyncReplica&) = delete;
  ~SyncReplica();

  // Opens `name` under the directory `dir_fd` (which stays the caller's), creating it with
  // `mode`'s permission bits (the umask applies) when missing, for blocks of `block_size`
  // bytes (1 .. kMaxSyncBlock). A replica another sync holds is waited for up to
  // `lock_wait` (the previous sender's stream may be ending just now), then refused.
  static std::expected<SyncReplica, ReplicaError> open(
      int dir_fd, std::string_view name, std::uint32_t mode, std::uint32_t block_size,
      std::chrono::milliseconds lock_wait = std::chrono::milliseconds(0));
  // Closes the file (and lets go of its lock): the sync's stream ended.
  void close() noexcept;

  // What the replica holds now, as manifest messages (at least one, the last flagged).
  // Error: it cannot be read.
  [[nodiscard]] std::expected<std::vector<SyncManifest>, std::string> manifest() const;

  // Writes block `key`: 1 .. block size bytes. Error: a key or size no sync sends
  // (malformed; nothing written), or the write failed.
  std::expected<void, ReplicaError> write_block(std::uint64_t key,
                                                std::span<const std::byte> bytes);

  // The round's end: cuts the replica to `end.length`, then hashes all of it. The verdict:
  // verified, size_mismatch (the length differs), hash_mismatch, or write_failed (a block
  // write of the round or the cut failed); its bytes and hash are the replica's.
  StreamVerdict finish_round(const SyncRoundEnd& end);

  [[nodiscard]] std::uint32_t block_size() const noexcept { return block_size_; }
  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::uint32_t block_size_ = 0;
  bool write_failed_ = false;  // in the round under way
};

}  // namespace dwcp::tools
