// Cost of the wire codec per packet, next to its yardsticks in the same run.
//
// The packet is a full 1472-byte short-header data packet: one STREAM frame without a
// length field fills it. Cases:
//   encode/with_crc      PacketBuilder: header, the STREAM frame, finish() (CRC32C trailer)
//   encode/without_crc   the same without finish(): header and frame, no trailer
//   parse/verify         parse_packet (checks the trailer) + FrameReader reads the frame
//   parse/without_crc    decode_frame on the payload alone
//   ack32/encode         encode_ack of 32 ranges
//   ack32/decode         decode_frame of that ACK and a walk over its ranges
//   yardstick/crc32c     simd::crc32c of 1472 bytes (what the trailer costs at best)
//   yardstick/memcpy     memcpy of 1472 bytes
// Every case does one packet (or ACK) per iteration, so real_time is ns per packet;
// bench/proto_ratios.py turns the medians into the bar.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <variant>
#include <vector>

#include "proto/frames.h"
#include "proto/packet.h"
#include "simd/checksum.h"

namespace {

namespace proto = dwcp::proto;

constexpr std::size_t kPacketSize = 1472;
constexpr std::uint64_t kStreamId = 4;
constexpr std::uint64_t kStreamOffset = std::uint64_t{1} << 20;
constexpr std::uint64_t kPacketNumber = 0x01020304;
constexpr std::size_t kPacketNumberLength = 4;
constexpr std::size_t kAckRanges = 32;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "proto_bench: %s\n", what);
  std::exit(1);
}

const proto::ConnectionId& dcid() {
  static const proto::ConnectionId id = [] {
    std::array<std::byte, proto::kConnectionIdLength> bytes{};
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(0xa0 + i);
    return proto::ConnectionId(bytes);
  }();
  return id;
}

// Stream data sized so that header + STREAM frame + trailer is exactly kPacketSize.
const std::vector<std::byte>& stream_data() {
  static const std::vector<std::byte> data = [] {
    std::vector<std::byte> out(kPacketSize);
    auto builder =
        proto::PacketBuilder::short_header(out, dcid(), kPacketNumber, kPacketNumberLength);
    if (!builder) die("short_header failed");
    // Type byte, 1-byte stream id, 4-byte offset; no length field.
    std::vector<std::byte> bytes(builder->room() - 6);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
    return bytes;
  }();
  return data;
}

proto::StreamFrame stream_frame() {
  proto::StreamFrame f;
  f.stream_id = kStreamId;
  f.offset = kStreamOffset;
  f.data = stream_data();
  f.has_length = false;
  return f;
}

const std::vector<std::byte>& encoded_packet() {
  static const std::vector<std::byte> packet = [] {
    std::vector<std::byte> out(kPacketSize);
    auto builder =
        proto::PacketBuilder::short_header(out, dcid(), kPacketNumber, kPacketNumberLength);
    if (!builder || !builder->add(stream_frame())) die("cannot build the data packet");
    const auto size = builder->finish();
    if (!size || *size != kPacketSize) die("data packet is not 1472 bytes");
    return out;
  }();
  return packet;
}

std::vector<proto::PacketRange> ack_ranges() {
  // 32 ranges of 10 packets with gaps of 3, below packet number 100000.
  std::vector<proto::PacketRange> ranges;
  std::uint64_t largest = 100'000;
  for (std::size_t i = 0; i < kAckRanges; ++i) {
    ranges.push_back({largest - 9, largest});
    largest -= 13;
  }
  return ranges;
}

void set_per_packet(benchmark::State& state, std::size_t bytes) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void bm_encode_with_crc(benchmark::State& state) {
  std::vector<std::byte> out(kPacketSize);
  const proto::Frame frame = stream_frame();
  for (auto _ : state) {
    auto builder =
        proto::PacketBuilder::short_header(out, dcid(), kPacketNumber, kPacketNumberLength);
    const auto added = builder->add(frame);
    const auto size = builder->finish();
    benchmark::DoNotOptimize(added);
    benchmark::DoNotOptimize(size);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kPacketSize);
}

