#include "proto/packet.h"

#include <cstring>

#include "proto/varint.h"
#include "proto/wire_cursor.h"
#include "simd/checksum.h"

namespace dwcp::proto {
namespace {

constexpr std::uint8_t kFormLong = 0x80;
constexpr std::uint8_t kFixedBit = 0x40;
constexpr std::uint8_t kLongReserved = 0x0c;
constexpr std::uint8_t kShortReserved = 0x3c;
constexpr std::size_t kLengthFieldSize = 4;  // the long header's Length, always 4 bytes

std::uint32_t load_u32(const std::byte* p) noexcept {
  return (std::uint32_t{static_cast<std::uint8_t>(p[0])} << 24) |
         (std::uint32_t{static_cast<std::uint8_t>(p[1])} << 16) |
         (std::uint32_t{static_cast<std::uint8_t>(p[2])} << 8) |
         std::uint32_t{static_cast<std::uint8_t>(p[3])};
}

void store_u32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i) {
    p[i] = static_cast<std::byte>(v & 0xff);
    v >>= 8;
  }
}

// `packet` ends with its trailer.
bool trailer_matches(std::span<const std::byte> packet) noexcept {
  const std::size_t body = packet.size() - kTrailerSize;
  return simd::crc32c(packet.first(body)) == load_u32(packet.data() + body);
}

std::uint64_t read_packet_number(WireReader& r, std::size_t length) noexcept {
  std::uint64_t pn = 0;
  for (const std::byte b : r.bytes(length)) pn = (pn << 8) | static_cast<std::uint8_t>(b);
  return pn;
}

ConnectionIdRef read_connection_id(WireReader& r) noexcept {
  const std::uint8_t length = r.u8();
  if (r && length > kMaxConnectionIdLength) {
    r.fail(Errc::malformed_header);
    return {};
  }
  return ConnectionIdRef(r.bytes(length));
}

void write_connection_id(WireWriter& w, ConnectionIdRef id) noexcept {
  w.u8(static_cast<std::uint8_t>(id.size()));
  w.bytes(id.bytes());
}

void write_packet_number(WireWriter& w, std::uint64_t pn, std::size_t length) noexcept {
  for (std::size_t i = length; i-- > 0;) w.u8(static_cast<std::uint8_t>(pn >> (8 * i)));
}

}  // namespace

Result<InvariantHeader> parse_invariant_header(std::span<const std::byte> datagram) noexcept {
  WireReader r(datagram);
  const std::uint8_t first = r.u8();
  if (r && (first & kFormLong) == 0) return std::unexpected(Errc::malformed_header);
  InvariantHeader header;
  header.version = r.u32();
  header.dcid = read_connection_id(r);
  header.scid = read_connection_id(r);
  if (!r) return std::unexpected(Errc::malformed_header);
  return header;
}

Result<ParsedPacket> parse_packet(std::span<const std::byte> datagram,
                                  std::size_t short_dcid_length) noexcept {
  // Every failure to read the header is a malformed header: the datagram is dropped.
  WireReader r(datagram);
  const std::uint8_t first = r.u8();
  if (!r || (first & kFixedBit) == 0) return std::unexpected(Errc::malformed_header);
  ParsedPacket packet;
  PacketHeader& h = packet.header;
  h.packet_number_length = (first & 0x03u) + 1;

  if ((first & kFormLong) == 0) {
    if ((first & kShortReserved) != 0 || short_dcid_length > kMaxConnectionIdLength) {
      return std::unexpected(Errc::malformed_header);
    }
    h.type = PacketType::short_header;
    h.dcid = ConnectionIdRef(r.bytes(short_dcid_length));
    h.packet_number = read_packet_number(r, h.packet_number_length);
    // At least one payload byte and the trailer must follow.
    if (!r || r.remaining() < 1 + kTrailerSize) return std::unexpected(Errc::malformed_header);
    if (!trailer_matches(datagram)) return std::unexpected(Errc::bad_checksum);
    packet.payload = datagram.subspan(r.consumed(), r.remaining() - kTrailerSize);
    packet.packet_size = datagram.size();
    return packet;
  }

  h.version = r.u32();
  h.dcid = read_connection_id(r);
  h.scid = read_connection_id(r);
  if (!r) return std::unexpected(Errc::malformed_header);

  if (h.version == kVersionNegotiation) {
    // The rest is a list of versions and the trailer.
    if (r.remaining() < 4 + kTrailerSize || (r.remaining() - kTrailerSize) % 4 != 0) {
      return std::unexpected(Errc::malformed_header);
    }
    if (!trailer_matches(datagram)) return std::unexpected(Errc::bad_checksum);
    h.type = PacketType::version_negotiation;
    packet.payload = datagram.subspan(r.consumed(), r.remaining() - kTrailerSize);
    packet.packet_size = datagram.size();
    return packet;
  }
  if (!is_supported_version(h.version)) return std::unexpected(Errc::unsupported_version);

  const unsigned long_type = (first >> 4) & 0x03u;
  if ((first & kLongReserved) != 0 || long_type > 2) {
    return std::unexpected(Errc::malformed_header);
  }
  h.type = static_cast<PacketType>(long_type);
  const std::uint64_t length = r.varint();
  // The packet number, a payload byte and the trailer, within the datagram.
  if (!r || length < h.packet_number_length + 1 + kTrailerSize || length > r.remaining()) {
    return std::unexpected(Errc::malformed_header);
  }
  packet.packet_size = r.consumed() + static_cast<std::size_t>(length);
  h.packet_number = read_packet_number(r, h.packet_number_length);
  if (!trailer_matches(datagram.first(packet.packet_size))) {
    return std::unexpected(Errc::bad_checksum);
  }
  packet.payload = datagram.subspan(r.consumed(), packet.packet_size - kTrailerSize - r.consumed());
  return packet;
}

