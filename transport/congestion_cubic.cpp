#include "transport/congestion_cubic.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dwcp::transport {
namespace {

constexpr double kC = 0.4;     // datagrams per second cubed
constexpr double kBeta = 0.7;  // multiplicative decrease
constexpr double kAlphaReno =  // additive increase that matches Reno's average (§4.3)
    3.0 * (1.0 - kBeta) / (1.0 + kBeta);
constexpr double kSlowStartPacingGain = 2.0;
constexpr double kAvoidancePacingGain = 1.2;
constexpr Duration kDefaultRtt = std::chrono::milliseconds(100);

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

CubicController::CubicController(const CongestionConfig& config)
    : max_datagram_size_(static_cast<double>(config.max_datagram_size)),
      minimum_window_packets_(static_cast<double>(config.minimum_window_packets)),
      minimum_window_(static_cast<double>(config.minimum_window_packets) *
                      static_cast<double>(config.max_datagram_size)),
      smoothed_rtt_(kDefaultRtt) {
  if (config.max_datagram_size == 0) {
    throw std::invalid_argument("cubic controller: max_datagram_size must be > 0");
  }
  state_.window = std::max(minimum_window_,
                           static_cast<double>(config.initial_window_packets) * max_datagram_size_);
  state_.ssthresh = std::numeric_limits<double>::infinity();
}

void CubicController::on_datagram_size(std::uint64_t bytes) noexcept {
  if (bytes == 0) return;
  const double size = static_cast<double>(bytes);
  // W_max and the Reno estimate are counted in datagrams: the same bytes, fewer of them.
  const double scale = max_datagram_size_ / size;
  for (State* s : {&state_, &saved_}) {
    s->w_max *= scale;
    s->w_est *= scale;
  }
  max_datagram_size_ = size;
  minimum_window_ = minimum_window_packets_ * size;
  // The saved state too: undoing a spurious loss must not restore a window that cannot
  // hold one datagram of the new size.
  for (State* s : {&state_, &saved_}) s->window = std::max(s->window, minimum_window_);
}

std::uint64_t CubicController::congestion_window() const noexcept {
  return static_cast<std::uint64_t>(state_.window);
}

std::uint64_t CubicController::slow_start_threshold() const noexcept {
  if (std::isinf(state_.ssthresh)) return std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint64_t>(state_.ssthresh);
}

std::uint64_t CubicController::w_max() const noexcept {
  return static_cast<std::uint64_t>(state_.w_max * max_datagram_size_);
}

Bandwidth CubicController::pacing_rate() const noexcept {
  const double gain = in_slow_start() ? kSlowStartPacingGain : kAvoidancePacingGain;
  const double rate = gain * state_.window / seconds(smoothed_rtt_);
  return static_cast<Bandwidth>(rate);
}

void CubicController::on_packet_sent(Instant now, std::uint64_t bytes,
                                     std::uint64_t bytes_in_flight) noexcept {
  (void)now;
  (void)bytes;
  largest_flight_ = std::max(largest_flight_, bytes_in_flight);
}

void CubicController::on_ack(const AckEvent& ack) noexcept {
  if (ack.rtt != nullptr) smoothed_rtt_ = std::max(ack.rtt->smoothed(), Duration{1});
  if (!has_flight_period_ || ack.now - flight_period_start_ >= smoothed_rtt_) {
    previous_largest_flight_ = largest_flight_;
    largest_flight_ = ack.bytes_in_flight;
    flight_period_start_ = ack.now;
    has_flight_period_ = true;
  }
  // No growth for packets sent before the reduction: they belong to the recovery period.
  if (state_.has_recovery && ack.largest_acked_sent_time <= state_.recovery_start) return;
  // A sender that leaves more than half the window unused has not tested it.
  const std::uint64_t flight = std::max(largest_flight_, previous_largest_flight_);
  if (2 * static_cast<double>(flight) < state_.window) return;

  if (in_slow_start()) {
    state_.window += static_cast<double>(ack.acked_bytes);
    // Leaving slow start without a loss (the window reached a restored threshold) starts
    // the curve at the current window.
    if (!in_slow_start()) state_.has_epoch = false;
    return;
  }
  grow_in_congestion_avoidance(ack);
}

double CubicController::w_cubic(double t_seconds) const noexcept {
  const double offset = t_seconds - state_.k_seconds;
  return kC * offset * offset * offset + state_.w_max;
}

void CubicController::grow_in_congestion_avoidance(const AckEvent& ack) noexcept {
  const double window_datagrams = state_.window / max_datagram_size_;
  if (!state_.has_epoch) {
    // Congestion avoidance began without a reduction (after slow start up to a restored
    // threshold, or after persistent congestion): the curve starts flat here (§4.2).
    state_.has_epoch = true;
    state_.epoch_start = ack.now;
    state_.w_max = std::max(state_.w_max, window_datagrams);
    state_.k_seconds = std::cbrt((state_.w_max - window_datagrams) / kC);
    state_.w_est = window_datagrams;
  }
  const double acked_datagrams = static_cast<double>(ack.acked_bytes) / max_datagram_size_;
  const double t = seconds(ack.now - state_.epoch_start);

  // Reno-friendly estimate (§4.3): once it passes w_max, grow at Reno's rate.
  const double alpha = state_.w_est >= state_.w_max ? 1.0 : kAlphaReno;
  state_.w_est += alpha * acked_datagrams / window_datagrams;

  // Aim one RTT ahead, but never more than 1.5x per round trip (§4.2).
  const double target =
      std::clamp(w_cubic(t + seconds(smoothed_rtt_)), window_datagrams, 1.5 * window_datagrams);
  double next = window_datagrams + (target - window_datagrams) * acked_datagrams / window_datagrams;
  if (w_cubic(t) < state_.w_est) next = std::max(next, state_.w_est);
  state_.window = next * max_datagram_size_;
}

void CubicController::on_loss(const LossEvent& loss) noexcept {
  if (loss.persistent_congestion) {
    // RFC 9002 §7.6.2: collapse to the minimum; slow start climbs back to ssthresh and
    // the curve restarts from there.
    saved_ = state_;
    has_saved_ = true;
    state_.window = minimum_window_;
    state_.has_epoch = false;
    state_.has_recovery = false;
    return;
  }
  // One reduction per congestion event: losses of packets sent before the current
  // recovery period began were caused by the same overshoot.
  if (state_.has_recovery && loss.largest_lost_sent_time <= state_.recovery_start) return;
  on_congestion_event(loss.now);
}

void CubicController::on_congestion_event(Instant now) noexcept {
  saved_ = state_;
  has_saved_ = true;
  const double window_datagrams = state_.window / max_datagram_size_;
  // Fast convergence (§4.7): a flow whose peak fell releases bandwidth to newer flows.
  if (state_.has_epoch && window_datagrams < state_.w_max) {
    state_.w_max = window_datagrams * (1.0 + kBeta) / 2.0;
  } else {
    state_.w_max = window_datagrams;
  }
  state_.ssthresh = std::max(state_.window * kBeta, minimum_window_);
  state_.window = state_.ssthresh;
  const double reduced = state_.window / max_datagram_size_;
  state_.k_seconds = std::cbrt(std::max(0.0, state_.w_max - reduced) / kC);
  state_.w_est = reduced;
  state_.epoch_start = now;
  state_.has_epoch = true;
  state_.recovery_start = now;
  state_.has_recovery = true;
}

void CubicController::on_spurious_loss(Instant now) noexcept {
  (void)now;
  if (!has_saved_) return;
  // Keep the recovery period so the rest of the same burst does not reduce again.
  const Instant recovery_start = state_.recovery_start;
  const bool has_recovery = state_.has_recovery;
  state_ = saved_;
  state_.recovery_start = recovery_start;
  state_.has_recovery = has_recovery;
  has_saved_ = false;
}

}  // namespace dwcp::transport
