#include "proto/frames.h"

#include <doctest/doctest.h>

#include <array>
#include <random>
#include <vector>

#include "proto/wire_cursor.h"
#include "tests/proto/proto_test_support.h"

using namespace dwcp::proto;
using dwcp::proto::testing::Bytes;
using dwcp::proto::testing::random_bytes;
using dwcp::proto::testing::random_varint;

namespace {

// Random ranges for an ACK: largest first, disjoint, non-adjacent.
std::vector<PacketRange> random_ranges(std::mt19937_64& rng, std::size_t count) {
  std::vector<PacketRange> ranges;
  std::uint64_t top = (std::uint64_t{1} << 40) + rng() % 1000000;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t length = rng() % (i % 3 == 0 ? 1000 : 5);
    ranges.push_back({top - length, top});
    top = top - length - 2 - rng() % (i % 2 == 0 ? 3 : 100000);
  }
  return ranges;
}

// Keeps the bytes that decoded frames point into.
struct FrameMaker {
  std::mt19937_64 rng{2026};
  std::vector<Bytes> storage;
  std::array<std::byte, 8192> ack_buffer{};

  std::span<const std::byte> bytes(std::size_t n) {
    storage.push_back(random_bytes(rng, n));
    return storage.back();
  }

  // A valid frame of the index-th type, random fields.
  Frame make(std::size_t index) {
    switch (index) {
      case 0:
        return PaddingFrame{1 + rng() % 40};
      case 1:
        return PingFrame{};
      case 2: {
        const auto ranges = random_ranges(rng, 1 + rng() % (kMaxAckRanges + 1));
        auto written = encode_ack(ack_buffer, ranges, random_varint(rng));
        REQUIRE(written);
        auto decoded = decode_frame(std::span(ack_buffer).first(*written));
        REQUIRE(decoded);
        return decoded->first;
      }
      case 3:
        return ResetStreamFrame{random_varint(rng), random_varint(rng), random_varint(rng)};
      case 4:
        return MaxDataFrame{random_varint(rng)};
      case 5:
        return MaxStreamDataFrame{random_varint(rng), random_varint(rng)};
      case 6:
        return MaxStreamsFrame{random_varint(rng, kMaxStreams)};
      case 7:
        return DataBlockedFrame{random_varint(rng)};
      case 8:
        return StreamDataBlockedFrame{random_varint(rng), random_varint(rng)};
      case 9:
        return ConnectionCloseFrame{random_varint(rng), random_varint(rng),
                                    bytes(rng() % (kMaxReasonLength + 1))};
      case 10:
        return PmtuProbeFrame{kMinDatagramSize + rng() % (kMaxDatagramSize - 1199)};
      case 11: {
        StreamFrame f;
        f.stream_id = random_varint(rng);
        f.data = bytes(rng() % 1500);
        f.offset = random_varint(rng, kMaxVarint - f.data.size());
        f.fin = f.data.empty() || rng() % 2 == 0;
        f.message_end = rng() % 2 == 0;
        f.has_length = rng() % 4 != 0;
        return f;
      }
      case 12: {
        DeltaBlockFrame f;
        f.stream_id = random_varint(rng);
        f.key = random_varint(rng);
        f.block_length = rng() % (kMaxBlockLength + 1);
        f.encoding = rng() % 2 == 0 ? BlockEncoding::whole : BlockEncoding::xor_delta;
        if (f.encoding == BlockEncoding::whole) {
          if (f.block_length == 0) f.block_length = 1;
          f.record_length = f.block_length;
        } else {
          if (f.block_length < 2) f.block_length = 2;
          f.base_version = random_varint(rng, kMaxVarint - 1001);
          f.record_length = 1 + rng() % (f.block_length - 1);
        }
        f.new_version = f.base_version + 1 + rng() % 1000;
        f.record_offset = random_varint(rng, kMaxVarint - f.record_length);
        f.fragment_offset = f.record_length == 0 ? 0 : rng() % f.record_length;
        f.fragment =
            bytes(std::min<std::uint64_t>(f.record_length - f.fragment_offset, rng() % 1400));
        f.block_crc32c = static_cast<std::uint32_t>(rng());
        f.fin = rng() % 2 == 0;
        return f;
      }
      case 13: {
        ClientHelloFrame f;
        f.cookie = bytes(rng() % (kMaxCookieLength + 1));
        f.params.initial_max_data = random_varint(rng);
        f.params.max_datagram_size = kMinDatagramSize + rng() % 60000;
        f.params.delta_cache_keys = rng() % 100000;
        return f;
      }
      case 14:
        return RetryFrame{bytes(1 + rng() % kMaxCookieLength)};
      case 15: {
        ServerHelloFrame f;
        f.params.initial_max_streams = rng() % 1000;
        f.params.ack_delay_exponent = rng() % 21;
        return f;
      }
      default:
        return BlockRequestFrame{random_varint(rng), random_varint(rng),
                                 1 + random_varint(rng, kMaxVarint - 1)};
    }
  }
};

