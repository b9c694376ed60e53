#include "transport/rtt_estimator.h"

#include <doctest/doctest.h>

using namespace dwcp::transport;
using std::chrono::milliseconds;

TEST_CASE("the first sample sets every estimate; later ones smooth by 1/8 and 1/4") {
  RttEstimator rtt(milliseconds(100));
  CHECK_FALSE(rtt.has_sample());
  CHECK(rtt.smoothed() == milliseconds(100));
  CHECK(rtt.pto_base() == milliseconds(100) + 4 * milliseconds(50));

  rtt.on_sample(milliseconds(40), milliseconds(0));
  CHECK(rtt.has_sample());
  CHECK(rtt.min() == milliseconds(40));
  CHECK(rtt.smoothed() == milliseconds(40));
  CHECK(rtt.variation() == milliseconds(20));

  rtt.on_sample(milliseconds(48), milliseconds(0));
  CHECK(rtt.smoothed() == milliseconds(41));   // (7 * 40 + 48) / 8
  CHECK(rtt.variation() == milliseconds(17));  // (3 * 20 + 8) / 4
  CHECK(rtt.latest() == milliseconds(48));
  CHECK(rtt.pto_base() == milliseconds(41 + 4 * 17));
}

TEST_CASE("the peer's ACK delay comes off only while the sample stays above the minimum") {
  RttEstimator rtt;
  rtt.on_sample(milliseconds(40), milliseconds(0));
  rtt.on_sample(milliseconds(60), milliseconds(20));  // adjusted to 40
  CHECK(rtt.smoothed() == milliseconds(40));
  rtt.on_sample(milliseconds(50), milliseconds(30));         // 50 - 30 < min 40: not adjusted
  CHECK(rtt.smoothed() == Duration{milliseconds(330)} / 8);  // (7 * 40 + 50) / 8
  CHECK(rtt.min() == milliseconds(40));
  rtt.on_sample(milliseconds(30), milliseconds(0));
  CHECK(rtt.min() == milliseconds(30));
}

TEST_CASE("the probe timeout never drops below the granularity over the mean") {
  RttEstimator rtt;
  for (int i = 0; i < 100; ++i) rtt.on_sample(milliseconds(10), milliseconds(0));
  CHECK(rtt.variation() < RttEstimator::kGranularity);
  CHECK(rtt.pto_base() == milliseconds(10) + RttEstimator::kGranularity);
  rtt.on_sample(Duration{0}, Duration{0});  // a zero sample counts as the smallest duration
  CHECK(rtt.min() == Duration{1});
}
