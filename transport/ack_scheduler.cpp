#include "transport/ack_scheduler.h"

namespace dwcp::transport {

AckScheduler::AckScheduler(const AckSchedulerConfig& config) : config_(config) {}

bool AckScheduler::on_packet_received(Instant now, std::uint64_t packet_number,
                                      bool ack_eliciting) {
  const bool had_any = !ranges_.empty();
  const std::uint64_t largest_before = ranges_.largest();
  if (!ranges_.add(packet_number)) {
    ++duplicates_;
    return false;
  }
  // A gap below the new largest, or a packet filling one, tells the sender something it
  // should hear soon (RFC 9000 §13.2.1).
  if (had_any && packet_number != largest_before + 1) out_of_order_ = true;
  if (!had_any || packet_number > largest_before) largest_received_time_ = now;
  ++unacked_packets_;
  if (ack_eliciting) {
    ++unacked_eliciting_;
    if (!first_unacked_eliciting_) first_unacked_eliciting_ = now;
  }
  return true;
}

void AckScheduler::on_batch_end(Instant /*now*/) {
  if (unacked_eliciting_ >= config_.packets_before_ack ||
      (out_of_order_ && unacked_eliciting_ > 0)) {
    due_now_ = true;
  }
}

bool AckScheduler::ack_due(Instant now) const noexcept {
  if (due_now_) return true;
  const auto when = deadline();
  return when && *when <= now;
}

std::optional<Instant> AckScheduler::deadline() const noexcept {
  if (!first_unacked_eliciting_) return std::nullopt;
  return *first_unacked_eliciting_ + config_.max_ack_delay;
}

proto::Result<std::size_t> AckScheduler::write_ack(proto::PacketBuilder& packet, Instant now) {
  if (ranges_.empty()) return std::unexpected(proto::Errc::invalid_value);
  const Duration delay = now > largest_received_time_ ? now - largest_received_time_ : Duration{};
  const auto micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(delay).count());
  auto written = packet.add_ack(ranges_.ranges(), micros >> config_.ack_delay_exponent);
  if (written) {
    unacked_packets_ = 0;
    unacked_eliciting_ = 0;
    first_unacked_eliciting_.reset();
    out_of_order_ = false;
    due_now_ = false;
  }
  return written;
}

void AckScheduler::on_ack_acknowledged(std::uint64_t largest) {
  // Keep `largest` itself: the peer may not know about it yet from a later ACK.
  ranges_.remove_below(largest);
}

}  // namespace dwcp::transport
