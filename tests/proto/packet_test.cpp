#include "proto/packet.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include "proto/packet_number.h"
#include "simd/checksum.h"
#include "tests/proto/proto_test_support.h"

using namespace dwcp::proto;
using dwcp::proto::testing::Bytes;
using dwcp::proto::testing::random_bytes;
using dwcp::proto::testing::random_varint;

namespace {

ConnectionId random_cid(std::mt19937_64& rng, std::size_t length) {
  return ConnectionId(random_bytes(rng, length));
}

// A short-header packet with a STREAM frame and an ACK, as a sender would build it.
Bytes data_packet(std::mt19937_64& rng, const ConnectionId& dcid, std::uint64_t pn,
                  const Bytes& payload, std::size_t buffer_size = 1472) {
  Bytes out(buffer_size);
  auto builder = PacketBuilder::short_header(out, dcid, pn, packet_number_length(pn, kNoAck));
  REQUIRE(builder);
  const PacketRange ranges[] = {{90, 100}, {50, 80}};
  REQUIRE(builder->add_ack(ranges, 5));
  StreamFrame stream;
  stream.stream_id = 4;
  stream.offset = rng() % 100000;
  stream.data = payload;
  stream.message_end = true;
  REQUIRE(builder->add(stream));
  auto size = builder->finish();
  REQUIRE(size);
  out.resize(*size);
  return out;
}

std::vector<Frame> frames_of(const ParsedPacket& packet) {
  std::vector<Frame> frames;
  FrameReader reader(packet.header.type, packet.payload);
  while (!reader.done()) {
    auto frame = reader.next();
    REQUIRE(frame);
    frames.push_back(**frame);
  }
  return frames;
}

}  // namespace

TEST_CASE("packet numbers: the RFC 9000 examples, and random round trips") {
  // RFC 9000 §17.1: 0xac5c02 with 0xabe8b3 acknowledged needs 2 bytes.
  CHECK(packet_number_length(0xac5c02, 0xabe8b3) == 2);
  // RFC 9000 A.3: largest 0xa82f30ea, truncated 0x9b32 in 16 bits → 0xa82f9b32.
  CHECK(decode_packet_number(0xa82f30ea, 0x9b32, 2) == 0xa82f9b32);
  CHECK(decode_packet_number(kNoAck, 0, 1) == 0);

  std::mt19937_64 rng(5);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t acked = rng() % (std::uint64_t{1} << 40);
    const std::uint64_t pn = acked + 1 + rng() % (std::uint64_t{1} << (rng() % 30));
    const std::size_t length = packet_number_length(pn, acked);
    REQUIRE(length >= 1);
    REQUIRE(length <= 4);
    const std::uint64_t mask = (std::uint64_t{1} << (8 * length)) - 1;
    // The receiver may have seen anything between the acknowledged number and pn - 1.
    const std::uint64_t largest_received = acked + rng() % (pn - acked);
    CHECK(decode_packet_number(largest_received, pn & mask, length) == pn);
  }
}

TEST_CASE("short-header packets round-trip with their frames") {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 200; ++i) {
    const auto dcid = random_cid(rng, kConnectionIdLength);
    const std::uint64_t pn = rng() % (std::uint64_t{1} << 32);
    const Bytes payload = random_bytes(rng, rng() % 1300);
    const Bytes wire = data_packet(rng, dcid, pn, payload);
    auto packet = parse_packet(wire);
    REQUIRE(packet);
    CHECK(packet->header.type == PacketType::short_header);
    CHECK(packet->header.dcid == dcid);
    const std::uint64_t mask = (std::uint64_t{1} << (8 * packet->header.packet_number_length)) - 1;
    CHECK(packet->header.packet_number == (pn & mask));
    CHECK(packet->packet_size == wire.size());
    const auto frames = frames_of(*packet);
    REQUIRE(frames.size() == 2);
    const auto& ack = std::get<AckFrame>(frames[0]);
    CHECK(ack.largest == 100);
    const auto& stream = std::get<StreamFrame>(frames[1]);
    CHECK(Bytes(stream.data.begin(), stream.data.end()) == payload);
    CHECK(stream.message_end);
  }
}