bool frame_allowed(PacketType type, FrameType frame) noexcept {
  switch (type) {
    case PacketType::short_header:
      return frame != FrameType::client_hello && frame != FrameType::retry &&
             frame != FrameType::server_hello;
    case PacketType::initial:
    case PacketType::handshake:
      return frame == (type == PacketType::initial ? FrameType::client_hello
                                                   : FrameType::server_hello) ||
             frame == FrameType::padding || frame == FrameType::ping || frame == FrameType::ack ||
             frame == FrameType::connection_close;
    case PacketType::retry:
      return frame == FrameType::retry || frame == FrameType::padding;
    case PacketType::version_negotiation:
      return false;
  }
  return false;
}

Result<const Frame*> FrameReader::next() noexcept {
  if (type_ == PacketType::version_negotiation) {  // a version list, not frames
    rest_ = {};
    return std::unexpected(Errc::frame_not_allowed);
  }
  auto size = decode_frame(rest_, frame_);
  if (!size) {
    rest_ = {};
    return std::unexpected(size.error());
  }
  if (!frame_allowed(type_, frame_type(frame_))) {
    rest_ = {};
    return std::unexpected(Errc::frame_not_allowed);
  }
  rest_ = rest_.subspan(*size);
  return &frame_;
}

PacketBuilder::PacketBuilder(std::span<std::byte> out, PacketType type, std::size_t header_size,
                             std::size_t length_field) noexcept
    : out_(out),
      type_(type),
      header_size_(header_size),
      length_field_(length_field),
      pos_(header_size),
      limit_(out.size() - kTrailerSize) {}

Result<PacketBuilder> PacketBuilder::long_header(std::span<std::byte> out, PacketType type,
                                                 ConnectionIdRef dcid, ConnectionIdRef scid,
                                                 std::uint64_t full_packet_number,
                                                 std::size_t packet_number_length,
                                                 std::uint32_t version) noexcept {
  if (type != PacketType::initial && type != PacketType::handshake && type != PacketType::retry) {
    return std::unexpected(Errc::invalid_value);
  }
  if (packet_number_length < 1 || packet_number_length > 4 || full_packet_number > kMaxVarint ||
      version == kVersionNegotiation) {
    return std::unexpected(Errc::invalid_value);
  }
  WireWriter w(out);
  w.u8(static_cast<std::uint8_t>(kFormLong | kFixedBit | (static_cast<unsigned>(type) << 4) |
                                 (packet_number_length - 1)));
  w.u32(version);
  write_connection_id(w, dcid);
  write_connection_id(w, scid);
  const std::size_t length_field = w.written();
  w.zeros(kLengthFieldSize);
  write_packet_number(w, full_packet_number, packet_number_length);
  if (!w || out.size() - w.written() < 1 + kTrailerSize) return std::unexpected(Errc::no_space);
  return PacketBuilder(out, type, w.written(), length_field);
}

