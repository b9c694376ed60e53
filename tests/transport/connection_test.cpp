// Two connections joined by a simulated link, in simulated time, with no sockets: the
// handshake, bulk transfer on several streams, faults (loss, reordering, duplication,
// corruption), a slow consumer, a dead peer and a close. The link plays the node's part:
// it checks each datagram's trailer and hands the client's first Initial to
// Connection::accept.
#include "transport/connection.h"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <map>
#include <queue>
#include <random>
#include <vector>

#include "proto/packet.h"
#include "tests/transport/connection_simulation.h"

using namespace dwcp::transport;
using namespace dwcp::proto;
using namespace dwcp::transport::test;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

// A deterministic message: its size and bytes follow from (stream, index).
Bytes message(std::uint64_t stream, std::uint64_t index, std::size_t max_size) {
  std::mt19937_64 rng(stream * 1000003 + index);
  Bytes bytes(1 + rng() % max_size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

// Sends `count` messages on each of `streams` streams and checks that the server reads
// every one, whole, in order, byte-exact.
struct Transfer {
  std::size_t streams;
  std::size_t count;
  std::size_t max_size;
  std::vector<std::uint64_t> ids;
  std::vector<std::size_t> sent;
  std::map<std::uint64_t, std::size_t> received;
  std::size_t mismatches = 0;
  std::size_t reads_per_step = 1000000;

  void step(Simulation& sim) {
    Connection& client = sim.client();
    if (client.state() == ConnectionState::established && ids.empty()) {
      for (std::size_t s = 0; s < streams; ++s) {
        auto id = client.open_stream();
        REQUIRE(id);
        ids.push_back(*id);
      }
      sent.assign(streams, 0);
    }
    for (std::size_t s = 0; s < ids.size(); ++s) {
      while (sent[s] < count) {
        const Bytes m = message(ids[s], sent[s], max_size);
        const AppendStatus status = client.send_message(ids[s], m);
        if (status == AppendStatus::back_pressured) break;
        REQUIRE(status == AppendStatus::accepted);
        if (++sent[s] == count) client.finish_stream(ids[s]);
      }
    }
    Connection* server = sim.server();
    if (server == nullptr) return;
    std::vector<std::byte> buffer(max_size);
    std::size_t reads = 0;
    for (std::uint64_t id : server->readable_streams()) {
      while (reads < reads_per_step) {
        auto size = server->read_message(id, buffer);
        if (!size) break;
        ++reads;
        const Bytes expected = message(id, received[id]++, max_size);
        if (expected.size() != *size || std::memcmp(expected.data(), buffer.data(), *size) != 0) {
          ++mismatches;
        }
      }
    }
  }

  bool done(Simulation& sim) const {
    if (ids.empty() || sim.server() == nullptr) return false;
    for (std::uint64_t id : ids) {
      if (received.contains(id) ? received.at(id) < count : true) return false;
      if (!sim.server()->stream_finished(id)) return false;
    }
    return true;
  }
};

// Runs `transfer` over `sim` until it is done; false on the limit.
bool run_transfer(Simulation& sim, Transfer& transfer, Duration limit) {
  return sim.run(
      limit, [&](Simulation& s) { return transfer.done(s); },
      [&](Simulation& s) { transfer.step(s); });
}

// Lets `sim` run for `duration` with no application at work.
void idle(Simulation& sim, Duration duration) {
  (void)sim.run(
      duration, [](Simulation&) { return false; }, [](Simulation&) {});
}

ConnectionConfig config(CongestionAlgorithm algorithm = CongestionAlgorithm::bbr) {
  ConnectionConfig c;
  c.congestion = algorithm;
  return c;
}

}  // namespace

TEST_CASE("the hellos are exchanged and both sides learn the other's parameters") {
  ConnectionConfig client_config = config();
  client_config.params.max_datagram_size = 1400;
  ConnectionConfig server_config = config();
  server_config.params.initial_max_streams = 7;
  Simulation sim(client_config, server_config, milliseconds(5), {}, 1);
  const bool done = sim.run(
      milliseconds(500),
      [](Simulation& s) {
        return s.client().state() == ConnectionState::established && s.server() != nullptr;
      },
      [](Simulation&) {});
  REQUIRE(done);
  CHECK(sim.client().peer_params().initial_max_streams == 7);
  CHECK(sim.server()->peer_params().max_datagram_size == 1400);
  CHECK(sim.server()->max_datagram_size() == 1400);
  CHECK(sim.client().remote_id() == sim.server()->local_id());
  CHECK(sim.server()->remote_id() == sim.client().local_id());
  // Only 7 streams may be opened towards this server.
  for (int i = 0; i < 7; ++i) CHECK(sim.client().open_stream());
  CHECK_FALSE(sim.client().open_stream());
}

TEST_CASE("messages on several streams arrive whole, in order and byte-exact on a clean link") {
  Simulation sim(config(), config(), milliseconds(10), {}, 2);
  Transfer transfer{4, 500, 3000, {}, {}, {}, 0};
  const bool done = sim.run(
      std::chrono::seconds(30), [&](Simulation& s) { return transfer.done(s); },
      [&](Simulation& s) { transfer.step(s); });
  REQUIRE(done);
  CHECK(transfer.mismatches == 0);
  const auto stats = sim.client().stats();
  CHECK(stats.packets_lost == 0);
  CHECK(stats.stream_bytes_retransmitted == 0);
  CHECK(stats.min_rtt >= milliseconds(20));
  CHECK(stats.min_rtt < milliseconds(30));
}

TEST_CASE("a paced sender sends whole quanta, not a datagram per wake-up") {
  // 20 MB/s: a pacing quantum (the rate over 1 ms) is 20 kB, 13 datagrams; the simulation
  // wakes the sender every 200 µs or sooner, when only 2-3 datagrams' worth has accrued.
  ConnectionConfig client = config(CongestionAlgorithm::fixed);
  client.fixed_rate = 20'000'000;
  Simulation sim(client, config(), milliseconds(5), {}, 3);
  Transfer transfer{1, 400, 64 * 1024, {}, {}, {}, 0};
  std::size_t held = 0;       // steps with data held back by the pacer alone
  std::size_t held_next = 0;  // of which the pacer's time was the connection's next timer
  const bool done = sim.run(
      std::chrono::seconds(30), [&](Simulation& s) { return transfer.done(s); },
      [&](Simulation& s) {
        transfer.step(s);
        if (const auto hold = s.client().pacer_hold()) {
          ++held;
          if (s.client().next_timer() == hold) ++held_next;
        }
      });
  REQUIRE(done);
  CHECK(transfer.mismatches == 0);
  // The pacer, not the window, holds the data back, and says when it lets it out.
  CHECK(held > 100);
  CHECK(held_next * 10 >= held * 9);
  const auto& batches = sim.client_batches();
  std::size_t datagrams = 0;
  std::size_t large = 0;  // batches of at least 12 datagrams
  for (std::size_t b : batches) {
    datagrams += b;
    if (b >= 12) large += b;
  }
  MESSAGE(batches.size() << " batches carried " << datagrams << " datagrams; " << large
                         << " of them in batches of 12 or more");
  REQUIRE(datagrams > 5000);
  // Most data leaves in quantum-sized batches; the rest is ACK-only packets and tails.
  CHECK(static_cast<double>(large) >= 0.8 * static_cast<double>(datagrams));
}

TEST_CASE("loss, reordering, duplication and corruption cost time, never bytes") {
  for (auto algorithm : {CongestionAlgorithm::bbr, CongestionAlgorithm::cubic}) {
    CAPTURE(to_string(algorithm));
    // Corruption at 0.5%: the transfer is ~2000 packets, and a few must be hit.
    const LinkFaults faults{0.05, 0.02, 0.01, 0.005};
    Simulation sim(config(algorithm), config(algorithm), milliseconds(10), faults, 3);
    Transfer transfer{3, 400, 4000, {}, {}, {}, 0};
    REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(120)));
    CHECK(transfer.mismatches == 0);
    const auto client = sim.client().stats();
    CHECK(client.packets_lost > 0);
    CHECK(client.stream_bytes_retransmitted > 0);
    CHECK(sim.server()->stats().duplicate_packets > 0);
    CHECK(sim.corrupt_dropped() > 0);
    MESSAGE(to_string(algorithm), ": lost ", client.packets_lost, " packets, resent ",
            client.stream_bytes_retransmitted, " bytes, spurious ", client.spurious_losses);
  }
}

