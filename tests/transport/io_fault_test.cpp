// The recording backend and the fault-injecting decorator, without sockets or clocks.
#include "transport/io_fault.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tests/transport/io_test_support.h"
#include "transport/io_recording.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::milliseconds;

namespace {

const SocketAddress kPeer = SocketAddress::loopback_v4(5000);

// `count` distinct datagrams of `size` bytes.
std::vector<std::vector<std::byte>> datagrams(std::size_t count, std::size_t size = 64) {
  std::vector<std::vector<std::byte>> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back(pattern(i, size));
  return out;
}

// Sends them one datagram per entry, 64 entries per call; every entry must be taken.
void send_each(IoBackend& backend, const std::vector<std::vector<std::byte>>& payloads) {
  const std::vector<TxDatagram> batch = entries_to(kPeer, payloads);
  for (std::size_t at = 0; at < batch.size();) {
    const auto r =
        backend.send(std::span(batch).subspan(at, std::min<std::size_t>(64, batch.size() - at)));
    REQUIRE_MESSAGE(r.has_value(), to_string(r.error()));
    REQUIRE(*r > 0);
    at += *r;
  }
}

// Within `sigmas` standard deviations of a binomial(n, p) count.
void check_binomial(std::uint64_t observed, std::size_t n, double p, double sigmas = 5.0) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(mean * (1.0 - p));
  CAPTURE(observed);
  CAPTURE(mean);
  CHECK(std::abs(static_cast<double>(observed) - mean) <= sigmas * sd);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Recording backend

TEST_CASE("recording backend records GSO entries as the datagrams the wire would carry") {
  RecordingBackend rec;
  CHECK(rec.name() == "recording");
  CHECK(rec.fd() == -1);
  CHECK(rec.capabilities().gso_max_segments == kMaxGsoSegments);
  const auto gso = pattern(1, 250);  // 100 + 100 + 50
  const auto single = pattern(2, 80);
  const std::vector<TxDatagram> batch = {{kPeer, gso, 100}, {kPeer, single, 0}};
  REQUIRE(rec.send(batch).value() == 2);
  REQUIRE(rec.sent().size() == 4);
  CHECK(rec.sent()[0].bytes == std::vector<std::byte>(gso.begin(), gso.begin() + 100));
  CHECK(rec.sent()[1].bytes == std::vector<std::byte>(gso.begin() + 100, gso.begin() + 200));
  CHECK(rec.sent()[2].bytes == std::vector<std::byte>(gso.begin() + 200, gso.end()));
  CHECK(rec.sent()[3].bytes == single);
  CHECK(rec.sent()[3].entry == 1);
  CHECK(rec.sent()[3].to == kPeer);
  CHECK(rec.send_calls() == 1);
}

TEST_CASE("two linked recording backends form an in-memory link") {
  RecordingBackend a(SocketAddress::loopback_v4(1111));
  RecordingBackend b(SocketAddress::loopback_v4(2222));
  a.link_to(&b);
  const auto payload = pattern(7, 300);
  const std::vector<TxDatagram> batch = {{b.local_address(), payload, 120}};
  REQUIRE(a.send(batch).value() == 1);
  CHECK(b.pending_receive() == 3);

  std::vector<std::byte> buffer(2048);
  std::vector<std::vector<std::byte>> storage(4, std::vector<std::byte>(2048));
  std::vector<RxDatagram> slots;
  slots.reserve(storage.size());
  for (auto& s : storage) slots.push_back(RxDatagram{s});
  const auto got = b.receive(slots);
  REQUIRE(got.value() == 3);
  std::vector<std::byte> joined;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(slots[i].from == a.local_address());
    const auto got_bytes = std::span(storage[i]).first(slots[i].length);
    joined.insert(joined.end(), got_bytes.begin(), got_bytes.end());
  }
  CHECK(joined == payload);
  const auto empty = b.receive(slots);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code == IoErrc::would_block);
}

