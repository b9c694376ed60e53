#include "tools/wanem/rate_limiter.h"

#include <doctest/doctest.h>

using namespace dwcp::wanem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("unlimited: every packet departs at once and none is dropped") {
  RateLimiter limiter(0, 0);
  for (int i = 0; i < 100; ++i) CHECK(limiter.admit(kSimulatedEpoch, 1500) == kSimulatedEpoch);
  CHECK(limiter.backlog_bytes(kSimulatedEpoch) == 0);
}

TEST_CASE("a packet takes its serialisation time: 1500 bytes at 1 Gbit/s is 12 us") {
  RateLimiter limiter(1'000'000'000, 1'000'000);
  CHECK(limiter.admit(kSimulatedEpoch, 1500) == kSimulatedEpoch + microseconds(12));
  // The second queues behind the first.
  CHECK(limiter.admit(kSimulatedEpoch, 1500) == kSimulatedEpoch + microseconds(24));
  CHECK(limiter.backlog_bytes(kSimulatedEpoch) == 3000);
  CHECK(limiter.backlog_bytes(kSimulatedEpoch + microseconds(12)) == 1500);
  CHECK(limiter.backlog_bytes(kSimulatedEpoch + microseconds(30)) == 0);
}

TEST_CASE("the drop-tail queue drops a packet that would overflow it") {
  RateLimiter limiter(8'000'000, 4500);  // 1 byte per us
  CHECK(limiter.admit(kSimulatedEpoch, 1500).has_value());
  CHECK(limiter.admit(kSimulatedEpoch, 1500).has_value());
  CHECK(limiter.admit(kSimulatedEpoch, 1500).has_value());
  CHECK_FALSE(limiter.admit(kSimulatedEpoch, 1500).has_value());
  // Once one packet has left there is room again.
  CHECK(limiter.admit(kSimulatedEpoch + microseconds(1500), 1500) ==
        kSimulatedEpoch + microseconds(6000));
}

TEST_CASE("over a long run the rate holds exactly, without rounding drift") {
  const std::uint64_t rate = 333'333'333;  // does not divide a second evenly
  RateLimiter limiter(rate, 1ULL << 40);
  TimePoint last{};
  const int packets = 1'000'000;
  for (int i = 0; i < packets; ++i) last = *limiter.admit(kSimulatedEpoch, 1514);
  const double seconds = std::chrono::duration<double>(last - kSimulatedEpoch).count();
  const double bits = 1514.0 * 8 * packets;
  CHECK(bits / seconds == doctest::Approx(static_cast<double>(rate)).epsilon(1e-6));
}

TEST_CASE("an idle link earns no credit") {
  RateLimiter limiter(8'000'000, 100'000);
  (void)limiter.admit(kSimulatedEpoch, 1000);
  const TimePoint later = kSimulatedEpoch + milliseconds(10);
  CHECK(limiter.admit(later, 1000) == later + microseconds(1000));
}

TEST_CASE("arrivals at exactly the link rate never queue") {
  RateLimiter limiter(12'000'000, 3000);  // 1500 bytes per ms
  TimePoint now = kSimulatedEpoch;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(limiter.admit(now, 1500) == now + milliseconds(1));
    now += milliseconds(1);
  }
  CHECK(limiter.backlog_bytes(now) == 0);
}
