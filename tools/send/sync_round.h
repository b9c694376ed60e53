// One round of dwcp-send --sync (docs/tools.md, "Sync"): reads the file from its start,
// block by block, hashes each block with XXH3-64, and hands those whose hash the replica
// does not hold to a block sink (Stream::send_block: the transport sends each as an XOR
// delta against the version the receiver holds, or whole). Hashing the whole file with
// XXH3-128 on the way gives the round's digest, and the hashes become the next round's
// picture of the replica.
//
// Never blocks: step() goes on until the sink is back-pressured, and the block it refused
// is offered again on the next step (its bytes stay in the scanner's chunk).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>

#include "simd/checksum.h"
#include "tools/common/block_scan.h"
#include "tools/common/stream_sender.h"
#include "tools/send/replica_image.h"
#include "transport/api/stream.h"

namespace dwcp::tools {

// Sends one block as the newest version of `key`; send()'s back-pressure contract.
using BlockSink = std::function<SendStatus(std::uint64_t key, std::span<const std::byte>)>;

class SyncRound {
 public:
  // `fd` (not owned) is read from offset 0; `known` (not copied: it must outlive the
  // round) is what the replica holds.
  SyncRound(int fd, std::uint32_t block_size, const ReplicaImage& known);

  struct Step {
    std::uint64_t blocks = 0;  // blocks handed to the sink
    bool progressed = false;   // a block was read or sent
  };
  // Examines at most `budget` blocks. Error: the file cannot be read (local_error), or the
  // sink refused for good (status).
  std::expected<Step, StepFailure> step(const BlockSink& sink, std::size_t budget = 1024);

  // Every block was read and every changed one handed over.
  [[nodiscard]] bool done() const noexcept { return done_; }

  // After done(): the file as this round read it.
  [[nodiscard]] std::uint64_t length() const noexcept { return scanner_.length(); }
  [[nodiscard]] simd::Hash128 hash() const noexcept { return scanner_.hash(); }
  // Blocks read, and those handed over (changed or new) with their bytes.
  [[nodiscard]] std::uint64_t blocks() const noexcept { return image_.hashes.size(); }
  [[nodiscard]] std::uint64_t changed_blocks() const noexcept { return changed_; }
  [[nodiscard]] std::uint64_t changed_bytes() const noexcept { return changed_bytes_; }
  // What the replica holds once the round verified.
  [[nodiscard]] ReplicaImage take_image();

 private:
  const ReplicaImage& known_;
  BlockScanner scanner_;
  std::optional<ScannedBlock> pending_;  // a changed block the sink has not taken yet
  ReplicaImage image_;
  std::uint64_t changed_ = 0;
  std::uint64_t changed_bytes_ = 0;
  bool done_ = false;
};

}  // namespace dwcp::tools
