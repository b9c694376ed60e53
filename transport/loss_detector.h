// Loss recovery after RFC 9002: the packets in flight, ACK processing with RTT samples,
// loss by packet threshold and by time threshold, the probe timeout, persistent congestion,
// spurious-loss detection, and delivery-rate samples for the congestion controller.
//
// Packet numbers only grow; a lost packet's contents go out again in new packets (the
// connection does that, told through PacketVisitor). No clock, no I/O: `now` comes in.
// Not thread-safe: one per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/errc.h"
#include "proto/frames.h"
#include "transport/congestion_controller.h"
#include "transport/rtt_estimator.h"
#include "transport/sent_packet.h"

namespace dwcp::transport {

// Told what became of each packet.
class PacketVisitor {
 public:
  virtual ~PacketVisitor() = default;
  virtual void on_acked(const SentPacket& packet) = 0;
  virtual void on_lost(const SentPacket& packet) = 0;
};

// The packets the loss detector tracks, by packet number, oldest first: a vector whose
// forgotten prefix is dropped in bulk, so that tracking and forgetting a packet allocates
// nothing once it has grown (a std::deque of these ~330-byte records allocated one block
// per packet). push_back() may move the packets; pop_front() moves them only when the
// dropped prefix outgrows what is left.
class SentPacketQueue {
 public:
  using iterator = std::vector<SentPacket>::iterator;
  using const_iterator = std::vector<SentPacket>::const_iterator;

  [[nodiscard]] iterator begin() noexcept { return items_.begin() + offset(); }
  [[nodiscard]] iterator end() noexcept { return items_.end(); }
  [[nodiscard]] const_iterator begin() const noexcept { return items_.begin() + offset(); }
  [[nodiscard]] const_iterator end() const noexcept { return items_.end(); }
  [[nodiscard]] bool empty() const noexcept { return head_ == items_.size(); }
  [[nodiscard]] std::size_t size() const noexcept { return items_.size() - head_; }
  [[nodiscard]] SentPacket& front() noexcept { return items_[head_]; }
  [[nodiscard]] SentPacket& back() noexcept { return items_.back(); }

  void push_back(const SentPacket& packet) { items_.push_back(packet); }
  SentPacket& emplace_back() { return items_.emplace_back(); }
  void pop_back() noexcept { items_.pop_back(); }
  void pop_front() noexcept;
  void clear() noexcept {
    items_.clear();
    head_ = 0;
  }

 private:
  [[nodiscard]] std::ptrdiff_t offset() const noexcept {
    return static_cast<std::ptrdiff_t>(head_);
  }

  std::vector<SentPacket> items_;
  std::size_t head_ = 0;  // items_[0, head_) are forgotten
};

struct LossDetectorConfig {
  std::uint32_t packet_threshold = 3;  // kPacketThreshold
  // Time threshold as a fraction: 9/8 of max(smoothed, latest) RTT.
  std::uint32_t time_threshold_num = 9;
  std::uint32_t time_threshold_den = 8;
  Duration max_ack_delay = std::chrono::milliseconds(25);  // the peer's
  Duration initial_rtt = std::chrono::milliseconds(100);
  std::uint32_t persistent_congestion_threshold = 3;  // PTOs
};

// What one ACK or timeout changed.
struct RecoveryOutcome {
  std::uint64_t acked_packets = 0;
  std::uint64_t acked_bytes = 0;  // in-flight bytes newly acknowledged
  // Path MTU probes (control_frame::kPmtuProbe) are left out of the losses, of their
  // times and of the spurious ones: they signal a narrow path, not congestion. The visitor
  // sees them all, a late acknowledgement of one too.
  std::uint64_t lost_packets = 0;
  std::uint64_t lost_bytes = 0;
  std::uint64_t spurious_losses = 0;  // packets declared lost, then acknowledged
  bool rtt_sampled = false;
  bool persistent_congestion = false;
  Instant largest_acked_sent_time;
  Instant largest_lost_sent_time;
  RateSample rate;
  // A probe timeout fired: send this many ack-eliciting packets (new data or a PING).
  std::uint32_t probes_to_send = 0;
};

class LossDetector {
 public:
  explicit LossDetector(const LossDetectorConfig& config = {});

