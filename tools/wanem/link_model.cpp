#include "tools/wanem/link_model.h"

#include <algorithm>

namespace dwcp::wanem {

std::uint64_t LinkParams::effective_queue_bytes() const {
  if (queue_bytes != 0) return queue_bytes;
  const double rtt_s = 2.0 * std::chrono::duration<double>(delay).count();
  const double bdp = static_cast<double>(rate_bps) / 8.0 * rtt_s * queue_bdp;
  return std::max<std::uint64_t>(static_cast<std::uint64_t>(bdp), std::uint64_t{64} * 1024);
}

LinkModel::LinkModel(const LinkParams& params, std::uint64_t seed)
    : params_(params),
      random_(seed),
      burst_(params.burst),
      limiter_(params.rate_bps, params.effective_queue_bytes()) {}

Decision LinkModel::on_packet(TimePoint now, std::size_t bytes) {
  Decision d;
  if (random_.chance(params_.loss)) {
    d.verdict = Verdict::drop_random;
    return d;
  }
  if (burst_.lose(random_)) {
    d.verdict = Verdict::drop_burst;
    return d;
  }
  const auto departs = limiter_.admit(now, bytes);
  if (!departs) {
    d.verdict = Verdict::drop_queue;
    return d;
  }
  TimePoint at = *departs + params_.delay;
  if (params_.jitter.count() > 0) {
    const auto span = static_cast<std::uint64_t>(2 * params_.jitter.count() + 1);
    at += Duration{static_cast<std::int64_t>(random_.below(span)) - params_.jitter.count()};
    at = std::max(at, *departs);
  }
  at = std::max(at, last_in_order_);
  if (random_.chance(params_.reorder)) {
    d.reordered = true;
    d.deliver_at = at + params_.reorder_delay;
  } else {
    last_in_order_ = at;
    d.deliver_at = at;
  }
  d.duplicate = random_.chance(params_.duplicate);
  if (bytes > kCorruptFrom && random_.chance(params_.corrupt)) {
    d.corrupt = true;
    d.corrupt_offset = kCorruptFrom + random_.below(bytes - kCorruptFrom);
    d.corrupt_mask = static_cast<std::uint8_t>(1U + random_.below(255));
  }
  return d;
}

}  // namespace dwcp::wanem
