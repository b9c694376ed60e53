// The kernel backends over loopback without GSO: plain, mmsg and io_uring round trips, each
// also with zero-copy sends (IPv4 and IPv6), batches larger than one syscall, entries a
// backend cannot carry, the run-time selector, and receiving into pool buffers. A kind the
// kernel cannot run is skipped with a message. GSO and GRO are in io_gso_test.cpp.
#include "transport/io_backend.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mempool/buffer_pool.h"
#include "tests/transport/io_test_support.h"
#include "transport/io_fault.h"
#include "transport/io_mmsg.h"
#include "transport/io_plain.h"
#include "transport/io_select.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;

namespace {

// A backend without GSO; nullptr (with a message) if this kernel cannot run the kind.
std::unique_ptr<IoBackend> make(Kind kind, const SocketAddress& bind_to,
                                const SocketOptions& options = {}) {
  std::string why;
  auto b = open_kind(kind, bind_to, 1, why, options);
  if (!b) MESSAGE("skipped " << kind_name(kind) << ": " << why);
  return b;
}

// Sends `count` datagrams of assorted sizes from `tx` to `rx` in batches of `batch`,
// retrying would_block a bounded number of times, and checks each arrives byte-exact.
void round_trip(IoBackend& tx, IoBackend& rx, std::size_t count, std::size_t batch) {
  std::vector<std::vector<std::byte>> payloads;
  payloads.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    payloads.push_back(pattern(i, 1 + (i * 397) % 1472));
  }
  const std::vector<TxDatagram> entries = entries_to(rx.local_address(), payloads);
  std::size_t sent = 0;
  for (int attempt = 0; attempt < 10000 && sent < count; ++attempt) {
    const std::size_t n = std::min(batch, count - sent);
    const auto r = tx.send(std::span(entries).subspan(sent, n));
    if (!r) {
      REQUIRE_MESSAGE(r.error().code == IoErrc::would_block, to_string(r.error()));
      continue;
    }
    sent += *r;
  }
  REQUIRE(sent == count);

  const auto got = receive_datagrams(rx, count);
  REQUIRE(got.size() == count);
  std::map<std::uint64_t, int> seen;
  for (const Received& d : got) {
    CHECK(d.from == tx.local_address());
    const std::uint64_t id = id_of(d.bytes);
    REQUIRE(id < count);
    CHECK(d.bytes == payloads[id]);
    ++seen[id];
  }
  CHECK(seen.size() == count);
}

}  // namespace

TEST_CASE("plain backend: datagrams round-trip byte-exact over IPv4 loopback") {
  auto tx = make(Kind::plain, SocketAddress::loopback_v4(0));
  auto rx = make(Kind::plain, SocketAddress::loopback_v4(0));
  REQUIRE(tx);
  REQUIRE(rx);
  CHECK(tx->name() == "plain");
  CHECK(tx->capabilities().gso_max_segments == 1);
  CHECK_FALSE(tx->capabilities().zerocopy);
  round_trip(*tx, *rx, 300, 32);
}

TEST_CASE("batching backends without GSO: batches larger than one syscall round-trip") {
  for (const Kind kind : {Kind::mmsg, Kind::mmsg_zerocopy, Kind::uring, Kind::uring_zerocopy}) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    auto rx = make(kind, SocketAddress::loopback_v4(0));
    if (!tx || !rx) continue;
    CHECK(tx->name() == (kind == Kind::mmsg || kind == Kind::mmsg_zerocopy ? "mmsg" : "uring"));
    CHECK(tx->capabilities().max_batch == kMaxBatch);
    round_trip(*tx, *rx, 1000, 150);  // 150 entries: three kernel calls per send()
  }
}

TEST_CASE("every backend round-trips over IPv6 loopback") {
  for (const Kind kind : kAllKinds) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v6(0));
    auto rx = make(kind, SocketAddress::loopback_v6(0));
    if (!tx || !rx) continue;
    round_trip(*tx, *rx, 200, 64);
    CHECK(rx->local_address().is_v6());
  }
}

TEST_CASE("a zero-length datagram is carried") {
  for (const Kind kind : kAllKinds) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    auto rx = make(kind, SocketAddress::loopback_v4(0));
    if (!tx || !rx) continue;
    const TxDatagram empty{rx->local_address(), {}, 0};
    REQUIRE(tx->send(std::span(&empty, 1)).value() == 1);
    const auto got = receive_datagrams(*rx, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].bytes.empty());
  }
}

