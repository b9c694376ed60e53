#include "transport/congestion_cubic.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "tests/transport/link_simulator.h"

using namespace dwcp::transport;
using dwcp::transport::test::bdp_bytes;
using dwcp::transport::test::LinkConfig;
using dwcp::transport::test::LinkSimulator;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr std::uint64_t kMss = 1472;

// Drives a controller by hand: every ACK covers one datagram sent one RTT earlier, and the
// sender always fills the window.
struct Driver {
  CubicController cubic{CongestionConfig{}};
  RttEstimator rtt;
  Instant now = kSimulatedEpoch;
  Duration round_trip;

  explicit Driver(Duration round_trip_time = milliseconds(100)) : round_trip(round_trip_time) {
    rtt.on_sample(round_trip, Duration::zero());
  }

  void ack_datagrams(std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) {
      cubic.on_packet_sent(now, kMss, cubic.congestion_window());
      AckEvent ack;
      ack.now = now;
      ack.acked_bytes = kMss;
      ack.bytes_in_flight = cubic.congestion_window() - kMss;
      ack.largest_acked_sent_time = now - round_trip;
      ack.rtt = &rtt;
      cubic.on_ack(ack);
    }
  }

  void lose_packet_sent_at(Instant sent) {
    LossEvent loss;
    loss.now = now;
    loss.lost_bytes = kMss;
    loss.largest_lost_sent_time = sent;
    cubic.on_loss(loss);
  }

  // Advances time by `duration` in 1 ms steps, acknowledging a window per round trip.
  void run_congestion_avoidance(Duration duration) {
    const Instant end = now + duration;
    double owed = 0;
    while (now < end) {
      now += milliseconds(1);
      owed += static_cast<double>(cubic.congestion_window()) / static_cast<double>(kMss) *
              (static_cast<double>(milliseconds(1).count()) /
               static_cast<double>(std::chrono::duration_cast<milliseconds>(round_trip).count()));
      const auto whole = static_cast<std::uint64_t>(owed);
      ack_datagrams(whole);
      owed -= static_cast<double>(whole);
    }
  }

  [[nodiscard]] double window_datagrams() const {
    return static_cast<double>(cubic.congestion_window()) / static_cast<double>(kMss);
  }
};

}  // namespace

TEST_CASE("slow start doubles the window each round trip") {
  Driver d;
  const std::uint64_t initial = d.cubic.congestion_window();
  CHECK(initial == 32 * kMss);
  CHECK(d.cubic.in_slow_start());
  // Before any sample the pacing rate uses 100 ms: 2 x window / 100 ms.
  CHECK(CubicController(CongestionConfig{}).pacing_rate() == 2 * initial * 10);
  d.ack_datagrams(32);  // one round trip: the whole initial window
  CHECK(d.cubic.congestion_window() == 2 * initial);
  d.ack_datagrams(64);
  CHECK(d.cubic.congestion_window() == 4 * initial);
  CHECK(d.cubic.pacing_rate() == 2 * 4 * initial * 10);  // 2x window per 100 ms
}

TEST_CASE("a window the sender does not use does not grow") {
  Driver d;
  AckEvent ack;
  ack.now = d.now;
  ack.acked_bytes = kMss;
  ack.bytes_in_flight = 0;
  ack.largest_acked_sent_time = d.now;
  ack.rtt = &d.rtt;
  d.cubic.on_packet_sent(d.now, kMss, kMss);
  d.cubic.on_ack(ack);
  CHECK(d.cubic.congestion_window() == 32 * kMss);
}

TEST_CASE("a loss cuts the window to 0.7 and ends slow start") {
  Driver d;
  d.ack_datagrams(168);  // 200 datagrams
  REQUIRE(d.cubic.congestion_window() == 200 * kMss);
  d.now += milliseconds(5);
  d.lose_packet_sent_at(d.now - milliseconds(50));
  CHECK(d.cubic.congestion_window() == doctest::Approx(140.0 * kMss).epsilon(0.001));
  CHECK(d.cubic.slow_start_threshold() == d.cubic.congestion_window());
  CHECK_FALSE(d.cubic.in_slow_start());
  CHECK(d.cubic.w_max() == 200 * kMss);
  CHECK(d.cubic.k_seconds() == doctest::Approx(std::cbrt(60.0 / 0.4)));
  // 1.2 x window over the smoothed RTT.
  CHECK(static_cast<double>(d.cubic.pacing_rate()) ==
        doctest::Approx(1.2 * 140 * kMss * 10).epsilon(0.001));
}

TEST_CASE("losses from one burst reduce the window once") {
  Driver d;
  d.ack_datagrams(168);
  d.now += milliseconds(5);
  const Instant first_loss = d.now;
  d.lose_packet_sent_at(d.now - milliseconds(80));
  const std::uint64_t reduced = d.cubic.congestion_window();
  // More packets sent before the reduction turn out lost: same congestion event.
  for (int i = 0; i < 20; ++i) {
    d.now += milliseconds(1);
    d.lose_packet_sent_at(first_loss - milliseconds(i));
  }
  CHECK(d.cubic.congestion_window() == reduced);
  // A packet sent after the reduction was lost: a new event, reduced again.
  d.now += milliseconds(100);
  d.lose_packet_sent_at(first_loss + milliseconds(10));
  CHECK(static_cast<double>(d.cubic.congestion_window()) ==
        doctest::Approx(0.7 * static_cast<double>(reduced)).epsilon(0.001));
  // Fast convergence: the second peak was below the first, so w_max is lowered further.
  CHECK(static_cast<double>(d.cubic.w_max()) ==
        doctest::Approx(static_cast<double>(reduced) * 0.85).epsilon(0.001));
}

