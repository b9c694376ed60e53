// Time in the transport core. The core never reads a clock: every function that needs the
// time takes `now` as an Instant, so tests drive it in simulated time. Only the I/O layer
// calls MonotonicClock::now().
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>

namespace dwcp::transport {

using Duration = std::chrono::nanoseconds;

struct MonotonicClock {
  using duration = Duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonotonicClock, duration>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

using Instant = MonotonicClock::time_point;

// Tests start simulated time here, far from zero, so code that treats 0 as "unset" or
// subtracts without care shows up (picoquic's trick).
inline constexpr Instant kSimulatedEpoch{Duration{0x0005a138fbde8743}};

// Bytes per second.
using Bandwidth = std::uint64_t;

// Bytes sent at `rate` over `interval`, rounded down.
constexpr std::uint64_t bytes_in(Bandwidth rate, Duration interval) noexcept {
  if (interval <= Duration::zero()) return 0;
  const auto ns = static_cast<unsigned __int128>(interval.count());
  return static_cast<std::uint64_t>(ns * rate / 1'000'000'000u);
}

// Time to send `bytes` at `rate`, rounded up; Duration::max() at rate 0.
constexpr Duration time_to_send(std::uint64_t bytes, Bandwidth rate) noexcept {
  if (rate == 0) return Duration::max();
  const auto ns = (static_cast<unsigned __int128>(bytes) * 1'000'000'000u + rate - 1) / rate;
  return Duration{static_cast<Duration::rep>(ns)};
}

// `bytes` delivered over `interval` as a rate; 0 for an empty interval.
constexpr Bandwidth rate_of(std::uint64_t bytes, Duration interval) noexcept {
  if (interval <= Duration::zero()) return 0;
  return static_cast<Bandwidth>(static_cast<unsigned __int128>(bytes) * 1'000'000'000u /
                                static_cast<std::uint64_t>(interval.count()));
}

}  // namespace dwcp::transport