TEST_CASE("recording backend: injected GRO buffers split, and short buffers truncate") {
  RecordingBackend rec;
  const auto coalesced = pattern(3, 1000);
  rec.inject(kPeer, coalesced, 300);
  rec.inject(kPeer, pattern(4, 500));
  std::vector<std::byte> big(2048);
  std::vector<std::byte> small(100);
  std::vector<RxDatagram> slots = {RxDatagram{big}, RxDatagram{small}};
  REQUIRE(rec.receive(slots).value() == 2);
  CHECK(slots[0].segment_count() == 4);
  CHECK(slots[0].segment(3).size() == 100);
  CHECK(
      std::equal(slots[0].segment(1).begin(), slots[0].segment(1).end(), coalesced.begin() + 300));
  CHECK_FALSE(slots[0].truncated);
  CHECK(slots[1].truncated);
  CHECK(slots[1].length == 100);
  CHECK(slots[1].segment_count() == 1);
}

TEST_CASE("recording backend: the send budget produces would_block, and errors can be queued") {
  RecordingBackend rec;
  const auto p = pattern(1, 100);
  const std::vector<TxDatagram> batch(5, TxDatagram{kPeer, p, 0});
  rec.set_send_budget(3);
  CHECK(rec.send(batch).value() == 3);
  const auto blocked = rec.send(batch);
  REQUIRE_FALSE(blocked.has_value());
  CHECK(blocked.error().code == IoErrc::would_block);
  rec.set_send_budget(100);
  rec.fail_next_send(IoError{IoErrc::message_too_big, EMSGSIZE, "test"});
  CHECK(rec.send(batch).error().code == IoErrc::message_too_big);
  CHECK(rec.send(batch).value() == 5);
  CHECK(rec.sent().size() == 8);

  IoCapabilities no_gso = RecordingBackend::default_capabilities();
  no_gso.gso_max_segments = 1;
  RecordingBackend plain_like(SocketAddress::loopback_v4(1), no_gso);
  const std::vector<TxDatagram> gso = {{kPeer, p, 10}};
  CHECK(plain_like.send(gso).error().code == IoErrc::invalid_argument);
}

// ---------------------------------------------------------------------------------------
// Fault decorator

TEST_CASE("with every probability 0 the fault decorator passes batches through untouched") {
  RecordingBackend direct;
  RecordingBackend inner;
  FaultBackend faults(inner, FaultConfig{});
  CHECK(faults.name() == "fault(recording)");
  CHECK(faults.capabilities().gso_max_segments == inner.capabilities().gso_max_segments);
  const auto gso = pattern(1, 4000);
  const auto single = pattern(2, 10);
  const std::vector<TxDatagram> batch = {{kPeer, gso, 1000}, {kPeer, single, 0}};
  for (int i = 0; i < 3; ++i) {
    REQUIRE(direct.send(batch).value() == 2);
    REQUIRE(faults.send(batch).value() == 2);
  }
  REQUIRE(inner.sent().size() == direct.sent().size());
  for (std::size_t i = 0; i < inner.sent().size(); ++i) {
    CHECK(inner.sent()[i].bytes == direct.sent()[i].bytes);
    CHECK(inner.sent()[i].entry == direct.sent()[i].entry);
  }
  CHECK(inner.send_calls() == 3);  // the batch was forwarded as it was, GSO entry whole
  CHECK(faults.counters().seen == 15);
  CHECK(faults.counters().forwarded == 15);
  CHECK(faults.counters().dropped == 0);
  CHECK(faults.held() == 0);
}

TEST_CASE("drops: the seeded count is within 5 sigma and the survivors keep their order") {
  const std::size_t n = 20000;
  const auto payloads = datagrams(n);
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 42;
  config.drop = 0.05;
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  const FaultCounters& c = faults.counters();
  CHECK(c.seen == n);
  check_binomial(c.dropped, n, 0.05);
  CHECK(inner.sent().size() == n - c.dropped);
  CHECK(c.forwarded == n - c.dropped);
  std::uint64_t last = 0;
  bool first = true;
  for (const auto& d : inner.sent()) {
    const std::uint64_t id = id_of(d.bytes);
    CHECK(d.bytes == payloads[id]);
    if (!first) CHECK(id > last);
    last = id;
    first = false;
  }
}

