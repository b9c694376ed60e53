#include "transport/pacer.h"

#include <algorithm>

namespace dwcp::transport {

Pacer::Pacer(std::uint64_t max_datagram_size, Instant now) noexcept
    : max_datagram_size_(max_datagram_size),
      quantum_(kMaxQuantum),
      depth_(kMaxQuantum),
      tokens_(kMaxQuantum),
      last_refill_(now) {}

std::uint64_t Pacer::quantum_for(Bandwidth rate, std::uint64_t max_datagram_size) noexcept {
  const std::uint64_t floor = 2 * max_datagram_size;
  const std::uint64_t ceiling = std::max(kMaxQuantum, floor);
  if (rate == 0) return ceiling;
  return std::clamp(bytes_in(rate, std::chrono::milliseconds(1)), floor, ceiling);
}

void Pacer::set_rate(Bandwidth rate, Instant now) noexcept {
  refill(now);
  rate_ = rate;
  const std::uint64_t per_ms = rate == 0 ? 0 : bytes_in(rate, std::chrono::milliseconds(1));
  quantum_ = quantum_for(rate, max_datagram_size_);
  depth_ = rate == 0 ? quantum_ : std::max(2 * quantum_, per_ms);
  tokens_ = std::min(tokens_, depth_);
}

void Pacer::set_max_datagram_size(std::uint64_t bytes, Instant now) noexcept {
  max_datagram_size_ = bytes;
  set_rate(rate_, now);
}

void Pacer::refill(Instant now) noexcept {
  if (now <= last_refill_) return;
  if (rate_ == 0) {
    tokens_ = depth_;
  } else {
    tokens_ = std::min(depth_, tokens_ + bytes_in(rate_, now - last_refill_));
  }
  last_refill_ = now;
}

std::uint64_t Pacer::budget(Instant now) noexcept {
  refill(now);
  return tokens_;
}

Instant Pacer::next_send_time(Instant now, std::uint64_t bytes) noexcept {
  refill(now);
  bytes = std::min(bytes, quantum_);
  if (tokens_ >= bytes || rate_ == 0) return now;
  return now + time_to_send(bytes - tokens_, rate_);
}

std::optional<Instant> Pacer::held_until(std::uint64_t bytes) const noexcept {
  bytes = std::min(bytes, quantum_);
  if (tokens_ >= bytes || rate_ == 0) return std::nullopt;
  return last_refill_ + time_to_send(bytes - tokens_, rate_);
}

void Pacer::on_sent(Instant now, std::uint64_t bytes) noexcept {
  refill(now);
  tokens_ -= std::min(tokens_, bytes);
}

}  // namespace dwcp::transport
