// One direction of the emulated link: the impairment pipeline every packet goes through.
//
//   random loss -> burst loss (Gilbert-Elliott) -> rate limiter (drop-tail queue)
//     -> one-way delay + jitter (order kept) -> reordering (extra delay)
//     -> duplication -> corruption
//
// Jitter never reorders: a packet is never delivered before the one accepted ahead of it
// (netem's behaviour with a rate, and what a real path does). Only the reorder stage
// reorders, by holding the chosen packet `reorder_delay` longer than its place in line,
// so later packets overtake it. A duplicate is delivered right after its original and
// does not consume link capacity. Corruption flips one byte past the first 54 bytes of
// the frame (beyond Ethernet, IPv4 and a TCP or UDP header), so the receiving stack sees a
// well-formed packet with a bad checksum, as on a real link.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tools/wanem/clock.h"
#include "tools/wanem/gilbert_elliott.h"
#include "tools/wanem/random.h"
#include "tools/wanem/rate_limiter.h"

namespace dwcp::wanem {

struct LinkParams {
  Duration delay{0};   // one-way propagation delay
  Duration jitter{0};  // uniform in [-jitter, +jitter], order kept
  double loss = 0.0;   // probability of random loss
  GilbertElliottParams burst;
  double reorder = 0.0;  // probability a packet is held back
  Duration reorder_delay{Duration{std::chrono::milliseconds(1)}};
  double duplicate = 0.0;         // probability a packet is sent twice
  double corrupt = 0.0;           // probability one payload byte is flipped
  std::uint64_t rate_bps = 0;     // 0 = unlimited
  std::uint64_t queue_bytes = 0;  // 0 = queue_bdp times the bandwidth-delay product
  double queue_bdp = 1.0;

  // The drop-tail queue size in bytes: queue_bytes if set, else queue_bdp times
  // rate * (2 * delay), at least 64 KiB so a short link still absorbs a burst.
  std::uint64_t effective_queue_bytes() const;
};

// Offset in the frame from which corruption may flip a byte.
inline constexpr std::size_t kCorruptFrom = 54;

enum class Verdict : std::uint8_t { forward, drop_random, drop_burst, drop_queue };

struct Decision {
  Verdict verdict = Verdict::forward;
  TimePoint deliver_at{};
  bool reordered = false;
  bool duplicate = false;  // deliver a second copy right after the first
  bool corrupt = false;
  std::size_t corrupt_offset = 0;  // byte to flip, valid when corrupt
  std::uint8_t corrupt_mask = 0;   // non-zero XOR mask
};

class LinkModel {
 public:
  LinkModel(const LinkParams& params, std::uint64_t seed);

  // The fate of a frame of `bytes` bytes arriving at `now` (non-decreasing across calls).
  Decision on_packet(TimePoint now, std::size_t bytes);

  const LinkParams& params() const { return params_; }
  std::uint64_t backlog_bytes(TimePoint now) const { return limiter_.backlog_bytes(now); }

 private:
  LinkParams params_;
  Random random_;
  GilbertElliott burst_;
  RateLimiter limiter_;
  TimePoint last_in_order_{};  // delivery time of the last packet kept in order
};

}  // namespace dwcp::wanem