TEST_CASE("long-header packets round-trip, coalesced in one datagram") {
  std::mt19937_64 rng(22);
  const auto client = random_cid(rng, 8);
  const auto server = random_cid(rng, 8);
  Bytes datagram(3000);
  std::size_t used = 0;

  auto initial = PacketBuilder::long_header(datagram, PacketType::initial, server, client, 0, 1);
  REQUIRE(initial);
  ClientHelloFrame hello;
  const Bytes cookie = random_bytes(rng, 40);
  hello.cookie = cookie;
  hello.params.delta_cache_keys = 4096;
  REQUIRE(initial->add(hello));
  REQUIRE(initial->pad_to(kMinInitialDatagram));
  auto first_size = initial->finish();
  REQUIRE(first_size);
  CHECK(*first_size == kMinInitialDatagram);
  used = *first_size;

  auto handshake = PacketBuilder::long_header(std::span(datagram).subspan(used),
                                              PacketType::handshake, client, server, 1, 2);
  REQUIRE(handshake);
  REQUIRE(handshake->add(ServerHelloFrame{}));
  REQUIRE(handshake->add(PingFrame{}));
  auto second_size = handshake->finish();
  REQUIRE(second_size);
  used += *second_size;
  datagram.resize(used);

  auto first = parse_packet(datagram);
  REQUIRE(first);
  CHECK(first->header.type == PacketType::initial);
  CHECK(first->header.version == kVersion1);
  CHECK(first->header.dcid == server);
  CHECK(first->header.scid == client);
  CHECK(first->packet_size == kMinInitialDatagram);
  const auto first_frames = frames_of(*first);
  const auto& hello_back = std::get<ClientHelloFrame>(first_frames[0]);
  CHECK(hello_back.params.delta_cache_keys == 4096);
  CHECK(Bytes(hello_back.cookie.begin(), hello_back.cookie.end()) == cookie);
  CHECK(std::holds_alternative<PaddingFrame>(first_frames.back()));

  auto second = parse_packet(std::span(datagram).subspan(first->packet_size));
  REQUIRE(second);
  CHECK(second->header.type == PacketType::handshake);
  CHECK(second->header.packet_number == 1);
  CHECK(second->header.packet_number_length == 2);
  CHECK(frames_of(*second).size() == 2);

  auto invariant = parse_invariant_header(datagram);
  REQUIRE(invariant);
  CHECK(invariant->version == kVersion1);
  CHECK(invariant->scid == client);
}

TEST_CASE("a flipped bit anywhere in a packet fails the checksum or the header check") {
  std::mt19937_64 rng(23);
  const auto dcid = random_cid(rng, kConnectionIdLength);
  const Bytes wire = data_packet(rng, dcid, 1234, random_bytes(rng, 200));
  Bytes retry_wire(200);
  auto retry = PacketBuilder::long_header(retry_wire, PacketType::retry, dcid, dcid, 7, 1);
  REQUIRE(retry);
  const Bytes cookie = random_bytes(rng, 32);
  REQUIRE(retry->add(RetryFrame{cookie}));
  retry_wire.resize(*retry->finish());

  for (const Bytes* packet : {&wire, static_cast<const Bytes*>(&retry_wire)}) {
    for (std::size_t bit = 0; bit < packet->size() * 8; ++bit) {
      Bytes flipped = *packet;
      flipped[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      auto parsed = parse_packet(flipped);
      REQUIRE_FALSE(parsed);
      CAPTURE(bit);
      CHECK(drops_packet(parsed.error()));
    }
  }
}

TEST_CASE("every truncated prefix of a packet is rejected") {
  std::mt19937_64 rng(24);
  const auto dcid = random_cid(rng, kConnectionIdLength);
  const Bytes wire = data_packet(rng, dcid, 99, random_bytes(rng, 100));
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto parsed = parse_packet(std::span(wire).first(n));
    REQUIRE_FALSE(parsed);
    CHECK(drops_packet(parsed.error()));
  }
  Bytes long_wire(300);
  auto builder = PacketBuilder::long_header(long_wire, PacketType::handshake, dcid, dcid, 3, 4);
  REQUIRE(builder);
  REQUIRE(builder->add(PingFrame{}));
  long_wire.resize(*builder->finish());
  for (std::size_t n = 0; n < long_wire.size(); ++n) {
    auto parsed = parse_packet(std::span(long_wire).first(n));
    REQUIRE_FALSE(parsed);
    CHECK(drops_packet(parsed.error()));
  }
}

