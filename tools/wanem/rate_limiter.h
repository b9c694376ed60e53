// A link of fixed rate behind a drop-tail queue. Nothing is stored here: the link is
// modelled by the time it finishes serialising the last accepted packet, so the queue's
// occupancy at `now` is the backlog still to serialise, and a packet is dropped when that
// backlog plus the packet would exceed the queue size. The caller holds the packets
// (in the scheduler) until their departure time, plus any propagation delay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "tools/wanem/clock.h"

namespace dwcp::wanem {

class RateLimiter {
 public:
  // rate_bps: bits per second of frame bytes, 0 = unlimited (every packet departs at
  // `now`, nothing is ever dropped). queue_bytes: the most bytes waiting or in service.
  RateLimiter(std::uint64_t rate_bps, std::uint64_t queue_bytes);

  // The time the packet's last bit leaves the link, or nullopt if the queue is full and
  // the packet is dropped. `now` must not go backwards between calls.
  std::optional<TimePoint> admit(TimePoint now, std::size_t bytes);

  // Bytes accepted and not yet serialised at `now`.
  std::uint64_t backlog_bytes(TimePoint now) const;

  std::uint64_t rate_bps() const { return rate_bps_; }
  std::uint64_t queue_bytes() const { return queue_bytes_; }

 private:
  std::uint64_t rate_bps_;
  std::uint64_t queue_bytes_;
  TimePoint busy_until_{};
  // Serialisation times are bytes * 8e9 / rate ns; the remainder carries over so a long
  // run neither gains nor loses time to rounding.
  std::uint64_t remainder_ = 0;
};

}  // namespace dwcp::wanem