constexpr std::size_t kFrameKinds = 17;

Bytes encode(const Frame& frame) {
  Bytes out(70000);
  auto written = encode_frame(out, frame);
  if (!written)
    FAIL("encode_frame: ", to_string(written.error()), " for frame index ", frame.index());
  out.resize(*written);
  return out;
}

// A frame whose encoding can be cut short and still be a whole, valid frame.
bool prefix_can_be_valid(const Frame& frame) {
  if (std::holds_alternative<PaddingFrame>(frame)) return true;
  const auto* stream = std::get_if<StreamFrame>(&frame);
  return stream != nullptr && !stream->has_length;
}

Bytes build(auto&&... fields) {
  Bytes out(4096);
  WireWriter w(out);
  (fields(w), ...);
  out.resize(w.written());
  return out;
}

auto u8(std::uint8_t v) {
  return [v](WireWriter& w) { w.u8(v); };
}
auto var(std::uint64_t v) {
  return [v](WireWriter& w) { w.varint(v); };
}
auto u32(std::uint32_t v) {
  return [v](WireWriter& w) { w.u32(v); };
}
auto raw(std::size_t n) {
  return [n](WireWriter& w) { w.zeros(n); };
}

Errc decode_error(const Bytes& in) {
  auto decoded = decode_frame(in);
  REQUIRE_FALSE(decoded);
  return decoded.error();
}

}  // namespace

TEST_CASE("every frame type round-trips with random field values") {
  FrameMaker maker;
  for (int round = 0; round < 300; ++round) {
    for (std::size_t kind = 0; kind < kFrameKinds; ++kind) {
      const Frame frame = maker.make(kind);
      CAPTURE(kind);
      const Bytes wire = encode(frame);
      auto decoded = decode_frame(wire);
      REQUIRE(decoded);
      CHECK(decoded->second == wire.size());
      CHECK(decoded->first.index() == frame.index());
      CHECK(frame_type(decoded->first) == frame_type(frame));
      CHECK(encode(decoded->first) == wire);  // every field survived
    }
  }
}

TEST_CASE("decoded fields equal the encoded ones") {
  FrameMaker maker;
  for (int round = 0; round < 100; ++round) {
    const auto stream = std::get<StreamFrame>(maker.make(11));
    const Bytes wire = encode(stream);
    const auto back = std::get<StreamFrame>(decode_frame(wire)->first);
    CHECK(back.stream_id == stream.stream_id);
    CHECK(back.offset == stream.offset);
    CHECK(back.fin == stream.fin);
    CHECK(back.message_end == stream.message_end);
    CHECK(back.has_length == stream.has_length);
    CHECK(Bytes(back.data.begin(), back.data.end()) ==
          Bytes(stream.data.begin(), stream.data.end()));

    const auto block = std::get<DeltaBlockFrame>(maker.make(12));
    const Bytes block_wire = encode(block);
    const auto block_back = std::get<DeltaBlockFrame>(decode_frame(block_wire)->first);
    CHECK(block_back.key == block.key);
    CHECK(block_back.base_version == block.base_version);
    CHECK(block_back.new_version == block.new_version);
    CHECK(block_back.block_crc32c == block.block_crc32c);
    CHECK(block_back.encoding == block.encoding);
    CHECK(block_back.record_length == block.record_length);
    CHECK(block_back.fragment_offset == block.fragment_offset);
    CHECK(block_back.fragment.size() == block.fragment.size());

    const auto hello = std::get<ClientHelloFrame>(maker.make(13));
    const auto hello_back = std::get<ClientHelloFrame>(decode_frame(encode(hello))->first);
    CHECK(hello_back.params == hello.params);
    CHECK(hello_back.cookie.size() == hello.cookie.size());
  }
}