TEST_CASE("bad header bits, long connection IDs and unknown versions are dropped") {
  std::mt19937_64 rng(25);
  const auto dcid = random_cid(rng, 8);
  Bytes wire = data_packet(rng, dcid, 5, random_bytes(rng, 10));
  wire[0] &= std::byte{0xbf};  // fixed bit clear
  CHECK(parse_packet(wire).error() == Errc::malformed_header);

  // A reserved bit set, with a trailer that matches: still dropped.
  Bytes reserved = data_packet(rng, dcid, 5, random_bytes(rng, 10));
  reserved[0] |= std::byte{0x04};
  const std::uint32_t crc = dwcp::simd::crc32c(std::span(reserved).first(reserved.size() - 4));
  for (int i = 0; i < 4; ++i) {
    reserved[reserved.size() - 1 - static_cast<std::size_t>(i)] =
        static_cast<std::byte>(crc >> (8 * i));
  }
  CHECK(parse_packet(reserved).error() == Errc::malformed_header);

  Bytes other_version(1200);
  auto builder =
      PacketBuilder::long_header(other_version, PacketType::initial, dcid, dcid, 0, 1, 0x1a2a3a4a);
  REQUIRE(builder);
  REQUIRE(builder->add(PingFrame{}));
  other_version.resize(*builder->finish());
  CHECK(parse_packet(other_version).error() == Errc::unsupported_version);
  auto invariant = parse_invariant_header(other_version);
  REQUIRE(invariant);
  CHECK(invariant->version == 0x1a2a3a4a);
  CHECK(is_reserved_version(0x1a2a3a4a));
  CHECK_FALSE(is_reserved_version(kVersion1));

  Bytes long_cid = other_version;
  long_cid[5] = std::byte{21};  // DCID length above 20
  CHECK(parse_invariant_header(long_cid).error() == Errc::malformed_header);
  CHECK(parse_packet(long_cid).error() == Errc::malformed_header);
  CHECK(parse_packet({}).error() == Errc::malformed_header);
}

TEST_CASE("an unknown version is answered with version negotiation, which parses back") {
  std::mt19937_64 rng(26);
  const auto a = random_cid(rng, 8);
  const auto b = random_cid(rng, 5);
  const std::uint32_t versions[] = {kVersion1, 0x0a0a0a0a};
  std::array<std::byte, 128> out{};
  auto size = encode_version_negotiation(out, a, b, versions);
  REQUIRE(size);
  auto packet = parse_packet(std::span(out).first(*size));
  REQUIRE(packet);
  CHECK(packet->header.type == PacketType::version_negotiation);
  CHECK(packet->header.dcid == a);
  CHECK(packet->header.scid == b);
  std::array<std::uint32_t, 4> back{};
  auto count = decode_versions(packet->payload, back);
  REQUIRE(count);
  CHECK(*count == 2);
  CHECK(back[0] == kVersion1);
  CHECK(back[1] == 0x0a0a0a0a);
  CHECK(decode_versions(packet->payload, std::span(back).first(1)).error() == Errc::no_space);
  CHECK(decode_versions(packet->payload.first(3), back).error() == Errc::malformed_header);
  CHECK(encode_version_negotiation(out, a, b, {}).error() == Errc::invalid_value);
  FrameReader none(PacketType::version_negotiation, packet->payload);
  CHECK(none.next().error() == Errc::frame_not_allowed);
}

TEST_CASE("frames outside their packet types are refused on both sides") {
  std::mt19937_64 rng(27);
  const auto dcid = random_cid(rng, 8);
  Bytes out(1500);
  auto data = PacketBuilder::short_header(out, dcid, 1, 1);
  REQUIRE(data);
  CHECK(data->add(ServerHelloFrame{}).error() == Errc::frame_not_allowed);
  auto initial = PacketBuilder::long_header(out, PacketType::initial, dcid, dcid, 1, 1);
  REQUIRE(initial);
  const Bytes payload(10);
  StreamFrame stream;
  stream.data = payload;
  CHECK(initial->add(stream).error() == Errc::frame_not_allowed);
  CHECK(initial->add(ServerHelloFrame{}).error() == Errc::frame_not_allowed);
  CHECK(initial->add(ClientHelloFrame{}));

  // A STREAM frame smuggled into a Handshake packet: the builder would refuse it, so write
  // its bytes as the payload of a valid-looking packet by hand.
  CHECK_FALSE(frame_allowed(PacketType::handshake, FrameType::stream));
  CHECK_FALSE(frame_allowed(PacketType::retry, FrameType::ping));
  CHECK(frame_allowed(PacketType::short_header, FrameType::delta_block));
  CHECK(frame_allowed(PacketType::short_header, FrameType::block_request));
  CHECK_FALSE(frame_allowed(PacketType::initial, FrameType::block_request));
  CHECK_FALSE(frame_allowed(PacketType::handshake, FrameType::delta_block));
  std::array<std::byte, 64> stream_bytes{};
  auto n = encode_frame(stream_bytes, stream);
  REQUIRE(n);
  FrameReader reader(PacketType::handshake, std::span(stream_bytes).first(*n));
  CHECK(reader.next().error() == Errc::frame_not_allowed);
  CHECK(reader.done());
}

