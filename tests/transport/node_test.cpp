// Two nodes over loopback UDP, driven by one thread in a bounded loop (no sleeps): the
// handshake, byte-exact transfers on a clean path and through the fault-injecting
// backend, garbage sent to the port, and version negotiation; and, over recording
// backends in simulated time, how bulk data is cut into packets and GSO buffers.
#include "transport/node.h"

#include <doctest/doctest.h>

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "tests/transport/node_pair.h"
#include "transport/io_recording.h"
#include "transport/route_mtu.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("a client node connects to a server node over loopback and moves 16 MiB byte-exact") {
  Pair pair;
  Transfer transfer(2, 4096, 4096);
  const Instant start = MonotonicClock::now();
  REQUIRE(pair.run(
      seconds(60), [&] { return transfer.done(pair); }, [&] { transfer.step(pair); }));
  const double secs = std::chrono::duration<double>(MonotonicClock::now() - start).count();
  CHECK(transfer.mismatches == 0);
  MESSAGE("moved ", transfer.bytes, " bytes in ", secs,
          " s: ", static_cast<double>(transfer.bytes) * 8 / secs / 1e9, " Gbit/s");
  CHECK(pair.client_node->counters().datagrams_sent > 0);
  CHECK(pair.server_node->counters().malformed == 0);
  CHECK(pair.server_node->counters().bad_checksum == 0);
  CHECK(pair.server_node->counters().retries_sent == 1);  // the address was validated first
}

TEST_CASE("through loss, reordering, duplication and corruption every byte arrives exactly once") {
  FaultConfig faults;
  faults.seed = 42;
  faults.drop = 0.05;
  faults.reorder = 0.02;
  faults.duplicate = 0.01;
  faults.corrupt = 0.001;
  // Base-size datagrams: the faults are per datagram, and this transfer needs thousands.
  ConnectionConfig connection;
  connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  Pair pair(&faults, connection);
  Transfer transfer(3, 1500, 4000);
  REQUIRE(pair.run(
      seconds(90), [&] { return transfer.done(pair); }, [&] { transfer.step(pair); }));
  CHECK(transfer.mismatches == 0);
  const auto stats = pair.client->stats();
  CHECK(stats.packets_lost > 0);
  CHECK(stats.stream_bytes_retransmitted > 0);
  CHECK(pair.client_faults->counters().dropped > 0);
  CHECK(pair.client_faults->counters().corrupted > 0);
  // Corrupted datagrams were dropped by the checksum, never delivered.
  CHECK(pair.server_node->counters().bad_checksum + pair.server_node->counters().malformed > 0);
}

TEST_CASE("over loopback the datagrams grow to what the route carries: 64 KiB less headers") {
  Pair pair;
  Transfer transfer(2, 200, 64 * 1024);
  REQUIRE(pair.run(
      seconds(60), [&] { return transfer.done(pair); }, [&] { transfer.step(pair); }));
  CHECK(transfer.mismatches == 0);
  const std::size_t limit = route_datagram_limit(pair.server_socket->local_address()).value_or(0);
  CHECK(limit > dwcp::proto::kBaseDatagramSize);
  CHECK(pair.client->max_datagram_size() == limit);
  CHECK(pair.server->max_datagram_size() == limit);
  const auto stats = pair.client->stats();
  CHECK(stats.pmtu_probes_sent == 1);
  CHECK(stats.bytes_sent > 4 * dwcp::proto::kBaseDatagramSize * stats.packets_sent);
}

TEST_CASE("past a path MTU black hole the datagrams settle below it and nothing is lost") {
  FaultConfig faults;
  faults.black_hole_above = 9000;
  Pair pair(&faults);
  Transfer transfer(2, 200, 64 * 1024);
  REQUIRE(pair.run(
      seconds(60), [&] { return transfer.done(pair); }, [&] { transfer.step(pair); }));
  CHECK(transfer.mismatches == 0);
  const auto stats = pair.client->stats();
  MESSAGE("settled at ", pair.client->max_datagram_size(), " after ", stats.pmtu_probes_sent,
          " probes, ", stats.pmtu_probes_lost, " lost");
  CHECK(pair.client_faults->counters().too_large > 0);
  CHECK(stats.pmtu_probes_lost > 0);
  // Lost probes are no congestion signal (a socket buffer on a busy machine may still
  // drop the odd datagram, so not packets_lost == 0: the simulated cases check that).
  CHECK(stats.packets_lost < stats.pmtu_probes_lost);
  CHECK(pair.client->max_datagram_size() <= 9000);
  CHECK(pair.client->max_datagram_size() > dwcp::proto::kBaseDatagramSize);
}

