// Shared by the Node integration tests: a client node and a server node over loopback UDP
// (127.0.0.1), optionally through the fault-injecting backend, driven by one thread in a
// bounded loop (a count and a wall-clock limit, no sleeps); a multi-stream transfer whose
// every message is checked against its generator; and a raw socket that speaks just enough
// of the protocol to send a CLIENT_HELLO.
#pragma once

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "proto/packet.h"
#include "transport/io_fault.h"
#include "transport/io_select.h"
#include "transport/node.h"

namespace dwcp::transport::test {

using Bytes = std::vector<std::byte>;

inline std::unique_ptr<IoBackend> loopback_backend(
    BackendKind kind = BackendKind::automatic, ZerocopyMode zerocopy = ZerocopyMode::automatic) {
  SocketOptions options;
  options.zerocopy = zerocopy;
  auto selection = open_backend(SocketAddress::loopback_v4(0), options, kind);
  REQUIRE_MESSAGE(selection, "cannot open a loopback socket");
  return std::move(selection->backend);
}

// The backend and zero-copy mode a Pair's sockets use.
struct PairIo {
  BackendKind kind = BackendKind::automatic;
  ZerocopyMode zerocopy = ZerocopyMode::automatic;
};

// Message `index` of stream `stream`: 1..max_size bytes, a function of both.
inline Bytes message(std::uint64_t stream, std::uint64_t index, std::size_t max_size) {
  std::mt19937_64 rng(stream * 7919 + index);
  Bytes bytes(1 + rng() % max_size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

// A client node and a server node; both offer `connection` (the server also accepts).
// With `faults`, both directions go through a FaultBackend (the server's seeded seed + 1).
struct Pair {
  std::unique_ptr<IoBackend> client_socket;
  std::unique_ptr<IoBackend> server_socket;
  std::unique_ptr<FaultBackend> client_faults;
  std::unique_ptr<FaultBackend> server_faults;
  std::unique_ptr<Node> client_node;
  std::unique_ptr<Node> server_node;
  Connection* client = nullptr;
  Connection* server = nullptr;

  explicit Pair(const FaultConfig* faults = nullptr, const ConnectionConfig& connection = {},
                PairIo io = {})
      : client_socket(loopback_backend(io.kind, io.zerocopy)),
        server_socket(loopback_backend(io.kind, io.zerocopy)) {
    NodeConfig client_config;
    client_config.connection = connection;
    NodeConfig server_config;
    server_config.connection = connection;
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

// `count` messages of up to `max_size` bytes on each of `streams` client streams; the
// server checks every message it reads against message().
struct Transfer {
  std::size_t streams;
  std::size_t count;
  std::size_t max_size;
  std::vector<std::uint64_t> ids;
  std::vector<std::size_t> sent;
  std::map<std::uint64_t, std::size_t> received;
  std::size_t mismatches = 0;
  std::uint64_t bytes = 0;

  Transfer(std::size_t stream_count, std::size_t messages, std::size_t max_message)
      : streams(stream_count), count(messages), max_size(max_message) {}

  // Opens the streams once the connection is up and queues what the streams take.
  void send(Pair& pair) {
    Connection& client = *pair.client;
    if (client.state() == ConnectionState::established && ids.empty()) {
      for (std::size_t s = 0; s < streams; ++s) {
        const auto id = client.open_stream();
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
  }

  // Reads at most `budget` messages on the server; returns how many it read.
  std::size_t receive(Pair& pair, std::size_t budget = SIZE_MAX) {
    if (pair.server == nullptr) return 0;
    std::size_t read = 0;
    Bytes buffer(max_size);
    for (std::uint64_t id : pair.server->readable_streams()) {
      while (read < budget) {
        const auto size = pair.server->read_message(id, buffer);
        if (!size) break;
        ++read;
        const Bytes expected = message(id, received[id]++, max_size);
        bytes += *size;
        if (expected.size() != *size || std::memcmp(expected.data(), buffer.data(), *size) != 0) {
          ++mismatches;
        }
      }
    }
    return read;
  }

  void step(Pair& pair) {
    send(pair);
    receive(pair);
  }

  [[nodiscard]] bool done(const Pair& pair) const {
    if (ids.empty() || pair.server == nullptr) return false;
    return std::all_of(ids.begin(), ids.end(), [&](std::uint64_t id) {
      return received.contains(id) && received.at(id) == count && pair.server->stream_finished(id);
    });
  }
};

// A plain UDP socket on 127.0.0.1 that sends hand-made packets: a client whose source
// address the server has never seen (a spoofed one, as far as the server can tell).
class RawClient {
 public:
  RawClient() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) { REQUIRE(fd_ >= 0); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() { close(fd_); }

  [[nodiscard]] int fd() const noexcept { return fd_; }

  // Sends `bytes` as one datagram; true if the kernel took all of it.
  bool send_to(const SocketAddress& to, std::span<const std::byte> bytes) const {
    return sendto(fd_, bytes.data(), bytes.size(), 0, to.data(), to.size()) ==
           static_cast<ssize_t>(bytes.size());
  }

  // An Initial with CLIENT_HELLO(`cookie`) from `scid` to `dcid`, padded to 1200 bytes.
  static Bytes hello(std::span<const std::byte> dcid, std::span<const std::byte> scid,
                     std::span<const std::byte> cookie) {
    Bytes out(1500);
    auto builder = proto::PacketBuilder::long_header(out, proto::PacketType::initial,
                                                     proto::ConnectionIdRef(dcid),
                                                     proto::ConnectionIdRef(scid), 0, 1);
    REQUIRE(builder);
    REQUIRE(builder->add(proto::ClientHelloFrame{cookie, {}}));
    REQUIRE(builder->pad_to(proto::kMinInitialDatagram));
    auto size = builder->finish();
    REQUIRE(size);
    out.resize(*size);
    return out;
  }

  // The next datagram waiting, or an empty vector (never blocks).
  [[nodiscard]] Bytes receive() const {
    Bytes buffer(65536);
    const ssize_t got = recv(fd_, buffer.data(), buffer.size(), 0);
    buffer.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return buffer;
  }

 private:
  int fd_;
};

}  // namespace dwcp::transport::test
