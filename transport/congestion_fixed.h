// A controller that sends at one configured rate and ignores loss: for links whose
// capacity is known (dwcp-send -b RATE), and as a yardstick for the adaptive controllers.
// Its window is large enough for the rate over a few round trips, so pacing alone sets the
// speed.
#pragma once

#include "transport/congestion_controller.h"

namespace dwcp::transport {

class FixedRateController final : public CongestionController {
 public:
  explicit FixedRateController(const CongestionConfig& config);

  [[nodiscard]] CongestionAlgorithm algorithm() const noexcept override {
    return CongestionAlgorithm::fixed;
  }
  void on_packet_sent(Instant, std::uint64_t, std::uint64_t) noexcept override {}
  void on_ack(const AckEvent& ack) noexcept override;
  void on_loss(const LossEvent&) noexcept override {}
  void on_datagram_size(std::uint64_t bytes) noexcept override;

  [[nodiscard]] std::uint64_t congestion_window() const noexcept override { return window_; }
  [[nodiscard]] Bandwidth pacing_rate() const noexcept override { return rate_; }

 private:
  Bandwidth rate_;
  std::uint64_t minimum_window_packets_;
  std::uint64_t minimum_window_;
  std::uint64_t window_;
};

}  // namespace dwcp::transport