Result<PacketBuilder> PacketBuilder::short_header(std::span<std::byte> out, ConnectionIdRef dcid,
                                                  std::uint64_t full_packet_number,
                                                  std::size_t packet_number_length) noexcept {
  if (packet_number_length < 1 || packet_number_length > 4 || full_packet_number > kMaxVarint) {
    return std::unexpected(Errc::invalid_value);
  }
  WireWriter w(out);
  w.u8(static_cast<std::uint8_t>(kFixedBit | (packet_number_length - 1)));
  w.bytes(dcid.bytes());
  write_packet_number(w, full_packet_number, packet_number_length);
  if (!w || out.size() - w.written() < 1 + kTrailerSize) return std::unexpected(Errc::no_space);
  return PacketBuilder(out, PacketType::short_header, w.written(), 0);
}

Result<std::size_t> PacketBuilder::add(const Frame& frame) noexcept {
  if (!frame_allowed(type_, frame_type(frame))) return std::unexpected(Errc::frame_not_allowed);
  auto written = encode_frame(out_.subspan(pos_, limit_ - pos_), frame);
  if (written) pos_ += *written;
  return written;
}

Result<std::span<std::byte>> PacketBuilder::add_stream(const StreamFrame& frame,
                                                       std::size_t length) noexcept {
  if (!frame_allowed(type_, FrameType::stream)) return std::unexpected(Errc::frame_not_allowed);
  const auto room = out_.subspan(pos_, limit_ - pos_);
  auto header = encode_stream_header(room, frame, length);
  if (!header) return std::unexpected(header.error());
  pos_ += *header + length;
  return room.subspan(*header, length);
}

Result<std::span<std::byte>> PacketBuilder::add_delta_block(const DeltaBlockFrame& frame,
                                                            std::size_t length) noexcept {
  if (!frame_allowed(type_, FrameType::delta_block)) {
    return std::unexpected(Errc::frame_not_allowed);
  }
  const auto room = out_.subspan(pos_, limit_ - pos_);
  auto header = encode_delta_block_header(room, frame, length);
  if (!header) return std::unexpected(header.error());
  pos_ += *header + length;
  return room.subspan(*header, length);
}

Result<std::size_t> PacketBuilder::add_ack(std::span<const PacketRange> ranges,
                                           std::uint64_t ack_delay) noexcept {
  if (!frame_allowed(type_, FrameType::ack)) return std::unexpected(Errc::frame_not_allowed);
  auto written = encode_ack(out_.subspan(pos_, limit_ - pos_), ranges, ack_delay);
  if (written) pos_ += *written;
  return written;
}

Result<void> PacketBuilder::pad_to(std::size_t packet_size) noexcept {
  if (packet_size > out_.size()) return std::unexpected(Errc::no_space);
  if (packet_size <= pos_ + kTrailerSize) return {};  // already as large
  const std::size_t payload_end = packet_size - kTrailerSize;
  std::memset(out_.data() + pos_, 0, payload_end - pos_);
  pos_ = payload_end;
  return {};
}

Result<std::size_t> PacketBuilder::finish() noexcept {
  if (pos_ == header_size_) return std::unexpected(Errc::invalid_value);
  if (type_ != PacketType::short_header) {
    // Length counts from the packet number to the end of the trailer.
    const std::size_t length = pos_ + kTrailerSize - (length_field_ + kLengthFieldSize);
    put_varint(out_.data() + length_field_, length, kLengthFieldSize);
  }
  store_u32(out_.data() + pos_, simd::crc32c(out_.first(pos_)));
  return pos_ + kTrailerSize;
}

Result<std::size_t> encode_version_negotiation(std::span<std::byte> out, ConnectionIdRef dcid,
                                               ConnectionIdRef scid,
                                               std::span<const std::uint32_t> versions) noexcept {
  if (versions.empty()) return std::unexpected(Errc::invalid_value);
  WireWriter w(out);
  w.u8(kFormLong | kFixedBit);
  w.u32(kVersionNegotiation);
  write_connection_id(w, dcid);
  write_connection_id(w, scid);
  for (const std::uint32_t v : versions) w.u32(v);
  std::byte* trailer = w.reserve(kTrailerSize);
  if (!w) return w.result();
  store_u32(trailer, simd::crc32c(out.first(w.written() - kTrailerSize)));
  return w.written();
}

Result<std::size_t> decode_versions(std::span<const std::byte> payload,
                                    std::span<std::uint32_t> out) noexcept {
  if (payload.empty() || payload.size() % 4 != 0) return std::unexpected(Errc::malformed_header);
  const std::size_t count = payload.size() / 4;
  if (count > out.size()) return std::unexpected(Errc::no_space);
  for (std::size_t i = 0; i < count; ++i) out[i] = load_u32(payload.data() + 4 * i);
  return count;
}

}  // namespace dwcp::proto
