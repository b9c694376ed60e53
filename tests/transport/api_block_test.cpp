// Versioned blocks through the public API: two dwcp::Nodes over loopback, each injecting
// faults into what it sends (loss, reordering, duplication, corruption), with their own
// I/O threads; the app sends with Stream::send_block and reads with peek_block() or
// on_block. Every wait is bounded.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "tests/transport/block_workload.h"
#include "transport/api/node.h"

using namespace std::chrono_literals;
using dwcp::BlockView;
using dwcp::Connection;
using dwcp::Node;
using dwcp::NodeOptions;
using dwcp::SendStatus;
using dwcp::Stream;
using dwcp::transport::SocketAddress;
using dwcp::transport::test::BlockWorkload;

namespace {

using Bytes = std::vector<std::byte>;
using Clock = std::chrono::steady_clock;

NodeOptions faulty_options(std::uint64_t seed) {
  NodeOptions options;
  options.bind = SocketAddress::loopback_v4(0);
  options.faults.seed = seed;
  // Base-size datagrams: the faults are per datagram, and the checks below need them to hit.
  options.connection.params.max_datagram_size = dwcp::proto::kBaseDatagramSize;
  options.faults.drop = 0.03;
  options.faults.reorder = 0.02;
  options.faults.duplicate = 0.01;
  options.faults.corrupt = 0.005;
  // 64 keys of up to 6000 bytes against 40 keys or 150 kB: both limits evict.
  options.block_cache_keys = 40;
  options.block_cache_bytes = 150'000;
  return options;
}

std::unique_ptr<Node> start(const NodeOptions& options) {
  auto node = Node::start(options);
  REQUIRE_MESSAGE(node.has_value(), (node ? "" : node.error()));
  return std::move(*node);
}

struct Pair {
  std::unique_ptr<Node> server;
  std::unique_ptr<Node> client;
  Connection client_side;
  Connection server_side;