TEST_CASE("entries a backend cannot carry are refused, after the good ones before them") {
  for (const Kind kind : kAllKinds) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    auto rx = make(kind, SocketAddress::loopback_v4(0));
    if (!tx || !rx) continue;
    const auto small = pattern(1, 100);
    const auto big = pattern(2, 3000);
    // Without GSO, an entry of several segments is more than the backend can carry.
    const std::vector<TxDatagram> batch = {{rx->local_address(), small, 0},
                                           {rx->local_address(), big, 1000},
                                           {rx->local_address(), small, 0}};
    CHECK(tx->send(batch).value() == 1);
    const auto r = tx->send(std::span(batch).subspan(1));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == IoErrc::invalid_argument);
    const std::vector<TxDatagram> no_address = {{SocketAddress{}, small, 0}};
    CHECK(tx->send(no_address).error().code == IoErrc::invalid_argument);
    const auto too_big = pattern(3, kMaxUdpPayload + 1);
    const std::vector<TxDatagram> oversized = {{rx->local_address(), too_big, 0}};
    CHECK(tx->send(oversized).error().code == IoErrc::invalid_argument);
    CHECK(tx->send(std::span<const TxDatagram>{}).value() == 0);
    CHECK(receive_datagrams(*rx, 1).size() == 1);
  }
}

TEST_CASE("a datagram larger than the receive buffer is cut and marked truncated") {
  for (const Kind kind : {Kind::mmsg, Kind::uring}) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    SocketOptions no_gro;
    no_gro.gro = false;
    auto rx = make(kind, SocketAddress::loopback_v4(0), no_gro);
    if (!tx || !rx) continue;
    const auto payload = pattern(9, 1000);
    const TxDatagram d{rx->local_address(), payload, 0};
    REQUIRE(tx->send(std::span(&d, 1)).value() == 1);
    std::vector<std::byte> small(100);
    RxDatagram slot{small};
    IoResult<std::size_t> r = std::unexpected(IoError{});
    for (int i = 0; i < 100; ++i) {
      r = rx->receive(std::span(&slot, 1));
      if (r || r.error().code != IoErrc::would_block) break;
      pollfd pfd{rx->fd(), POLLIN, 0};
      (void)::poll(&pfd, 1, 100);
    }
    REQUIRE(r.has_value());
    CHECK(slot.truncated);
    CHECK(slot.length == 100);
    CHECK(std::equal(small.begin(), small.end(), payload.begin()));
  }
}

TEST_CASE("uring backend: a datagram arriving after would_block makes fd() readable") {
  // The multishot receive stays armed between calls; the idle strategy sleeps in epoll on
  // fd(), so a datagram the kernel has not handed over must still wake it.
  auto tx = make(Kind::uring, SocketAddress::loopback_v4(0));
  auto rx = make(Kind::uring, SocketAddress::loopback_v4(0));
  if (!tx || !rx) return;
  std::vector<std::byte> buffer(kMaxUdpPayload);
  RxDatagram slot{buffer};
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    const auto idle = rx->receive(std::span(&slot, 1));
    REQUIRE_FALSE(idle.has_value());
    REQUIRE(idle.error().code == IoErrc::would_block);
    pollfd before{rx->fd(), POLLIN, 0};
    CHECK(::poll(&before, 1, 0) == 0);  // nothing pending: a sleeper would sleep
    const auto payload = pattern(static_cast<std::uint64_t>(round), 700);
    const TxDatagram d{rx->local_address(), payload, 0};
    REQUIRE(tx->send(std::span(&d, 1)).value() == 1);
    pollfd pfd{rx->fd(), POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, 2000) == 1);
    const auto got = rx->receive(std::span(&slot, 1));
    REQUIRE(got.has_value());
    CHECK(slot.length == payload.size());
    CHECK(std::equal(payload.begin(), payload.end(), buffer.begin()));
    CHECK(slot.from == tx->local_address());
  }
}

TEST_CASE("zero-copy sends wait for their completions; loopback reports them copied") {
  for (const Kind kind : {Kind::mmsg_zerocopy, Kind::uring_zerocopy}) {
    CAPTURE(kind_name(kind));
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    auto rx = make(Kind::mmsg, SocketAddress::loopback_v4(0));
    if (!tx || !rx) continue;
    CHECK(tx->capabilities().zerocopy);
    std::vector<std::vector<std::byte>> payloads(20);
    for (std::uint64_t i = 0; i < payloads.size(); ++i) payloads[i] = pattern(i, 1400);
    auto batch = entries_to(rx->local_address(), payloads);
    REQUIRE(tx->send(batch).value() == batch.size());
    // send() returned: the kernel is done with the spans, so changing them now must not
    // change what arrives.
    for (auto& p : payloads) std::fill(p.begin() + 8, p.end(), std::byte{0});
    const auto got = receive_datagrams(*rx, payloads.size());
    REQUIRE(got.size() == payloads.size());
    for (const Received& d : got) CHECK(d.bytes == pattern(id_of(d.bytes), 1400));
    const IoStatistics stats = tx->statistics();
    CHECK(stats.zerocopy_sends == payloads.size());
    CHECK(stats.zerocopy_late == 0);
    // Loopback copies at delivery (MACHINE.md); "on" keeps going regardless.
    MESSAGE(kind_name(kind) << ": " << stats.zerocopy_copied << " of " << stats.zerocopy_sends
                            << " completions said copied");
    CHECK(stats.zerocopy_copied > 0);
    CHECK_FALSE(stats.zerocopy_turned_off);
    CHECK(tx->capabilities().zerocopy);
  }
}