TEST_CASE("garbage sent to the port is counted and ignored; an unknown version is answered") {
  Pair pair;
  Transfer transfer(1, 200, 2000);
  const RawClient raw_client;
  const int raw = raw_client.fd();
  const SocketAddress server = pair.server_socket->local_address();
  std::mt19937_64 rng(7);
  std::uint64_t garbage_sent = 0;
  REQUIRE(pair.run(
      seconds(30), [&] { return transfer.done(pair); },
      [&] {
        transfer.step(pair);
        if (garbage_sent < 2000) {
          std::array<std::byte, 1300> junk{};
          for (auto& b : junk) b = static_cast<std::byte>(rng());
          const std::size_t size = rng() % junk.size();
          if (sendto(raw, junk.data(), size, 0, server.data(), server.size()) >= 0) ++garbage_sent;
        }
      }));
  CHECK(transfer.mismatches == 0);
  const auto& counters = pair.server_node->counters();
  CHECK(counters.malformed + counters.bad_checksum + counters.unknown_connection +
            counters.refused + counters.version_negotiations >=
        garbage_sent * 9 / 10);

  // A long header with a version nobody speaks, in a datagram of 1200 bytes.
  std::array<std::byte, 1200> probe{};
  probe[0] = std::byte{0xc0};
  probe[1] = std::byte{0x1a};
  probe[2] = std::byte{0x2a};
  probe[3] = std::byte{0x3a};
  probe[4] = std::byte{0x4a};
  probe[5] = std::byte{4};   // DCID length
  probe[10] = std::byte{2};  // SCID length
  REQUIRE(sendto(raw, probe.data(), probe.size(), 0, server.data(), server.size()) ==
          static_cast<ssize_t>(probe.size()));
  std::array<std::byte, 256> reply{};
  ssize_t got = -1;
  REQUIRE(pair.run(
      seconds(5),
      [&] {
        got = recv(raw, reply.data(), reply.size(), 0);
        return got > 0;
      },
      [] {}));
  auto packet = dwcp::proto::parse_packet(std::span(reply).first(static_cast<std::size_t>(got)));
  REQUIRE(packet);
  CHECK(packet->header.type == dwcp::proto::PacketType::version_negotiation);
  std::array<std::uint32_t, 4> versions{};
  CHECK(dwcp::proto::decode_versions(packet->payload, versions) == std::size_t{1});
  CHECK(versions[0] == dwcp::proto::kVersion1);
}

TEST_CASE("a hello without a cookie gets a Retry and no state; a forged cookie gets nothing") {
  namespace proto = dwcp::proto;
  auto server_socket = loopback_backend();
  NodeConfig config;
  config.accept_connections = true;
  Node server(*server_socket, config);
  const SocketAddress address = server_socket->local_address();
  const RawClient raw;
  std::array<std::byte, 8> client_id{};
  client_id.fill(std::byte{0x11});
  std::array<std::byte, 8> first_dcid{};
  first_dcid.fill(std::byte{0x22});

  auto send_hello = [&](std::span<const std::byte> dcid, std::span<const std::byte> cookie) {
    REQUIRE(raw.send_to(address, RawClient::hello(dcid, client_id, cookie)));
  };
  auto poll_until = [&](auto&& done) {
    const Instant end = MonotonicClock::now() + seconds(5);
    for (int i = 0; i < 10'000'000 && MonotonicClock::now() < end; ++i) {
      server.poll(MonotonicClock::now());
      if (done()) return true;
    }
    return false;
  };

  send_hello(first_dcid, {});
  Bytes reply;
  REQUIRE(poll_until([&] {
    reply = raw.receive();
    return !reply.empty();
  }));
  auto retry = proto::parse_packet(reply);
  REQUIRE(retry);
  REQUIRE(retry->header.type == proto::PacketType::retry);
  CHECK(retry->header.dcid == proto::ConnectionIdRef(client_id));
  proto::FrameReader reader(retry->header.type, retry->payload);
  auto frame = reader.next();
  REQUIRE(frame);
  const auto* retry_frame = std::get_if<proto::RetryFrame>(*frame);
  REQUIRE(retry_frame != nullptr);
  const std::vector<std::byte> cookie(retry_frame->cookie.begin(), retry_frame->cookie.end());
  const std::vector<std::byte> retry_id(retry->header.scid.bytes().begin(),
                                        retry->header.scid.bytes().end());
  CHECK(server.connections().empty());  // nothing kept for an unvalidated address
  CHECK(server.counters().retries_sent == 1);

  std::vector<std::byte> forged = cookie;
  forged[forged.size() / 2] ^= std::byte{1};
  send_hello(retry_id, forged);
  REQUIRE(poll_until([&] { return server.counters().invalid_cookies == 1; }));
  CHECK(server.connections().empty());

  send_hello(retry_id, cookie);
  REQUIRE(poll_until([&] { return server.connections().size() == 1; }));
  CHECK(server.connections().front()->local_id() == proto::ConnectionId(retry_id));
}

