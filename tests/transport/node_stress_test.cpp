// Two nodes over loopback under load: a thousand streams on one connection, a consumer
// that reads slowly (memory stays within the flow-control windows), and garbage and
// truncated copies of real packets sent to the server's port while a transfer runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "tests/transport/node_pair.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::seconds;

namespace {

// Passes everything to `inner` and keeps a copy of every `every`-th datagram sent (GSO
// buffers cut into their datagrams), up to `keep` of them.
class TapBackend final : public IoBackend {
 public:
  TapBackend(IoBackend& inner, std::size_t every, std::size_t keep)
      : inner_(inner), every_(every), keep_(keep) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "tap"; }
  [[nodiscard]] IoCapabilities capabilities() const noexcept override {
    return inner_.capabilities();
  }
  [[nodiscard]] SocketAddress local_address() const noexcept override {
    return inner_.local_address();
  }
  [[nodiscard]] int fd() const noexcept override { return inner_.fd(); }
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override {
    auto sent = inner_.send(batch);
    if (!sent) return sent;
    for (const TxDatagram& d : batch.first(*sent)) {
      const std::size_t step = d.segment_size == 0 ? d.data.size() : d.segment_size;
      for (std::size_t at = 0; at < d.data.size(); at += step) {
        if (seen_++ % every_ != 0 || captured_.size() == keep_) continue;
        const auto one = d.data.subspan(at, std::min(step, d.data.size() - at));
        captured_.emplace_back(one.begin(), one.end());
      }
    }
    return sent;
  }
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override {
    return inner_.receive(batch);
  }

  [[nodiscard]] const std::vector<Bytes>& captured() const noexcept { return captured_; }

 private:
  IoBackend& inner_;
  std::size_t every_;
  std::size_t keep_;
  std::size_t seen_ = 0;
  std::vector<Bytes> captured_;
};

// What a server counts for datagrams it drops or answers without a connection.
std::uint64_t dropped(const NodeCounters& c) {
  return c.malformed + c.bad_checksum + c.unknown_connection + c.refused + c.version_negotiations +
         c.invalid_cookies + c.retries_sent;
}

}  // namespace

TEST_CASE("1000 concurrent streams on one connection each arrive byte-exact and in order") {
  constexpr std::size_t kStreams = 1000;
  ConnectionConfig connection;
  connection.params.initial_max_streams = kStreams;
  // The receiver hands out whole messages only and grants connection credit as they are
  // read. 1000 streams with messages of up to 3000 bytes could fill a 256 KiB window with
  // partial messages and stall for good, unless the sender starts a message only when the
  // credit covers it (Connection's reserved credit): a small window proves it does.
  connection.params.initial_max_data = 256 << 10;
  // Base-size datagrams: interleaving is counted per packet, and a 64 KiB one holds at
  // most SentPacket::kMaxChunks streams' bytes.
  connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  FaultConfig faults;
  faults.seed = 1000;
  faults.drop = 0.01;
  faults.reorder = 0.01;
  Pair pair(&faults, connection);
  Transfer transfer(kStreams, 6, 3000);
  std::size_t most_in_progress = 0;  // streams partly received at one moment
  const Instant start = MonotonicClock::now();
  const bool ok = pair.run(
      seconds(120), [&] { return transfer.done(pair); },
      [&] {
        transfer.step(pair);
        const auto in_progress = static_cast<std::size_t>(
            std::count_if(transfer.received.begin(), transfer.received.end(),
                          [&](const auto& entry) { return entry.second < transfer.count; }));
        most_in_progress = std::max(most_in_progress, in_progress);
      });
  REQUIRE(ok);
  const double secs = std::chrono::duration<double>(MonotonicClock::now() - start).count();
  MESSAGE(kStreams, " streams, ", transfer.bytes, " bytes in ", secs, " s; at most ",
          most_in_progress, " streams partly received at once");
  CHECK(transfer.mismatches == 0);
  CHECK(transfer.ids.size() == kStreams);
  CHECK(transfer.received.size() == kStreams);
  // The streams were interleaved on the wire, not sent one after another.
  CHECK(most_in_progress > kStreams / 10);
  // The peer's limit is what allowed 1000: one more is refused.
  CHECK(pair.client->peer_params().initial_max_streams == kStreams);
  CHECK(pair.client->open_stream() == std::nullopt);
  CHECK(pair.client->stats().packets_lost > 0);
  CHECK(pair.server->close_reason() == std::nullopt);
}