TEST_CASE("automatic zero-copy leaves small entries alone and stops when the kernel copies") {
  for (const BackendKind want : {BackendKind::mmsg, BackendKind::uring}) {
    CAPTURE(to_string(want));
    SocketOptions options;
    options.zerocopy = ZerocopyMode::automatic;
    auto tx = open_backend(SocketAddress::loopback_v4(0), options, want);
    if (!tx) {
      MESSAGE("skipped " << to_string(want) << ": " << to_string(tx.error()));
      continue;
    }
    auto rx = make(Kind::mmsg, SocketAddress::loopback_v4(0));
    REQUIRE(rx);
    IoBackend& b = *tx->backend;
    if (!b.capabilities().zerocopy) {
      MESSAGE("skipped " << to_string(want) << ": no zero-copy here: " << tx->reason);
      continue;
    }
    const auto small = pattern(1, 1000);
    const TxDatagram s{rx->local_address(), small, 0};
    REQUIRE(b.send(std::span(&s, 1)).value() == 1);
    CHECK(b.statistics().zerocopy_sends == 0);  // below kZerocopyMinBytes: copied as usual
    const auto large = pattern(2, 30000);
    const TxDatagram l{rx->local_address(), large, 0};
    REQUIRE(b.send(std::span(&l, 1)).value() == 1);
    const IoStatistics stats = b.statistics();
    CHECK(stats.zerocopy_sends == 1);
    if (stats.zerocopy_copied > 0) {
      CHECK(stats.zerocopy_turned_off);
      CHECK_FALSE(b.capabilities().zerocopy);
      REQUIRE(b.send(std::span(&l, 1)).value() == 1);
      CHECK(b.statistics().zerocopy_sends == 1);  // off for good
    }
    const auto got = receive_datagrams(*rx, 2);
    CHECK(got.size() >= 2);
  }
}

TEST_CASE("received datagrams land in buffers from the packet pool") {
  for (const Kind kind : {Kind::mmsg, Kind::uring}) {
    CAPTURE(kind_name(kind));
    dwcp::mempool::PoolConfig config;
    config.classes = {{2048, 64, 0}, {65536, 16, 0}};
    auto pool = dwcp::mempool::BufferPool::create(config);
    REQUIRE(pool.has_value());
    auto tx = make(kind, SocketAddress::loopback_v4(0));
    auto rx = make(kind, SocketAddress::loopback_v4(0));
    if (!tx || !rx) continue;

    std::vector<std::vector<std::byte>> payloads(8);
    for (std::uint64_t i = 0; i < 8; ++i) payloads[i] = pattern(i, 1200);
    const std::vector<TxDatagram> batch = entries_to(rx->local_address(), payloads);
    REQUIRE(tx->send(batch).value() == batch.size());

    // A pool buffer per slot; the backend sees only their spans.
    std::vector<dwcp::mempool::BufferHandle> handles;
    std::vector<RxDatagram> slots;
    for (int i = 0; i < 8; ++i) {
      handles.push_back((*pool)->try_allocate(rx->capabilities().gro ? kMaxUdpPayload : 2048));
      REQUIRE(handles.back());
      slots.push_back(RxDatagram{handles.back().buffer()});
    }
    std::size_t received = 0;
    for (int i = 0; i < 100 && received < slots.size(); ++i) {
      const auto r = rx->receive(std::span(slots).subspan(received));
      if (!r) {
        REQUIRE(r.error().code == IoErrc::would_block);
        pollfd pfd{rx->fd(), POLLIN, 0};
        (void)::poll(&pfd, 1, 100);
        continue;
      }
      for (std::size_t k = received; k < received + *r; ++k) {
        REQUIRE(handles[k].set_length(slots[k].length));
      }
      received += *r;
    }
    REQUIRE(received == slots.size());
    std::size_t datagrams = 0;
    for (std::size_t k = 0; k < received; ++k) {
      for (std::size_t s = 0; s < slots[k].segment_count(); ++s, ++datagrams) {
        const auto seg = slots[k].segment(s);
        CHECK(std::equal(seg.begin(), seg.end(), payloads[id_of(seg)].begin(),
                         payloads[id_of(seg)].end()));
      }
      CHECK(handles[k].payload().size() == slots[k].length);
    }
    CHECK(datagrams >= received);
  }
}

