// The public API over loopback: two dwcp::Nodes with their own I/O threads, driven from
// the test thread through Connection and Stream handles. Every wait is bounded.
#include "transport/api/node.h"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "transport/io_uring.h"

using namespace std::chrono_literals;
using dwcp::Connection;
using dwcp::ConnectionStatus;
using dwcp::Node;
using dwcp::NodeOptions;
using dwcp::SendStatus;
using dwcp::Stream;
using dwcp::transport::SocketAddress;

namespace {

using Bytes = std::vector<std::byte>;
using Clock = std::chrono::steady_clock;

Bytes message(std::uint64_t stream, std::uint64_t index, std::size_t max_size) {
  std::mt19937_64 rng(stream * 7919 + index);
  Bytes bytes(1 + rng() % max_size);
  for (auto& b : bytes) b = static_cast<std::byte>(rng());
  return bytes;
}

NodeOptions loopback_options(dwcp::transport::IdleMode idle = dwcp::transport::IdleMode::backoff) {
  NodeOptions options;
  options.bind = SocketAddress::loopback_v4(0);
  options.idle = idle;
  return options;
}

std::unique_ptr<Node> start(const NodeOptions& options) {
  auto node = Node::start(options);
  REQUIRE_MESSAGE(node.has_value(), (node ? "" : node.error()));
  return std::move(*node);
}

// A server node and a connected client, with the server's side of the connection.
struct Pair {
  std::unique_ptr<Node> server;
  std::unique_ptr<Node> client;
  Connection client_side;
  Connection server_side;

  explicit Pair(NodeOptions server_options = loopback_options(),
                NodeOptions client_options = loopback_options()) {
    server_options.accept_connections = true;
    server = start(server_options);
    client = start(client_options);
    client_side = client->connect(server->local_address());
    REQUIRE(client_side.wait_established(5s));
    if (!server_options.on_accept) {
      auto accepted = server->accept(5s);
      REQUIRE(accepted.has_value());
      server_side = *accepted;
      REQUIRE(server_side.wait_established(5s));
    }
  }
};

// Waits, without polling the CPU away, until `done()` holds or 20 s pass.
template <typename Done>
bool wait_until(Connection& connection, Done&& done) {
  const auto deadline = Clock::now() + 20s;
  while (Clock::now() < deadline) {
    const auto seen = connection.events();
    if (done()) return true;
    connection.wait(seen, 50ms);
  }
  return done();
}

// Sends `count` messages per stream, retrying on back-pressure (bounded in time).
void send_all(std::vector<Stream>& streams, std::uint64_t count, std::size_t max_size,
              Connection& receiver_side) {
  const auto deadline = Clock::now() + 20s;
  for (std::uint64_t i = 0; i < count; ++i) {
    for (auto& stream : streams) {
      const Bytes bytes = message(stream.id(), i, max_size);
      SendStatus status;
      while ((status = stream.send(bytes)) == SendStatus::back_pressured) {
        REQUIRE(Clock::now() < deadline);
        receiver_side.wait(receiver_side.events(), 1ms);
      }
      REQUIRE_MESSAGE(status == SendStatus::accepted, to_string(status));
    }
  }
}

}  // namespace

namespace {

// Four streams of `count` messages each, read on the server side and checked.
void transfer_on_four_streams(Pair& pair, std::uint64_t count) {
  std::vector<Stream> streams;
  for (int i = 0; i < 4; ++i) {
    auto stream = pair.client_side.open_stream();
    REQUIRE(stream.has_value());
    streams.push_back(*stream);
  }
  std::thread sender([&] { send_all(streams, count, 3000, pair.server_side); });

  std::map<std::uint64_t, Stream> received_streams;
  std::map<std::uint64_t, std::uint64_t> received;
  std::uint64_t mismatches = 0;
  const bool done = wait_until(pair.server_side, [&] {
    while (auto stream = pair.server_side.accept_stream()) received_streams[stream->id()] = *stream;
    for (auto& [id, stream] : received_streams) {
      for (auto bytes = stream.peek(); !bytes.empty(); bytes = stream.peek()) {
        const Bytes expected = message(id, received[id]++, 3000);
        if (bytes.size() != expected.size() ||
            std::memcmp(bytes.data(), expected.data(), bytes.size()) != 0) {
          ++mismatches;
        }
        stream.release();
      }
    }
    std::uint64_t total = 0;
    for (auto& [id, n] : received) total += n;
    return total == 4 * count;
  });
  sender.join();
  if (!done) {
    const auto c = pair.client_side.stats();
    const auto sv = pair.server_side.stats();
    MESSAGE("client sent ", c.packets_sent, " recv ", c.packets_received, " lost ", c.packets_lost,
            " inflight ", c.bytes_in_flight, " stalls ", c.flow_control_stalls, " pacing ",
            c.pacing_rate, " pto ", c.probe_timeouts, " cwnd ", c.congestion_window, " buffered ",
            c.send_buffered_bytes, "; server recv ", sv.packets_received, " sent ", sv.packets_sent,
            " rbuf ", sv.receive_buffered_bytes, " srv dgrams ",
            pair.server->counters().datagrams_received);
  }
  CHECK(done);
  CHECK(mismatches == 0);
  CHECK(received_streams.size() == 4);
  const auto stats = pair.client_side.stats();
  CHECK(stats.packets_sent > 0);
  CHECK(stats.smoothed_rtt.count() > 0);
}

// The peer's first stream, once it arrives, read in place and checked against message().
struct CheckedReader {
  CheckedReader(std::uint64_t id, std::size_t max) : stream_id(id), max_size(max) {}