TEST_CASE("duplicates: each copy follows its original and the count is within 5 sigma") {
  const std::size_t n = 20000;
  const auto payloads = datagrams(n);
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 43;
  config.duplicate = 0.03;
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  const FaultCounters& c = faults.counters();
  check_binomial(c.duplicated, n, 0.03);
  REQUIRE(inner.sent().size() == n + c.duplicated);
  std::size_t pairs = 0;
  for (std::size_t i = 1; i < inner.sent().size(); ++i) {
    if (inner.sent()[i].bytes == inner.sent()[i - 1].bytes) ++pairs;
  }
  CHECK(pairs == c.duplicated);
}

TEST_CASE("corruption changes exactly one byte of each corrupted datagram") {
  const std::size_t n = 20000;
  const auto payloads = datagrams(n);
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 44;
  config.corrupt = 0.02;
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  const FaultCounters& c = faults.counters();
  check_binomial(c.corrupted, n, 0.02);
  REQUIRE(inner.sent().size() == n);
  std::uint64_t changed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& got = inner.sent()[i].bytes;
    REQUIRE(got.size() == payloads[i].size());
    std::size_t diff = 0;
    for (std::size_t k = 0; k < got.size(); ++k) diff += got[k] != payloads[i][k] ? 1 : 0;
    CHECK(diff <= 1);
    changed += diff;
  }
  CHECK(changed == c.corrupted);
  CHECK(changed > 0);
}

TEST_CASE("reordering changes the order but loses and adds nothing") {
  const std::size_t n = 5000;
  const auto payloads = datagrams(n);
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 45;
  config.reorder = 0.1;
  config.reorder_distance = 3;
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  CHECK(faults.release_all().has_value());
  CHECK(faults.held() == 0);
  const FaultCounters& c = faults.counters();
  check_binomial(c.reordered, n, 0.1);
  REQUIRE(inner.sent().size() == n);
  std::vector<std::uint64_t> ids;
  std::size_t out_of_order = 0;
  for (const auto& d : inner.sent()) {
    ids.push_back(id_of(d.bytes));
    CHECK(d.bytes == payloads[ids.back()]);
    if (ids.size() > 1 && ids.back() < ids[ids.size() - 2]) ++out_of_order;
  }
  CHECK(out_of_order > 0);
  std::vector<std::uint64_t> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < n; ++i) REQUIRE(sorted[i] == i);
  // A reordered datagram is overtaken by about reorder_distance later ones, not more than
  // a batch's worth.
  for (std::size_t pos = 0; pos < n; ++pos) {
    CHECK(std::llabs(static_cast<long long>(ids[pos]) - static_cast<long long>(pos)) <= 64);
  }
}

