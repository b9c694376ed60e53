#include "tools/wanem/scheduler.h"

#include <doctest/doctest.h>

#include <vector>

using namespace dwcp::wanem;
using std::chrono::microseconds;

TEST_CASE("an empty scheduler has nothing due") {
  Scheduler s;
  CHECK(s.empty());
  CHECK_FALSE(s.next_due().has_value());
  CHECK_FALSE(s.pop_due(TimePoint::max()).has_value());
}

TEST_CASE("packets leave in time order, not before they are due") {
  Scheduler s;
  s.push(kSimulatedEpoch + microseconds(30), 3, 0);
  s.push(kSimulatedEpoch + microseconds(10), 1, 1);
  s.push(kSimulatedEpoch + microseconds(20), 2, 0);
  CHECK(s.next_due() == kSimulatedEpoch + microseconds(10));
  CHECK_FALSE(s.pop_due(kSimulatedEpoch + microseconds(9)).has_value());
  auto first = s.pop_due(kSimulatedEpoch + microseconds(10));
  REQUIRE(first.has_value());
  CHECK(first->handle == 1);
  CHECK(first->output == 1);
  CHECK_FALSE(s.pop_due(kSimulatedEpoch + microseconds(19)).has_value());
  CHECK(s.pop_due(kSimulatedEpoch + microseconds(100))->handle == 2);
  CHECK(s.pop_due(kSimulatedEpoch + microseconds(100))->handle == 3);
  CHECK(s.empty());
}

TEST_CASE("packets due at the same instant leave in the order they were scheduled") {
  Scheduler s;
  for (std::uint32_t i = 0; i < 1000; ++i) s.push(kSimulatedEpoch, i, 0);
  for (std::uint32_t i = 0; i < 1000; ++i) REQUIRE(s.pop_due(kSimulatedEpoch)->handle == i);
}

TEST_CASE("a large interleaved load comes out sorted") {
  Scheduler s;
  std::uint64_t x = 12345;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    s.push(kSimulatedEpoch + microseconds(x >> 50U), i, 0);
  }
  TimePoint previous = kSimulatedEpoch;
  std::size_t count = 0;
  while (auto p = s.pop_due(TimePoint::max())) {
    REQUIRE(p->due >= previous);
    previous = p->due;
    ++count;
  }
  CHECK(count == 20000);
}