  std::uint64_t stream_id;  // the generator's stream number
  std::size_t max_size;
  Stream incoming;
  std::uint64_t read = 0;
  std::uint64_t mismatches = 0;

  // Takes the stream if it arrived and reads what waits; false until the stream exists.
  bool poll(Connection& connection) {
    if (!incoming) {
      if (auto s = connection.accept_stream()) incoming = *s;
    }
    if (!incoming) return false;
    for (auto bytes = incoming.peek(); !bytes.empty(); bytes = incoming.peek()) {
      const Bytes expected = message(stream_id, read++, max_size);
      if (bytes.size() != expected.size() ||
          std::memcmp(bytes.data(), expected.data(), bytes.size()) != 0) {
        ++mismatches;
      }
      incoming.release();
    }
    return true;
  }
};

}  // namespace

TEST_CASE("messages on several streams arrive whole, in order and byte-exact") {
  Pair pair;
  transfer_on_four_streams(pair, 500);
}

TEST_CASE("the dedicated mode (a receiver thread apart) moves the same transfer") {
  NodeOptions options = loopback_options();
  options.threading = dwcp::ThreadingMode::dedicated;
  Pair pair(options, options);
  transfer_on_four_streams(pair, 500);
  CHECK(pair.server->counters().datagrams_received > 0);
}

TEST_CASE("io_uring in both threading modes, idling in epoll, moves the same transfer") {
  // Blocking idle: a node that sleeps through a datagram the multishot receive holds
  // would stall the transfer until a timer; the dedicated mode sends and receives on two
  // threads, one ring each.
  const auto probe = dwcp::transport::probe_uring();
  if (!probe.supported) {
    MESSAGE("skipped: " << probe.detail);
    return;
  }
  for (const auto mode : {dwcp::ThreadingMode::shared, dwcp::ThreadingMode::dedicated}) {
    CAPTURE(static_cast<int>(mode));
    NodeOptions options = loopback_options(dwcp::transport::IdleMode::block);
    options.io = dwcp::transport::BackendKind::uring;
    options.threading = mode;
    Pair pair(options, options);
    transfer_on_four_streams(pair, 200);
    CHECK(pair.server->counters().datagrams_received > 0);
  }
}

TEST_CASE("the I/O thread can be pinned; a CPU the process may not use is an error") {
  NodeOptions options = loopback_options();
  options.cpus = "0";
  auto node = Node::start(options);
  CHECK_MESSAGE(node.has_value(), (node ? "" : node.error()));
  options.cpus = "1000000";
  auto refused = Node::start(options);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().find("cpus") != std::string::npos);
}

