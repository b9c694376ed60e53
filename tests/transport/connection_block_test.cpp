// Versioned blocks between two connections over the simulated link (no sockets, simulated
// time): random workloads of new keys and changes from one byte to whole blocks, with
// enough keys and bytes to force evictions, through loss, reordering, duplication and
// corruption; a receiver whose cached base is corrupted on purpose.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "proto/packet.h"
#include "simd/checksum.h"
#include "simd/xor_delta.h"
#include "tests/transport/block_workload.h"
#include "tests/transport/connection_simulation.h"
#include "transport/connection.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::milliseconds;

namespace {

ConnectionConfig block_config(std::uint64_t cache_keys, std::uint64_t cache_bytes) {
  ConnectionConfig c;
  c.params.delta_cache_keys = cache_keys;
  c.params.delta_cache_bytes = cache_bytes;
  return c;
}

// Drives a workload from the client's stream to the server's reader, checking every block
// that arrives against what was sent as that (key, version).
struct BlockTransfer {
  BlockWorkload& workload;
  std::uint64_t total;
  std::uint64_t stream = ~std::uint64_t{0};
  std::uint64_t received = 0;
  std::uint64_t mismatches = 0;
  std::uint64_t messages_seen = 0;
  std::map<std::uint64_t, std::vector<std::uint64_t>> versions_seen;  // key → versions, in order

  void step(Simulation& sim) {
    Connection& client = sim.client();
    if (client.state() == ConnectionState::established && stream == ~std::uint64_t{0}) {
      auto id = client.open_stream();
      REQUIRE(id);
      stream = *id;
    }
    if (stream != ~std::uint64_t{0}) {
      for (int i = 0; i < 64 && workload.count() < total; ++i) {
        const auto [key, block] = workload.next();
        const AppendStatus status = client.send_block(stream, key, block);
        if (status == AppendStatus::back_pressured) break;
        REQUIRE_MESSAGE(status == AppendStatus::accepted, "connection ", to_string(client.state()),
                        ": ", client.close_reason() ? client.close_reason()->reason : "");
        workload.commit();
      }
    }
    read(sim);
  }

  void read(Simulation& sim) {
    Connection* server = sim.server();
    if (server == nullptr) return;
    Bytes buffer;
    for (std::uint64_t id : server->readable_streams()) {
      while (auto item = server->next_inbound(id)) {
        buffer.resize(item->size);
        REQUIRE(server->read_message(id, buffer) == item->size);
        if (!item->is_block) {
          ++messages_seen;
          continue;
        }
        ++received;
        versions_seen[item->key].push_back(item->version);
        const Bytes* expected = workload.sent(item->key, item->version);
        if (expected == nullptr || *expected != buffer) ++mismatches;
      }
    }
  }
};

// Both caches of the stream list the same keys, versions and lengths in the same order,
// and the same bytes wherever the receiver's copy is good.
void check_caches_identical(const BlockCache& sender, const BlockCache& receiver) {
  REQUIRE(sender.size() == receiver.size());
  CHECK(sender.bytes() == receiver.bytes());
  CHECK(sender.evictions() == receiver.evictions());
  auto r = receiver.entries().begin();
  std::uint64_t differing = 0;
  for (const BlockCache::Entry& s : sender.entries()) {
    if (s.key != r->key || s.version != r->version || s.length != r->length) ++differing;
    if (!r->poisoned && s.bytes != r->bytes) ++differing;
    ++r;
  }
  CHECK(differing == 0);
}

struct RunResult {
  ConnectionStats client;
  ConnectionStats server;
  std::uint64_t block_bytes = 0;
};

RunResult run_workload(std::uint64_t cache_keys, std::uint64_t cache_bytes, LinkFaults faults,
                       std::uint64_t seed, std::uint64_t blocks) {
  Simulation sim(block_config(cache_keys, cache_bytes), block_config(cache_keys, cache_bytes),
                 milliseconds(10), faults, seed);
  BlockWorkload workload(96, 6000, seed);
  BlockTransfer transfer{workload, blocks, ~std::uint64_t{0}, 0, 0, 0, {}};
  const bool done = sim.run(
      std::chrono::seconds(120), [&](Simulation&) { return transfer.received == blocks; },
      [&](Simulation& s) { transfer.step(s); });
  REQUIRE_MESSAGE(done, "received ", transfer.received, " of ", blocks);
  CHECK(transfer.mismatches == 0);
  CHECK(transfer.messages_seen == 0);
  // Every key's versions arrive in order, each once.
  for (const auto& [key, versions] : transfer.versions_seen) {
    CHECK(std::is_sorted(versions.begin(), versions.end()));
    CHECK(std::adjacent_find(versions.begin(), versions.end()) == versions.end());
  }
  const BlockCache* sender = sim.client().sent_block_cache(transfer.stream);
  const BlockCache* receiver = sim.server()->received_block_cache(transfer.stream);
  if (cache_keys > 0) {
    REQUIRE(sender != nullptr);
    REQUIRE(receiver != nullptr);
    check_caches_identical(*sender, *receiver);
  }
  return {sim.client().stats(), sim.server()->stats(), workload.bytes()};
}

}  // namespace