TEST_CASE("a datagram that comes after hundreds of newer ones is not taken for a new one") {
  // Without cryptographic protection nothing rejects a packet number recovered wrongly: a
  // copy held back long enough, its number sent in one byte, would be read as a number the
  // receiver has yet to see. Its ACK would then acknowledge data the real packet carried,
  // and when that packet came it would be dropped as a duplicate: the bytes never arrive.
  for (auto algorithm : {CongestionAlgorithm::bbr, CongestionAlgorithm::cubic}) {
    CAPTURE(to_string(algorithm));
    LinkFaults faults;
    faults.stale_copy = 0.05;
    Simulation sim(config(algorithm), config(algorithm), milliseconds(10), faults, 11);
    Transfer transfer{3, 400, 4000, {}, {}, {}, 0};
    REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(60)));
    CHECK(transfer.mismatches == 0);
    CHECK(sim.server()->stats().duplicate_packets > 0);
  }
}

TEST_CASE("path MTU discovery: datagrams grow to the route's limit once a probe is acknowledged") {
  for (auto algorithm : {CongestionAlgorithm::bbr, CongestionAlgorithm::cubic}) {
    CAPTURE(to_string(algorithm));
    Simulation sim(config(algorithm), config(algorithm), milliseconds(10), {}, 4);
    sim.set_path_limit(9000);
    CHECK(sim.client().max_datagram_size() == kBaseDatagramSize);
    Transfer transfer{2, 300, 20000, {}, {}, {}, 0};
    REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(30)));
    CHECK(transfer.mismatches == 0);
    for (Connection* c : {&sim.client(), sim.server()}) {
      const auto stats = c->stats();
      CHECK(c->max_datagram_size() == 9000);
      CHECK(stats.pmtu_probes_sent == 1);
      CHECK(stats.pmtu_probes_lost == 0);
      CHECK(stats.packets_lost == 0);
    }
    // The data went in the larger datagrams: ~6 MB in 9000-byte packets, not 1472-byte ones.
    const auto client = sim.client().stats();
    CHECK(client.bytes_sent > 4 * kBaseDatagramSize * client.packets_sent);
  }
}

