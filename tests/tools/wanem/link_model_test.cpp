#include "tools/wanem/link_model.h"

#include <doctest/doctest.h>

#include <cmath>

using namespace dwcp::wanem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

struct Tally {
  int forwarded = 0;
  int drop_random = 0;
  int drop_burst = 0;
  int drop_queue = 0;
  int reordered = 0;
  int duplicated = 0;
  int corrupted = 0;
};

// n packets of `bytes`, one every `gap`, from the simulated epoch.
Tally run(LinkModel& link, int n, std::size_t bytes, Duration gap) {
  Tally t;
  TimePoint now = kSimulatedEpoch;
  for (int i = 0; i < n; ++i, now += gap) {
    const Decision d = link.on_packet(now, bytes);
    switch (d.verdict) {
      case Verdict::forward:
        ++t.forwarded;
        break;
      case Verdict::drop_random:
        ++t.drop_random;
        break;
      case Verdict::drop_burst:
        ++t.drop_burst;
        break;
      case Verdict::drop_queue:
        ++t.drop_queue;
        break;
    }
    t.reordered += d.reordered ? 1 : 0;
    t.duplicated += d.duplicate ? 1 : 0;
    t.corrupted += d.corrupt ? 1 : 0;
  }
  return t;
}

// Within four standard deviations of a binomial(n, p) count.
bool near_binomial(int count, int n, double p) {
  const double mean = n * p;
  return std::abs(count - mean) <= 4.0 * std::sqrt(n * p * (1.0 - p)) + 1.0;
}

}  // namespace

TEST_CASE("with no impairment every packet is forwarded at once") {
  LinkModel link(LinkParams{}, 1);
  const Decision d = link.on_packet(kSimulatedEpoch, 1500);
  CHECK(d.verdict == Verdict::forward);
  CHECK(d.deliver_at == kSimulatedEpoch);
  CHECK_FALSE(d.reordered);
  CHECK_FALSE(d.duplicate);
  CHECK_FALSE(d.corrupt);
}

TEST_CASE("delay adds to the serialisation time") {
  LinkParams p;
  p.delay = milliseconds(20);
  p.rate_bps = 12'000'000;  // 1500 bytes per ms
  LinkModel link(p, 1);
  CHECK(link.on_packet(kSimulatedEpoch, 1500).deliver_at == kSimulatedEpoch + milliseconds(21));
  CHECK(link.on_packet(kSimulatedEpoch, 1500).deliver_at == kSimulatedEpoch + milliseconds(22));
}

TEST_CASE("random loss, duplication and corruption happen at their configured rates") {
  LinkParams p;
  p.loss = 0.01;
  p.duplicate = 0.02;
  p.corrupt = 0.005;
  LinkModel link(p, 11);
  const int n = 200'000;
  const Tally t = run(link, n, 1000, microseconds(10));
  CHECK(near_binomial(t.drop_random, n, 0.01));
  CHECK(near_binomial(t.duplicated, t.forwarded, 0.02));
  CHECK(near_binomial(t.corrupted, t.forwarded, 0.005));
}

TEST_CASE("corruption flips one byte past the headers, never nothing") {
  LinkParams p;
  p.corrupt = 1.0;
  LinkModel link(p, 5);
  for (int i = 0; i < 1000; ++i) {
    const Decision d = link.on_packet(kSimulatedEpoch, 100);
    REQUIRE(d.corrupt);
    REQUIRE(d.corrupt_offset >= kCorruptFrom);
    REQUIRE(d.corrupt_offset < 100);
    REQUIRE(d.corrupt_mask != 0);
  }
  // A frame with nothing past the headers is left alone.
  CHECK_FALSE(link.on_packet(kSimulatedEpoch, kCorruptFrom).corrupt);
}

