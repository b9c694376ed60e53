// Spreads a connection's packets over time at the controller's pacing rate, so a window's
// worth of data does not leave in one burst and overflow a bottleneck queue.
//
// A token bucket: tokens accrue at the rate, up to the rate over 1 ms (at least two
// quanta), and a packet leaves when the bucket holds its size. The quantum is what one GSO
// batch may carry: the rate over 1 ms, at least two datagrams, at most kMaxQuantum (64 KiB,
// the kernel's GSO limit) unless two datagrams are larger (a path with a 64 KiB MTU). A bucket
// deeper than the quantum lets a thread that comes back late (a long pass, a descheduled time
// slice) catch up with several batches in one system call, instead of losing the time: at 20 Gbit/s
// a 64 KiB bucket emptied once per 25 µs pass caps the flow at the pass rate, not the pacing rate.
// Below 128 KiB per ms the second quantum does the same for a slow flow, which waits a quantum's
// time between batches: a timer that fires 60 µs late once per millisecond (timer slack) cost a
// bucket of one quantum 6% of the rate (100 Mbit/s paths ran at 94% of the link).
// Not thread-safe: one per connection.
#pragma once

#include <cstdint>
#include <optional>

#include "transport/clock.h"

namespace dwcp::transport {

class Pacer {
 public:
  static constexpr std::uint64_t kMaxQuantum = std::uint64_t{64} * 1024;
  // The quantum for `rate` (0: unpaced) and datagrams of `max_datagram_size` bytes.
  [[nodiscard]] static std::uint64_t quantum_for(Bandwidth rate,
                                                 std::uint64_t max_datagram_size) noexcept;

  // The bucket starts full, so the first quantum leaves at once.
  Pacer(std::uint64_t max_datagram_size, Instant now) noexcept;

  // Rate 0 turns pacing off: the bucket is always full.
  void set_rate(Bandwidth rate, Instant now) noexcept;
  // The path now carries larger datagrams (path MTU discovery): the quantum follows.
  void set_max_datagram_size(std::uint64_t bytes, Instant now) noexcept;
  [[nodiscard]] Bandwidth rate() const noexcept { return rate_; }
  [[nodiscard]] std::uint64_t quantum() const noexcept { return quantum_; }
  // Most tokens the bucket holds: the largest burst after an idle spell.
  [[nodiscard]] std::uint64_t depth() const noexcept { return depth_; }

  // Bytes that may leave at `now` (a batch must not exceed them).
  [[nodiscard]] std::uint64_t budget(Instant now) noexcept;
  // The earliest time `bytes` (at most a quantum) may leave.
  [[nodiscard]] Instant next_send_time(Instant now, std::uint64_t bytes) noexcept;
  // When the bucket, as last refilled, will hold `bytes`; nullopt if it holds them now.
  // For timers: it does not refill.
  [[nodiscard]] std::optional<Instant> held_until(std::uint64_t bytes) const noexcept;
  void on_sent(Instant now, std::uint64_t bytes) noexcept;

 private:
  void refill(Instant now) noexcept;

  std::uint64_t max_datagram_size_;
  Bandwidth rate_ = 0;
  std::uint64_t quantum_;
  std::uint64_t depth_;
  std::uint64_t tokens_;
  Instant last_refill_;
};

}  // namespace dwcp::transport