TEST_CASE(
    "a slow consumer keeps the receiver within its windows and the sender within its capacity") {
  constexpr std::size_t kStreams = 4;
  constexpr std::uint64_t kConnectionWindow = 128 * 1024;
  constexpr std::uint64_t kStreamWindow = 64 * 1024;
  constexpr std::size_t kSendCapacity = 96 * 1024;
  ConnectionConfig connection;
  connection.params.initial_max_data = kConnectionWindow;
  connection.params.initial_max_stream_data = kStreamWindow;
  connection.stream_send_capacity = kSendCapacity;
  Pair pair(nullptr, connection);
  Transfer transfer(kStreams, 1000, 4000);  // about 8 MB
  // The consumer reads a few messages only when the sender has filled most of the
  // connection window (or, so that it always progresses, 5 ms after its last read): it is
  // slower than the transport at any build speed, sanitizers included.
  std::size_t read = 0;
  Instant last_read = MonotonicClock::now();
  std::uint64_t peak_received = 0;
  std::uint64_t peak_sent = 0;
  std::uint64_t violations = 0;
  const Instant start = MonotonicClock::now();
  REQUIRE(pair.run(
      seconds(60), [&] { return transfer.done(pair); },
      [&] {
        transfer.send(pair);
        const Instant now = MonotonicClock::now();
        const bool window_full =
            pair.server != nullptr &&
            pair.server->stats().receive_buffered_bytes >= kConnectionWindow * 3 / 4;
        if (window_full || now - last_read > std::chrono::milliseconds(5)) {
          read += transfer.receive(pair, 8);
          last_read = now;
        }
        if (pair.server != nullptr) {
          const std::uint64_t buffered = pair.server->stats().receive_buffered_bytes;
          peak_received = std::max(peak_received, buffered);
          if (buffered > std::min(kConnectionWindow, kStreams * kStreamWindow)) ++violations;
        }
        const std::uint64_t unacked = pair.client->stats().send_buffered_bytes;
        peak_sent = std::max(peak_sent, unacked);
        if (unacked > kStreams * kSendCapacity) ++violations;
      }));
  const double secs = std::chrono::duration<double>(MonotonicClock::now() - start).count();
  MESSAGE(transfer.bytes, " bytes in ", secs, " s; receiver held at most ", peak_received,
          " bytes, sender at most ", peak_sent, "; ", pair.client->stats().flow_control_stalls,
          " flow-control stalls");
  CHECK(violations == 0);
  CHECK(transfer.mismatches == 0);
  // The reader was the bottleneck: the windows filled and the sender stalled on them.
  CHECK(peak_received > kConnectionWindow / 2);
  CHECK(peak_sent > kSendCapacity);
  CHECK(pair.client->stats().flow_control_stalls > 0);
  CHECK(read > 0);
}

