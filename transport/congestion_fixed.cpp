#include "transport/congestion_fixed.h"

#include <algorithm>
#include <stdexcept>

namespace dwcp::transport {

FixedRateController::FixedRateController(const CongestionConfig& config)
    : rate_(config.fixed_rate),
      minimum_window_packets_(config.initial_window_packets),
      minimum_window_(config.initial_window_packets * config.max_datagram_size),
      window_(minimum_window_) {
  if (rate_ == 0) throw std::invalid_argument("fixed-rate controller: the rate must be > 0");
}

void FixedRateController::on_datagram_size(std::uint64_t bytes) noexcept {
  minimum_window_ = minimum_window_packets_ * bytes;
  window_ = std::max(window_, minimum_window_);
}

void FixedRateController::on_ack(const AckEvent& ack) noexcept {
  // Room for the rate over four smoothed round trips: the window never binds before the
  // pacer does, yet a dead path cannot take unbounded data in flight.
  const Duration rtt = ack.rtt != nullptr ? ack.rtt->smoothed() : Duration{};
  window_ = std::max(minimum_window_, bytes_in(rate_, 4 * rtt));
}

}  // namespace dwcp::transport
