#include "transport/loss_detector.h"

#include <doctest/doctest.h>

#include <vector>

using namespace dwcp::transport;
using dwcp::proto::PacketRange;
using std::chrono::milliseconds;

namespace {

struct Recorder final : PacketVisitor {
  std::vector<std::uint64_t> acked;
  std::vector<std::uint64_t> lost;
  void on_acked(const SentPacket& p) override { acked.push_back(p.packet_number); }
  void on_lost(const SentPacket& p) override { lost.push_back(p.packet_number); }
};

SentPacket data_packet(std::uint64_t pn, Instant sent, std::uint32_t bytes = 1200) {
  SentPacket p;
  p.packet_number = pn;
  p.sent_time = sent;
  p.bytes = bytes;
  p.ack_eliciting = true;
  p.in_flight = true;
  return p;
}

LossDetectorConfig config() {
  LossDetectorConfig c;
  c.max_ack_delay = milliseconds(0);  // keeps the arithmetic of the tests exact
  return c;
}

}  // namespace

TEST_CASE("an ACK takes packets out of flight, samples the RTT and the delivery rate") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn = 0; pn < 10; ++pn) {
    detector.on_packet_sent(data_packet(pn, t0 + milliseconds(pn)), false);
  }
  CHECK(detector.bytes_in_flight() == 12000);
  const PacketRange all[] = {{0, 9}};
  auto outcome = detector.on_ack(t0 + milliseconds(59), all, Duration{}, recorder);
  REQUIRE(outcome);
  CHECK(outcome->acked_packets == 10);
  CHECK(outcome->acked_bytes == 12000);
  CHECK(outcome->rtt_sampled);
  CHECK(detector.rtt().latest() == milliseconds(50));  // packet 9, sent at 9 ms
  CHECK(detector.bytes_in_flight() == 0);
  CHECK(recorder.acked.size() == 10);
  // 12000 bytes from the first send (t0) to this ACK (59 ms): the longer interval wins.
  CHECK(outcome->rate.delivered == 12000);
  CHECK(outcome->rate.interval == milliseconds(59));
  CHECK(outcome->rate.delivery_rate == 12000 * 1000 / 59);
  CHECK(detector.tracked_packets() == 0);
  CHECK_FALSE(detector.timer());

  // The same ACK again changes nothing.
  auto again = detector.on_ack(t0 + milliseconds(60), all, Duration{}, recorder);
  REQUIRE(again);
  CHECK(again->acked_packets == 0);
  CHECK(recorder.acked.size() == 10);
}

TEST_CASE("three later packets acknowledged declare a packet lost; a late ACK flags it spurious") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn = 0; pn < 6; ++pn) detector.on_packet_sent(data_packet(pn, t0), false);
  const PacketRange gap[] = {{2, 5}, {0, 0}};  // 1 missing, 4 later ones arrived
  auto outcome = detector.on_ack(t0 + milliseconds(30), gap, Duration{}, recorder);
  REQUIRE(outcome);
  CHECK(outcome->lost_packets == 1);
  CHECK(recorder.lost == std::vector<std::uint64_t>{1});
  CHECK(detector.bytes_in_flight() == 0);

  const PacketRange late[] = {{0, 5}};
  auto spurious = detector.on_ack(t0 + milliseconds(31), late, Duration{}, recorder);
  REQUIRE(spurious);
  CHECK(spurious->spurious_losses == 1);
  CHECK(spurious->acked_packets == 0);
}