TEST_CASE("the selector says which backend runs and why") {
  auto automatic = open_backend(SocketAddress::loopback_v4(0));
  REQUIRE_MESSAGE(automatic.has_value(), to_string(automatic.error()));
  MESSAGE("selected: " << automatic->reason);
  CHECK(automatic->kind != BackendKind::automatic);
  CHECK_FALSE(automatic->reason.empty());
  CHECK(automatic->reason.starts_with(to_string(automatic->kind)));
  if (automatic->kind == BackendKind::mmsg_gso) {
    CHECK(automatic->backend->capabilities().gso_max_segments == kMaxGsoSegments);
  } else {
    CHECK(automatic->kind == BackendKind::plain);
    CHECK(automatic->backend->capabilities().gso_max_segments == 1);
  }

  auto plain = open_backend(SocketAddress::loopback_v4(0), {}, BackendKind::plain);
  REQUIRE(plain.has_value());
  CHECK(plain->kind == BackendKind::plain);
  CHECK(plain->backend->name() == "plain");
  round_trip(*automatic->backend, *plain->backend, 100, 16);

  auto mmsg = open_backend(SocketAddress::loopback_v4(0), {}, BackendKind::mmsg);
  REQUIRE(mmsg.has_value());
  CHECK(mmsg->backend->capabilities().gso_max_segments == 1);

  BackendKind k = BackendKind::plain;
  CHECK(parse_backend_kind("mmsg+gso", k));
  CHECK(k == BackendKind::mmsg_gso);
  CHECK(parse_backend_kind("auto", k));
  CHECK(k == BackendKind::automatic);
  CHECK(parse_backend_kind("io_uring", k));
  CHECK(k == BackendKind::uring);
  CHECK(parse_backend_kind("uring", k));
  CHECK(k == BackendKind::uring);
  CHECK_FALSE(parse_backend_kind("epoll", k));
  CHECK(k == BackendKind::uring);
  ZerocopyMode z = ZerocopyMode::off;
  CHECK(parse_zerocopy_mode("auto", z));
  CHECK(z == ZerocopyMode::automatic);
  CHECK(parse_zerocopy_mode("on", z));
  CHECK(z == ZerocopyMode::on);
  CHECK_FALSE(parse_zerocopy_mode("yes", z));
  CHECK(z == ZerocopyMode::on);

  auto uring = open_backend(SocketAddress::loopback_v4(0), {}, BackendKind::uring);
  if (uring) {
    MESSAGE("uring: " << uring->reason);
    CHECK(uring->kind == BackendKind::uring);
    CHECK(uring->backend->name() == "uring");
    CHECK(uring->reason.starts_with("uring"));
    round_trip(*uring->backend, *plain->backend, 100, 16);
    round_trip(*plain->backend, *uring->backend, 100, 16);
  } else {
    MESSAGE("uring not available: " << to_string(uring.error()));
    CHECK(uring.error().code == IoErrc::unsupported);
  }

  CHECK_FALSE(open_backend(SocketAddress{}).has_value());
}

TEST_CASE("fault decorator over a real socket: the receiver gets exactly what was not dropped") {
  auto tx = make(Kind::mmsg, SocketAddress::loopback_v4(0));
  auto rx = make(Kind::mmsg, SocketAddress::loopback_v4(0));
  REQUIRE(tx);
  REQUIRE(rx);
  FaultConfig config;
  config.seed = 7;
  config.drop = 0.1;
  FaultBackend faulty(*tx, config);
  CHECK(faulty.name() == "fault(mmsg)");
  std::vector<std::vector<std::byte>> payloads(500);
  for (std::uint64_t i = 0; i < 500; ++i) payloads[i] = pattern(i, 200);
  const std::vector<TxDatagram> batch = entries_to(rx->local_address(), payloads);
  std::size_t sent = 0;
  for (int i = 0; i < 1000 && sent < batch.size(); ++i) {
    const auto r =
        faulty.send(std::span(batch).subspan(sent, std::min<std::size_t>(64, batch.size() - sent)));
    if (r) sent += *r;
  }
  REQUIRE(sent == batch.size());
  for (int i = 0; i < 100 && faulty.held() > 0; ++i) CHECK(faulty.flush().has_value());
  REQUIRE(faulty.held() == 0);
  const auto& c = faulty.counters();
  CHECK(c.seen == 500);
  CHECK(c.forwarded == 500 - c.dropped);
  CHECK(c.dropped > 0);
  const auto got = receive_datagrams(*rx, c.forwarded);
  CHECK(got.size() == c.forwarded);
  for (const Received& d : got) CHECK(d.bytes == payloads[id_of(d.bytes)]);
}
