#include "tools/common/send_backlog.h"

#include <algorithm>

#include "transport/clock.h"

namespace dwcp::tools {

bool SendBacklog::may_write(const Connection& connection, std::uint64_t written,
                            Clock::time_point now) {
  if (now - read_at_ >= std::chrono::milliseconds(1)) {
    const transport::ConnectionStats stats = connection.stats();
    sent_ = stats.stream_bytes_sent;
    limit_ = std::max(kFloor, transport::bytes_in(stats.pacing_rate, kAhead));
    read_at_ = now;
  }
  return written < sent_ + limit_;
}

}  // namespace dwcp::tools
