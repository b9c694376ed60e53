// The one small interface every congestion controller implements (one file each:
// congestion_bbr, congestion_cubic, congestion_fixed), after picoquic's
// congestion_algorithm. The connection reports what happens to packets; the controller
// answers with a congestion window and a pacing rate. No clock, no I/O: `now` comes in
// every event. Not thread-safe: one controller per connection, used by its I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "transport/clock.h"
#include "transport/rtt_estimator.h"

namespace dwcp::transport {

enum class CongestionAlgorithm : std::uint8_t { bbr, cubic, fixed };
std::string_view to_string(CongestionAlgorithm algorithm) noexcept;
// "bbr", "cubic" or "fixed"; nullopt for anything else.
std::optional<CongestionAlgorithm> parse_congestion_algorithm(std::string_view name) noexcept;

struct CongestionConfig {
  std::uint64_t max_datagram_size = 1472;  // bytes of UDP payload per packet
  std::uint64_t initial_window_packets = 32;
  std::uint64_t minimum_window_packets = 4;
  // fixed: the sending rate, bytes per second (0: the controller refuses to start).
  Bandwidth fixed_rate = 0;
};

// A delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation): bytes delivered
// over an interval, measured from the most recently sent packet an ACK covered.
struct RateSample {
  Bandwidth delivery_rate = 0;
  Duration interval{};
  std::uint64_t delivered = 0;        // bytes delivered in the interval
  std::uint64_t prior_delivered = 0;  // connection's delivered count when that packet left
  Duration rtt{};                     // of that packet
  bool is_app_limited = false;        // the sender had nothing to send: the rate is a lower bound
};

struct AckEvent {
  Instant now;
  std::uint64_t acked_bytes = 0;      // newly acknowledged in-flight bytes
  std::uint64_t bytes_in_flight = 0;  // after those left the flight
  Instant largest_acked_sent_time;
  const RttEstimator* rtt = nullptr;
  RateSample rate;
};

struct LossEvent {
  Instant now;
  std::uint64_t lost_bytes = 0;
  std::uint64_t bytes_in_flight = 0;  // after the lost bytes left the flight
  Instant largest_lost_sent_time;
  // RFC 9002 §7.6: every packet over a long enough period was lost.
  bool persistent_congestion = false;
};

class CongestionController {
 public:
  CongestionController() = default;
  CongestionController(const CongestionController&) = delete;
  CongestionController& operator=(const CongestionController&) = delete;
  virtual ~CongestionController() = default;

  [[nodiscard]] virtual CongestionAlgorithm algorithm() const noexcept = 0;
  // A packet counted in flight left; `bytes_in_flight` includes it.
  virtual void on_packet_sent(Instant now, std::uint64_t bytes,
                              std::uint64_t bytes_in_flight) noexcept = 0;
  virtual void on_ack(const AckEvent& ack) noexcept = 0;
  virtual void on_loss(const LossEvent& loss) noexcept = 0;
  // Packets declared lost were acknowledged after all: a controller may undo its reaction.
  virtual void on_spurious_loss(Instant now) noexcept { (void)now; }
  // Path MTU discovery proved larger datagrams cross the path: what the controller counts
  // in datagrams (its minimum window, its growth steps) follows.
  virtual void on_datagram_size(std::uint64_t bytes) noexcept = 0;

  // Bytes that may be in flight.
  [[nodiscard]] virtual std::uint64_t congestion_window() const noexcept = 0;
  // Bytes per second the pacer releases.
  [[nodiscard]] virtual Bandwidth pacing_rate() const noexcept = 0;
};

// The controller of `algorithm`; throws std::invalid_argument for a config it cannot use
// (a fixed controller without a rate, a zero datagram size).
std::unique_ptr<CongestionController> make_congestion_controller(CongestionAlgorithm algorithm,
                                                                 const CongestionConfig& config);

}  // namespace dwcp::transport
