#include "transport/idle_strategy.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>

#include "transport/clock.h"

using namespace dwcp::transport;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<IdleStrategy> make(IdleMode mode) {
  auto strategy = IdleStrategy::create(mode, -1);
  REQUIRE(strategy.has_value());
  return std::move(*strategy);
}

}  // namespace

// The times passed in are made up; only a block waits for real, for the 1 ms between the
// `now` and the deadline given to it.
TEST_CASE("backoff spins, then yields, then blocks until the deadline; work starts it over") {
  auto idle = make(IdleMode::backoff);
  const Instant t0 = MonotonicClock::now();
  idle->begin_pass();
  CHECK_FALSE(idle->would_block(false, t0));
  idle->idle(false, t0 + 1ms, t0);
  CHECK(idle->counters().spins == 1);
  idle->idle(false, t0 + 1ms, t0 + 30us);
  CHECK(idle->counters().yields == 1);
  CHECK(idle->would_block(false, t0 + 100us));
  idle->idle(false, t0 + 1100us, t0 + 100us);
  CHECK(idle->counters().blocks == 1);
  CHECK(idle->counters().early_blocks == 0);
  idle->idle(true, t0 + 1ms, t0 + 2ms);  // work: the next idle pass spins again
  CHECK_FALSE(idle->would_block(false, t0 + 2ms));
  idle->idle(false, t0 + 3ms, t0 + 2ms);
  CHECK(idle->counters().spins == 2);
  CHECK(idle->counters().blocks == 1);
}

TEST_CASE("backoff blocks at once when its deadline is a paced send further off than it spins") {
  auto idle = make(IdleMode::backoff);
  const Instant t0 = MonotonicClock::now();
  idle->begin_pass();
  // A paced send 1 ms away: no spinning, no yielding.
  CHECK(idle->would_block(false, t0, t0 + 1ms, true));
  idle->idle(false, t0 + 1ms, t0, true);
  CHECK(idle->counters().blocks == 1);
  CHECK(idle->counters().early_blocks == 1);
  CHECK(idle->counters().spins == 0);
  idle->idle(true, std::nullopt, t0 + 1ms);
  // A paced send 10 µs away is spun for; so is any other timer 1 ms away.
  CHECK_FALSE(idle->would_block(false, t0 + 1ms, t0 + 1010us, true));
  idle->idle(false, t0 + 1010us, t0 + 1ms, true);
  CHECK(idle->counters().spins == 1);
  idle->idle(true, std::nullopt, t0 + 2ms);
  CHECK_FALSE(idle->would_block(false, t0 + 2ms, t0 + 3ms, false));
  idle->idle(false, t0 + 3ms, t0 + 2ms, false);
  CHECK(idle->counters().spins == 2);
  CHECK(idle->counters().blocks == 1);
}

TEST_CASE("block mode blocks at once and spin mode never, paced or not") {
  auto block = make(IdleMode::block);
  auto spin = make(IdleMode::spin);
  const Instant t0 = MonotonicClock::now();
  block->begin_pass();
  spin->begin_pass();
  CHECK(block->would_block(false, t0));
  block->idle(false, t0 + 1ms, t0);
  CHECK(block->counters().blocks == 1);
  CHECK_FALSE(spin->would_block(false, t0, t0 + 1ms, true));
  spin->idle(false, t0 + 1ms, t0, true);
  CHECK(spin->counters().spins == 1);
  CHECK(spin->counters().blocks == 0);
}