TEST_CASE("ACK ranges decode to the ranges encoded") {
  std::mt19937_64 rng(11);
  std::array<std::byte, 8192> buffer{};
  for (std::size_t count : {std::size_t{1}, std::size_t{2}, std::size_t{32}, kMaxAckRanges + 1}) {
    const auto ranges = random_ranges(rng, count);
    auto written = encode_ack(buffer, ranges, 77);
    REQUIRE(written);
    auto decoded = decode_frame(std::span(buffer).first(*written));
    REQUIRE(decoded);
    const auto& ack = std::get<AckFrame>(decoded->first);
    CHECK(ack.ack_delay == 77);
    CHECK(ack.largest == ranges.front().largest);
    std::vector<PacketRange> back(ack.ranges().begin(), ack.ranges().end());
    CHECK(back == ranges);
  }
  // Ranges that overlap, touch or are out of order are refused by the encoder.
  const PacketRange touching[] = {{10, 20}, {5, 9}};
  CHECK(encode_ack(buffer, touching, 0).error() == Errc::invalid_value);
  const PacketRange ascending[] = {{1, 2}, {10, 20}};
  CHECK(encode_ack(buffer, ascending, 0).error() == Errc::invalid_value);
  // A range near 2^64 must not wrap the ordering check.
  const PacketRange wrapping[] = {{10, 10}, {~std::uint64_t{0}, ~std::uint64_t{0}}};
  CHECK(encode_ack(buffer, wrapping, 0).error() == Errc::invalid_value);
  const PacketRange wrapping2[] = {{10, 10}, {~std::uint64_t{0} - 1, ~std::uint64_t{0} - 1}};
  CHECK(encode_ack(buffer, wrapping2, 0).error() == Errc::invalid_value);
  const auto too_many = random_ranges(rng, kMaxAckRanges + 2);
  CHECK(encode_ack(buffer, too_many, 0).error() == Errc::too_many_ack_ranges);
  CHECK(encode_ack(buffer, {}, 0).error() == Errc::invalid_value);
}

TEST_CASE("every truncated prefix of a frame is rejected") {
  FrameMaker maker;
  for (int round = 0; round < 20; ++round) {
    for (std::size_t kind = 0; kind < kFrameKinds; ++kind) {
      const Frame frame = maker.make(kind);
      if (prefix_can_be_valid(frame)) continue;  // PADDING runs; STREAM to the packet's end
      const Bytes wire = encode(frame);
      CAPTURE(kind);
      for (std::size_t n = 0; n < wire.size(); ++n) {
        auto decoded = decode_frame(std::span(wire).first(n));
        REQUIRE_FALSE(decoded);
        // A truncated parameter list inside a hello is reported as a bad parameter.
        CHECK((decoded.error() == Errc::truncated || decoded.error() == Errc::transport_parameter));
      }
    }
  }
}

TEST_CASE("an encoder refuses a buffer one byte short, and writes nothing past it") {
  FrameMaker maker;
  for (std::size_t kind = 0; kind < kFrameKinds; ++kind) {
    const Frame frame = maker.make(kind);
    const Bytes wire = encode(frame);
    Bytes out(wire.size() + 16, std::byte{0xee});
    auto written = encode_frame(std::span(out).first(wire.size() - 1), frame);
    CHECK(written.error() == Errc::no_space);
    for (std::size_t i = wire.size() - 1; i < out.size(); ++i) CHECK(out[i] == std::byte{0xee});
  }
}

