// Parses the input as a datagram, packet by packet (coalesced long headers, then at most
// one short header), once with the 8-byte short-header DCID dwcp nodes issue and once with
// a length taken from the first byte. For every packet whose trailer verifies:
//  - FrameReader agrees with decode_frame, every frame is allowed in its packet type, and
//    every frame survives encode_frame → decode_frame unchanged (ACK ranges descending,
//    disjoint, non-adjacent);
//  - the packet rebuilt with PacketBuilder from its header and frames parses back to the
//    same header and frames;
//  - a version negotiation packet's list decodes, and re-encodes to the same list;
//  - parse_invariant_header agrees with every long header parse_packet accepted.
// Random mutations almost never keep a CRC32C right, so each input is also parsed with the
// first packet's trailer recomputed: that lets the fuzzer reach the frames.
// The first bytes also drive a check of packet-number truncation and recovery.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "proto/frames.h"
#include "proto/packet.h"
#include "proto/packet_number.h"
#include "proto/wire_cursor.h"
#include "simd/checksum.h"
#include "tests/fuzz/proto_fuzz_support.h"

namespace {

using namespace dwcp::proto;
using dwcp::fuzz::check;
using dwcp::fuzz::check_frame_round_trip;
using dwcp::fuzz::frames_equal;

// The frames of `packet`; `complete` is false when one failed to decode or was not allowed.
std::vector<Frame> read_frames(const ParsedPacket& packet, bool& complete) {
  std::vector<Frame> frames;
  FrameReader reader(packet.header.type, packet.payload);
  std::span<const std::byte> rest = packet.payload;
  complete = true;
  while (!reader.done()) {
    const auto frame = reader.next();
    const auto decoded = decode_frame(rest);
    if (!frame) {
      if (decoded) {
        check(frame.error() == Errc::frame_not_allowed &&
                  !frame_allowed(packet.header.type, frame_type(decoded->first)),
              "FrameReader fails on a frame decode_frame accepts and the packet allows");
      } else {
        check(frame.error() == decoded.error(), "FrameReader and decode_frame disagree");
      }
      check(reader.done(), "FrameReader goes on after an error");
      complete = false;
      break;
    }
    check(decoded.has_value() && frames_equal(**frame, decoded->first),
          "FrameReader returns another frame than decode_frame");
    check(decoded->second > 0 && decoded->second <= rest.size(), "frame size out of range");
    check(frame_allowed(packet.header.type, frame_type(**frame)),
          "FrameReader returns a frame the packet type does not allow");
    check_frame_round_trip(**frame, decoded->second);
    frames.push_back(**frame);
    rest = rest.subspan(decoded->second);
  }
  check(!complete || rest.empty(), "FrameReader done before the payload ends");
  return frames;
}

bool same_header(const PacketHeader& a, const PacketHeader& b) {
  return a.type == b.type && a.dcid == b.dcid && a.packet_number == b.packet_number &&
         a.packet_number_length == b.packet_number_length &&
         (a.type == PacketType::short_header || (a.version == b.version && a.scid == b.scid));
}

void check_rebuild(const ParsedPacket& packet, const std::vector<Frame>& frames,
                   std::size_t dcid_length) {
  const PacketHeader& h = packet.header;
  std::vector<std::byte> out(packet.packet_size + 256 * frames.size() + 64);
  auto builder =
      h.type == PacketType::short_header
          ? PacketBuilder::short_header(out, h.dcid, h.packet_number, h.packet_number_length)
          : PacketBuilder::long_header(out, h.type, h.dcid, h.scid, h.packet_number,
                                       h.packet_number_length, h.version);
  check(builder.has_value(), "PacketBuilder rejects a parsed header");
  for (const Frame& frame : frames) {
    check(builder->add(frame).has_value(), "PacketBuilder::add rejects a parsed frame");
  }
  const auto size = builder->finish();
  check(size.has_value(), "PacketBuilder::finish fails");
  const auto reparsed = parse_packet(std::span(out).first(*size), dcid_length);
  check(reparsed.has_value(), "parse_packet rejects a rebuilt packet");
  check(reparsed->packet_size == *size, "rebuilt packet size differs");
  check(same_header(h, reparsed->header), "rebuilt packet header differs");
  bool complete = false;
  const auto again = read_frames(*reparsed, complete);
  check(complete && again.size() == frames.size(), "rebuilt packet frames differ");
  for (std::size_t i = 0; i < frames.size(); ++i) {
    check(frames_equal(frames[i], again[i]), "rebuilt packet frame differs");
  }
}

void check_version_negotiation(const ParsedPacket& packet) {
  const std::size_t count = packet.payload.size() / 4;
  std::vector<std::uint32_t> versions(count);
  const auto decoded = decode_versions(packet.payload, versions);
  check(decoded && *decoded == count, "decode_versions count differs from payload / 4");
  const auto short_out = decode_versions(packet.payload, std::span(versions).first(count - 1));
  check(!short_out && short_out.error() == Errc::no_space,
        "decode_versions into a short list does not fail with no_space");

  std::vector<std::byte> out(packet.packet_size);
  const auto size =
      encode_version_negotiation(out, packet.header.dcid, packet.header.scid, versions);
  check(size && *size == packet.packet_size, "encode_version_negotiation size differs");
  const auto reparsed = parse_packet(std::span(out).first(*size));
  check(reparsed && reparsed->header.type == PacketType::version_negotiation &&
            reparsed->header.dcid == packet.header.dcid &&
            reparsed->header.scid == packet.header.scid,
        "re-encoded version negotiation header differs");
  std::vector<std::uint32_t> again(count);
  const auto count2 = decode_versions(reparsed->payload, again);
  check(count2 && again == versions, "re-encoded version list differs");
}

void parse_datagram(std::span<const std::byte> datagram, std::size_t dcid_length) {
  std::span<const std::byte> rest = datagram;
  for (int n = 0; n < 8 && !rest.empty(); ++n) {
    const auto packet = parse_packet(rest, dcid_length);
    if (!packet) return;
    check(packet->packet_size > 0 && packet->packet_size <= rest.size(),
          "packet_size out of range");
    check(packet->payload.data() >= rest.data() &&
              packet->payload.data() + packet->payload.size() + kTrailerSize <=
                  rest.data() + packet->packet_size,
          "payload outside the packet");
    const PacketHeader& h = packet->header;
    check(h.dcid.size() <= kMaxConnectionIdLength && h.scid.size() <= kMaxConnectionIdLength,
          "connection ID too long");

    if (h.type != PacketType::short_header) {
      const auto invariant = parse_invariant_header(rest);
      check(invariant && invariant->version == h.version && invariant->dcid == h.dcid &&
                invariant->scid == h.scid,
            "parse_invariant_header disagrees with parse_packet");
    }
    if (h.type == PacketType::version_negotiation) {
      check_version_negotiation(*packet);
    } else {
      check(h.packet_number_length >= 1 && h.packet_number_length <= 4 &&
                h.packet_number < (std::uint64_t{1} << (8 * h.packet_number_length)),
            "packet number wider than its length");
      bool complete = false;
      const auto frames = read_frames(*packet, complete);
      if (complete) check_rebuild(*packet, frames, dcid_length);
    }
    if (h.type == PacketType::short_header) return;  // runs to the end of the datagram
    rest = rest.subspan(packet->packet_size);
  }
}

// Where the first packet's trailer would start, if the header says; 0 otherwise.
std::size_t trailer_offset(std::span<const std::byte> datagram) {
  if (datagram.size() < 1 + kTrailerSize) return 0;
  if ((static_cast<std::uint8_t>(datagram[0]) & 0x80) == 0) return datagram.size() - kTrailerSize;
  WireReader r(datagram.subspan(5));
  r.bytes(r.u8());
  r.bytes(r.u8());
  const std::uint64_t length = r.varint();
  if (!r || length < kTrailerSize || length > r.remaining()) return 0;
  return 5 + r.consumed() + static_cast<std::size_t>(length) - kTrailerSize;
}

void parse_with_fixed_trailer(std::span<const std::byte> datagram) {
  const std::size_t at = trailer_offset(datagram);
  if (at == 0) return;
  std::vector<std::byte> copy(datagram.begin(), datagram.end());
  std::uint32_t crc = dwcp::simd::crc32c(std::span(copy).first(at));
  for (std::size_t i = 4; i-- > 0; crc >>= 8) copy[at + i] = static_cast<std::byte>(crc & 0xff);
  parse_datagram(copy, kConnectionIdLength);
}

std::uint64_t load_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// A receiver whose largest packet number lies between what the sender knows was
// acknowledged and the packet before this one recovers the full number from the truncated
// one, as long as the length was not capped at 4 bytes (RFC 9000 §17.1).
void check_packet_numbers(const std::uint8_t* data, std::size_t size) {
  if (size < 17) return;
  const std::uint64_t full = load_u64(data) & kMaxPacketNumber;
  const bool no_ack = (data[16] & 1) != 0 || full == 0;
  const std::uint64_t acked = no_ack ? kNoAck : full - 1 - (load_u64(data + 8) % full);
  const std::size_t length = packet_number_length(full, acked);
  check(length >= 1 && length <= 4, "packet_number_length out of 1..4");
  const std::uint64_t unacked = no_ack ? full + 1 : full - acked;
  if (unacked >= (std::uint64_t{1} << 31)) return;
  const std::uint64_t truncated = full & ((std::uint64_t{1} << (8 * length)) - 1);
  const std::uint64_t lowest = no_ack ? kNoAck : acked;
  check(decode_packet_number(lowest, truncated, length) == full,
        "packet number not recovered at the acknowledged end");
  if (full > 0) {
    check(decode_packet_number(full - 1, truncated, length) == full,
          "packet number not recovered after its predecessor");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> datagram(reinterpret_cast<const std::byte*>(data), size);
  parse_datagram(datagram, kConnectionIdLength);
  if (size > 0 && data[0] % 21 != kConnectionIdLength) parse_datagram(datagram, data[0] % 21);
  if (size > 0 && (data[0] & 0x80) == 0) {
    // Short headers have no invariant form.
    check(!parse_invariant_header(datagram), "parse_invariant_header accepts a short header");
  }
  parse_with_fixed_trailer(datagram);
  check_packet_numbers(data, size);
  return 0;
}
