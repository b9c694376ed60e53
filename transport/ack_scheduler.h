// The receiving side of acknowledgements: which packet numbers arrived (proto::AckRanges),
// which are duplicates, and when to send an ACK. ACKs go out once per receive batch or
// after max_ack_delay, not once per packet (RFC 9000 §13.2.1, with the batch as the
// natural ACK-frequency unit of a batched receiver): at the end of a batch that brought
// at least `packets_before_ack` ack-eliciting packets, or any packet out of order, an ACK
// is due at once; otherwise when max_ack_delay has passed since the first unacknowledged
// ack-eliciting packet. Not thread-safe: one per connection.
#pragma once

#include <cstdint>
#include <optional>

#include "proto/ack_ranges.h"
#include "proto/packet.h"
#include "transport/clock.h"

namespace dwcp::transport {

struct AckSchedulerConfig {
  Duration max_ack_delay = std::chrono::milliseconds(25);  // what we told the peer
  std::uint32_t packets_before_ack = 2;  // ack-eliciting packets that make an ACK due
  std::uint8_t ack_delay_exponent = 3;   // what we told the peer
};

class AckScheduler {
 public:
  explicit AckScheduler(const AckSchedulerConfig& config = {});

  // Records a packet whose trailer verified; false for a duplicate (drop its frames).
  bool on_packet_received(Instant now, std::uint64_t packet_number, bool ack_eliciting);
  // The receive batch is over: an ACK becomes due now if enough arrived.
  void on_batch_end(Instant now);

  // Whether an ACK should go out at `now`.
  [[nodiscard]] bool ack_due(Instant now) const noexcept;
  // When an ACK will be due without further packets, if one is pending.
  [[nodiscard]] std::optional<Instant> deadline() const noexcept;
  // Something to acknowledge (an ACK may ride along with data even when not yet due).
  [[nodiscard]] bool has_unacked() const noexcept { return unacked_packets_ != 0; }

  // Adds an ACK frame of everything received to `packet`; the delay field is the time
  // since the largest packet arrived. Resets the schedule on success.
  proto::Result<std::size_t> write_ack(proto::PacketBuilder& packet, Instant now);
  // The peer acknowledged a packet carrying our ACK whose largest acknowledged was
  // `largest`: numbers below it need not be acknowledged again.
  void on_ack_acknowledged(std::uint64_t largest);

  [[nodiscard]] const proto::AckRanges& ranges() const noexcept { return ranges_; }
  [[nodiscard]] std::uint64_t duplicates() const noexcept { return duplicates_; }

 private:
  AckSchedulerConfig config_;
  proto::AckRanges ranges_;
  std::uint64_t unacked_packets_ = 0;  // received since the last ACK sent
  std::uint32_t unacked_eliciting_ = 0;
  std::optional<Instant> first_unacked_eliciting_;
  Instant largest_received_time_;
  bool out_of_order_ = false;
  bool due_now_ = false;
  std::uint64_t duplicates_ = 0;
};

}  // namespace dwcp::transport