void bm_encode_without_crc(benchmark::State& state) {
  std::vector<std::byte> out(kPacketSize);
  const proto::Frame frame = stream_frame();
  for (auto _ : state) {
    auto builder =
        proto::PacketBuilder::short_header(out, dcid(), kPacketNumber, kPacketNumberLength);
    const auto added = builder->add(frame);
    benchmark::DoNotOptimize(added);
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kPacketSize);
}

void bm_parse_verify(benchmark::State& state) {
  const auto& packet = encoded_packet();
  for (auto _ : state) {
    const auto parsed = proto::parse_packet(packet);
    if (!parsed) return state.SkipWithError("parse_packet failed");
    proto::FrameReader reader(parsed->header.type, parsed->payload);
    const auto frame = reader.next();
    const auto* stream = frame ? std::get_if<proto::StreamFrame>(*frame) : nullptr;
    if (stream == nullptr) return state.SkipWithError("no STREAM frame");
    benchmark::DoNotOptimize(stream->data.data());
    benchmark::DoNotOptimize(stream->data.size());
  }
  set_per_packet(state, kPacketSize);
}

void bm_parse_without_crc(benchmark::State& state) {
  const auto& packet = encoded_packet();
  // Header: first byte, DCID, packet number; the trailer stays out of the payload.
  const std::size_t header = 1 + proto::kConnectionIdLength + kPacketNumberLength;
  const auto payload =
      std::span(packet).subspan(header, kPacketSize - header - proto::kTrailerSize);
  for (auto _ : state) {
    const auto decoded = proto::decode_frame(payload);
    const auto* stream = decoded ? std::get_if<proto::StreamFrame>(&decoded->first) : nullptr;
    if (stream == nullptr) return state.SkipWithError("no STREAM frame");
    benchmark::DoNotOptimize(stream->data.data());
    benchmark::DoNotOptimize(stream->data.size());
  }
  set_per_packet(state, kPacketSize);
}

void bm_ack_encode(benchmark::State& state) {
  const auto ranges = ack_ranges();
  std::array<std::byte, 512> out{};
  for (auto _ : state) {
    const auto size = proto::encode_ack(out, ranges, 25);
    benchmark::DoNotOptimize(size);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void bm_ack_decode(benchmark::State& state) {
  const auto ranges = ack_ranges();
  std::array<std::byte, 512> out{};
  const auto size = proto::encode_ack(out, ranges, 25);
  if (!size) return state.SkipWithError("encode_ack failed");
  const auto encoded = std::span(out).first(*size);
  for (auto _ : state) {
    const auto decoded = proto::decode_frame(encoded);
    const auto* ack = decoded ? std::get_if<proto::AckFrame>(&decoded->first) : nullptr;
    if (ack == nullptr) return state.SkipWithError("no ACK frame");
    std::uint64_t sum = 0;
    for (const proto::PacketRange r : ack->ranges()) sum += r.largest - r.smallest;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void bm_crc32c(benchmark::State& state) {
  const auto& packet = encoded_packet();
  for (auto _ : state) {
    const std::uint32_t crc = dwcp::simd::crc32c(packet);
    benchmark::DoNotOptimize(crc);
  }
  set_per_packet(state, kPacketSize);
}

void bm_memcpy(benchmark::State& state) {
  const auto& packet = encoded_packet();
  std::vector<std::byte> out(kPacketSize);
  for (auto _ : state) {
    std::memcpy(out.data(), packet.data(), kPacketSize);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_per_packet(state, kPacketSize);
}

}  // namespace

BENCHMARK(bm_encode_with_crc)->Name("encode/with_crc");
BENCHMARK(bm_encode_without_crc)->Name("encode/without_crc");
BENCHMARK(bm_parse_verify)->Name("parse/verify");
BENCHMARK(bm_parse_without_crc)->Name("parse/without_crc");
BENCHMARK(bm_ack_encode)->Name("ack32/encode");
BENCHMARK(bm_ack_decode)->Name("ack32/decode");
BENCHMARK(bm_crc32c)->Name("yardstick/crc32c");
BENCHMARK(bm_memcpy)->Name("yardstick/memcpy");

BENCHMARK_MAIN();