TEST_CASE("a lost path MTU probe is no congestion signal, and its late ACK reaches the visitor") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn = 0; pn < 6; ++pn) {
    SentPacket p = data_packet(pn, t0);
    if (pn == 1) {
      p.bytes = 9000;
      p.control = control_frame::kPmtuProbe;
    }
    detector.on_packet_sent(p, false);
  }
  const PacketRange gap[] = {{2, 5}, {0, 0}};
  auto outcome = detector.on_ack(t0 + milliseconds(30), gap, Duration{}, recorder);
  REQUIRE(outcome);
  // The visitor hears of the loss; the outcome the controller reads does not.
  CHECK(recorder.lost == std::vector<std::uint64_t>{1});
  CHECK(outcome->lost_packets == 0);
  CHECK(outcome->lost_bytes == 0);
  CHECK(detector.bytes_in_flight() == 0);

  const PacketRange late[] = {{0, 5}};
  auto spurious = detector.on_ack(t0 + milliseconds(31), late, Duration{}, recorder);
  REQUIRE(spurious);
  CHECK(spurious->spurious_losses == 0);  // nothing for the controller to undo
  CHECK(recorder.acked.back() == 1);      // the size did cross
}

TEST_CASE("a reordered packet short of the threshold is lost only when its time is up") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  for (std::uint64_t pn = 0; pn < 3; ++pn) detector.on_packet_sent(data_packet(pn, t0), false);
  const PacketRange two[] = {{1, 2}};
  auto outcome = detector.on_ack(t0 + milliseconds(40), two, Duration{}, recorder);
  REQUIRE(outcome);
  CHECK(outcome->lost_packets == 0);  // only 2 later packets
  REQUIRE(detector.timer());
  // 9/8 of the 40 ms RTT after packet 0 was sent.
  CHECK(*detector.timer() == t0 + milliseconds(45));
  auto early = detector.on_timeout(t0 + milliseconds(44), recorder);
  CHECK(early.lost_packets == 0);
  auto due = detector.on_timeout(t0 + milliseconds(45), recorder);
  CHECK(due.lost_packets == 1);
  CHECK(recorder.lost == std::vector<std::uint64_t>{0});
}

TEST_CASE("with nothing acknowledged, the probe timeout fires and backs off") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  detector.on_packet_sent(data_packet(0, t0), false);
  REQUIRE(detector.timer());
  const Duration first = detector.pto();
  CHECK(*detector.timer() == t0 + first);
  auto probe = detector.on_timeout(t0 + first, recorder);
  CHECK(probe.probes_to_send == 2);
  CHECK(probe.lost_packets == 0);
  CHECK(detector.pto() == 2 * first);
  CHECK(*detector.timer() == t0 + 2 * first);

  // An ACK resets the backoff.
  const PacketRange zero[] = {{0, 0}};
  REQUIRE(detector.on_ack(t0 + 3 * first, zero, Duration{}, recorder));
  CHECK(detector.pto_count() == 0);
}

TEST_CASE("an ACK of a packet never sent is refused") {
  LossDetector detector(config());
  Recorder recorder;
  detector.on_packet_sent(data_packet(0, kSimulatedEpoch), false);
  const PacketRange future[] = {{0, 1}};
  auto outcome = detector.on_ack(kSimulatedEpoch, future, Duration{}, recorder);
  REQUIRE_FALSE(outcome);
  CHECK(outcome.error() == dwcp::proto::Errc::invalid_value);
}

TEST_CASE("losses spread over more than three probe timeouts are persistent congestion") {
  LossDetector detector(config());
  Recorder recorder;
  Instant t = kSimulatedEpoch;
  detector.on_packet_sent(data_packet(0, t), false);
  const PacketRange first[] = {{0, 0}};
  REQUIRE(detector.on_ack(t + milliseconds(10), first, Duration{}, recorder));  // RTT 10 ms
  // Packets 1..20 over two seconds, all lost; then 21..24 acknowledged.
  for (std::uint64_t pn = 1; pn <= 24; ++pn) {
    detector.on_packet_sent(data_packet(pn, t + milliseconds(100 * pn)), false);
  }
  const PacketRange tail[] = {{21, 24}};
  auto outcome = detector.on_ack(t + milliseconds(2500), tail, Duration{}, recorder);
  REQUIRE(outcome);
  CHECK(outcome->lost_packets == 20);
  CHECK(outcome->persistent_congestion);
}