TEST_CASE("delay holds datagrams until the time passed to advance() reaches them") {
  const auto payloads = datagrams(10);
  RecordingBackend inner;
  FaultConfig config;
  config.delay = 1.0;
  config.delay_time = milliseconds(10);
  const Instant start = kSimulatedEpoch;
  FaultBackend faults(inner, config, start);
  send_each(faults, payloads);
  CHECK(inner.sent().empty());
  CHECK(faults.held() == 10);
  CHECK(faults.advance(start + milliseconds(9)).value() == 0);
  CHECK(inner.sent().empty());
  CHECK(faults.advance(start + milliseconds(10)).value() == 10);
  REQUIRE(inner.sent().size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(inner.sent()[i].bytes == payloads[i]);
  CHECK(faults.counters().delayed == 10);
}

TEST_CASE("partly delayed traffic: the prompt datagrams overtake the delayed ones") {
  const auto payloads = datagrams(1000);
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 46;
  config.delay = 0.2;
  config.delay_time = milliseconds(5);
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  const FaultCounters& c = faults.counters();
  check_binomial(c.delayed, 1000, 0.2);
  CHECK(inner.sent().size() == 1000 - c.delayed);
  CHECK(faults.advance(kSimulatedEpoch + milliseconds(5)).has_value());
  REQUIRE(inner.sent().size() == 1000);
  for (std::size_t i = 0; i < 1000 - c.delayed; ++i) {
    CHECK(inner.sent()[i].bytes == payloads[id_of(inner.sent()[i].bytes)]);
  }
}

TEST_CASE("the same seed replays the same faults; another seed does not") {
  const auto payloads = datagrams(3000, 48);
  FaultConfig config;
  config.seed = 99;
  config.drop = 0.05;
  config.duplicate = 0.05;
  config.corrupt = 0.05;
  config.reorder = 0.05;
  RecordingBackend inner1;
  RecordingBackend inner2;
  RecordingBackend inner3;
  FaultBackend f1(inner1, config);
  FaultBackend f2(inner2, config);
  config.seed = 100;
  FaultBackend f3(inner3, config);
  send_each(f1, payloads);
  send_each(f2, payloads);
  send_each(f3, payloads);
  CHECK(f1.release_all().has_value());
  CHECK(f2.release_all().has_value());
  CHECK(f3.release_all().has_value());
  REQUIRE(inner1.sent().size() == inner2.sent().size());
  for (std::size_t i = 0; i < inner1.sent().size(); ++i) {
    CHECK(inner1.sent()[i].bytes == inner2.sent()[i].bytes);
  }
  CHECK(f1.counters().dropped == f2.counters().dropped);
  CHECK(f1.counters().corrupted == f2.counters().corrupted);
  const bool differs = inner1.sent().size() != inner3.sent().size() ||
                       f1.counters().dropped != f3.counters().dropped ||
                       f1.counters().duplicated != f3.counters().duplicated;
  CHECK(differs);
  const FaultCounters& c = f1.counters();
  CHECK(inner1.sent().size() == c.seen - c.dropped + c.duplicated);
}

TEST_CASE("GSO entries are judged datagram by datagram") {
  RecordingBackend inner;
  FaultConfig config;
  config.seed = 5;
  config.drop = 0.5;
  FaultBackend faults(inner, config);
  const auto gso = pattern(1, std::size_t{64} * 100);
  const std::vector<TxDatagram> batch = {{kPeer, gso, 100}};
  REQUIRE(faults.send(batch).value() == 1);
  CHECK(faults.counters().seen == 64);
  CHECK(inner.sent().size() == 64 - faults.counters().dropped);
  CHECK(faults.counters().dropped > 0);
  CHECK(faults.counters().dropped < 64);
  for (const auto& d : inner.sent()) CHECK(d.bytes.size() == 100);
}

TEST_CASE("back-pressure from the inner backend holds datagrams instead of losing them") {
  const auto payloads = datagrams(100);
  RecordingBackend inner;
  inner.set_send_budget(30);
  FaultConfig config;
  config.seed = 6;
  config.corrupt = 0.01;  // any fault turns queueing on
  FaultBackend faults(inner, config);
  send_each(faults, payloads);
  CHECK(inner.sent().size() == 30);
  CHECK(faults.held() == 70);
  inner.set_send_budget(1000);
  CHECK(faults.flush().value() == 70);
  CHECK(faults.held() == 0);
  REQUIRE(inner.sent().size() == 100);
  for (std::size_t i = 0; i < 100; ++i) CHECK(id_of(inner.sent()[i].bytes) == i);
}

TEST_CASE("a full hold queue makes send() say would_block") {
  const auto payloads = datagrams(10);
  RecordingBackend inner;
  FaultConfig config;
  config.delay = 1.0;
  config.max_held = 8;
  FaultBackend faults(inner, config);
  const std::vector<TxDatagram> batch = entries_to(kPeer, payloads);
  // An entry is taken while the queue has room for it and a possible duplicate.
  CHECK(faults.send(batch).value() == 7);
  CHECK(faults.held() == 7);
  const auto r = faults.send(std::span(batch).subspan(7));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == IoErrc::would_block);
  CHECK(faults.release_all().value() == 7);
  CHECK(faults.send(std::span(batch).subspan(7)).value() == 3);
}

TEST_CASE("the fault decorator checks entries against the inner capabilities") {
  IoCapabilities no_gso = RecordingBackend::default_capabilities();
  no_gso.gso_max_segments = 1;
  RecordingBackend inner(SocketAddress::loopback_v4(1), no_gso);
  FaultConfig config;
  config.drop = 0.1;
  FaultBackend faults(inner, config);
  const auto p = pattern(1, 300);
  const std::vector<TxDatagram> gso = {{kPeer, p, 100}};
  CHECK(faults.send(gso).error().code == IoErrc::invalid_argument);
}