  Pair(NodeOptions server_options, const NodeOptions& client_options) {
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

// Sends every block of `plan` on `stream`, retrying on back-pressure (bounded in time).
void send_plan(Stream& stream, const std::vector<std::pair<std::uint64_t, Bytes>>& plan,
               Connection& waiter) {
  const auto deadline = Clock::now() + 30s;
  for (const auto& [key, block] : plan) {
    SendStatus status;
    while ((status = stream.send_block(key, block)) == SendStatus::back_pressured) {
      REQUIRE(Clock::now() < deadline);
      waiter.wait(waiter.events(), 1ms);
    }
    REQUIRE_MESSAGE(status == SendStatus::accepted, to_string(status));
  }
}

// Whether `view` is exactly what was sent as its (key, version).
bool matches(const BlockWorkload& workload, const BlockView& view) {
  const Bytes* expected = workload.sent(view.key, view.version);
  return expected != nullptr && expected->size() == view.bytes.size() &&
         std::memcmp(expected->data(), view.bytes.data(), view.bytes.size()) == 0;
}

}  // namespace

TEST_CASE("a random block workload arrives exact through faults; deltas save bytes") {
  constexpr std::size_t kBlocks = 3000;
  Pair pair(faulty_options(11), faulty_options(12));
  BlockWorkload workload(64, 6000, 2026);
  const auto plan = workload.plan(kBlocks);

  auto opened = pair.client_side.open_stream();
  REQUIRE(opened.has_value());
  Stream sending = *opened;
  std::thread sender([&] { send_plan(sending, plan, pair.client_side); });

  std::optional<Stream> receiving;
  std::size_t received = 0;
  std::size_t mismatches = 0;
  std::map<std::uint64_t, std::uint64_t> last_version;
  std::size_t out_of_order = 0;
  const auto deadline = Clock::now() + 60s;
  while (received < kBlocks && Clock::now() < deadline) {
    const auto seen = pair.server_side.events();
    if (!receiving) receiving = pair.server_side.accept_stream();
    bool progress = false;
    while (receiving) {
      const auto block = receiving->peek_block();
      if (!block) break;
      if (!matches(workload, *block)) ++mismatches;
      if (block->version <= last_version[block->key]) ++out_of_order;
      last_version[block->key] = block->version;
      receiving->release();
      ++received;
      progress = true;
    }
    if (!progress) pair.server_side.wait(seen, 50ms);
  }
  sender.join();
  REQUIRE(received == kBlocks);
  CHECK(mismatches == 0);
  CHECK(out_of_order == 0);

  std::uint64_t block_bytes = 0;
  for (const auto& [key, block] : plan) block_bytes += block.size();
  // Statistics are published every millisecond or so: wait for the last of them (blocks
  // are counted when queued, their bytes when sent, so both must have caught up).
  dwcp::transport::ConnectionStats client{};
  dwcp::transport::ConnectionStats server{};
  for (int i = 0; i < 200; ++i) {
    client = pair.client_side.stats();
    server = pair.server_side.stats();
    if (server.blocks_received == kBlocks &&
        client.blocks_sent_whole + client.blocks_sent_delta == kBlocks &&
        client.stream_bytes_sent + client.block_bytes_saved == block_bytes) {
      break;
    }
    pair.client_side.wait(pair.client_side.events(), 5ms);
  }
  MESSAGE(kBlocks, " blocks, ", block_bytes, " bytes: ", client.blocks_sent_delta, " as deltas, ",
          client.block_bytes_saved, " bytes saved; ", client.stream_bytes_sent,
          " stream bytes sent, ", client.stream_bytes_retransmitted, " again; ",
          client.block_cache_evictions, " evictions");
  CHECK(server.blocks_received == kBlocks);
  CHECK(client.blocks_sent_whole + client.blocks_sent_delta == kBlocks);
  CHECK(client.blocks_sent_delta > kBlocks / 3);
  CHECK(client.block_bytes_saved > block_bytes / 4);
  CHECK(client.stream_bytes_sent + client.block_bytes_saved == block_bytes);
  CHECK(client.block_cache_evictions > 0);
  CHECK(client.block_cache_evictions == server.block_cache_evictions);
  CHECK(server.block_crc_failures == 0);
  CHECK(client.stream_bytes_retransmitted > 0);  // the faults happened
}

TEST_CASE("blocks reach on_block on the I/O thread, in order with the messages around them") {
  struct Seen {
    std::atomic<std::size_t> blocks{0};
    std::atomic<std::size_t> messages{0};
    std::atomic<std::size_t> wrong{0};
  };
  auto seen = std::make_shared<Seen>();
  NodeOptions server_options;
  server_options.bind = SocketAddress::loopback_v4(0);
  server_options.on_message = [seen](Stream&, std::span<const std::byte> message) {
    // Message i follows block i: it carries the number of blocks seen before it.
    std::size_t index = 0;
    std::memcpy(&index, message.data(), sizeof index);
    if (index != seen->blocks.load()) ++seen->wrong;
    ++seen->messages;
  };
  server_options.on_block = [seen](Stream&, const BlockView& block) {
    if (block.key != 5 || block.version != seen->blocks.load() + 1 || block.bytes.size() != 1000 ||
        block.bytes[block.version % 1000] != std::byte{1}) {
      ++seen->wrong;
    }
    ++seen->blocks;
  };
  NodeOptions client_options;
  client_options.bind = SocketAddress::loopback_v4(0);
  Pair pair(server_options, client_options);
  auto stream = pair.client_side.open_stream();
  REQUIRE(stream.has_value());
  Bytes block(1000);
  const auto deadline = Clock::now() + 20s;
  for (std::size_t i = 1; i <= 200; ++i) {
    std::fill(block.begin(), block.end(), std::byte{0});
    block[i % 1000] = std::byte{1};
    while (stream->send_block(5, block) == SendStatus::back_pressured) {
      REQUIRE(Clock::now() < deadline);
      std::this_thread::yield();
    }
    Bytes message(sizeof i);
    std::memcpy(message.data(), &i, sizeof i);
    while (stream->send(message) == SendStatus::back_pressured) {
      REQUIRE(Clock::now() < deadline);
      std::this_thread::yield();
    }
  }
  while (seen->messages.load() < 200 && Clock::now() < deadline) {
    pair.client_side.wait(pair.client_side.events(), 10ms);
  }
  CHECK(seen->messages.load() == 200);
  CHECK(seen->blocks.load() == 200);
  CHECK(seen->wrong.load() == 0);
  const auto stats = pair.client_side.stats();
  CHECK(stats.blocks_sent_delta >= 199);  // all but the first: two bytes change each time
}

TEST_CASE("block options out of range are refused with a message") {
  NodeOptions options;
  options.bind = SocketAddress::loopback_v4(0);
  options.delta_margin = 1.0;
  CHECK_FALSE(Node::start(options).has_value());
  options.delta_margin = std::nan("");
  CHECK_FALSE(Node::start(options).has_value());
  options.delta_margin = 0.25;
  options.block_cache_keys = (std::uint64_t{1} << 32) + 1;
  CHECK_FALSE(Node::start(options).has_value());
  options.block_cache_keys = 10;
  options.block_cache_bytes = (std::uint64_t{1} << 40) + 1;
  CHECK_FALSE(Node::start(options).has_value());
}