TEST_CASE("the builder keeps room for the trailer and refuses what does not fit") {
  std::mt19937_64 rng(28);
  const auto dcid = random_cid(rng, 8);
  Bytes out(100);
  auto builder = PacketBuilder::short_header(out, dcid, 1, 1);
  REQUIRE(builder);
  CHECK(builder->finish().error() == Errc::invalid_value);  // no frame yet
  const std::size_t room = builder->room();
  CHECK(room == 100 - 1 - 8 - 1 - kTrailerSize);
  const Bytes payload(room);
  StreamFrame stream;
  stream.data = payload;
  CHECK(builder->add(stream).error() == Errc::no_space);
  stream.has_length = false;
  stream.data = std::span(payload).first(room - 2);  // type and stream id take two bytes
  REQUIRE(builder->add(stream));
  CHECK(builder->room() == 0);
  auto size = builder->finish();
  REQUIRE(size);
  CHECK(*size == 100);
  CHECK(parse_packet(out));
  CHECK(builder->pad_to(101).error() == Errc::no_space);
  for (std::size_t tiny_size = 0; tiny_size < 100; ++tiny_size) CHECK(builder->pad_to(tiny_size));
  CHECK(builder->room() == 0);

  std::array<std::byte, 10> tiny{};
  CHECK(PacketBuilder::short_header(tiny, dcid, 1, 1).error() == Errc::no_space);
  CHECK(PacketBuilder::short_header(out, dcid, 1, 5).error() == Errc::invalid_value);
  CHECK(PacketBuilder::long_header(out, PacketType::short_header, dcid, dcid, 1, 1).error() ==
        Errc::invalid_value);
}

TEST_CASE("a STREAM frame filled in place encodes as add() would, and refuses what does not fit") {
  std::mt19937_64 rng(29);
  for (int i = 0; i < 200; ++i) {
    const auto dcid = random_cid(rng, kConnectionIdLength);
    const Bytes payload = random_bytes(rng, rng() % 1400);
    StreamFrame frame;
    frame.stream_id = random_varint(rng, 1000);
    frame.offset = random_varint(rng, std::uint64_t{1} << 40);
    frame.fin = payload.empty() || rng() % 2 == 0;
    frame.message_end = rng() % 2 == 0;
    frame.has_length = rng() % 2 == 0;

    Bytes by_copy(1472);
    auto copied = PacketBuilder::short_header(by_copy, dcid, 7, 1);
    REQUIRE(copied);
    frame.data = payload;
    REQUIRE(copied->add(frame));
    const auto copied_size = copied->finish();
    REQUIRE(copied_size);

    Bytes in_place(1472);
    auto filled = PacketBuilder::short_header(in_place, dcid, 7, 1);
    REQUIRE(filled);
    frame.data = {};  // not read
    auto area = filled->add_stream(frame, payload.size());
    REQUIRE(area);
    REQUIRE(area->size() == payload.size());
    std::copy(payload.begin(), payload.end(), area->begin());
    const auto filled_size = filled->finish();
    REQUIRE(filled_size);
    CHECK(Bytes(in_place.begin(), in_place.begin() + static_cast<std::ptrdiff_t>(*filled_size)) ==
          Bytes(by_copy.begin(), by_copy.begin() + static_cast<std::ptrdiff_t>(*copied_size)));
  }

  const auto dcid = random_cid(rng, 8);
  Bytes out(100);
  auto builder = PacketBuilder::short_header(out, dcid, 1, 1);
  REQUIRE(builder);
  const std::size_t room = builder->room();
  StreamFrame frame;
  CHECK(builder->add_stream(frame, 0).error() == Errc::invalid_value);  // no data, no FIN
  CHECK(builder->add_stream(frame, room).error() == Errc::no_space);
  CHECK(builder->room() == room);  // unchanged by the failures
  frame.has_length = false;
  auto area = builder->add_stream(frame, room - 2);  // type and stream id take two bytes
  REQUIRE(area);
  CHECK(builder->room() == 0);
  // Every output span shorter than the 5 header bytes and 4 data bytes is refused.
  for (std::size_t size = 0; size < 9; ++size) {
    Bytes small(size);
    frame.has_length = true;
    frame.offset = 1000;
    CHECK(encode_stream_header(small, frame, 4).error() == Errc::no_space);
  }
}

