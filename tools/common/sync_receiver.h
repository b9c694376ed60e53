// One sync stream at dwcp-recv (docs/tools.md, "Sync"): after the stream's sync header
// (handed over by StreamReceiver), answers with the manifest of the replica it holds under
// --sync-dir, then writes every versioned block into the replica and, at each round end,
// cuts the replica to the sender's length, verifies it whole with XXH3-128 and answers with
// a verdict. Without --sync-dir, or when the replica cannot be opened, the one answer is a
// refusing verdict.
//
// Everything on the stream is untrusted: a block outside the replica's limits or a message
// other than a round end is malformed (a `malformed` verdict; the rest of the stream is
// dropped). Blocks and messages are handed in by the caller, in stream order, so this
// class never reads the stream itself and is tested without a connection.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tools/common/stream_header.h"
#include "tools/common/stream_receiver.h"
#include "tools/common/sync_replica.h"
#include "transport/api/stream.h"

namespace dwcp::tools {

// One round as the receiver saw it.
struct SyncRoundRecord {
  std::uint64_t round = 0;
  std::uint64_t blocks = 0;       // versioned blocks written in it
  std::uint64_t block_bytes = 0;  // their bytes
  StreamVerdict verdict;          // what was answered: the replica's length and hash
};

class SyncReceiver {
 public:
  // `header` is the stream's sync header; `dir_fd` the --sync-dir directory (not owned) or
  // -1. `client` numbers the client in problem lines. Opens the replica and queues the
  // manifest, or the refusal.
  SyncReceiver(Stream stream, const StreamHeader& header, int dir_fd, std::uint64_t client);

  // The next block of the stream: its bytes written (0 when dropped).
  std::uint64_t consume_block(std::uint64_t key, std::span<const std::byte> bytes);
  // The next message of the stream: a round end, answered with a verdict.
  void consume(std::span<const std::byte> message);
  // Sends what met back-pressure before.
  void flush();
  // The stream ended (every block and message read): the replica is closed at once, so that
  // the next sync of it need not wait for this connection to go.
  void stream_ended() noexcept { replica_.close(); }
  // The rounds that ended since the last call, oldest first.
  std::vector<SyncRoundRecord> take_rounds();
  // No round under way and everything answered: the stream may be finished.
  [[nodiscard]] bool settled() const noexcept { return !in_round_ && unsent_.empty(); }
  // The stream's end: a round without its end counts as not verified. Adds this stream's
  // figures to `tally` (one file, one unit per round).
  void finish(ReceiveTally& tally);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  void begin_round_if_needed();
  void malformed(const std::string& why);
  void refuse(const ReplicaError& error);
  void queue(std::vector<std::byte> message);
  void report_problem(const std::string& what) const;

  Stream stream_;
  std::string name_;  // printable
  std::uint64_t client_;
  SyncReplica replica_;
  bool broken_ = false;  // refused or malformed: the rest is dropped
  bool in_round_ = false;
  SyncRoundRecord round_;
  std::uint64_t next_round_ = 1;
  ReceiveTally tally_;
  std::optional<simd::Hash128> last_verified_;  // the replica's hash after the last round
  std::vector<SyncRoundRecord> ended_;
  std::deque<std::vector<std::byte>> unsent_;
};

}  // namespace dwcp::tools
