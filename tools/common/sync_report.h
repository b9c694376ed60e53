// What dwcp-send --sync reports for each round (docs/tools.md, "Sync"): a text line, or
// with --json one object per round, before the summary.
#pragma once

#include <cstdint>
#include <string>

#include "tools/common/stream_header.h"

namespace dwcp::tools {

struct SyncRoundReport {
  std::uint64_t id = 1;  // as the summary's
  std::uint64_t round = 0;
  double seconds = 0.0;              // from the start of reading the file to the verdict
  std::uint64_t length = 0;          // the file's bytes as the round read them
  std::uint64_t blocks = 0;          // the file's blocks
  std::uint64_t blocks_changed = 0;  // handed to the transport: changed or new
  std::uint64_t changed_bytes = 0;
  // From the connection's statistics over the round:
  std::uint64_t blocks_whole = 0;
  std::uint64_t blocks_delta = 0;
  std::uint64_t block_bytes_saved = 0;
  std::uint64_t wire_bytes_sent = 0;  // UDP payload, both ways
  std::uint64_t wire_bytes_received = 0;
  Verdict verdict = Verdict::verified;
  std::string xxh3_128;  // the file's, as the round read it

  [[nodiscard]] std::uint64_t wire_bytes() const noexcept {
    return wire_bytes_sent + wire_bytes_received;
  }
};

// "[  1] round 2   0.31 sec  256.00 MiB, 655 of 65536 blocks changed (2.56 MiB): 0 whole,
// 655 delta; wire 48.10 KiB (41.20 KiB sent, 6.90 KiB received)  verified", and a newline.
std::string format_round(const SyncRoundReport& round);
// One JSON object, one line, no newline: "type": "sync_round" and the fields above.
std::string format_round_json(const SyncRoundReport& round);

}  // namespace dwcp::tools
