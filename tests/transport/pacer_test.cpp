#include "transport/pacer.h"

#include <doctest/doctest.h>

using namespace dwcp::transport;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("the quantum is the rate over 1 ms, between two datagrams and 64 KiB") {
  Pacer pacer(1472, kSimulatedEpoch);
  pacer.set_rate(1'000'000'000 / 8, kSimulatedEpoch);  // 1 Gbit/s: 125 kB per ms
  CHECK(pacer.quantum() == Pacer::kMaxQuantum);
  pacer.set_rate(10'000'000 / 8, kSimulatedEpoch);  // 10 Mbit/s: 1250 B per ms
  CHECK(pacer.quantum() == 2 * 1472);
  pacer.set_rate(20'000'000, kSimulatedEpoch);  // 20 MB/s: 20 kB per ms
  CHECK(pacer.quantum() == 20'000);
}

TEST_CASE("over a long run the pacer releases the rate, in quanta") {
  const Bandwidth rate = 50'000'000;  // 50 MB/s
  Instant now = kSimulatedEpoch;
  Pacer pacer(1472, now);
  pacer.set_rate(rate, now);
  std::uint64_t sent = pacer.budget(now);  // the first quantum leaves at once
  pacer.on_sent(now, sent);
  const Instant start = now;
  std::uint64_t largest_batch = 0;
  for (int step = 0; step < 100000; ++step) {
    now = pacer.next_send_time(now, 1472);
    const std::uint64_t budget = pacer.budget(now);
    REQUIRE(budget >= 1472);
    const std::uint64_t batch = budget - budget % 1472;
    largest_batch = std::max(largest_batch, batch);
    pacer.on_sent(now, batch);
    sent += batch;
  }
  const double seconds = std::chrono::duration<double>(now - start).count();
  const double achieved = static_cast<double>(sent - pacer.quantum()) / seconds;
  CHECK(achieved == doctest::Approx(static_cast<double>(rate)).epsilon(0.01));
  CHECK(largest_batch <= pacer.quantum());
}

TEST_CASE("below 128 KiB per ms the bucket holds two quanta; above, 1 ms of the rate") {
  Pacer pacer(1472, kSimulatedEpoch);
  pacer.set_rate(10'000'000, kSimulatedEpoch);  // 10 kB per ms
  CHECK(pacer.depth() == 2 * pacer.quantum());
  pacer.set_rate(2'500'000'000, kSimulatedEpoch);  // 20 Gbit/s: 2.5 MB per ms
  CHECK(pacer.quantum() == Pacer::kMaxQuantum);
  CHECK(pacer.depth() == 2'500'000);
}

TEST_CASE("a fast flow whose thread comes back late catches up, within 1 ms of its rate") {
  const Bandwidth rate = 2'500'000'000;  // 20 Gbit/s
  Instant now = kSimulatedEpoch;
  Pacer pacer(1472, now);
  pacer.set_rate(rate, now);
  pacer.on_sent(now, pacer.budget(now));
  // A 100 µs pass: 250 kB are due, four quanta, and all may leave now, in separate batches.
  now += microseconds(100);
  CHECK(pacer.budget(now) == 250'000);
  std::uint64_t sent = 0;
  while (pacer.next_send_time(now, Pacer::kMaxQuantum) == now && sent < 1'000'000) {
    const std::uint64_t batch = std::min(pacer.budget(now), pacer.quantum());
    pacer.on_sent(now, batch);
    sent += batch;
  }
  CHECK(sent >= 250'000 - Pacer::kMaxQuantum);
  CHECK(sent <= 250'000);
  // After a long stall the catch-up stops at 1 ms of the rate: a burst, not the backlog.
  now += milliseconds(50);
  CHECK(pacer.budget(now) == pacer.depth());
}

TEST_CASE("a slow flow whose thread wakes late each time still leaves at its rate") {
  // 100 Mbit/s: one quantum per millisecond. A timer that fires 100 µs late (timer slack, a
  // busy host) must not cost the flow those 100 µs every quantum, a tenth of its rate.
  const Bandwidth rate = 12'500'000;
  Instant now = kSimulatedEpoch;
  Pacer pacer(1472, now);
  pacer.set_rate(rate, now);
  pacer.on_sent(now, pacer.budget(now));
  const Instant start = now;
  std::uint64_t sent = 0;
  for (int wake = 0; wake < 1000; ++wake) {
    now = pacer.next_send_time(now, pacer.quantum()) + microseconds(100);
    while (pacer.next_send_time(now, 1472) == now) {
      pacer.on_sent(now, 1472);
      sent += 1472;
    }
  }
  const double seconds = std::chrono::duration<double>(now - start).count();
  CHECK(static_cast<double>(sent) / seconds >= 0.99 * static_cast<double>(rate));
}

TEST_CASE("an idle pacer saves up two quanta and no more") {
  Instant now = kSimulatedEpoch;
  Pacer pacer(1472, now);
  pacer.set_rate(10'000'000, now);  // quantum 10 kB
  pacer.on_sent(now, pacer.budget(now));
  CHECK(pacer.budget(now) == 0);
  CHECK(pacer.next_send_time(now, 1000) == now + microseconds(100));
  now += milliseconds(500);
  CHECK(pacer.budget(now) == 2 * pacer.quantum());
  CHECK(pacer.next_send_time(now, 1 << 20) == now);  // a request above a quantum is capped
}

TEST_CASE("rate zero turns pacing off") {
  Pacer pacer(1472, kSimulatedEpoch);
  pacer.set_rate(0, kSimulatedEpoch);
  pacer.on_sent(kSimulatedEpoch, 1 << 20);
  CHECK(pacer.next_send_time(kSimulatedEpoch, 1472) == kSimulatedEpoch);
  CHECK(pacer.budget(kSimulatedEpoch + Duration{1}) == Pacer::kMaxQuantum);
}

TEST_CASE("held_until says when an empty bucket lets a datagram go, and nothing when it may") {
  Instant now = kSimulatedEpoch;
  Pacer pacer(1000, now);
  pacer.set_rate(1'000'000, now);                   // 1 MB/s: 1000 bytes per ms
  CHECK_FALSE(pacer.held_until(1000).has_value());  // starts full
  pacer.on_sent(now, pacer.budget(now));
  const auto until = pacer.held_until(1000);
  REQUIRE(until.has_value());
  CHECK(*until == now + std::chrono::milliseconds(1));
  CHECK(pacer.next_send_time(now, 1000) == *until);
  pacer.set_rate(0, now);
  CHECK_FALSE(pacer.held_until(1000).has_value());  // no pacing: never held
}
