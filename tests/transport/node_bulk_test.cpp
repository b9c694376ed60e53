// One stream carrying a large deterministic byte sequence between two nodes over loopback,
// through 5% loss, 2% reordering, 1% duplication and 0.1% corruption in both directions.
// Every delivered message is checked against the generator (a corrupt byte is never
// delivered), and the XXH3-128 of everything sent equals that of everything received.
//
// Two sizes: the "long" suite moves 1 GiB (DWCP_STRESS_BYTES overrides it) and runs only
// in the release stage; the default suite moves 32 MiB and runs under the sanitizers too.
// A further 4 MiB goes over each kernel backend (mmsg with and without GSO, plain, io_uring,
// and both with zero-copy sends); a backend the kernel lacks is skipped with a message.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "simd/checksum.h"
#include "tests/transport/node_pair.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::seconds;

namespace {

constexpr std::uint64_t kSeed = 0x5eed'0000'd3c9'0001ULL;
constexpr std::size_t kMaxMessage = 32 * 1024;

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The stream's content: the byte at offset o is byte o % 8 (little-endian) of
// splitmix64(kSeed + o / 8). Any stretch can be made without the ones before it.
void fill(std::uint64_t offset, std::span<std::byte> out) noexcept {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t at = offset + i;
    const std::uint64_t word = splitmix64(kSeed + at / 8);
    for (std::size_t b = at % 8; b < 8 && i < out.size(); ++b, ++i) {
      out[i] = static_cast<std::byte>(word >> (8 * b));
    }
  }
}

// The size of the message that starts at `offset` in a stream of `total` bytes.
std::size_t message_size(std::uint64_t offset, std::uint64_t total) noexcept {
  const std::uint64_t size = 1 + splitmix64(~offset) % kMaxMessage;
  return static_cast<std::size_t>(std::min(size, total - offset));
}

std::uint64_t stress_bytes(std::uint64_t fallback) {
  const char* text = std::getenv("DWCP_STRESS_BYTES");
  if (text == nullptr || *text == '\0') return fallback;
  const std::uint64_t value = std::strtoull(text, nullptr, 0);
  REQUIRE_MESSAGE(value > 0, "DWCP_STRESS_BYTES must be a positive byte count");
  return value;
}