TEST_CASE("path MTU discovery: a receiver that only wakes for packets keeps its credit coming") {
  // The receiver's 64 KiB probe empties its pacer's bucket; the credit updates it then
  // owes must not wait for the pacer, which sets no timer for control frames alone: the
  // sender, out of credit, sends nothing that would wake the receiver again.
  ConnectionConfig small_window = config();
  small_window.params.initial_max_stream_data = 64 * 1024;
  small_window.params.initial_max_data = 128 * 1024;
  Simulation sim(config(), small_window, milliseconds(5), {}, 7);
  sim.set_path_limit(kMaxDatagramSize);
  sim.set_server_event_driven(true);
  Transfer transfer{1, 400, 20000, {}, {}, {}, 0};
  REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(30)));
  CHECK(transfer.mismatches == 0);
  CHECK(sim.server()->max_datagram_size() == kMaxDatagramSize);
  CHECK(sim.server()->stats().pmtu_probes_sent == 1);
}

TEST_CASE("path MTU discovery: a new path starts over from the base size") {
  Simulation sim(config(), config(), milliseconds(5), {}, 8);
  sim.set_path_limit(9000);
  Transfer transfer{1, 100, 20000, {}, {}, {}, 0};
  REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(30)));
  REQUIRE(sim.client().max_datagram_size() == 9000);
  // The peer moved (the node saw a new address): nothing proven on the old path holds.
  sim.client().set_path_limit(9000);
  CHECK(sim.client().max_datagram_size() == kBaseDatagramSize);
  idle(sim, std::chrono::seconds(1));
  CHECK(sim.client().max_datagram_size() == 9000);
  CHECK(sim.client().stats().pmtu_probes_sent == 2);
}

TEST_CASE("path MTU discovery: the peer's max_datagram_size bounds the probes") {
  ConnectionConfig small = config();
  small.params.max_datagram_size = 2000;
  Simulation sim(config(), small, milliseconds(5), {}, 5);
  sim.set_path_limit(9000);
  Transfer transfer{1, 200, 20000, {}, {}, {}, 0};
  REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(30)));
  CHECK(transfer.mismatches == 0);
  CHECK(sim.client().max_datagram_size() == 2000);
  CHECK(sim.server()->max_datagram_size() == 2000);
  CHECK(sim.client().stats().pmtu_probes_sent == 1);
}

