#include "tools/wanem/clock.h"

#include <ctime>

namespace dwcp::wanem {

TimePoint monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimePoint{Duration{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec}};
}

}  // namespace dwcp::wanem