TEST_CASE("a full queue reports back-pressure; nothing accepted is lost") {
  NodeOptions client_options = loopback_options();
  client_options.stream_send_queue = 64 << 10;
  Pair pair(loopback_options(), client_options);
  Stream stream = *pair.client_side.open_stream();
  // The receiver reads nothing: queues and windows fill, then send() says back_pressured.
  std::uint64_t accepted = 0;
  bool back_pressured = false;
  const auto deadline = Clock::now() + 10s;
  while (!back_pressured && Clock::now() < deadline) {
    const SendStatus status = stream.send(message(stream.id(), accepted, 8000));
    if (status == SendStatus::accepted) {
      ++accepted;
    } else {
      REQUIRE(status == SendStatus::back_pressured);
      // Give the I/O thread the chance to move the queue on; back-pressure must persist
      // only once the windows are full too.
      pair.server_side.wait(pair.server_side.events(), 20ms);
      back_pressured =
          stream.send(message(stream.id(), accepted, 8000)) == SendStatus::back_pressured;
      if (!back_pressured) ++accepted;
    }
  }
  REQUIRE(back_pressured);
  // Memory stays bounded by the windows: the receiver holds at most its stream window.
  const auto server_stats = pair.server_side.stats();
  CHECK(server_stats.receive_buffered_bytes <= (std::uint64_t{1} << 20));

  CheckedReader reader(stream.id(), 8000);
  CHECK(wait_until(pair.server_side, [&] {
    reader.poll(pair.server_side);
    return reader.read == accepted;
  }));
  if (reader.read != accepted) {
    const auto c = pair.client_side.stats();
    const auto sv = pair.server_side.stats();
    MESSAGE("client: sent ", c.packets_sent, " buffered ", c.send_buffered_bytes, " inflight ",
            c.bytes_in_flight, " stalls ", c.flow_control_stalls, " pto ", c.probe_timeouts,
            "; server: received ", sv.packets_received, " buffered ", sv.receive_buffered_bytes,
            " sent ", sv.packets_sent, "; client queued ", stream.queued_bytes(), " server ring ",
            reader.incoming ? reader.incoming.received_bytes() : 0);
  }
  CHECK(reader.read == accepted);
  CHECK(reader.mismatches == 0);
}

TEST_CASE("a back-pressured sender that waits is woken when its queue has room again") {
  NodeOptions client_options = loopback_options();
  client_options.stream_send_queue = 64 << 10;
  Pair pair(loopback_options(), client_options);
  Stream stream = *pair.client_side.open_stream();
  // The receiver reads nothing yet: fill the queue and the windows until back-pressure
  // stays after the I/O thread had its turn.
  std::uint64_t accepted = 0;
  const auto deadline = Clock::now() + 10s;
  for (int quiet = 0; quiet < 3 && Clock::now() < deadline;) {
    if (stream.send(message(stream.id(), accepted, 8000)) == SendStatus::accepted) {
      ++accepted;
      quiet = 0;
    } else {
      ++quiet;
      pair.server_side.wait(pair.server_side.events(), 20ms);
    }
  }
  REQUIRE(stream.send(message(stream.id(), accepted, 8000)) == SendStatus::back_pressured);

  // Now the server reads; the client waits on its connection, which sees no message and no
  // status change: only the queue's room can end its waits before their 10 s timeout.
  std::atomic<bool> reading{true};
  CheckedReader reader(stream.id(), 8000);
  std::thread consumer([&] {
    const auto end = Clock::now() + 20s;
    while (reading.load() && Clock::now() < end) {
      const auto seen = pair.server_side.events();
      reader.poll(pair.server_side);
      pair.server_side.wait(seen, 5ms);
    }
  });
  const std::uint64_t target = accepted + 64;  // more than the queue holds
  int timeouts = 0;
  while (accepted < target && Clock::now() < deadline + 10s) {
    const auto seen = pair.client_side.events();
    if (stream.send(message(stream.id(), accepted, 8000)) == SendStatus::accepted) {
      ++accepted;
      continue;
    }
    const auto before = Clock::now();
    pair.client_side.wait(seen, 10s);
    if (Clock::now() - before >= 10s) ++timeouts;
  }
  reading.store(false);
  consumer.join();
  CHECK(accepted == target);
  CHECK(timeouts == 0);
  CHECK(wait_until(pair.server_side, [&] {
    reader.poll(pair.server_side);
    return reader.read == accepted;
  }));
  CHECK(reader.mismatches == 0);
}

