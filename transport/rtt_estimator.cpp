#include "transport/rtt_estimator.h"

#include <algorithm>

namespace dwcp::transport {

RttEstimator::RttEstimator(Duration initial_rtt) noexcept
    : smoothed_(initial_rtt), variation_(initial_rtt / 2) {}

void RttEstimator::on_sample(Duration latest, Duration ack_delay) noexcept {
  latest = std::max(latest, Duration{1});
  latest_ = latest;
  if (!has_sample_) {
    has_sample_ = true;
    min_ = latest;
    smoothed_ = latest;
    variation_ = latest / 2;
    return;
  }
  min_ = std::min(min_, latest);
  // Take the peer's delay off only while the result stays at or above the minimum: a
  // delay larger than the sample says the peer's report is off, not that the path is fast.
  Duration adjusted = latest;
  if (latest >= min_ + ack_delay) adjusted = latest - ack_delay;
  const Duration deviation = smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
  variation_ = (3 * variation_ + deviation) / 4;
  smoothed_ = (7 * smoothed_ + adjusted) / 8;
}

Duration RttEstimator::pto_base() const noexcept {
  return smoothed_ + std::max(4 * variation_, kGranularity);
}

}  // namespace dwcp::transport