TEST_CASE("random block workloads arrive exact through faults; both caches end identical") {
  LinkFaults faults;
  faults.loss = 0.05;
  faults.reorder = 0.05;
  faults.duplicate = 0.02;
  faults.corrupt = 0.01;
  // 96 keys of up to 6000 bytes against 48 keys or 120 kB: both limits evict.
  for (const std::uint64_t seed : {1, 2, 3}) {
    CAPTURE(seed);
    const RunResult r = run_workload(48, 120'000, faults, seed, 1500);
    CHECK(r.client.blocks_sent_delta > 0);
    CHECK(r.client.blocks_sent_whole > 0);
    CHECK(r.client.block_bytes_saved > 0);
    CHECK(r.client.block_cache_evictions > 0);
    CHECK(r.client.block_cache_evictions == r.server.block_cache_evictions);
    CHECK(r.client.packets_lost > 0);
    CHECK(r.server.blocks_received == 1500);
    CHECK(r.server.block_crc_failures == 0);
    CHECK(r.client.blocks_sent_whole + r.client.blocks_sent_delta == 1500);
  }
}

TEST_CASE("deltas cut the bytes on the wire; a receiver without a cache gets every block whole") {
  const RunResult with_cache = run_workload(128, 1 << 20, {}, 7, 2000);
  const RunResult without = run_workload(0, 0, {}, 7, 2000);
  MESSAGE("2000 blocks, ", with_cache.block_bytes, " block bytes: ", with_cache.client.bytes_sent,
          " bytes on the wire with deltas (", with_cache.client.blocks_sent_delta, " deltas, ",
          with_cache.client.block_bytes_saved, " bytes saved), ", without.client.bytes_sent,
          " without a cache");
  CHECK(without.client.blocks_sent_delta == 0);
  CHECK(without.client.blocks_sent_whole == 2000);
  CHECK(with_cache.client.blocks_sent_delta > 1000);
  CHECK(with_cache.client.bytes_sent < without.client.bytes_sent / 2);
  CHECK(without.client.bytes_sent > without.block_bytes);
}

TEST_CASE("a corrupted base is caught by the CRC, never delivered, and healed by a whole resend") {
  Simulation sim(block_config(16, 1 << 20), block_config(16, 1 << 20), milliseconds(10), {}, 9);
  std::uint64_t stream = 0;
  REQUIRE(sim.run(
      milliseconds(500),
      [](Simulation& s) { return s.client().state() == ConnectionState::established; },
      [](Simulation&) {}));
  stream = *sim.client().open_stream();

  std::mt19937_64 rng(5);
  Bytes block(4096);
  for (auto& b : block) b = static_cast<std::byte>(rng());
  std::vector<Bytes> versions;                             // of key 7, from version 1
  std::vector<std::pair<std::uint64_t, Bytes>> delivered;  // key 7: (version, bytes)
  std::uint64_t others_delivered = 0;
  auto send = [&](std::uint64_t key, const Bytes& bytes) {
    REQUIRE(sim.client().send_block(stream, key, bytes) == AppendStatus::accepted);
  };
  auto read = [&](Simulation& s) {
    if (s.server() == nullptr) return;
    Bytes buffer(8192);
    while (auto item = s.server()->next_inbound(stream)) {
      REQUIRE(item->is_block);
      const auto size = s.server()->read_message(stream, buffer);
      REQUIRE(size);
      if (item->key == 7) {
        delivered.emplace_back(item->version, Bytes(buffer.begin(), buffer.begin() + *size));
      } else {
        ++others_delivered;
      }
    }
  };
  auto run_until_delivered = [&](std::size_t count, std::uint64_t others) {
    return sim.run(
        milliseconds(2000),
        [&](Simulation&) { return delivered.size() == count && others_delivered == others; }, read);
  };

  versions.push_back(block);
  send(7, block);
  send(8, block);
  REQUIRE(run_until_delivered(1, 1));
  CHECK(delivered.back().second == versions[0]);

  // The receiver's copy of version 1 no longer matches the sender's.
  REQUIRE(sim.server()->corrupt_received_block_for_testing(stream, 7));
  // Versions 2 and 3 go as deltas back to back: 2 fails its CRC, 3 finds its base
  // poisoned; neither is delivered. The stream goes on with other keys meanwhile.
  for (int v = 2; v <= 3; ++v) {
    block[static_cast<std::size_t>(v) * 100] ^= std::byte{0x01};
    versions.push_back(block);
    send(7, block);
    send(100 + static_cast<std::uint64_t>(v), block);
  }
  // The resend brings version 3 whole.
  REQUIRE(run_until_delivered(2, 3));
  CHECK(delivered.back().first == 3);
  CHECK(delivered.back().second == versions[2]);

  // Healed: the next change goes as a delta again and arrives.
  block[4000] ^= std::byte{0x10};
  versions.push_back(block);
  send(7, block);
  REQUIRE(run_until_delivered(3, 3));
  CHECK(delivered.back().first == 4);
  CHECK(delivered.back().second == versions[3]);

  const ConnectionStats client = sim.client().stats();
  const ConnectionStats server = sim.server()->stats();
  CHECK(server.block_crc_failures == 1);
  CHECK(server.block_poisoned_drops == 1);
  CHECK(server.block_resends_requested == 1);
  CHECK(client.block_resends == 1);
  CHECK(client.blocks_sent_delta == 3);  // versions 2, 3 and 4 of key 7
  CHECK(server.blocks_received == 6);    // key 7: 1, 3 (resent), 4; keys 8, 102, 103
  check_caches_identical(*sim.client().sent_block_cache(stream),
                         *sim.server()->received_block_cache(stream));
  CHECK(sim.client().state() == ConnectionState::established);
}

namespace {

// An established pair with nothing sent yet, so the server's stream 0 is the client's.
Simulation established(std::uint64_t server_cache_keys) {
  Simulation sim(block_config(16, 1 << 20), block_config(server_cache_keys, 1 << 20),
                 milliseconds(1), {}, 3);
  REQUIRE(sim.run(
      milliseconds(200),
      [](Simulation& s) {
        return s.client().state() == ConnectionState::established && s.server() != nullptr;
      },
      [](Simulation&) {}));
  return sim;
}

// Hands the server a packet of `frames` as if the client had sent it.
void inject(Simulation& sim, std::initializer_list<dwcp::proto::Frame> frames) {
  static std::uint64_t packet_number = 100'000;
  Bytes out(1500);
  auto builder =
      dwcp::proto::PacketBuilder::short_header(out, sim.server()->local_id(), packet_number++, 4);
  REQUIRE(builder);
  for (const auto& frame : frames) REQUIRE(builder->add(frame));
  const auto size = builder->finish();
  REQUIRE(size);
  out.resize(*size);
  const auto packet = dwcp::proto::parse_packet(out);
  REQUIRE(packet);
  sim.server()->receive(*packet, out.size(), sim.now());
}

dwcp::proto::DeltaBlockFrame whole_block(std::span<const std::byte> block, std::uint64_t offset) {
  dwcp::proto::DeltaBlockFrame f;
  f.stream_id = 0;
  f.record_offset = offset;
  f.key = 1;
  f.new_version = 1;
  f.block_length = block.size();
  f.block_crc32c = dwcp::simd::crc32c(block);
  f.record_length = block.size();
  f.fragment = block;
  return f;
}

std::uint64_t close_code_of(Simulation& sim) {
  sim.server()->next_inbound(0);  // read-time checks
  REQUIRE(sim.server()->close_reason());
  return sim.server()->close_reason()->error_code;
}

constexpr auto kProtocolViolation =
    static_cast<std::uint64_t>(dwcp::proto::TransportError::protocol_violation);

}  // namespace

TEST_CASE("DELTA_BLOCK frames that break the rules of §5.9 close the connection") {
  const Bytes block(100, std::byte{7});
  SUBCASE("a whole block arrives and is delivered; its copy is harmless") {
    Simulation sim = established(16);
    inject(sim, {whole_block(block, 0)});
    inject(sim, {whole_block(block, 0)});
    const auto item = sim.server()->next_inbound(0);
    REQUIRE(item);
    CHECK(item->is_block);
    CHECK(item->key == 1);
    CHECK_FALSE(sim.server()->close_reason());
  }
  SUBCASE("a delta to a node that offered no cache") {
    Simulation sim = established(0);
    auto f = whole_block(block, 0);
    f.encoding = dwcp::proto::BlockEncoding::xor_delta;
    f.base_version = 1;
    f.new_version = 2;
    f.record_length = 10;
    f.fragment = std::span(block).first(10);
    inject(sim, {f});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
  SUBCASE("two frames of one record whose headers differ") {
    Simulation sim = established(16);
    auto first = whole_block(block, 0);
    first.fragment = std::span(block).first(50);
    auto second = first;
    second.key = 2;
    second.fragment_offset = 50;
    second.fragment = std::span(block).subspan(50);
    inject(sim, {first, second});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
  SUBCASE("records that overlap") {
    Simulation sim = established(16);
    auto first = whole_block(block, 0);
    first.fragment = std::span(block).first(10);
    auto second = whole_block(block, 50);
    second.fragment = std::span(block).first(10);
    inject(sim, {first, second});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
  SUBCASE("a delta against a version not held") {
    Simulation sim = established(16);
    Bytes delta(40);
    auto f = whole_block(block, 0);
    f.encoding = dwcp::proto::BlockEncoding::xor_delta;
    f.base_version = 3;
    f.new_version = 4;
    f.record_length = delta.size();
    f.fragment = delta;
    inject(sim, {f});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
  SUBCASE("a whole block whose CRC32C does not match") {
    Simulation sim = established(16);
    auto f = whole_block(block, 0);
    f.block_crc32c ^= 1;
    inject(sim, {f});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
  SUBCASE("a delta whose length field is not the block's") {
    Simulation sim = established(16);
    inject(sim, {whole_block(block, 0)});
    Bytes out(100);
    REQUIRE(sim.server()->read_message(0, out) == 100);
    // A valid delta of a 99-byte block, sent as the delta of a 100-byte one.
    Bytes changed(99, std::byte{7});
    changed[5] = std::byte{1};
    Bytes delta(99);
    const auto size = dwcp::simd::encode_delta(block, changed, delta);
    REQUIRE(size);
    auto f = whole_block(block, 100);
    f.encoding = dwcp::proto::BlockEncoding::xor_delta;
    f.base_version = 1;
    f.new_version = 2;
    f.record_length = *size;
    f.fragment = std::span(delta).first(*size);
    inject(sim, {f});
    CHECK(close_code_of(sim) ==
          static_cast<std::uint64_t>(dwcp::proto::TransportError::frame_encoding_error));
  }
  SUBCASE("a record that starts past the stream credit") {
    Simulation sim = established(16);
    auto f = whole_block(block, 0);
    f.record_offset = ConnectionConfig{}.params.initial_max_stream_data;  // the server's window
    f.fragment = {};
    inject(sim, {f});
    CHECK(close_code_of(sim) ==
          static_cast<std::uint64_t>(dwcp::proto::TransportError::flow_control_error));
  }
  SUBCASE("a message end inside a record") {
    Simulation sim = established(16);
    auto f = whole_block(block, 0);
    f.fragment = std::span(block).subspan(50);
    f.fragment_offset = 50;
    dwcp::proto::StreamFrame stream;
    stream.stream_id = 0;
    stream.data = std::span(block).first(50);
    stream.message_end = true;
    inject(sim, {f, stream});
    CHECK(close_code_of(sim) == kProtocolViolation);
  }
}

TEST_CASE("a round that changes 32 bytes in a tenth of the pages costs a small part of a resend") {
  constexpr std::size_t kPages = 1024;
  constexpr std::size_t kPage = 4096;
  Simulation sim(block_config(kPages, kPages * kPage), block_config(kPages, kPages * kPage),
                 milliseconds(10), {}, 4);
  REQUIRE(sim.run(
      milliseconds(200),
      [](Simulation& s) { return s.client().state() == ConnectionState::established; },
      [](Simulation&) {}));
  const std::uint64_t stream = *sim.client().open_stream();
  std::mt19937_64 rng(8);
  std::vector<Bytes> pages(kPages, Bytes(kPage));
  for (auto& page : pages) {
    for (auto& b : page) b = static_cast<std::byte>(rng());
  }
  // Sends the pages `which` and waits until the server read them all; the bytes it took.
  auto round = [&](const std::vector<std::size_t>& which) {
    const std::uint64_t before = sim.client().stats().bytes_sent;
    std::size_t next = 0;
    std::size_t read = 0;
    Bytes buffer(kPage);
    const bool done = sim.run(
        std::chrono::seconds(60), [&](Simulation&) { return read == which.size(); },
        [&](Simulation& s) {
          while (next < which.size() &&
                 s.client().send_block(stream, which[next], pages[which[next]]) ==
                     AppendStatus::accepted) {
            ++next;
          }
          while (s.server() != nullptr && s.server()->read_message(stream, buffer)) ++read;
        });
    REQUIRE(done);
    return sim.client().stats().bytes_sent - before;
  };
  std::vector<std::size_t> all(kPages);
  for (std::size_t i = 0; i < kPages; ++i) all[i] = i;
  const std::uint64_t first = round(all);
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < kPages; i += 10) {
    const std::size_t at = rng() % (kPage - 32);
    for (std::size_t j = 0; j < 32; ++j) pages[i][at + j] = static_cast<std::byte>(rng());
    changed.push_back(i);
  }
  const std::uint64_t second = round(changed);
  MESSAGE(kPages, " pages of 4 KiB: ", first,
          " bytes on the wire whole; a round changing 32 bytes in ", changed.size(),
          " of them: ", second, " bytes (", changed.size() * kPage, " block bytes)");
  CHECK(second * 10 < changed.size() * kPage);  // deltas: under a tenth of the pages' bytes
  CHECK(first > kPages * kPage);
}