TEST_CASE("claim and commit hand over a message written in place") {
  Pair pair;
  Stream stream = *pair.client_side.open_stream();
  dwcp::SendStatus why = SendStatus::closed;
  auto room = stream.claim(1000, &why);
  REQUIRE(why == SendStatus::accepted);
  REQUIRE(room.size() == 1000);
  for (std::size_t i = 0; i < room.size(); ++i) room[i] = static_cast<std::byte>(i);
  CHECK(stream.commit(600) == SendStatus::accepted);
  CHECK(stream.claim(0, &why).empty());
  CHECK(why == SendStatus::empty);
  CHECK(stream.claim(stream.max_message_size() + 1, &why).empty());
  CHECK(why == SendStatus::too_large);

  Stream incoming;
  Bytes got;
  CHECK(wait_until(pair.server_side, [&] {
    if (!incoming) {
      if (auto s = pair.server_side.accept_stream()) incoming = *s;
    }
    if (!incoming) return false;
    got.resize(2000);
    auto size = incoming.receive(got);
    if (!size) return false;
    got.resize(*size);
    return true;
  }));
  REQUIRE(got.size() == 600);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<std::byte>(i));
}

TEST_CASE("bad messages are refused with the reason; finish ends the stream at the peer") {
  Pair pair;
  Stream stream = *pair.client_side.open_stream();
  CHECK(stream.send({}) == SendStatus::empty);
  CHECK(stream.send(Bytes(stream.max_message_size() + 1)) == SendStatus::too_large);
  CHECK(stream.send(Bytes(10, std::byte{1})) == SendStatus::accepted);
  stream.finish();
  CHECK(stream.send(Bytes(10, std::byte{1})) == SendStatus::finished);

  Stream incoming;
  int messages = 0;
  CHECK(wait_until(pair.server_side, [&] {
    if (!incoming) {
      if (auto s = pair.server_side.accept_stream()) incoming = *s;
    }
    if (!incoming) return false;
    while (!incoming.peek().empty()) {
      incoming.release();
      ++messages;
    }
    return incoming.at_end();
  }));
  CHECK(messages == 1);
}

TEST_CASE("the peer answers on a stream we opened and finishes it: we see its end") {
  Pair pair;
  Stream ours = *pair.client_side.open_stream();
  REQUIRE(ours.send(Bytes(10, std::byte{1})) == SendStatus::accepted);
  Stream theirs;
  REQUIRE(wait_until(pair.server_side, [&] {
    if (!theirs) {
      if (auto s = pair.server_side.accept_stream()) theirs = *s;
    }
    return theirs && !theirs.peek().empty();
  }));
  theirs.release();
  REQUIRE(theirs.send(Bytes(20, std::byte{2})) == SendStatus::accepted);
  theirs.finish();
  int messages = 0;
  CHECK(wait_until(pair.client_side, [&] {
    while (!ours.peek().empty()) {
      CHECK(ours.peek().size() == 20);
      ours.release();
      ++messages;
    }
    return ours.at_end();
  }));
  CHECK(messages == 1);
  CHECK_FALSE(theirs.at_end());  // our half is still open
}

TEST_CASE("a connection's controller can be replaced once it is established") {
  Pair pair;
  using dwcp::transport::CongestionAlgorithm;
  // A fixed 8 Mbit/s: 200 KB take a fifth of a second, where bbr on loopback takes
  // next to nothing.
  REQUIRE(pair.server_side.set_congestion(CongestionAlgorithm::fixed, 1'000'000));
  Stream ours = *pair.client_side.open_stream();
  REQUIRE(ours.send(Bytes(1, std::byte{1})) == SendStatus::accepted);
  Stream theirs;
  REQUIRE(wait_until(pair.server_side, [&] {
    if (!theirs) {
      if (auto s = pair.server_side.accept_stream()) theirs = *s;
    }
    return static_cast<bool>(theirs);
  }));
  const auto start = Clock::now();
  std::size_t sent = 0;
  std::size_t got = 0;
  CHECK(wait_until(pair.client_side, [&] {
    while (sent < 200'000 && theirs.send(Bytes(10'000, std::byte{3})) == SendStatus::accepted) {
      sent += 10'000;
    }
    while (!ours.peek().empty()) {
      got += ours.peek().size();
      ours.release();
    }
    return got == 200'000;
  }));
  CHECK(Clock::now() - start > 100ms);
  CHECK_FALSE(Connection{}.set_congestion(CongestionAlgorithm::bbr, 0));
}

