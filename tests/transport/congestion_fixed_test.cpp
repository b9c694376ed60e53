#include "transport/congestion_fixed.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace dwcp::transport;
using std::chrono::milliseconds;

TEST_CASE("the fixed controller paces at its rate whatever is lost") {
  CongestionConfig config;
  config.fixed_rate = 12'500'000;  // 100 Mbit/s
  auto controller = make_congestion_controller(CongestionAlgorithm::fixed, config);
  CHECK(controller->algorithm() == CongestionAlgorithm::fixed);
  CHECK(controller->pacing_rate() == 12'500'000);
  const std::uint64_t initial = controller->congestion_window();
  CHECK(initial == config.initial_window_packets * config.max_datagram_size);

  RttEstimator rtt;
  rtt.on_sample(milliseconds(100), milliseconds(0));
  AckEvent ack;
  ack.now = kSimulatedEpoch;
  ack.rtt = &rtt;
  controller->on_ack(ack);
  CHECK(controller->congestion_window() == 4 * 1'250'000);  // the rate over 4 × 100 ms

  LossEvent loss;
  loss.lost_bytes = 1 << 20;
  loss.persistent_congestion = true;
  controller->on_loss(loss);
  CHECK(controller->pacing_rate() == 12'500'000);
  CHECK(controller->congestion_window() == 4 * 1'250'000);
}

TEST_CASE("controllers are named, parsed and checked") {
  CHECK(parse_congestion_algorithm("bbr") == CongestionAlgorithm::bbr);
  CHECK(parse_congestion_algorithm("cubic") == CongestionAlgorithm::cubic);
  CHECK(parse_congestion_algorithm("fixed") == CongestionAlgorithm::fixed);
  CHECK_FALSE(parse_congestion_algorithm("reno"));
  CHECK(to_string(CongestionAlgorithm::bbr) == "bbr");
  CongestionConfig no_rate;
  CHECK_THROWS_AS(make_congestion_controller(CongestionAlgorithm::fixed, no_rate),
                  std::invalid_argument);
  CongestionConfig no_size;
  no_size.max_datagram_size = 0;
  no_size.fixed_rate = 1;
  CHECK_THROWS_AS(make_congestion_controller(CongestionAlgorithm::fixed, no_size),
                  std::invalid_argument);
}