TEST_CASE("path MTU discovery: past a black hole the search settles below it, no congestion") {
  // The route says 9000; a link further on drops everything over 4000 without a word.
  LinkFaults faults;
  faults.drop_above = 4000;
  Simulation sim(config(), config(), milliseconds(10), faults, 6);
  sim.set_path_limit(9000);
  Transfer transfer{2, 300, 20000, {}, {}, {}, 0};
  REQUIRE(run_transfer(sim, transfer, std::chrono::seconds(60)));
  CHECK(transfer.mismatches == 0);
  // The search goes on while the connection idles: each lost probe is found by a PTO.
  idle(sim, std::chrono::seconds(5));
  std::uint64_t probes_lost = 0;
  for (Connection* c : {&sim.client(), sim.server()}) {
    const auto stats = c->stats();
    MESSAGE("settled at ", c->max_datagram_size(), " after ", stats.pmtu_probes_sent, " probes, ",
            stats.pmtu_probes_lost, " lost");
    CHECK(c->max_datagram_size() <= 4000);
    CHECK(c->max_datagram_size() > 4000 - 256);
    // Three losses at each size that failed (9000, 5236, 4295, 4059); none counted as
    // packets lost, so the congestion controller never heard of them.
    CHECK(stats.pmtu_probes_lost == 12);
    CHECK(stats.packets_lost == 0);
    probes_lost += stats.pmtu_probes_lost;
  }
  CHECK(sim.too_large_dropped() == probes_lost);
}

TEST_CASE("a slow consumer stalls its sender; the receiver's memory stays within the window") {
  constexpr std::uint64_t kStreamWindow = 64 * 1024;
  ConnectionConfig server_config = config();
  server_config.params.initial_max_stream_data = kStreamWindow;
  server_config.params.initial_max_data = 128 * 1024;
  ConnectionConfig client_config = config();
  client_config.stream_send_capacity = 256 * 1024;
  Simulation sim(client_config, server_config, milliseconds(5), {}, 4);
  Transfer transfer{1, 2000, 2000, {}, {}, {}, 0};
  transfer.reads_per_step = 1;  // one message per 200 µs step: ~5 MB/s at most
  std::uint64_t most_buffered = 0;
  const bool done = sim.run(
      std::chrono::seconds(60), [&](Simulation& s) { return transfer.done(s); },
      [&](Simulation& s) {
        transfer.step(s);
        if (s.server() == nullptr) return;
        const auto server = s.server()->stats();
        most_buffered = std::max(most_buffered, server.receive_buffered_bytes);
        REQUIRE(server.receive_buffered_bytes <= kStreamWindow);
        REQUIRE(s.client().stats().send_buffered_bytes <= 256 * 1024);
      });
  REQUIRE(done);
  CHECK(transfer.mismatches == 0);
  CHECK(sim.client().stats().flow_control_stalls > 0);
  CHECK(most_buffered > kStreamWindow / 4);  // the window was used, not just respected
}

TEST_CASE("a peer that goes silent ends the connection after the idle timeout") {
  ConnectionConfig short_idle = config();
  short_idle.params.max_idle_timeout_ms = 2000;
  Simulation sim(short_idle, config(), milliseconds(5), {}, 5);
  Transfer transfer{1, 1000000, 1000, {}, {}, {}, 0};
  // Mid-transfer: data in flight when the peer goes silent.
  REQUIRE(sim.run(
      std::chrono::seconds(2),
      [&](Simulation&) {
        return !transfer.received.empty() && transfer.received.begin()->second > 100;
      },
      [&](Simulation& s) { transfer.step(s); }));
  sim.set_blackhole(true);
  const Instant silent_from = sim.now();
  const bool closed = sim.run(
      std::chrono::seconds(10),
      [](Simulation& s) { return s.client().state() == ConnectionState::closed; },
      [](Simulation&) {});
  REQUIRE(closed);
  REQUIRE(sim.client().close_reason());
  CHECK(sim.client().close_reason()->idle_timeout);
  CHECK(sim.now() - silent_from >= milliseconds(1900));
  CHECK(sim.now() - silent_from <= milliseconds(2600));
  CHECK(sim.client().stats().probe_timeouts > 0);
}

