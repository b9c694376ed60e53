#include "tools/wanem/rate_limiter.h"

#include <algorithm>

namespace dwcp::wanem {

RateLimiter::RateLimiter(std::uint64_t rate_bps, std::uint64_t queue_bytes)
    : rate_bps_(rate_bps), queue_bytes_(queue_bytes) {}

std::uint64_t RateLimiter::backlog_bytes(TimePoint now) const {
  if (rate_bps_ == 0 || busy_until_ <= now) return 0;
  const auto ns = static_cast<unsigned __int128>((busy_until_ - now).count());
  // Round up: a packet partly serialised still occupies the queue.
  return static_cast<std::uint64_t>((ns * rate_bps_ + 8'000'000'000 - 1) / 8'000'000'000);
}

std::optional<TimePoint> RateLimiter::admit(TimePoint now, std::size_t bytes) {
  if (rate_bps_ == 0) return now;
  if (backlog_bytes(now) + bytes > queue_bytes_) return std::nullopt;
  const TimePoint start = std::max(now, busy_until_);
  if (busy_until_ < now) remainder_ = 0;  // the link went idle: no credit carried over
  const auto bit_ns = static_cast<unsigned __int128>(bytes) * 8 * 1'000'000'000 + remainder_;
  const auto ns = static_cast<std::int64_t>(bit_ns / rate_bps_);
  remainder_ = static_cast<std::uint64_t>(bit_ns % rate_bps_);
  busy_until_ = start + Duration{ns};
  return busy_until_;
}

}  // namespace dwcp::wanem
