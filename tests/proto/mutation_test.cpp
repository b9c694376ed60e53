// Deterministic random mutation of valid packets, so the g++ build exercises the packet and
// frame decoders on hostile input too (libFuzzer does this at length in the fuzz stage).
// Half of the mutants get a fresh CRC trailer, or almost none would get past the checksum.
#include <doctest/doctest.h>

#include <array>
#include <random>
#include <vector>

#include "proto/frames.h"
#include "proto/packet.h"
#include "simd/checksum.h"
#include "tests/proto/proto_test_support.h"

using namespace dwcp::proto;
using dwcp::proto::testing::Bytes;
using dwcp::proto::testing::random_bytes;

namespace {

std::vector<Bytes> valid_packets(std::mt19937_64& rng) {
  std::vector<Bytes> packets;
  const ConnectionId a(random_bytes(rng, 8));
  const ConnectionId b(random_bytes(rng, 8));
  const Bytes data = random_bytes(rng, 300);
  const Bytes cookie = random_bytes(rng, 24);

  auto finish = [&](Result<PacketBuilder> builder, auto&&... frames) {
    REQUIRE(builder);
    const bool added = (builder->add(Frame{frames}).has_value() && ...);
    REQUIRE(added);
    auto size = builder->finish();
    REQUIRE(size);
    packets.back().resize(*size);
  };

  packets.emplace_back(1500);
  StreamFrame stream;
  stream.stream_id = 8;
  stream.offset = 123456;
  stream.data = data;
  stream.message_end = true;
  DeltaBlockFrame block;
  block.stream_id = 12;
  block.key = 77;
  block.base_version = 3;
  block.new_version = 4;
  block.block_length = 4096;
  block.encoding = BlockEncoding::xor_delta;
  block.record_length = 200;
  block.fragment = std::span(data).first(100);
  ConnectionCloseFrame close{0x7, 0x2, std::span(data).first(20)};
  finish(PacketBuilder::short_header(packets.back(), a, 1000, 2), PingFrame{},
         MaxDataFrame{1 << 20}, MaxStreamDataFrame{8, 4096}, ResetStreamFrame{4, 1, 99},
         StreamDataBlockedFrame{8, 77}, block, stream);

  packets.emplace_back(1500);
  std::array<std::byte, 512> ack{};
  const PacketRange ranges[] = {{500, 600}, {300, 400}, {100, 200}, {0, 50}};
  auto ack_size = encode_ack(ack, ranges, 9);
  REQUIRE(ack_size);
  const Frame ack_frame = decode_frame(std::span(ack).first(*ack_size))->first;
  finish(PacketBuilder::short_header(packets.back(), a, 70000, 3), ack_frame, MaxStreamsFrame{100},
         DataBlockedFrame{5}, close, PmtuProbeFrame{1400});

  packets.emplace_back(1500);
  ClientHelloFrame hello;
  hello.cookie = cookie;
  finish(PacketBuilder::long_header(packets.back(), PacketType::initial, b, a, 0, 1), hello,
         PaddingFrame{100});
  packets.emplace_back(600);
  finish(PacketBuilder::long_header(packets.back(), PacketType::handshake, a, b, 1, 1),
         ServerHelloFrame{}, ack_frame);
  packets.emplace_back(200);
  finish(PacketBuilder::long_header(packets.back(), PacketType::retry, a, b, 0, 1),
         RetryFrame{cookie});

  packets.emplace_back(64);
  const std::uint32_t versions[] = {kVersion1, 0x1a2a3a4a};
  auto vn = encode_version_negotiation(packets.back(), a, b, versions);
  REQUIRE(vn);
  packets.back().resize(*vn);
  return packets;
}

void mutate(std::mt19937_64& rng, Bytes& packet) {
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !packet.empty(); ++i) {
    const std::size_t at = rng() % packet.size();
    switch (rng() % 6) {
      case 0:
        packet[at] ^= static_cast<std::byte>(1u << (rng() % 8));
        break;
      case 1:
        packet[at] = static_cast<std::byte>(rng());
        break;
      case 2:
        packet.resize(at);
        break;
      case 3:
        packet.insert(packet.begin() + static_cast<std::ptrdiff_t>(at),
                      static_cast<std::byte>(rng()));
        break;
      case 4:
        packet.erase(packet.begin() + static_cast<std::ptrdiff_t>(at));
        break;
      default:
        packet[at] = static_cast<std::byte>(rng() % 2 == 0 ? 0x00 : 0xff);
        break;
    }
  }
}

void refresh_trailer(Bytes& packet) {
  if (packet.size() < kTrailerSize) return;
  const std::size_t body = packet.size() - kTrailerSize;
  const std::uint32_t crc = dwcp::simd::crc32c(std::span(packet).first(body));
  for (std::size_t i = 0; i < 4; ++i)
    packet[body + i] = static_cast<std::byte>(crc >> (24 - 8 * i));
}

}  // namespace

TEST_CASE("mutated packets are rejected or parse into frames that re-encode identically") {
  std::mt19937_64 rng(0x5a17);
  const auto originals = valid_packets(rng);
  std::size_t parsed = 0;
  std::size_t frames_seen = 0;
  std::size_t rejected = 0;
  std::array<std::byte, 4096> scratch{};
  for (int round = 0; round < 200000; ++round) {
    Bytes packet = originals[rng() % originals.size()];
    mutate(rng, packet);
    if (rng() % 2 == 0) refresh_trailer(packet);
    auto result = parse_packet(packet);
    if (!result) {
      ++rejected;
      continue;
    }
    ++parsed;
    REQUIRE(result->packet_size <= packet.size());
    REQUIRE(result->payload.data() >= packet.data());
    REQUIRE(result->payload.data() + result->payload.size() <= packet.data() + packet.size());
    if (result->header.type == PacketType::version_negotiation) continue;
    FrameReader reader(result->header.type, result->payload);
    while (!reader.done()) {
      auto frame = reader.next();
      if (!frame) break;
      ++frames_seen;
      // What decoded must encode back to bytes that decode to the same thing.
      auto size = encode_frame(scratch, **frame);
      REQUIRE(size);
      auto again = decode_frame(std::span(scratch).first(*size));
      REQUIRE(again);
      CHECK(again->second == *size);
      std::array<std::byte, 4096> second{};
      auto size_again = encode_frame(second, again->first);
      REQUIRE(size_again);
      CHECK(std::ranges::equal(std::span(scratch).first(*size),
                               std::span(second).first(*size_again)));
    }
  }
  // The mix must reach every layer: many rejected, many parsed, frames decoded.
  CHECK(rejected > 30000);
  CHECK(parsed > 20000);
  CHECK(frames_seen > 40000);
}