TEST_CASE("each spoofed hello gets at most one Retry, at most 3x its size, and no state") {
  namespace proto = dwcp::proto;
  auto server_socket = loopback_backend();
  NodeConfig config;
  config.accept_connections = true;
  Node server(*server_socket, config);
  const SocketAddress address = server_socket->local_address();
  // The "victim": a socket whose address the hellos carry and which never answers.
  const RawClient victim;
  constexpr std::size_t kHellos = 500;
  std::size_t hellos_sent = 0;
  std::size_t hello_bytes = 0;
  std::size_t replies = 0;
  std::size_t reply_bytes = 0;
  std::size_t non_retries = 0;
  std::size_t oversized = 0;
  std::map<Bytes, std::size_t> answers_per_client;  // by the hello's SCID
  std::mt19937_64 rng(99);

  auto drain_replies = [&] {
    for (Bytes reply = victim.receive(); !reply.empty(); reply = victim.receive()) {
      ++replies;
      reply_bytes += reply.size();
      if (reply.size() > 3 * hello_bytes) ++oversized;
      auto packet = proto::parse_packet(reply);
      if (!packet || packet->header.type != proto::PacketType::retry) {
        ++non_retries;
        continue;
      }
      const auto dcid = packet->header.dcid.bytes();
      ++answers_per_client[Bytes(dcid.begin(), dcid.end())];
    }
  };
  const Instant end = MonotonicClock::now() + seconds(20);
  for (int i = 0; i < 10'000'000 && MonotonicClock::now() < end; ++i) {
    // One hello per round, each from a new client ID to a new DCID, as a flood would.
    if (hellos_sent < kHellos) {
      std::array<std::byte, 8> scid{};
      std::array<std::byte, 8> dcid{};
      for (auto& b : scid) b = static_cast<std::byte>(rng());
      for (auto& b : dcid) b = static_cast<std::byte>(rng());
      const Bytes hello = RawClient::hello(dcid, scid, {});
      hello_bytes = hello.size();
      REQUIRE(victim.send_to(address, hello));
      ++hellos_sent;
    }
    server.poll(MonotonicClock::now());
    drain_replies();
    if (hellos_sent == kHellos && server.counters().retries_sent == kHellos && replies == kHellos) {
      break;
    }
  }
  // Give a second answer to any hello time to show up: the server keeps running for a
  // bounded number of polls after the last Retry.
  for (int i = 0; i < 1000; ++i) {
    server.poll(MonotonicClock::now());
    drain_replies();
  }
  CHECK(hellos_sent == kHellos);
  CHECK(server.counters().retries_sent == kHellos);
  CHECK(replies == kHellos);
  CHECK(non_retries == 0);
  CHECK(oversized == 0);
  CHECK(answers_per_client.size() == kHellos);
  CHECK(std::all_of(answers_per_client.begin(), answers_per_client.end(),
                    [](const auto& entry) { return entry.second == 1; }));
  CHECK(reply_bytes <= 3 * hello_bytes * hellos_sent);
  MESSAGE(hellos_sent, " hellos of ", hello_bytes, " bytes drew ", replies, " Retries, ",
          reply_bytes / std::max<std::size_t>(replies, 1), " bytes each");
  CHECK(server.connections().empty());
  CHECK(server.counters().malformed == 0);
}

TEST_CASE("bulk data leaves in full-size packets, consecutive ones joined in GSO buffers") {
  // Two nodes joined by recording backends (no sockets): every send call is recorded.
  RecordingBackend client_io(SocketAddress::loopback_v4(1111));
  RecordingBackend server_io(SocketAddress::loopback_v4(2222));
  client_io.link_to(&server_io);
  server_io.link_to(&client_io);
  // Base-size packets: the test is about how many of them fill a GSO buffer.
  NodeConfig client_config;
  client_config.connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  NodeConfig server_config = client_config;
  server_config.accept_connections = true;
  Node client_node(client_io, client_config);
  Node server_node(server_io, server_config);
  Connection* server = nullptr;
  server_node.on_accept([&](Connection& c, const SocketAddress&) {
    server = &c;
    return true;
  });
  Connection& client = client_node.connect(server_io.local_address(), kSimulatedEpoch);
  Instant now = kSimulatedEpoch;
  std::optional<std::uint64_t> stream;
  const Bytes message(64 * 1024, std::byte{0x5a});
  std::vector<std::byte> buffer(message.size());
  std::uint64_t received = 0;
  for (int i = 0; i < 2000 && received < 4 * message.size(); ++i) {
    now += std::chrono::microseconds(100);
    if (!stream && client.state() == ConnectionState::established) stream = client.open_stream();
    if (stream) (void)client.send_message(*stream, message);
    client_node.poll(now);
    server_node.poll(now);
    if (server == nullptr) continue;
    for (std::uint64_t id : server->readable_streams()) {
      while (auto size = server->read_message(id, buffer)) received += *size;
    }
  }
  REQUIRE(received >= 4 * message.size());

  // Count the client's short-header packets, and the send entries (GSO buffers) they
  // went in: data packets must fill the datagram and share entries.
  std::size_t full = 0;
  std::size_t entries = 0;
  std::size_t last_call = ~std::size_t{0};
  std::size_t last_entry = ~std::size_t{0};
  for (const RecordedDatagram& d : client_io.sent()) {
    if (d.bytes.size() != client.max_datagram_size()) continue;
    ++full;
    if (d.send_call != last_call || d.entry != last_entry) ++entries;
    last_call = d.send_call;
    last_entry = d.entry;
  }
  MESSAGE(full << " full-size packets in " << entries << " send entries");
  CHECK(full * client.max_datagram_size() >= 4 * message.size());
  CHECK(entries * 8 <= full);  // GSO buffers of many packets each
}
