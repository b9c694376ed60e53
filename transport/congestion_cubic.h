// CUBIC congestion control (RFC 9438) for loss-based paths and as the comparison for BBR.
//
// Slow start doubles the window each round trip until the first loss (plain slow start:
// no HyStart++). Each congestion event cuts the window to beta = 0.7 of itself and
// restarts the cubic curve W(t) = C * (t - K)^3 + W_max, with the Reno-friendly estimate
// as a floor. The window is kept in bytes; the curve is evaluated in datagrams, as the
// RFC's constants assume.
#pragma once

#include <cstdint>

#include "transport/congestion_controller.h"

namespace dwcp::transport {

class CubicController final : public CongestionController {
 public:
  // Throws std::invalid_argument for a zero max_datagram_size.
  explicit CubicController(const CongestionConfig& config);

  [[nodiscard]] CongestionAlgorithm algorithm() const noexcept override {
    return CongestionAlgorithm::cubic;
  }
  void on_packet_sent(Instant now, std::uint64_t bytes,
                      std::uint64_t bytes_in_flight) noexcept override;
  void on_ack(const AckEvent& ack) noexcept override;
  void on_loss(const LossEvent& loss) noexcept override;
  // Restores the window, threshold and curve saved before the last reduction (§4.9).
  void on_spurious_loss(Instant now) noexcept override;
  void on_datagram_size(std::uint64_t bytes) noexcept override;

  [[nodiscard]] std::uint64_t congestion_window() const noexcept override;
  [[nodiscard]] Bandwidth pacing_rate() const noexcept override;

  // For tests and statistics.
  [[nodiscard]] bool in_slow_start() const noexcept { return state_.window < state_.ssthresh; }
  [[nodiscard]] std::uint64_t slow_start_threshold() const noexcept;
  // The window before the last reduction, as the curve uses it (bytes).
  [[nodiscard]] std::uint64_t w_max() const noexcept;
  // Seconds from a reduction until the curve is back at w_max.
  [[nodiscard]] double k_seconds() const noexcept { return state_.k_seconds; }

 private:
  // Everything a reduction changes, so a spurious one can be undone as a whole.
  struct State {
    double window = 0;    // bytes
    double ssthresh = 0;  // bytes; +infinity until the first loss
    double w_max = 0;     // datagrams
    double w_est = 0;     // datagrams: the Reno-friendly estimate
    double k_seconds = 0;
    Instant epoch_start;
    bool has_epoch = false;
    Instant recovery_start;
    bool has_recovery = false;
  };

  void on_congestion_event(Instant now) noexcept;
  void grow_in_congestion_avoidance(const AckEvent& ack) noexcept;
  [[nodiscard]] double w_cubic(double t_seconds) const noexcept;

  double max_datagram_size_;
  double minimum_window_packets_;
  double minimum_window_;
  State state_;
  State saved_;  // before the last reduction
  bool has_saved_ = false;
  Duration smoothed_rtt_;
  // The window only grows while the sender uses it (RFC 9002 §7.8): the largest flight
  // seen in this and the previous smoothed round trip.
  std::uint64_t largest_flight_ = 0;
  std::uint64_t previous_largest_flight_ = 0;
  Instant flight_period_start_;
  bool has_flight_period_ = false;
};

}  // namespace dwcp::transport
