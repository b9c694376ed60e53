// Time as the emulator sees it: nanoseconds on CLOCK_MONOTONIC. The pure parts (link
// model, rate limiter, scheduler) take `now` as an argument and never read a clock, so
// tests drive them in simulated time.
#pragma once

#include <chrono>

namespace dwcp::wanem {

using Duration = std::chrono::nanoseconds;
// steady_clock is CLOCK_MONOTONIC on Linux, the clock timerfd is armed against.
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Tests start here, far from zero, to catch arithmetic that assumes a small epoch.
inline constexpr TimePoint kSimulatedEpoch{Duration{0x0005a138fbde8743}};

// The monotonic clock now.
TimePoint monotonic_now();

}  // namespace dwcp::wanem