TEST_CASE("unknown and over-long frame types are rejected") {
  for (int type = 0; type < 0x40; ++type) {
    const bool known =
        type <= 0x0a || (type >= 0x10 && type <= 0x22) || (type >= 0x30 && type <= 0x32);
    if (known) continue;
    CAPTURE(type);
    CHECK(decode_error(build(u8(static_cast<std::uint8_t>(type)), raw(16))) == Errc::unknown_frame);
  }
  // PING written as a two-byte varint.
  CHECK(decode_error(build(u8(0x40), u8(0x01))) == Errc::unknown_frame);
  CHECK(decode_error(build(u8(0xff))) == Errc::unknown_frame);
  CHECK(decode_error({}) == Errc::truncated);
}

TEST_CASE("over-limit counts and out-of-range values are rejected with the right error") {
  SUBCASE("ACK") {
    CHECK(decode_error(build(u8(0x02), var(1000), var(0), var(kMaxAckRanges + 1), var(0))) ==
          Errc::too_many_ack_ranges);
    CHECK(decode_error(build(u8(0x02), var(5), var(0), var(0), var(6))) == Errc::invalid_value);
    // First range [5,10], then a gap that would go below zero.
    CHECK(decode_error(build(u8(0x02), var(10), var(0), var(1), var(5), var(4), var(0))) ==
          Errc::invalid_value);
    // ... and a range length that would.
    CHECK(decode_error(build(u8(0x02), var(10), var(0), var(1), var(5), var(0), var(4))) ==
          Errc::invalid_value);
    // The smallest valid: [5,10] then [0,3].
    CHECK(decode_frame(build(u8(0x02), var(10), var(0), var(1), var(5), var(0), var(3))));
  }
  SUBCASE("STREAM") {
    CHECK(decode_error(build(u8(0x10 | stream_flags::kOff | stream_flags::kLen), var(1),
                             var(kMaxVarint), var(1), raw(1))) == Errc::invalid_value);
    CHECK(decode_error(build(u8(0x10 | stream_flags::kLen), var(1), var(0))) ==
          Errc::invalid_value);  // no data, no FIN
    CHECK(decode_frame(build(u8(0x10 | stream_flags::kLen | stream_flags::kFin), var(1), var(0))));
    StreamFrame empty;
    std::array<std::byte, 16> out{};
    CHECK(encode_frame(out, empty).error() == Errc::invalid_value);
  }
  SUBCASE("CONNECTION_CLOSE, MAX_STREAMS, PMTU_PROBE") {
    CHECK(decode_error(build(u8(0x09), var(1), var(0), var(kMaxReasonLength + 1),
                             raw(kMaxReasonLength + 1))) == Errc::limit_exceeded);
    CHECK(decode_error(build(u8(0x06), var(kMaxStreams + 1))) == Errc::invalid_value);
    CHECK(decode_error(build(u8(0x0a), var(1199))) == Errc::invalid_value);
    CHECK(decode_error(build(u8(0x0a), var(65528))) == Errc::invalid_value);
    std::array<std::byte, 2048> out{};
    const Bytes reason(kMaxReasonLength + 1);
    CHECK(encode_frame(out, ConnectionCloseFrame{0, 0, reason}).error() == Errc::limit_exceeded);
    CHECK(encode_frame(out, MaxStreamsFrame{kMaxStreams + 1}).error() == Errc::invalid_value);
  }
  SUBCASE("DELTA_BLOCK") {
    // stream, record offset, key, base, new, block length, crc, encoding, record length,
    // fragment offset, fragment length, fragment
    auto block = [](std::uint64_t base, std::uint64_t next, std::uint64_t block_length,
                    std::uint8_t encoding, std::uint64_t record_length,
                    std::uint64_t fragment_offset, std::uint64_t fragment_length) {
      return build(u8(0x20), var(4), var(0), var(9), var(base), var(next), var(block_length),
                   u32(0xdeadbeef), u8(encoding), var(record_length), var(fragment_offset),
                   var(fragment_length), raw(fragment_length));
    };
    CHECK(decode_frame(block(0, 1, 10, 0, 10, 0, 10)));
    CHECK(decode_frame(block(3, 4, 100, 1, 20, 5, 15)));
    CHECK(decode_error(block(0, 1, 10, 2, 10, 0, 10)) == Errc::invalid_value);    // encoding
    CHECK(decode_error(block(4, 4, 100, 1, 20, 0, 20)) == Errc::invalid_value);   // version
    CHECK(decode_error(block(1, 2, 10, 0, 10, 0, 10)) == Errc::invalid_value);    // whole, base
    CHECK(decode_error(block(0, 1, 10, 0, 9, 0, 9)) == Errc::invalid_value);      // whole, size
    CHECK(decode_error(block(3, 4, 20, 1, 20, 0, 20)) == Errc::invalid_value);    // not smaller
    CHECK(decode_error(block(3, 4, 100, 1, 20, 10, 11)) == Errc::invalid_value);  // past record
    CHECK(decode_error(block(0, 1, kMaxBlockLength + 1, 0, kMaxBlockLength + 1, 0, 0)) ==
          Errc::invalid_value);
    CHECK(decode_error(block(0, 1, 0, 0, 0, 0, 0)) == Errc::invalid_value);   // empty record
    CHECK(decode_error(block(3, 4, 10, 1, 0, 0, 0)) == Errc::invalid_value);  // empty delta
  }
  SUBCASE("BLOCK_REQUEST") {
    CHECK(decode_frame(build(u8(0x22), var(4), var(9), var(1))));
    CHECK(decode_error(build(u8(0x22), var(4), var(9), var(0))) == Errc::invalid_value);
    std::array<std::byte, 32> out{};
    CHECK(encode_frame(out, BlockRequestFrame{4, 9, 0}).error() == Errc::invalid_value);
    const auto request = decode_frame(build(u8(0x22), var(4), var(9), var(77)));
    REQUIRE(request);
    CHECK(std::get<BlockRequestFrame>(request->first) == BlockRequestFrame{4, 9, 77});
    CHECK(is_ack_eliciting(request->first));
  }
  SUBCASE("handshake frames") {
    CHECK(decode_error(build(u8(0x30), var(kMaxCookieLength + 1), raw(kMaxCookieLength + 1),
                             var(0))) == Errc::limit_exceeded);
    CHECK(decode_error(build(u8(0x31), var(0))) == Errc::invalid_value);  // empty cookie
    // A max_datagram_size below 1200 inside SERVER_HELLO.
    CHECK(decode_error(build(u8(0x32), var(3), var(0x05), var(1), var(40))) ==
          Errc::transport_parameter);
    CHECK(decode_error(build(u8(0x32), var(kMaxTransportParametersBytes + 1))) ==
          Errc::limit_exceeded);
    std::array<std::byte, 2048> out{};
    const Bytes cookie(kMaxCookieLength + 1);
    CHECK(encode_frame(out, RetryFrame{cookie}).error() == Errc::limit_exceeded);
    CHECK(encode_frame(out, RetryFrame{}).error() == Errc::invalid_value);
    ServerHelloFrame bad;
    bad.params.ack_delay_exponent = 21;
    CHECK(encode_frame(out, bad).error() == Errc::invalid_value);
  }
}

TEST_CASE("a run of PADDING decodes as one frame up to the next non-zero byte") {
  const Bytes in = build(raw(7), u8(0x01));
  auto decoded = decode_frame(in);
  REQUIRE(decoded);
  CHECK(std::get<PaddingFrame>(decoded->first).length == 7);
  CHECK(decoded->second == 7);
  CHECK_FALSE(is_ack_eliciting(decoded->first));
  CHECK(is_ack_eliciting(PingFrame{}));
  CHECK_FALSE(is_ack_eliciting(ConnectionCloseFrame{}));
}
