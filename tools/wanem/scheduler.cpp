#include "tools/wanem/scheduler.h"

#include <algorithm>

namespace dwcp::wanem {
namespace {

// std::push_heap builds a max-heap: "later" is "less".
bool later(const ScheduledPacket& a, const ScheduledPacket& b) {
  if (a.due != b.due) return a.due > b.due;
  return a.sequence > b.sequence;
}

}  // namespace

void Scheduler::push(TimePoint due, std::uint32_t handle, std::uint8_t output) {
  heap_.push_back(ScheduledPacket{due, next_sequence_++, handle, output});
  std::push_heap(heap_.begin(), heap_.end(), later);
}

std::optional<TimePoint> Scheduler::next_due() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().due;
}

std::optional<ScheduledPacket> Scheduler::pop_due(TimePoint now) {
  if (heap_.empty() || heap_.front().due > now) return std::nullopt;
  std::pop_heap(heap_.begin(), heap_.end(), later);
  const ScheduledPacket top = heap_.back();
  heap_.pop_back();
  return top;
}

}  // namespace dwcp::wanem