TEST_CASE("app-limited sends mark the rate samples they produce") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  detector.on_packet_sent(data_packet(0, t0), true);
  const PacketRange zero[] = {{0, 0}};
  auto outcome = detector.on_ack(t0 + milliseconds(20), zero, Duration{}, recorder);
  REQUIRE(outcome);
  CHECK(outcome->rate.is_app_limited);
  // Sent while the app-limited bubble is still in flight: still marked (delivery-rate
  // draft §3.4); the mark clears once delivery passes the bubble.
  for (std::uint64_t pn = 1; pn <= 3; ++pn) {
    detector.on_packet_sent(data_packet(pn, t0 + milliseconds(20)), false);
  }
  const PacketRange middle[] = {{1, 3}};
  auto bubble = detector.on_ack(t0 + milliseconds(40), middle, Duration{}, recorder);
  REQUIRE(bubble);
  CHECK(bubble->rate.is_app_limited);
  for (std::uint64_t pn = 4; pn <= 6; ++pn) {
    detector.on_packet_sent(data_packet(pn, t0 + milliseconds(40)), false);
  }
  const PacketRange rest[] = {{4, 6}};
  auto later = detector.on_ack(t0 + milliseconds(60), rest, Duration{}, recorder);
  REQUIRE(later);
  CHECK_FALSE(later->rate.is_app_limited);
}

TEST_CASE("discarding forgets every packet without declaring it lost or acknowledged") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  detector.on_packet_sent(data_packet(0, t0), false);
  detector.on_packet_sent(data_packet(1, t0 + milliseconds(1)), false);
  REQUIRE(detector.timer());
  CHECK(detector.discard_all() == 2400);
  CHECK(detector.bytes_in_flight() == 0);
  CHECK(detector.tracked_packets() == 0);
  CHECK_FALSE(detector.timer());
  // Nothing ever fires for them, however long it waits.
  const RecoveryOutcome outcome = detector.on_timeout(t0 + std::chrono::seconds(10), recorder);
  CHECK(outcome.lost_packets == 0);
  CHECK(outcome.probes_to_send == 0);
  CHECK(recorder.lost.empty());
  CHECK(recorder.acked.empty());
  // Sending goes on with higher numbers.
  detector.on_packet_sent(data_packet(2, t0 + milliseconds(20)), false);
  const PacketRange two[] = {{2, 2}};
  auto acked = detector.on_ack(t0 + milliseconds(30), two, Duration{}, recorder);
  REQUIRE(acked);
  CHECK(acked->acked_packets == 1);
  CHECK(detector.bytes_in_flight() == 0);
}

TEST_CASE("a record prepared in place counts once sent, and nothing when dropped") {
  LossDetector detector(config());
  Recorder recorder;
  const Instant t0 = kSimulatedEpoch;
  SentPacket& dropped = detector.prepare_packet();
  dropped.packet_number = 0;
  detector.drop_prepared();
  CHECK(detector.tracked_packets() == 0);
  CHECK(detector.bytes_in_flight() == 0);

  for (std::uint64_t pn = 0; pn < 3; ++pn) {
    SentPacket& packet = detector.prepare_packet();
    packet = data_packet(pn, t0 + milliseconds(pn), 1000);
    detector.on_packet_sent(packet, false);
  }
  CHECK(detector.tracked_packets() == 3);
  CHECK(detector.bytes_in_flight() == 3000);
  // A record given by value after one was prepared replaces the prepared one.
  (void)detector.prepare_packet();
  detector.on_packet_sent(data_packet(3, t0 + milliseconds(3), 500), false);
  CHECK(detector.tracked_packets() == 4);
  CHECK(detector.bytes_in_flight() == 3500);
  const PacketRange all[] = {{0, 3}};
  REQUIRE(detector.on_ack(t0 + milliseconds(10), all, milliseconds(0), recorder));
  CHECK(recorder.acked == std::vector<std::uint64_t>{0, 1, 2, 3});
  CHECK(detector.bytes_in_flight() == 0);
}