TEST_CASE("close sends the error code and reason; the peer drains, then both are closed") {
  Simulation sim(config(), config(), milliseconds(5), {}, 6);
  REQUIRE(sim.run(
      milliseconds(500),
      [](Simulation& s) {
        return s.client().state() == ConnectionState::established && s.server() != nullptr;
      },
      [](Simulation&) {}));
  sim.client().close(0x105, "done here", sim.now());
  CHECK(sim.client().state() == ConnectionState::closing);
  REQUIRE(sim.run(
      std::chrono::seconds(5),
      [](Simulation& s) {
        return s.client().state() == ConnectionState::closed &&
               s.server()->state() == ConnectionState::closed;
      },
      [](Simulation&) {}));
  REQUIRE(sim.server()->close_reason());
  CHECK(sim.server()->close_reason()->by_peer);
  CHECK(sim.server()->close_reason()->error_code == 0x105);
  CHECK(sim.server()->close_reason()->reason == "done here");
}

TEST_CASE("a client whose server never answers gives up after the handshake timeout") {
  ConnectionConfig quick = config();
  quick.handshake_timeout = std::chrono::seconds(3);
  Simulation sim(quick, config(), milliseconds(5), {}, 7);
  sim.set_blackhole(true);
  REQUIRE(sim.run(
      std::chrono::seconds(10),
      [](Simulation& s) { return s.client().state() == ConnectionState::closed; },
      [](Simulation&) {}));
  CHECK(sim.client().close_reason()->reason == "handshake timed out");
  CHECK(sim.client().stats().packets_sent > 1);  // the hello went out again on probe timeouts
}

TEST_CASE("a server whose client never answers sends at most three times what it received") {
  ConnectionConfig config;
  Instant now = kSimulatedEpoch;
  auto client = Connection::connect(config, ConnectionId(Bytes(kConnectionIdLength, std::byte{1})),
                                    ConnectionId(Bytes(kConnectionIdLength, std::byte{9})), now);
  std::array<std::byte, 65536> buffer{};
  const std::size_t hello_size = client->send(buffer, now);
  REQUIRE(hello_size >= kMinInitialDatagram);
  const Bytes hello(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(hello_size));
  auto packet = parse_packet(hello);
  REQUIRE(packet);
  // The "client" is a spoofed source: nothing it is sent ever comes back.
  auto accepted = Connection::accept(config, ConnectionId(Bytes(kConnectionIdLength, std::byte{2})),
                                     *packet, hello_size, now);
  REQUIRE(accepted);
  Connection& server = **accepted;
  CHECK_FALSE(server.address_validated());
  // The server's application has plenty to say at once.
  const auto stream = server.open_stream();
  REQUIRE(stream);
  for (std::uint64_t i = 0; i < 8; ++i) {
    CHECK(server.send_message(*stream, message(1, i, 60000)) == AppendStatus::accepted);
  }
  std::uint64_t sent = 0;
  std::uint64_t datagrams = 0;
  for (int step = 0; step < 2000 && server.state() != ConnectionState::closed; ++step) {
    for (std::size_t size = server.send(buffer, now); size != 0; size = server.send(buffer, now)) {
      sent += size;
      ++datagrams;
    }
    const auto timer = server.next_timer();
    if (!timer) break;
    now = std::max(now, *timer);
    server.on_timer(now);
  }
  CHECK(datagrams >= 1);          // it did answer the hello
  CHECK(sent <= 3 * hello_size);  // and never more than three times it
  CHECK(server.stats().amplification_limited > 0);
}

TEST_CASE("a validated address lifts the limit: a transfer completes without a Retry") {
  // The simulation's server is accepted without a Retry: the client's first packet to the
  // server's own ID validates it, and 4 MiB must then flow.
  ConnectionConfig config;
  Simulation sim(config, config, milliseconds(10), {}, 7);
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::optional<std::uint64_t> stream;
  std::array<std::byte, 70000> out{};
  const bool done = sim.run(
      std::chrono::seconds(30),
      [&](Simulation& s) { return s.server() != nullptr && received >= 64; },
      [&](Simulation& s) {
        if (!stream) stream = s.client().open_stream();
        if (stream && sent < 64 &&
            s.client().send_message(*stream, message(0, sent, 65536)) == AppendStatus::accepted) {
          ++sent;
        }
        if (s.server() != nullptr && stream) {
          while (s.server()->read_message(*stream, out)) ++received;
        }
      });
  CHECK(done);
  REQUIRE(sim.server() != nullptr);
  CHECK(sim.server()->address_validated());
}