TEST_CASE(
    "garbage and truncated copies of real packets are counted and ignored during a transfer") {
  auto client_socket = loopback_backend();
  auto server_socket = loopback_backend();
  TapBackend tap(*client_socket, 16, 512);
  // Base-size datagrams: the tap keeps every 16th, and 64 KiB ones would be too few.
  NodeConfig client_config;
  client_config.connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  NodeConfig server_config = client_config;
  server_config.accept_connections = true;
  Node client_node(tap, client_config);
  Node server_node(*server_socket, server_config);
  Connection* server = nullptr;
  server_node.on_accept([&](Connection& c, const SocketAddress&) {
    server = &c;
    return true;
  });
  const SocketAddress address = server_socket->local_address();
  Connection& client = client_node.connect(address, MonotonicClock::now());

  // A transfer driven by hand (the Pair helper owns its sockets; this one needs the tap).
  std::optional<std::uint64_t> stream;
  constexpr std::size_t kMessages = 3000;
  constexpr std::size_t kMaxSize = 4000;
  std::size_t sent = 0;
  std::size_t received = 0;
  std::size_t mismatches = 0;
  Bytes buffer(kMaxSize);
  const RawClient raw;
  std::mt19937_64 rng(5);
  constexpr std::size_t kJunk = 4000;
  std::size_t garbage_sent = 0;
  std::size_t truncated_sent = 0;

  auto poll = [&] {
    client_node.poll(MonotonicClock::now());
    server_node.poll(MonotonicClock::now());
  };
  const Instant end = MonotonicClock::now() + seconds(60);
  bool done = false;
  for (int i = 0; i < 50'000'000 && !done && MonotonicClock::now() < end; ++i) {
    if (!stream && client.state() == ConnectionState::established) stream = client.open_stream();
    while (stream && sent < kMessages) {
      const Bytes m = message(*stream, sent, kMaxSize);
      const AppendStatus status = client.send_message(*stream, m);
      if (status == AppendStatus::back_pressured) break;
      REQUIRE(status == AppendStatus::accepted);
      if (++sent == kMessages) client.finish_stream(*stream);
    }
    if (server != nullptr && stream) {
      while (auto size = server->read_message(*stream, buffer)) {
        const Bytes expected = message(*stream, received++, kMaxSize);
        if (expected.size() != *size || std::memcmp(expected.data(), buffer.data(), *size) != 0) {
          ++mismatches;
        }
      }
    }
    // Junk goes out while the transfer runs, a little per round: random bytes (empty
    // datagrams included) and real packets cut short.
    if (garbage_sent + truncated_sent < kJunk) {
      const auto& real = tap.captured();
      if (i % 2 == 0 || real.empty()) {
        Bytes junk(rng() % 1400);
        for (auto& b : junk) b = static_cast<std::byte>(rng());
        REQUIRE(raw.send_to(address, junk));
        ++garbage_sent;
      } else {
        const Bytes& packet = real[rng() % real.size()];
        REQUIRE(raw.send_to(address, std::span(packet).first(rng() % packet.size())));
        ++truncated_sent;
      }
    }
    poll();
    done = server != nullptr && stream && received == kMessages &&
           server->stream_finished(*stream) && garbage_sent + truncated_sent == kJunk;
  }
  REQUIRE(done);
  CHECK(mismatches == 0);
  CHECK(tap.captured().size() > 10);
  CHECK(truncated_sent > kJunk / 4);
  CHECK(server->close_reason() == std::nullopt);
  CHECK(client.close_reason() == std::nullopt);
  CHECK(server_node.connections().size() == 1);

  // Let what is still on the way arrive: poll until nothing moves (bounded).
  std::uint64_t last = ~std::uint64_t{0};
  for (int i = 0; i < 1000; ++i) {
    poll();
    const std::uint64_t now_received = server_node.counters().datagrams_received;
    if (now_received == last && i > 20) break;
    last = now_received;
  }
  const NodeCounters& counters = server_node.counters();
  const std::uint64_t junk = garbage_sent + truncated_sent;
  const std::uint64_t counted = dropped(counters) - 1;  // the one Retry of the real client
  MESSAGE(garbage_sent, " random and ", truncated_sent,
          " truncated datagrams: ", counters.malformed, " malformed, ", counters.bad_checksum,
          " bad checksums, ", counters.unknown_connection, " unknown connections, ",
          counters.version_negotiations, " version negotiations, ", counters.refused, " refused");
  CHECK(counters.retries_sent == 1);
  CHECK(counters.bad_checksum > 0);
  CHECK(counters.malformed > 0);
  CHECK(counted <= junk);
  // Every datagram that reached the server is accounted for: the client's, and each piece
  // of junk in one counter. The kernel may drop datagrams when a receive buffer is full;
  // then only the bound below can be checked.
  if (counters.datagrams_received == client_node.counters().datagrams_sent + junk) {
    CHECK(counted == junk);
  } else {
    MESSAGE("the kernel dropped ",
            client_node.counters().datagrams_sent + junk - counters.datagrams_received,
            " datagrams: checking a lower bound only");
    CHECK(counted >= junk * 9 / 10);
  }
}

