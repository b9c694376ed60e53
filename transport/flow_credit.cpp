#include "transport/flow_credit.h"

#include <algorithm>

namespace dwcp::transport {

void SendCredit::consume(std::uint64_t bytes) noexcept {
  used_ += std::min(bytes, available());
}

bool SendCredit::raise_limit(std::uint64_t limit) noexcept {
  if (limit <= limit_) return false;
  limit_ = limit;
  return true;
}

std::optional<std::uint64_t> SendCredit::blocked_report() noexcept {
  if (available() != 0 || reported_blocked_at_ == limit_) return std::nullopt;
  reported_blocked_at_ = limit_;
  return limit_;
}

bool ReceiveCredit::on_received(std::uint64_t end) noexcept {
  if (end > limit_) return false;
  highest_ = std::max(highest_, end);
  return true;
}

std::optional<std::uint64_t> ReceiveCredit::update() noexcept {
  const std::uint64_t target = consumed_ + window_;
  if (target <= limit_ || target - limit_ < window_ / 2) return std::nullopt;
  limit_ = target;
  return limit_;
}

}  // namespace dwcp::transport
