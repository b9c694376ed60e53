#include "transport/ack_scheduler.h"

#include <doctest/doctest.h>

#include <array>
#include <vector>

using namespace dwcp::transport;
using namespace dwcp::proto;
using std::chrono::milliseconds;

namespace {

// Writes the scheduler's ACK into a short-header packet and decodes it back.
struct WrittenAck {
  std::vector<PacketRange> ranges;
  std::uint64_t delay = 0;
};

WrittenAck write_and_read(AckScheduler& scheduler, Instant now) {
  std::array<std::byte, 1500> out{};
  auto builder = PacketBuilder::short_header(out, ConnectionId{}, 1, 1);
  REQUIRE(builder);
  REQUIRE(scheduler.write_ack(*builder, now));
  auto size = builder->finish();
  REQUIRE(size);
  auto packet = parse_packet(std::span(out).first(*size), 0);
  REQUIRE(packet);
  FrameReader reader(packet->header.type, packet->payload);
  auto frame = reader.next();
  REQUIRE(frame);
  const auto& ack = std::get<AckFrame>(**frame);
  return {{ack.ranges().begin(), ack.ranges().end()}, ack.ack_delay};
}

}  // namespace

TEST_CASE("one ack-eliciting packet waits for max_ack_delay; two in a batch are due at once") {
  AckScheduler scheduler;
  const Instant t0 = kSimulatedEpoch;
  CHECK(scheduler.on_packet_received(t0, 0, true));
  scheduler.on_batch_end(t0);
  CHECK_FALSE(scheduler.ack_due(t0));
  CHECK(scheduler.deadline() == t0 + milliseconds(25));
  CHECK(scheduler.ack_due(t0 + milliseconds(25)));

  AckScheduler batch;
  batch.on_packet_received(t0, 0, true);
  batch.on_packet_received(t0, 1, true);
  CHECK_FALSE(batch.ack_due(t0));  // not before the batch ends
  batch.on_batch_end(t0);
  CHECK(batch.ack_due(t0));
}

TEST_CASE("a gap makes an ACK due at the end of the batch") {
  AckScheduler scheduler;
  const Instant t0 = kSimulatedEpoch;
  scheduler.on_packet_received(t0, 0, true);
  scheduler.on_batch_end(t0);
  (void)write_and_read(scheduler, t0 + milliseconds(25));
  scheduler.on_packet_received(t0 + milliseconds(30), 2, true);  // 1 is missing
  scheduler.on_batch_end(t0 + milliseconds(30));
  CHECK(scheduler.ack_due(t0 + milliseconds(30)));
}

TEST_CASE("packets that elicit nothing are acknowledged only along with others") {
  AckScheduler scheduler;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn = 0; pn < 10; ++pn) scheduler.on_packet_received(t0, pn, false);
  scheduler.on_batch_end(t0);
  CHECK_FALSE(scheduler.ack_due(t0 + milliseconds(1000)));
  CHECK_FALSE(scheduler.deadline());
  CHECK(scheduler.has_unacked());
}

TEST_CASE("the ACK carries the ranges and the delay since the largest arrived") {
  AckScheduler scheduler;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn : {0, 1, 2, 5, 6, 9}) scheduler.on_packet_received(t0, pn, true);
  CHECK_FALSE(scheduler.on_packet_received(t0, 5, true));  // duplicate
  CHECK(scheduler.duplicates() == 1);
  const auto ack = write_and_read(scheduler, t0 + milliseconds(8));
  const std::vector<PacketRange> expected{{9, 9}, {5, 6}, {0, 2}};
  CHECK(ack.ranges == expected);
  CHECK(ack.delay == 8000 >> 3);  // microseconds scaled by the exponent
  CHECK_FALSE(scheduler.has_unacked());
  CHECK_FALSE(scheduler.ack_due(t0 + milliseconds(100)));

  scheduler.on_ack_acknowledged(6);
  scheduler.on_packet_received(t0 + milliseconds(9), 10, true);
  const auto next = write_and_read(scheduler, t0 + milliseconds(9));
  const std::vector<PacketRange> trimmed{{9, 10}, {6, 6}};
  CHECK(next.ranges == trimmed);
}