void bulk_transfer(std::uint64_t total, Duration limit, PairIo io = {}) {
  FaultConfig faults;
  faults.seed = 2026;
  faults.drop = 0.05;
  faults.reorder = 0.02;
  faults.duplicate = 0.01;
  faults.corrupt = 0.001;
  ConnectionConfig connection;
  // Base-size datagrams: the faults are per datagram, and each kind must hit many.
  connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  // Windows that keep a fast loopback path busy; every message fits in them.
  connection.params.initial_max_data = 16 << 20;
  connection.params.initial_max_stream_data = 8 << 20;
  connection.stream_send_capacity = 8 << 20;
  Pair pair(&faults, connection, io);
  MESSAGE("backend: ", pair.client_socket->name(), ", zero-copy ", to_string(io.zerocopy));

  std::optional<std::uint64_t> stream;
  std::uint64_t queued = 0;  // bytes the sender's connection took
  Bytes pending;             // the next message, made once and offered until taken
  dwcp::simd::Xxh3_128Stream sent_hash;
  dwcp::simd::Xxh3_128Stream received_hash;
  std::uint64_t received = 0;
  std::uint64_t messages = 0;
  std::uint64_t bad_messages = 0;
  Bytes buffer(kMaxMessage);
  Bytes expected(kMaxMessage);

  auto send = [&] {
    Connection& client = *pair.client;
    if (!stream) {
      if (client.state() != ConnectionState::established) return;
      stream = client.open_stream();
      REQUIRE(stream);
    }
    while (queued < total) {
      if (pending.empty()) {
        pending.resize(message_size(queued, total));
        fill(queued, pending);
      }
      const AppendStatus status = client.send_message(*stream, pending);
      if (status == AppendStatus::back_pressured) return;
      REQUIRE(status == AppendStatus::accepted);
      sent_hash.update(pending);
      queued += pending.size();
      pending.clear();
      if (queued == total) client.finish_stream(*stream);
    }
  };
  auto receive = [&] {
    if (pair.server == nullptr || !stream) return;
    while (auto size = pair.server->read_message(*stream, buffer)) {
      const auto got = std::span(buffer).first(*size);
      received_hash.update(got);
      // The message must be the next one, whole and unaltered.
      const std::size_t want = received < total ? message_size(received, total) : 0;
      fill(received, std::span(expected).first(std::min(*size, expected.size())));
      if (*size != want || std::memcmp(got.data(), expected.data(), *size) != 0) ++bad_messages;
      received += *size;
      ++messages;
    }
  };

  const Instant start = MonotonicClock::now();
  const bool finished = pair.run(
      limit,
      [&] {
        return pair.server != nullptr && stream && received == total &&
               pair.server->stream_finished(*stream);
      },
      [&] {
        send();
        receive();
      });
  const double secs = std::chrono::duration<double>(MonotonicClock::now() - start).count();
  const auto stats = pair.client->stats();
  const FaultCounters& client_faults = pair.client_faults->counters();
  const NodeCounters& server_counters = pair.server_node->counters();
  MESSAGE(received, " of ", total, " bytes in ", messages, " messages, ", secs, " s (",
          static_cast<double>(received) * 8 / secs / 1e9, " Gbit/s); ", stats.packets_lost,
          " packets lost, ", stats.stream_bytes_retransmitted,
          " bytes sent again; faults: ", client_faults.dropped, " dropped, ",
          client_faults.reordered, " reordered, ", client_faults.duplicated, " duplicated, ",
          client_faults.corrupted, " corrupted; server dropped ", server_counters.bad_checksum,
          " bad checksums and ", server_counters.malformed, " malformed");
  REQUIRE(finished);
  CHECK(bad_messages == 0);
  CHECK(received == total);
  CHECK(sent_hash.digest() == received_hash.digest());
  // The faults happened and were repaired.
  CHECK(client_faults.dropped > 0);
  CHECK(client_faults.reordered > 0);
  CHECK(client_faults.duplicated > 0);
  CHECK(client_faults.corrupted > 0);
  CHECK(stats.packets_lost > 0);
  CHECK(stats.stream_bytes_retransmitted > 0);
  CHECK(pair.server->stats().duplicate_packets > 0);
  // A corrupted datagram fails the trailer (or the header): it is counted and dropped.
  CHECK(server_counters.bad_checksum + server_counters.malformed > 0);
  CHECK(pair.client->close_reason() == std::nullopt);
  CHECK(pair.server->close_reason() == std::nullopt);
}

}  // namespace

TEST_CASE("the stream generator makes any stretch on its own") {
  Bytes whole(1000);
  fill(3, whole);
  Bytes part(17);
  fill(3 + 501, part);
  CHECK(std::memcmp(part.data(), whole.data() + 501, part.size()) == 0);
  CHECK(message_size(0, 10) <= 10);
  CHECK(message_size(5, 1 << 20) >= 1);
}

TEST_CASE("32 MiB in one stream through loss, reordering, duplication and corruption") {
  bulk_transfer(std::uint64_t{32} << 20, seconds(200));
}

TEST_CASE("4 MiB through the same faults over each kernel backend") {
  struct Case {
    BackendKind kind;
    ZerocopyMode zerocopy;
  };
  for (const Case c :
       {Case{BackendKind::mmsg_gso, ZerocopyMode::off}, Case{BackendKind::mmsg, ZerocopyMode::off},
        Case{BackendKind::plain, ZerocopyMode::off}, Case{BackendKind::uring, ZerocopyMode::off},
        Case{BackendKind::uring, ZerocopyMode::on},
        Case{BackendKind::mmsg_gso, ZerocopyMode::on}}) {
    CAPTURE(to_string(c.kind));
    CAPTURE(to_string(c.zerocopy));
    SocketOptions options;
    options.zerocopy = c.zerocopy;
    auto probe = open_backend(SocketAddress::loopback_v4(0), options, c.kind);
    if (!probe) {
      MESSAGE("skipped ", to_string(c.kind), ": ", to_string(probe.error()));
      continue;
    }
    if (c.zerocopy == ZerocopyMode::on && !probe->backend->capabilities().zerocopy) {
      MESSAGE("skipped ", to_string(c.kind), " with zero-copy: ", probe->reason);
      continue;
    }
    bulk_transfer(std::uint64_t{4} << 20, seconds(60), PairIo{c.kind, c.zerocopy});
  }
}

TEST_SUITE("long") {
  TEST_CASE("1 GiB in one stream through loss, reordering, duplication and corruption") {
    bulk_transfer(stress_bytes(std::uint64_t{1} << 30), seconds(280));
  }
}