  // Records a sent packet; its number must be above every earlier one. `is_app_limited`:
  // the sender had less to send than the window allowed.
  void on_packet_sent(const SentPacket& packet, bool is_app_limited);
  // A blank record for the packet being built, in place at the end of the tracked ones
  // (a record is ~330 bytes: building it elsewhere and copying it in costs as much as the
  // rest of the bookkeeping). Hand it to on_packet_sent() once the packet is sent, or give
  // it back with drop_prepared(); nothing else may touch the detector in between.
  SentPacket& prepare_packet();
  void drop_prepared() noexcept;

  // Processes an ACK's ranges (largest first, as proto decodes them). `ack_delay` is the
  // peer's reported delay, already scaled. Error invalid_value when it acknowledges a
  // packet number never sent (a PROTOCOL_VIOLATION).
  proto::Result<RecoveryOutcome> on_ack(Instant now, std::span<const proto::PacketRange> ranges,
                                        Duration ack_delay, PacketVisitor& visitor);

  // Forgets every packet sent so far without declaring any lost or acknowledged: what a
  // client does with its Initial packets when a Retry answers them (RFC 9002 §6.3). They
  // leave the flight, and their timers stop; the RTT estimate is kept. Returns the bytes
  // that left the flight.
  std::uint64_t discard_all() noexcept;

  // When on_timeout() wants to run next, if at all.
  [[nodiscard]] std::optional<Instant> timer() const noexcept;
  // Runs the loss-time check or the probe timeout, whichever timer() stood for.
  RecoveryOutcome on_timeout(Instant now, PacketVisitor& visitor);

  // The peer's max_ack_delay, once its transport parameters are known.
  void set_max_ack_delay(Duration delay) noexcept { config_.max_ack_delay = delay; }

  [[nodiscard]] const RttEstimator& rtt() const noexcept { return rtt_; }
  [[nodiscard]] std::uint64_t bytes_in_flight() const noexcept { return bytes_in_flight_; }
  [[nodiscard]] std::uint64_t largest_acked() const noexcept { return largest_acked_; }
  [[nodiscard]] bool has_acked() const noexcept { return has_acked_; }
  [[nodiscard]] std::uint32_t pto_count() const noexcept { return pto_count_; }
  [[nodiscard]] std::size_t tracked_packets() const noexcept { return sent_.size(); }
  [[nodiscard]] std::uint64_t delivered() const noexcept { return delivered_; }
  // The probe timeout now, with backoff.
  [[nodiscard]] Duration pto() const noexcept;

 private:
  // Declares lost what the thresholds say, relative to the largest acknowledged packet.
  void detect_losses(Instant now, PacketVisitor& visitor, RecoveryOutcome& outcome);
  void mark_lost(SentPacket& packet, PacketVisitor& visitor, RecoveryOutcome& outcome);
  // Drops settled packets from the front; lost ones stay a while to spot spurious losses.
  void forget_settled(Instant now);
  [[nodiscard]] Duration loss_delay() const noexcept;
  [[nodiscard]] bool in_persistent_congestion(Instant first_lost, Instant last_lost) const noexcept;

  LossDetectorConfig config_;
  RttEstimator rtt_;
  SentPacketQueue sent_;   // by packet number
  bool prepared_ = false;  // sent_.back() is prepare_packet()'s, not yet sent
  std::uint64_t bytes_in_flight_ = 0;
  std::uint64_t ack_eliciting_in_flight_ = 0;
  std::uint64_t largest_acked_ = 0;
  bool has_acked_ = false;
  std::uint64_t largest_sent_ = 0;
  bool has_sent_ = false;
  Instant last_ack_eliciting_sent_;
  std::optional<Instant> loss_time_;
  std::uint32_t pto_count_ = 0;

  // Delivery-rate state.
  std::uint64_t delivered_ = 0;
  Instant delivered_time_;
  Instant first_sent_time_;
  std::uint64_t app_limited_until_ = 0;  // delivered count; samples before it are app-limited
};

}  // namespace dwcp::transport