TEST_CASE("a DELTA_BLOCK fragment written in place equals the frame added whole") {
  std::mt19937_64 rng(31);
  const auto dcid = random_cid(rng, 8);
  for (int round = 0; round < 200; ++round) {
    DeltaBlockFrame frame;
    frame.stream_id = random_varint(rng, 1000);
    frame.record_offset = random_varint(rng, std::uint64_t{1} << 40);
    frame.key = random_varint(rng);
    frame.new_version = 1 + rng() % 100000;
    frame.block_length = 1 + rng() % 8192;
    frame.block_crc32c = static_cast<std::uint32_t>(rng());
    frame.record_length = frame.block_length;
    frame.fragment_offset = rng() % frame.record_length;
    frame.fin = rng() % 2 == 0;
    const Bytes fragment = random_bytes(
        rng, std::min<std::uint64_t>(frame.record_length - frame.fragment_offset, rng() % 1300));

    Bytes by_copy(1472);
    auto copied = PacketBuilder::short_header(by_copy, dcid, 7, 1);
    REQUIRE(copied);
    frame.fragment = fragment;
    REQUIRE(copied->add(frame));
    const auto copied_size = copied->finish();
    REQUIRE(copied_size);

    Bytes in_place(1472);
    auto filled = PacketBuilder::short_header(in_place, dcid, 7, 1);
    REQUIRE(filled);
    frame.fragment = {};  // not read
    auto area = filled->add_delta_block(frame, fragment.size());
    REQUIRE(area);
    REQUIRE(area->size() == fragment.size());
    std::copy(fragment.begin(), fragment.end(), area->begin());
    const auto filled_size = filled->finish();
    REQUIRE(filled_size);
    CHECK(Bytes(in_place.begin(), in_place.begin() + static_cast<std::ptrdiff_t>(*filled_size)) ==
          Bytes(by_copy.begin(), by_copy.begin() + static_cast<std::ptrdiff_t>(*copied_size)));
  }
  // Past the record, or more than the packet holds: refused, nothing written.
  Bytes out(100);
  auto builder = PacketBuilder::short_header(out, dcid, 1, 1);
  REQUIRE(builder);
  const std::size_t room = builder->room();
  DeltaBlockFrame frame;
  frame.new_version = 1;
  frame.block_length = frame.record_length = 10;
  CHECK(builder->add_delta_block(frame, 11).error() == Errc::invalid_value);
  frame.block_length = frame.record_length = 1000;
  CHECK(builder->add_delta_block(frame, 500).error() == Errc::no_space);
  CHECK(builder->room() == room);
}

TEST_CASE("error codes map to a drop or a named connection error") {
  CHECK(drops_packet(Errc::bad_checksum));
  CHECK(drops_packet(Errc::malformed_header));
  CHECK_FALSE(drops_packet(Errc::unknown_frame));
  CHECK(close_code(Errc::unknown_frame) == TransportError::frame_encoding_error);
  CHECK(close_code(Errc::too_many_ack_ranges) == TransportError::frame_encoding_error);
  CHECK(close_code(Errc::frame_not_allowed) == TransportError::protocol_violation);
  CHECK(close_code(Errc::transport_parameter) == TransportError::transport_parameter_error);
  CHECK(to_string(TransportError::invalid_cookie) == "INVALID_COOKIE");
  CHECK(to_string(static_cast<TransportError>(0x100)) == "APPLICATION_ERROR");
  CHECK(to_string(Errc::bad_checksum) == "checksum mismatch");
}
