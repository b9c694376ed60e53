// Round-trip time estimate after RFC 9002 §5: the minimum, an exponentially smoothed mean
// and mean deviation, with the peer's ACK delay taken off samples where that is safe.
#pragma once

#include "transport/clock.h"

namespace dwcp::transport {

class RttEstimator {
 public:
  // `initial_rtt` stands in until the first sample (RFC 9002: 333 ms; dwcp defaults to
  // 100 ms, see Config).
  explicit RttEstimator(Duration initial_rtt = std::chrono::milliseconds(100)) noexcept;

  // A sample from an ACK that newly acknowledged the largest packet number: `latest` is now
  // minus that packet's send time, `ack_delay` what the peer reported (already scaled and
  // capped at max_ack_delay once the handshake is confirmed).
  void on_sample(Duration latest, Duration ack_delay) noexcept;

  [[nodiscard]] bool has_sample() const noexcept { return has_sample_; }
  [[nodiscard]] Duration latest() const noexcept { return latest_; }
  [[nodiscard]] Duration smoothed() const noexcept { return smoothed_; }
  [[nodiscard]] Duration variation() const noexcept { return variation_; }
  [[nodiscard]] Duration min() const noexcept { return min_; }

  // Probe timeout without the peer's max_ack_delay (RFC 9002 §6.2.1):
  // smoothed + max(4 * variation, granularity).
  [[nodiscard]] Duration pto_base() const noexcept;

  // Timer granularity: no timer is set for less than this.
  static constexpr Duration kGranularity = std::chrono::milliseconds(1);

 private:
  Duration latest_{};
  Duration smoothed_;
  Duration variation_;
  Duration min_{};
  bool has_sample_ = false;
};

}  // namespace dwcp::transport
