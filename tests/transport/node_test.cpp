// Two nodes over loopback UDP, driven by one thread in a bounded loop (no sleeps): the
// handshake, byte-exact transfers on a clean path and through the fault-injecting
// backend, garbage sent to the port, and version negotiation; and, over recording
// backends in simulated time, how bulk data is cut into packets and GSO buffers.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "transport/node.h"

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "simd/checksum.h"
#include "transport/io_fault.h"
#include "transport/io_recording.h"
#include "transport/io_select.h"

using namespace dwcp::transport;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

using Bytes = std::vector<std::byte>;

std::unique_ptr<IoBackend> loopback_backend() {
  auto selection = open_backend(SocketAddress::loopback_v4(0));
  REQUIRE_MESSAGE(selection, "cannot open a loopback socket");
  return std::move(selection->backend);
}

Bytes message(std::uint64_t stream, std::uint64_t index, std::size_t max_size) {
  std::mt19937_64 rng(stream * 7919 + index);
  Bytes bytes(1 + rng() % max_size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

// A client node and a server node, and a transfer of `count` messages per stream.
struct Pair {
  std::unique_ptr<IoBackend> client_socket = loopback_backend();
  std::unique_ptr<IoBackend> server_socket = loopback_backend();
  std::unique_ptr<FaultBackend> client_faults;
  std::unique_ptr<FaultBackend> server_faults;
  std::unique_ptr<Node> client_node;
  std::unique_ptr<Node> server_node;
  Connection* client = nullptr;
  Connection* server = nullptr;

  explicit Pair(const FaultConfig* faults = nullptr) {
    NodeConfig client_config;
    NodeConfig server_config;
    server_config.accept_connections = true;
    IoBackend* client_io = client_socket.get();
    IoBackend* server_io = server_socket.get();
    if (faults != nullptr) {
      FaultConfig server_side = *faults;
      server_side.seed = faults->seed + 1;
      client_faults =
          std::make_unique<FaultBackend>(*client_socket, *faults, MonotonicClock::now());
      server_faults =
          std::make_unique<FaultBackend>(*server_socket, server_side, MonotonicClock::now());
      client_io = client_faults.get();
      server_io = server_faults.get();
    }
    client_node = std::make_unique<Node>(*client_io, client_config);
    server_node = std::make_unique<Node>(*server_io, server_config);
    server_node->on_accept([this](Connection& c, const SocketAddress&) {
      server = &c;
      return true;
    });
    client = &client_node->connect(server_socket->local_address(), MonotonicClock::now());
  }

  void poll() {
    const Instant now = MonotonicClock::now();
    if (client_faults) client_faults->advance(now);
    if (server_faults) server_faults->advance(now);
    client_node->poll(now);
    server_node->poll(now);
  }

  // Polls until `done` or the wall-clock limit; false on the limit.
  template <typename Done, typename App>
  bool run(Duration limit, Done&& done, App&& app) {
    const Instant end = MonotonicClock::now() + limit;
    for (std::uint64_t i = 0; i < 200'000'000 && MonotonicClock::now() < end; ++i) {
      app();
      poll();
      if (done()) return true;
    }
    return false;
  }
};

struct Transfer {
  std::size_t streams;
  std::size_t count;
  std::size_t max_size;
  std::vector<std::uint64_t> ids;
  std::vector<std::size_t> sent;
  std::map<std::uint64_t, std::size_t> received;
  std::size_t mismatches = 0;
  std::uint64_t bytes = 0;

  void step(Pair& pair) {
    Connection& client = *pair.client;
    if (client.state() == ConnectionState::established && ids.empty()) {
      for (std::size_t s = 0; s < streams; ++s) ids.push_back(*client.open_stream());
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
    if (pair.server == nullptr) return;
    std::vector<std::byte> buffer(max_size);
    for (std::uint64_t id : pair.server->readable_streams()) {
      while (auto size = pair.server->read_message(id, buffer)) {
        const Bytes expected = message(id, received[id]++, max_size);
        bytes += *size;
        if (expected.size() != *size || std::memcmp(expected.data(), buffer.data(), *size) != 0) {
          ++mismatches;
        }
      }
    }
  }

  [[nodiscard]] bool done(const Pair& pair) const {
    if (ids.empty() || pair.server == nullptr) return false;
    return std::all_of(ids.begin(), ids.end(), [&](std::uint64_t id) {
      return received.contains(id) && received.at(id) == count && pair.server->stream_finished(id);
    });
  }
};

}  // namespace

TEST_CASE("a client node connects to a server node over loopback and moves 16 MiB byte-exact") {
  Pair pair;
  Transfer transfer{2, 4096, 4096, {}, {}, {}, 0, 0};
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
  Pair pair(&faults);
  Transfer transfer{3, 1500, 4000, {}, {}, {}, 0, 0};
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

TEST_CASE("garbage sent to the port is counted and ignored; an unknown version is answered") {
  Pair pair;
  Transfer transfer{1, 200, 2000, {}, {}, {}, 0, 0};
  const int raw = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  REQUIRE(raw >= 0);
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
  close(raw);
}

TEST_CASE("a hello without a cookie gets a Retry and no state; a forged cookie gets nothing") {
  namespace proto = dwcp::proto;
  auto server_socket = loopback_backend();
  NodeConfig config;
  config.accept_connections = true;
  Node server(*server_socket, config);
  const SocketAddress address = server_socket->local_address();
  const int raw = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  REQUIRE(raw >= 0);
  std::array<std::byte, 8> client_id{};
  client_id.fill(std::byte{0x11});
  std::array<std::byte, 8> first_dcid{};
  first_dcid.fill(std::byte{0x22});

  // An Initial with CLIENT_HELLO, padded to 1200 bytes, sent to `dcid` with `cookie`.
  auto send_hello = [&](std::span<const std::byte> dcid, std::span<const std::byte> cookie) {
    std::array<std::byte, 1500> out{};
    auto builder = proto::PacketBuilder::long_header(out, proto::PacketType::initial,
                                                     proto::ConnectionIdRef(dcid),
                                                     proto::ConnectionIdRef(client_id), 0, 1);
    REQUIRE(builder);
    REQUIRE(builder->add(proto::ClientHelloFrame{cookie, {}}));
    REQUIRE(builder->pad_to(proto::kMinInitialDatagram));
    auto size = builder->finish();
    REQUIRE(size);
    REQUIRE(sendto(raw, out.data(), *size, 0, address.data(), address.size()) ==
            static_cast<ssize_t>(*size));
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
  std::array<std::byte, 512> reply{};
  ssize_t got = -1;
  REQUIRE(poll_until([&] {
    got = recv(raw, reply.data(), reply.size(), 0);
    return got > 0;
  }));
  auto retry = proto::parse_packet(std::span(reply).first(static_cast<std::size_t>(got)));
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
  close(raw);
}

TEST_CASE("bulk data leaves in full-size packets, consecutive ones joined in GSO buffers") {
  // Two nodes joined by recording backends (no sockets): every send call is recorded.
  RecordingBackend client_io(SocketAddress::loopback_v4(1111));
  RecordingBackend server_io(SocketAddress::loopback_v4(2222));
  client_io.link_to(&server_io);
  server_io.link_to(&client_io);
  NodeConfig server_config;
  server_config.accept_connections = true;
  Node client_node(client_io, NodeConfig{});
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
