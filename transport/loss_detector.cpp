#include "transport/loss_detector.h"

#include <algorithm>

namespace dwcp::transport {

void SentPacketQueue::pop_front() noexcept {
  ++head_;
  if (head_ == items_.size()) {
    clear();
  } else if (head_ >= 64 && head_ >= items_.size() - head_) {
    // Moves at most as many packets as were dropped since the last time: O(1) amortised.
    items_.erase(items_.begin(), items_.begin() + offset());
    head_ = 0;
  }
}

LossDetector::LossDetector(const LossDetectorConfig& config)
    : config_(config), rtt_(config.initial_rtt) {}

SentPacket& LossDetector::prepare_packet() {
  if (prepared_) return sent_.back();
  prepared_ = true;
  return sent_.emplace_back();
}

void LossDetector::drop_prepared() noexcept {
  if (!prepared_) return;
  prepared_ = false;
  sent_.pop_back();
}

void LossDetector::on_packet_sent(const SentPacket& sent, bool is_app_limited) {
  if (prepared_ && &sent == &sent_.back()) {
    prepared_ = false;
  } else {
    drop_prepared();
    sent_.push_back(sent);  // completed in place: the record is large
  }
  SentPacket& packet = sent_.back();
  if (packet.in_flight) {
    // A flight that starts from idle measures delivery from now (delivery-rate draft §3.2).
    if (bytes_in_flight_ == 0) {
      first_sent_time_ = packet.sent_time;
      delivered_time_ = packet.sent_time;
    }
    if (is_app_limited)
      app_limited_until_ = std::max<std::uint64_t>(delivered_ + bytes_in_flight_ + packet.bytes, 1);
    packet.delivered = delivered_;
    packet.delivered_time = delivered_time_;
    packet.first_sent_time = first_sent_time_;
    packet.is_app_limited = app_limited_until_ != 0;
    bytes_in_flight_ += packet.bytes;
  }
  if (packet.ack_eliciting) {
    ++ack_eliciting_in_flight_;
    last_ack_eliciting_sent_ = packet.sent_time;
  }
  packet.state = SentPacket::State::in_flight;
  largest_sent_ = packet.packet_number;
  has_sent_ = true;
}

proto::Result<RecoveryOutcome> LossDetector::on_ack(Instant now,
                                                    std::span<const proto::PacketRange> ranges,
                                                    Duration ack_delay, PacketVisitor& visitor) {
  RecoveryOutcome outcome;
  if (ranges.empty()) return outcome;
  if (!has_sent_ || ranges.front().largest > largest_sent_) {
    return std::unexpected(proto::Errc::invalid_value);
  }

  const SentPacket* newest_acked = nullptr;  // the most recently sent packet this ACK covers
  const SentPacket* largest_newly_acked = nullptr;
  bool ack_eliciting_acked = false;
  for (const proto::PacketRange& range : ranges) {
    auto it = std::lower_bound(
        sent_.begin(), sent_.end(), range.smallest,
        [](const SentPacket& p, std::uint64_t pn) { return p.packet_number < pn; });
    for (; it != sent_.end() && it->packet_number <= range.largest; ++it) {
      SentPacket& packet = *it;
      if (packet.state == SentPacket::State::acked) continue;  // a duplicate ACK
      if (packet.state == SentPacket::State::lost) {
        packet.state = SentPacket::State::acked;
        // A path MTU probe's loss was never a congestion signal, so its arrival undoes
        // nothing; but its size did cross the path.
        if (packet.is_pmtu_probe()) {
          visitor.on_acked(packet);
          continue;
        }
        // Declared lost, yet it arrived: the loss was spurious. Its data went out again
        // already; the acknowledgement still counts for delivery.
        ++outcome.spurious_losses;
        continue;
      }
      packet.state = SentPacket::State::acked;
      ++outcome.acked_packets;
      if (packet.in_flight) {
        bytes_in_flight_ -= packet.bytes;
        outcome.acked_bytes += packet.bytes;
        delivered_ += packet.bytes;
        delivered_time_ = now;
      }
      if (packet.ack_eliciting) {
        --ack_eliciting_in_flight_;
        ack_eliciting_acked = true;
      }
      if (largest_newly_acked == nullptr ||
          packet.packet_number > largest_newly_acked->packet_number) {
        largest_newly_acked = &packet;
      }
      if (packet.in_flight &&
          (newest_acked == nullptr || packet.sent_time > newest_acked->sent_time ||
           (packet.sent_time == newest_acked->sent_time &&
            packet.packet_number > newest_acked->packet_number))) {
        newest_acked = &packet;
      }
      visitor.on_acked(packet);
    }
  }
  if (!has_acked_ || ranges.front().largest > largest_acked_) {
    largest_acked_ = ranges.front().largest;
    has_acked_ = true;
  }
  if (largest_newly_acked == nullptr && outcome.spurious_losses == 0) return outcome;

  if (largest_newly_acked != nullptr) {
    outcome.largest_acked_sent_time = largest_newly_acked->sent_time;
    // RTT sample: only when the largest acknowledged is newly acknowledged and something
    // it covers asked for the ACK (RFC 9002 §5.1).
    if (largest_newly_acked->packet_number == ranges.front().largest && ack_eliciting_acked) {
      rtt_.on_sample(now - largest_newly_acked->sent_time,
                     std::min(ack_delay, config_.max_ack_delay));
      outcome.rtt_sampled = true;
    }
  }
  if (newest_acked != nullptr) {
    RateSample& rate = outcome.rate;
    rate.prior_delivered = newest_acked->delivered;
    rate.delivered = delivered_ - newest_acked->delivered;
    rate.is_app_limited = newest_acked->is_app_limited;
    rate.rtt = now - newest_acked->sent_time;
    // The longer of the send and the ACK intervals, so neither a burst of sends nor a
    // burst of ACKs (ACK compression) overstates the rate.
    const Duration send_interval = newest_acked->sent_time - newest_acked->first_sent_time;
    const Duration ack_interval = now - newest_acked->delivered_time;
    rate.interval = std::max(send_interval, ack_interval);
    // Shorter than the minimum RTT cannot be a full round of delivery: no reliable rate.
    if (rtt_.has_sample() && rate.interval < rtt_.min()) rate.interval = Duration{};
    rate.delivery_rate = rate_of(rate.delivered, rate.interval);
    first_sent_time_ = newest_acked->sent_time;
    if (app_limited_until_ != 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;
  }

  detect_losses(now, visitor, outcome);
  pto_count_ = 0;  // an ACK shows the peer is there
  forget_settled(now);
  return outcome;
}

std::uint64_t LossDetector::discard_all() noexcept {
  const std::uint64_t discarded = bytes_in_flight_;
  sent_.clear();
  prepared_ = false;
  bytes_in_flight_ = 0;
  ack_eliciting_in_flight_ = 0;
  loss_time_.reset();
  pto_count_ = 0;
  return discarded;
}

Duration LossDetector::loss_delay() const noexcept {
  const Duration base = std::max(rtt_.latest(), rtt_.smoothed());
  return std::max(base * config_.time_threshold_num / config_.time_threshold_den,
                  RttEstimator::kGranularity);
}

void LossDetector::mark_lost(SentPacket& packet, PacketVisitor& visitor, RecoveryOutcome& outcome) {
  packet.state = SentPacket::State::lost;
  if (packet.in_flight) bytes_in_flight_ -= packet.bytes;
  if (packet.ack_eliciting) --ack_eliciting_in_flight_;
  // A lost path MTU probe says the path is narrower, not congested: the outcome, which the
  // congestion controller reads, leaves it out.
  if (!packet.is_pmtu_probe()) {
    ++outcome.lost_packets;
    if (packet.in_flight) outcome.lost_bytes += packet.bytes;
    outcome.largest_lost_sent_time = std::max(outcome.largest_lost_sent_time, packet.sent_time);
  }
  visitor.on_lost(packet);
}

void LossDetector::detect_losses(Instant now, PacketVisitor& visitor, RecoveryOutcome& outcome) {
  loss_time_.reset();
  if (!has_acked_) return;
  const Duration delay = loss_delay();
  std::optional<Instant> first_lost_time;
  Instant last_lost_time{};
  for (SentPacket& packet : sent_) {
    if (packet.packet_number > largest_acked_) break;
    if (packet.state != SentPacket::State::in_flight) continue;
    const bool by_count = largest_acked_ - packet.packet_number >= config_.packet_threshold;
    const bool by_time = packet.sent_time + delay <= now;
    if (by_count || by_time) {
      if (packet.ack_eliciting && !packet.is_pmtu_probe()) {
        if (!first_lost_time) first_lost_time = packet.sent_time;
        last_lost_time = packet.sent_time;
      }
      mark_lost(packet, visitor, outcome);
    } else {
      // Not lost yet: the time threshold will decide.
      const Instant deadline = packet.sent_time + delay;
      if (!loss_time_ || deadline < *loss_time_) loss_time_ = deadline;
    }
  }
  if (first_lost_time && in_persistent_congestion(*first_lost_time, last_lost_time)) {
    outcome.persistent_congestion = true;
  }
}

bool LossDetector::in_persistent_congestion(Instant first_lost, Instant last_lost) const noexcept {
  // RFC 9002 §7.6, simplified: the lost ack-eliciting packets span more than the
  // persistent-congestion duration, and nothing sent between them was acknowledged.
  if (!rtt_.has_sample()) return false;
  const Duration duration =
      (rtt_.smoothed() + std::max(4 * rtt_.variation(), RttEstimator::kGranularity) +
       config_.max_ack_delay) *
      config_.persistent_congestion_threshold;
  if (last_lost - first_lost < duration) return false;
  return std::none_of(sent_.begin(), sent_.end(), [&](const SentPacket& p) {
    return p.state == SentPacket::State::acked && p.sent_time > first_lost &&
           p.sent_time < last_lost;
  });
}

void LossDetector::forget_settled(Instant now) {
  // Lost packets stay for three probe timeouts so that a late ACK can still show the loss
  // was spurious.
  const Duration keep_lost = 3 * pto();
  while (!sent_.empty()) {
    const SentPacket& front = sent_.front();
    const bool settled =
        front.state == SentPacket::State::acked ||
        (front.state == SentPacket::State::lost && front.sent_time + keep_lost < now);
    if (!settled) break;
    sent_.pop_front();
  }
}

Duration LossDetector::pto() const noexcept {
  const Duration base = rtt_.pto_base() + config_.max_ack_delay;
  const std::uint32_t shift = std::min<std::uint32_t>(pto_count_, 16);
  return base * (std::int64_t{1} << shift);
}

std::optional<Instant> LossDetector::timer() const noexcept {
  if (loss_time_) return loss_time_;
  if (ack_eliciting_in_flight_ == 0) return std::nullopt;
  return last_ack_eliciting_sent_ + pto();
}

RecoveryOutcome LossDetector::on_timeout(Instant now, PacketVisitor& visitor) {
  RecoveryOutcome outcome;
  if (loss_time_ && *loss_time_ <= now) {
    detect_losses(now, visitor, outcome);
    forget_settled(now);
    return outcome;
  }
  const auto deadline = timer();
  if (!deadline || *deadline > now) return outcome;  // woken early: nothing due
  // Probe timeout: ask for an ACK with new packets; nothing is declared lost yet.
  ++pto_count_;
  outcome.probes_to_send = 2;
  return outcome;
}

}  // namespace dwcp::transport