TEST_CASE("the window follows the cubic curve back to w_max at time K") {
  Driver d;
  d.ack_datagrams(168);  // 200 datagrams
  d.now += milliseconds(1);
  d.lose_packet_sent_at(d.now - milliseconds(1));
  const double k = d.cubic.k_seconds();
  REQUIRE(k == doctest::Approx(5.313).epsilon(0.001));
  const auto k_duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(k));

  d.run_congestion_avoidance(k_duration / 2);
  const double at_half_k = d.window_datagrams();
  d.run_congestion_avoidance(k_duration - k_duration / 2);
  const double at_k = d.window_datagrams();
  d.run_congestion_avoidance(k_duration);
  const double at_two_k = d.window_datagrams();
  MESSAGE("window at K/2, K, 2K: " << at_half_k << ", " << at_k << ", " << at_two_k);
  // Concave: most of the way back by K/2 (the curve says 192.5; Reno would be ~154).
  CHECK(at_half_k > 185);
  CHECK(at_half_k < 200);
  // Plateau at w_max around K.
  CHECK(at_k == doctest::Approx(200).epsilon(0.10));
  // Convex beyond: probing well past w_max by 2K (the curve says 260).
  CHECK(at_two_k > 240);
}

TEST_CASE("the Reno-friendly estimate wins on short round trips") {
  // At 10 ms the curve is slow next to Reno: after a cut from 100 to 70 datagrams the
  // estimate climbs at 0.53 per round trip back to w_max, then at 1 (RFC 9438 §4.3).
  Driver d(milliseconds(10));
  d.ack_datagrams(68);  // 100 datagrams
  d.now += milliseconds(1);
  d.lose_packet_sent_at(d.now - milliseconds(1));
  REQUIRE(d.window_datagrams() == doctest::Approx(70).epsilon(0.001));
  d.run_congestion_avoidance(seconds(2));  // 200 round trips
  const double alpha = 3 * 0.3 / 1.7;
  const double rounds_to_w_max = 30 / alpha;
  const double reno_estimate = 100 + (200 - rounds_to_w_max);
  const double k = std::cbrt(30 / 0.4);
  const double cubic_alone = 0.4 * std::pow(2.0 - k, 3) + 100;
  MESSAGE("window " << d.window_datagrams() << ", Reno estimate " << reno_estimate
                    << ", cubic curve " << cubic_alone);
  CHECK(d.window_datagrams() == doctest::Approx(reno_estimate).epsilon(0.05));
  CHECK(d.window_datagrams() > cubic_alone + 100);
}

TEST_CASE("a spurious loss undoes the reduction") {
  Driver d;
  d.ack_datagrams(168);
  const std::uint64_t before = d.cubic.congestion_window();
  d.now += milliseconds(1);
  d.lose_packet_sent_at(d.now - milliseconds(1));
  REQUIRE(d.cubic.congestion_window() < before);
  d.cubic.on_spurious_loss(d.now);
  CHECK(d.cubic.congestion_window() == before);
  CHECK(d.cubic.slow_start_threshold() == std::numeric_limits<std::uint64_t>::max());
  CHECK(d.cubic.in_slow_start());

  // And in congestion avoidance: window, threshold and w_max come back.
  d.now += milliseconds(200);
  d.lose_packet_sent_at(d.now - milliseconds(1));
  d.run_congestion_avoidance(seconds(1));
  const std::uint64_t window = d.cubic.congestion_window();
  const std::uint64_t threshold = d.cubic.slow_start_threshold();
  const std::uint64_t w_max = d.cubic.w_max();
  d.lose_packet_sent_at(d.now - milliseconds(1));
  REQUIRE(d.cubic.congestion_window() < window);
  d.cubic.on_spurious_loss(d.now);
  CHECK(d.cubic.congestion_window() == window);
  CHECK(d.cubic.slow_start_threshold() == threshold);
  CHECK(d.cubic.w_max() == w_max);
}

TEST_CASE("persistent congestion collapses the window to the minimum") {
  Driver d;
  d.ack_datagrams(168);
  LossEvent loss;
  loss.now = d.now;
  loss.lost_bytes = 50 * kMss;
  loss.largest_lost_sent_time = d.now;
  loss.persistent_congestion = true;
  d.cubic.on_loss(loss);
  CHECK(d.cubic.congestion_window() == 4 * kMss);
}

TEST_CASE("the factory builds a cubic controller") {
  auto controller = make_congestion_controller(CongestionAlgorithm::cubic, CongestionConfig{});
  CHECK(controller->algorithm() == CongestionAlgorithm::cubic);
  CongestionConfig no_size;
  no_size.max_datagram_size = 0;
  CHECK_THROWS_AS(make_congestion_controller(CongestionAlgorithm::cubic, no_size),
                  std::invalid_argument);
}

TEST_CASE("on a 100 Mbit/s, 40 ms path with a one-BDP buffer cubic uses >= 80%") {
  LinkConfig link;
  link.queue_bytes = bdp_bytes(link.rate, link.one_way_delay);
  CubicController cubic{CongestionConfig{}};
  LinkSimulator sim(cubic, link);
  sim.run_for(seconds(3));
  CHECK(sim.lost_packets() > 0);
  CHECK_FALSE(cubic.in_slow_start());
  const double utilisation = sim.run_and_measure_utilisation(seconds(10));
  MESSAGE("cubic utilisation, no random loss: " << utilisation);
  CHECK(utilisation >= 0.80);
  CHECK(utilisation <= 1.0);
}