TEST_CASE("jitter varies the delay but never reorders") {
  LinkParams p;
  p.delay = milliseconds(10);
  p.jitter = milliseconds(5);
  LinkModel link(p, 3);
  TimePoint now = kSimulatedEpoch;
  TimePoint previous{};
  Duration smallest = Duration::max();
  Duration largest = Duration::zero();
  // Packets further apart than the jitter's span keep their full spread; closer ones are
  // held behind their predecessor (checked below).
  for (int i = 0; i < 2000; ++i, now += milliseconds(20)) {
    const Decision d = link.on_packet(now, 1500);
    REQUIRE(d.deliver_at >= previous);
    REQUIRE(d.deliver_at >= now + milliseconds(5));
    REQUIRE(d.deliver_at <= now + milliseconds(15));
    smallest = std::min(smallest, d.deliver_at - now);
    largest = std::max(largest, d.deliver_at - now);
    previous = d.deliver_at;
  }
  CHECK(largest - smallest > milliseconds(9));
  for (int i = 0; i < 10000; ++i, now += microseconds(100)) {
    const Decision d = link.on_packet(now, 1500);
    REQUIRE(d.deliver_at >= previous);
    REQUIRE(d.deliver_at <= now + milliseconds(15));
    previous = d.deliver_at;
  }
}

TEST_CASE("a reordered packet is held back so later ones overtake it") {
  LinkParams p;
  p.delay = milliseconds(1);
  p.reorder = 0.05;
  p.reorder_delay = milliseconds(2);
  LinkModel link(p, 9);
  const int n = 100'000;
  TimePoint now = kSimulatedEpoch;
  int reordered = 0;
  for (int i = 0; i < n; ++i, now += microseconds(50)) {
    const Decision d = link.on_packet(now, 500);
    if (d.reordered) {
      ++reordered;
      REQUIRE(d.deliver_at == now + milliseconds(3));
    } else {
      REQUIRE(d.deliver_at == now + milliseconds(1));
    }
  }
  CHECK(near_binomial(reordered, n, 0.05));
}

TEST_CASE("burst loss is counted apart from random loss") {
  LinkParams p;
  p.burst = GilbertElliottParams::for_mean_loss(0.03, 3.0);
  LinkModel link(p, 21);
  const int n = 300'000;
  const Tally t = run(link, n, 1000, microseconds(10));
  CHECK(t.drop_random == 0);
  CHECK(static_cast<double>(t.drop_burst) / n == doctest::Approx(0.03).epsilon(0.1));
}

TEST_CASE("a sender above the rate fills the queue, then loses the excess") {
  LinkParams p;
  p.rate_bps = 8'000'000;  // 1000 bytes per ms
  p.queue_bytes = 10'000;
  LinkModel link(p, 1);
  // 2000 bytes per ms offered for one second: half is dropped once the queue is full.
  const Tally t = run(link, 2000, 1000, microseconds(500));
  CHECK(t.forwarded == doctest::Approx(1000 + 10).epsilon(0.01));
  CHECK(t.drop_queue == 2000 - t.forwarded);
  CHECK(link.backlog_bytes(kSimulatedEpoch + microseconds(500 * 2000)) <= 10'000);
}

TEST_CASE("the queue defaults to one bandwidth-delay product, at least 64 KiB") {
  LinkParams p;
  p.rate_bps = 1'000'000'000;
  p.delay = milliseconds(20);
  CHECK(p.effective_queue_bytes() == 5'000'000);
  p.queue_bdp = 0.5;
  CHECK(p.effective_queue_bytes() == 2'500'000);
  p.delay = Duration::zero();
  CHECK(p.effective_queue_bytes() == 64 * 1024);
  p.queue_bytes = 12345;
  CHECK(p.effective_queue_bytes() == 12345);
}

TEST_CASE("the same seed repeats a run decision for decision") {
  LinkParams p;
  p.loss = 0.05;
  p.reorder = 0.05;
  p.duplicate = 0.05;
  p.jitter = milliseconds(1);
  LinkModel a(p, 77);
  LinkModel b(p, 77);
  TimePoint now = kSimulatedEpoch;
  for (int i = 0; i < 10000; ++i, now += microseconds(7)) {
    const Decision x = a.on_packet(now, 1200);
    const Decision y = b.on_packet(now, 1200);
    REQUIRE(x.verdict == y.verdict);
    REQUIRE(x.deliver_at == y.deliver_at);
    REQUIRE(x.duplicate == y.duplicate);
  }
}
