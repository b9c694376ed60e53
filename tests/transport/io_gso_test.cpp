// UDP GSO on send and GRO on receive over loopback, through each batching backend (mmsg and
// io_uring, each also with zero-copy sends). Needs a kernel that segments UDP (4.18+) and
// coalesces it (5.0+); without them the program says what is missing and exits 77, which
// CTest counts as a skip. A backend kind the kernel lacks is skipped with a message.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/transport/io_test_support.h"
#include "transport/io_mmsg.h"
#include "transport/io_plain.h"
#include "transport/io_select.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;

namespace {

constexpr Kind kGsoKinds[] = {Kind::mmsg, Kind::mmsg_zerocopy, Kind::uring, Kind::uring_zerocopy};

// nullptr, with a message, when this kernel cannot run `kind` (the case skips it).
std::unique_ptr<IoBackend> open_gso(Kind kind, bool gro, std::size_t gso_segments = kMaxGsoSegments,
                                    const SocketAddress& at = SocketAddress::loopback_v4(0)) {
  SocketOptions options;
  options.gro = gro;
  std::string why;
  auto b = open_kind(kind, at, gso_segments, why, options);
  if (!b) MESSAGE("skipped " << kind_name(kind) << ": " << why);
  return b;
}

struct Entry {
  std::vector<std::byte> bytes;      // the GSO buffer
  std::vector<std::uint64_t> ids;    // the datagram ids in it, in order
  std::vector<std::size_t> lengths;  // and their lengths
};

// `entries` GSO buffers of `segments` datagrams of `seg` bytes, the last datagram of each
// `last` bytes long (0: full size).
std::vector<Entry> make_entries(std::size_t entries, std::size_t segments, std::size_t seg,
                                std::size_t last) {
  std::vector<Entry> out(entries);
  std::uint64_t id = 0;
  for (Entry& e : out) {
    for (std::size_t s = 0; s < segments; ++s, ++id) {
      const std::size_t len = (s + 1 == segments && last != 0) ? last : seg;
      const auto p = pattern(id, len);
      e.bytes.insert(e.bytes.end(), p.begin(), p.end());
      e.ids.push_back(id);
      e.lengths.push_back(len);
    }
  }
  return out;
}

std::vector<TxDatagram> gso_entries(const SocketAddress& to, const std::vector<Entry>& entries,
                                    std::uint16_t segment_size) {
  std::vector<TxDatagram> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(TxDatagram{to, e.bytes, segment_size});
  return out;
}

std::size_t send_all(IoBackend& tx, const std::vector<TxDatagram>& batch) {
  std::size_t sent = 0;
  for (int attempt = 0; attempt < 10000 && sent < batch.size(); ++attempt) {
    const auto r = tx.send(std::span(batch).subspan(sent));
    if (!r) {
      REQUIRE_MESSAGE(r.error().code == IoErrc::would_block, to_string(r.error()));
      continue;
    }
    sent += *r;
  }
  return sent;
}

// Every datagram of every entry arrived once, byte-exact.
void check_all_arrived(const std::vector<Entry>& entries, const std::vector<Received>& got) {
  std::map<std::uint64_t, std::size_t> expected_len;
  for (const Entry& e : entries) {
    for (std::size_t i = 0; i < e.ids.size(); ++i) expected_len[e.ids[i]] = e.lengths[i];
  }
  REQUIRE(got.size() == expected_len.size());
  std::map<std::uint64_t, int> seen;
  for (const Received& d : got) {
    const std::uint64_t id = id_of(d.bytes);
    REQUIRE(expected_len.contains(id));
    CHECK(d.bytes == pattern(id, expected_len[id]));
    ++seen[id];
  }
  CHECK(seen.size() == expected_len.size());
}

}  // namespace

TEST_CASE("GSO send and GRO receive: the receiver splits super-buffers back into datagrams") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false);
    auto rx = open_gso(kind, true);
    if (!tx || !rx) continue;
    REQUIRE(tx->capabilities().gso_max_segments == kMaxGsoSegments);
    REQUIRE(rx->capabilities().gro);

    // 1472-byte datagrams, 44 to a buffer (64,768 bytes), the last one shorter.
    const auto entries = make_entries(12, 44, 1472, 1000);
    const std::vector<TxDatagram> batch = gso_entries(rx->local_address(), entries, 1472);
    CHECK(batch[0].datagram_count() == 44);
    REQUIRE(send_all(*tx, batch) == batch.size());

    const auto got = receive_datagrams(*rx, std::size_t{12} * 44);
    check_all_arrived(entries, got);
    std::size_t coalesced = 0;
    for (const Received& d : got) {
      CHECK(d.from == tx->local_address());
      if (d.slot_length > d.segment_size) {
        ++coalesced;
        CHECK(d.segment_size == 1472);
      }
    }
    MESSAGE(coalesced << " of " << got.size() << " datagrams came in GRO-coalesced buffers");
    CHECK(coalesced > 0);  // loopback hands GSO buffers over whole to a GRO socket
  }
}