TEST_CASE("a graceful close delivers everything accepted before it; both ends close") {
  Pair pair;
  Stream stream = *pair.client_side.open_stream();
  std::uint64_t accepted = 0;
  for (; accepted < 200; ++accepted) {
    if (stream.send(message(1, accepted, 4000)) != SendStatus::accepted) break;
  }
  pair.client_side.close();
  CHECK(stream.send(message(1, 0, 10)) == SendStatus::closed);

  CheckedReader reader(1, 4000);
  CHECK(wait_until(pair.server_side, [&] {
    reader.poll(pair.server_side);
    return reader.read == accepted && pair.server_side.status() == ConnectionStatus::closed;
  }));
  CHECK(reader.read == accepted);
  CHECK(reader.mismatches == 0);
  CHECK(wait_until(pair.client_side,
                   [&] { return pair.client_side.status() == ConnectionStatus::closed; }));
  REQUIRE(pair.server_side.close_reason().has_value());
  CHECK(pair.server_side.close_reason()->by_peer);
  CHECK(pair.server_side.close_reason()->error_code == 0);
}

TEST_CASE("abort closes at once and the peer learns the code") {
  Pair pair;
  pair.client_side.abort(77);
  CHECK(wait_until(pair.server_side,
                   [&] { return pair.server_side.status() == ConnectionStatus::closed; }));
  REQUIRE(pair.server_side.close_reason().has_value());
  CHECK(pair.server_side.close_reason()->error_code == 77);
  CHECK(pair.server_side.close_reason()->by_peer);
}

TEST_CASE("the accept callback can refuse a connection; the client learns it") {
  NodeOptions server_options = loopback_options();
  server_options.accept_connections = true;
  std::atomic<int> offered{0};
  server_options.on_accept = [&](Connection&) {
    ++offered;
    return false;
  };
  auto server = start(server_options);
  auto client = start(loopback_options());
  Connection connection = client->connect(server->local_address());
  CHECK_FALSE(connection.wait_established(5s));
  CHECK(wait_until(connection, [&] { return connection.status() == ConnectionStatus::closed; }));
  CHECK(offered.load() >= 1);
  CHECK(server->counters().refused >= 1);
  CHECK_FALSE(server->accept().has_value());
}

TEST_CASE("messages can be answered from the I/O thread through on_message") {
  NodeOptions server_options = loopback_options(dwcp::transport::IdleMode::spin);
  std::atomic<int> echoed{0};
  server_options.on_message = [&](Stream& stream, std::span<const std::byte> bytes) {
    if (stream.send(bytes) == SendStatus::accepted) ++echoed;
  };
  server_options.on_accept = [](Connection&) { return true; };
  Pair pair(server_options, loopback_options(dwcp::transport::IdleMode::spin));
  Stream stream = *pair.client_side.open_stream();
  const Bytes ping(64, std::byte{0x5a});
  for (int round = 0; round < 100; ++round) {
    REQUIRE(stream.send(ping) == SendStatus::accepted);
    Bytes pong(64);
    const auto deadline = Clock::now() + 5s;
    std::optional<std::size_t> size;
    while (!(size = stream.receive(pong)) && Clock::now() < deadline) {
    }
    REQUIRE(size.has_value());
    REQUIRE(pong == ping);
  }
  CHECK(echoed.load() == 100);
}

TEST_CASE("an idle node in blocking mode uses next to no CPU") {
  Pair pair(loopback_options(dwcp::transport::IdleMode::block),
            loopback_options(dwcp::transport::IdleMode::block));
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  // The test thread sleeps in wait() (nothing will happen); the nodes' threads must too.
  pair.client_side.wait(pair.client_side.events() + 1000, 300ms);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const auto cpu_us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  // Two spinning threads would burn ~600 ms; keep-alives and timers cost microseconds.
  CHECK(cpu_us(after) - cpu_us(before) < 60000);
  CHECK(pair.client_side.status() == ConnectionStatus::established);
}

TEST_CASE("after stop, handles report closed and sends are refused") {
  Pair pair;
  Stream stream = *pair.client_side.open_stream();
  pair.client->stop();
  CHECK(pair.client_side.status() == ConnectionStatus::closed);
  CHECK(stream.send(Bytes(10, std::byte{1})) == SendStatus::closed);
  CHECK_FALSE(pair.client_side.open_stream().has_value());
  Connection late = pair.client->connect(pair.server->local_address());
  CHECK(late.status() == ConnectionStatus::closed);
  CHECK(wait_until(pair.server_side,
                   [&] { return pair.server_side.status() == ConnectionStatus::closed; }));
}

TEST_CASE("bad options are refused with a message") {
  NodeOptions options = loopback_options();
  options.cpus = "not-a-cpu";
  auto node = Node::start(options);
  REQUIRE_FALSE(node.has_value());
  CHECK(node.error().find("cpus") != std::string::npos);
}