TEST_CASE("a message larger than the peer's window is refused, not left to stall the stream") {
  ConnectionConfig connection;
  connection.params.initial_max_stream_data = 64 * 1024;
  Pair pair(nullptr, connection);
  REQUIRE(pair.run(
      seconds(10), [&] { return pair.client->state() == ConnectionState::established; }, [] {}));
  const auto stream = pair.client->open_stream();
  REQUIRE(stream);
  const Bytes big(64 * 1024 + 1, std::byte{7});
  CHECK(pair.client->send_message(*stream, big) == AppendStatus::too_large);
  const Bytes fits(64 * 1024, std::byte{7});
  REQUIRE(pair.client->send_message(*stream, fits) == AppendStatus::accepted);
  pair.client->finish_stream(*stream);
  Bytes buffer(fits.size());
  std::optional<std::size_t> got;
  REQUIRE(pair.run(
      seconds(10), [&] { return got.has_value(); },
      [&] {
        if (pair.server != nullptr) got = pair.server->read_message(*stream, buffer);
      }));
  CHECK(*got == fits.size());
  CHECK(buffer == fits);
}

TEST_CASE("a replayed packet sent from another address does not redirect the connection") {
  auto client_socket = loopback_backend();
  auto server_socket = loopback_backend();
  TapBackend tap(*client_socket, 1, 256);
  NodeConfig server_config;
  server_config.accept_connections = true;
  Node client_node(tap, NodeConfig{});
  Node server_node(*server_socket, server_config);
  Connection* server = nullptr;
  server_node.on_accept([&](Connection& c, const SocketAddress&) {
    server = &c;
    return true;
  });
  const SocketAddress address = server_socket->local_address();
  Connection& client = client_node.connect(address, MonotonicClock::now());
  const auto deadline = MonotonicClock::now() + seconds(10);
  // Polls both nodes until `done()` (called once per round: it may consume) or the deadline.
  auto poll_until = [&](auto&& done) {
    for (;;) {
      if (done()) return true;
      if (MonotonicClock::now() >= deadline) return false;
      client_node.poll(MonotonicClock::now());
      server_node.poll(MonotonicClock::now());
    }
  };
  REQUIRE(poll_until([&] {
    return client.state() == ConnectionState::established && server != nullptr &&
           server->state() == ConnectionState::established;
  }));
  const auto stream = client.open_stream();
  REQUIRE(stream);
  const Bytes hello(100, std::byte{7});
  REQUIRE(client.send_message(*stream, hello) == AppendStatus::accepted);
  Bytes buffer(1000);
  REQUIRE(poll_until([&] { return server->read_message(*stream, buffer).has_value(); }));
  REQUIRE_FALSE(tap.captured().empty());
  for (int i = 0; i < 20; ++i) {  // whatever is still in flight lands first
    client_node.poll(MonotonicClock::now());
    server_node.poll(MonotonicClock::now());
  }

  // An old packet of the client's, sent again from another socket.
  const RawClient raw;
  const std::uint64_t duplicates = server->stats().duplicate_packets;
  REQUIRE(raw.send_to(address, tap.captured().back()));
  REQUIRE(poll_until([&] { return server->stats().duplicate_packets > duplicates; }));

  // The server's next message still goes to the client, and nothing to the replayer.
  const Bytes answer(50, std::byte{9});
  REQUIRE(server->send_message(*stream, answer) == AppendStatus::accepted);
  CHECK(poll_until([&] { return client.read_message(*stream, buffer) == answer.size(); }));
  std::array<std::byte, 2048> stray{};
  CHECK(recv(raw.fd(), stray.data(), stray.size(), MSG_DONTWAIT) < 0);
}