TEST_CASE("GSO to a receiver without GRO arrives as separate datagrams") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false);
    auto rx = open_gso(kind, false);
    if (!tx || !rx) continue;
    CHECK_FALSE(rx->capabilities().gro);
    const auto entries = make_entries(4, 64, 1000, 1);  // 64 segments: the kernel's limit
    const std::vector<TxDatagram> batch = gso_entries(rx->local_address(), entries, 1000);
    REQUIRE(send_all(*tx, batch) == batch.size());
    const auto got = receive_datagrams(*rx, std::size_t{4} * 64);
    check_all_arrived(entries, got);
    for (const Received& d : got) CHECK(d.slot_length == d.bytes.size());
  }
}

TEST_CASE("GSO and single datagrams mix in one batch, beyond one syscall's worth") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false);
    auto rx = open_gso(kind, true);
    if (!tx || !rx) continue;
    // 100 entries alternating a 10-segment buffer and a lone datagram.
    std::vector<Entry> entries;
    std::uint64_t id = 0;
    for (int i = 0; i < 100; ++i) {
      Entry e;
      const std::size_t segments = i % 2 == 0 ? 10 : 1;
      for (std::size_t s = 0; s < segments; ++s, ++id) {
        const auto p = pattern(id, 1200);
        e.bytes.insert(e.bytes.end(), p.begin(), p.end());
        e.ids.push_back(id);
        e.lengths.push_back(1200);
      }
      entries.push_back(std::move(e));
    }
    const std::vector<TxDatagram> batch = gso_entries(rx->local_address(), entries, 1200);
    REQUIRE(send_all(*tx, batch) == batch.size());
    check_all_arrived(entries, receive_datagrams(*rx, id));
  }
}

TEST_CASE("more than 64 segments or 64 KiB in one entry is refused before the kernel sees it") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false);
    auto rx = open_gso(kind, false);
    if (!tx || !rx) continue;
    const auto bytes = pattern(1, std::size_t{65} * 100);
    const std::vector<TxDatagram> too_many = {{rx->local_address(), bytes, 100}};
    CHECK(too_many[0].datagram_count() == 65);
    CHECK(tx->send(too_many).error().code == IoErrc::invalid_argument);
    const auto big = pattern(2, kMaxUdpPayload + 1);
    const std::vector<TxDatagram> too_big = {{rx->local_address(), big, 1472}};
    CHECK(tx->send(too_big).error().code == IoErrc::invalid_argument);
    // A backend opened without GSO refuses multi-segment entries the same way.
    auto no_gso = open_gso(kind, false, 1);
    REQUIRE(no_gso);
    const auto two = pattern(3, 200);
    const std::vector<TxDatagram> pair = {{rx->local_address(), two, 100}};
    CHECK(no_gso->send(pair).error().code == IoErrc::invalid_argument);
  }
}

TEST_CASE("GSO and GRO over IPv6 loopback") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false, kMaxGsoSegments, SocketAddress::loopback_v6(0));
    auto rx = open_gso(kind, true, kMaxGsoSegments, SocketAddress::loopback_v6(0));
    if (!tx || !rx) {
      MESSAGE("IPv6 loopback unavailable here; IPv6 GSO not run");
      continue;
    }
    const auto entries = make_entries(6, 40, 1452, 0);  // 1452: 1500 - 40 - 8
    const std::vector<TxDatagram> batch = gso_entries(rx->local_address(), entries, 1452);
    REQUIRE(send_all(*tx, batch) == batch.size());
    check_all_arrived(entries, receive_datagrams(*rx, std::size_t{6} * 40));
  }
}

TEST_CASE("the plain backend receives GSO traffic too, GRO-coalesced if it asked for GRO") {
  for (const Kind kind : kGsoKinds) {
    CAPTURE(kind_name(kind));
    auto tx = open_gso(kind, false);
    if (!tx) continue;
    SocketOptions options;
    options.gro = true;
    auto s = UdpSocket::open(SocketAddress::loopback_v4(0), options);
    REQUIRE(s.has_value());
    PlainBackend rx(std::move(*s));
    const auto entries = make_entries(3, 20, 1472, 17);
    const std::vector<TxDatagram> batch = gso_entries(rx.local_address(), entries, 1472);
    REQUIRE(send_all(*tx, batch) == batch.size());
    check_all_arrived(entries, receive_datagrams(rx, std::size_t{3} * 20));
  }
}

int main(int argc, char** argv) {
  auto probe_socket = UdpSocket::open(SocketAddress::loopback_v4(0));
  if (!probe_socket) {
    std::printf("SKIP: no loopback UDP socket: %s\n", to_string(probe_socket.error()).c_str());
    return 77;
  }
  const GsoProbe gso = probe_gso(*probe_socket);
  std::printf("GSO probe: %s\n", gso.detail.c_str());
  if (!gso.supported) {
    std::printf("SKIP: the kernel does not segment UDP (UDP_SEGMENT): %s\n", gso.detail.c_str());
    return 77;
  }
  if (!probe_socket->report().gro) {
    std::printf("SKIP: the kernel refused UDP_GRO on a socket\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
