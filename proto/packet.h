// Packets (docs/protocol.md §3, §4): long and short headers, the CRC32C trailer, version
// negotiation, and assembling a packet from frames into a caller's buffer.
//
// parse_packet() verifies the trailer before it returns anything, and reads the header with
// every length checked; frames are then read from the payload with FrameReader, which also
// checks each frame against the packet type. Nothing here allocates.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "proto/errc.h"
#include "proto/frames.h"

namespace dwcp::proto {

inline constexpr std::uint32_t kVersion1 = 0x64770001;
inline constexpr std::uint32_t kVersionNegotiation = 0;
inline constexpr std::size_t kTrailerSize = 4;
inline constexpr std::size_t kMaxConnectionIdLength = 20;
inline constexpr std::size_t kConnectionIdLength = 8;  // what dwcp nodes issue
inline constexpr std::size_t kMinInitialDatagram = 1200;

// Versions this codec speaks.
constexpr bool is_supported_version(std::uint32_t version) noexcept {
  return version == kVersion1;
}
// Reserved for greasing: 0x?a?a?a?a, never selected.
constexpr bool is_reserved_version(std::uint32_t version) noexcept {
  return (version & 0x0f0f0f0fu) == 0x0a0a0a0au;
}

// A connection ID inside some bytes (a parsed header points into its datagram): no copy.
// At most kMaxConnectionIdLength bytes.
class ConnectionIdRef {
 public:
  constexpr ConnectionIdRef() = default;
  constexpr explicit ConnectionIdRef(std::span<const std::byte> bytes) noexcept
      : bytes_(bytes.first(std::min(bytes.size(), kMaxConnectionIdLength))) {}
  [[nodiscard]] constexpr std::span<const std::byte> bytes() const noexcept { return bytes_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return bytes_.size(); }
  friend bool operator==(ConnectionIdRef a, ConnectionIdRef b) noexcept {
    return std::ranges::equal(a.bytes_, b.bytes_);
  }

 private:
  std::span<const std::byte> bytes_;
};

// A connection ID held by value, for connection state and for building packets.
class ConnectionId {
 public:
  ConnectionId() = default;
  // The first kMaxConnectionIdLength bytes of `bytes` at most.
  explicit ConnectionId(std::span<const std::byte> bytes) noexcept
      : length_(static_cast<std::uint8_t>(std::min(bytes.size(), kMaxConnectionIdLength))) {
    std::copy_n(bytes.begin(), length_, bytes_.begin());
  }
  explicit ConnectionId(ConnectionIdRef ref) noexcept : ConnectionId(ref.bytes()) {}
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return std::span(bytes_).first(length_);
  }
  [[nodiscard]] std::size_t size() const noexcept { return length_; }
  // NOLINTNEXTLINE(google-explicit-constructor): a held ID is usable wherever a view is
  operator ConnectionIdRef() const noexcept { return ConnectionIdRef(bytes()); }
  friend bool operator==(const ConnectionId& a, const ConnectionId& b) noexcept {
    return std::ranges::equal(a.bytes(), b.bytes());
  }

 private:
  std::array<std::byte, kMaxConnectionIdLength> bytes_{};
  std::uint8_t length_ = 0;
};

enum class PacketType : std::uint8_t {
  initial = 0,    // long header, type 0
  handshake = 1,  // long header, type 1
  retry = 2,      // long header, type 2
  short_header,   // data
  version_negotiation,
};

struct PacketHeader {
  PacketType type = PacketType::short_header;
  std::uint32_t version = kVersion1;     // long headers only
  ConnectionIdRef dcid;                  // into the datagram
  ConnectionIdRef scid;                  // long headers only
  std::uint64_t packet_number = 0;       // truncated, as on the wire
  std::size_t packet_number_length = 1;  // 1..4
};

struct ParsedPacket {
  PacketHeader header;
  std::span<const std::byte> payload;  // frames (or the version list of a negotiation)
  std::size_t packet_size = 0;         // header + payload + trailer: where the next packet starts
};

// The version-independent part of a long header (docs/protocol.md §3.3): enough to answer
// an unknown version with version negotiation. malformed_header for a short header or one
// cut short.
struct InvariantHeader {
  std::uint32_t version = 0;
  ConnectionIdRef dcid;  // into the datagram
  ConnectionIdRef scid;
};
Result<InvariantHeader> parse_invariant_header(std::span<const std::byte> datagram) noexcept;

// The first packet of `datagram` (coalesced packets follow at packet_size). `short_dcid_length`
// is the length of the connection IDs this node issues. Errors: malformed_header,
// unsupported_version (a long header of another version), bad_checksum. A version
// negotiation packet comes back with its version list as payload (see decode_versions).
Result<ParsedPacket> parse_packet(std::span<const std::byte> datagram,
                                  std::size_t short_dcid_length = kConnectionIdLength) noexcept;

// Whether a packet of `type` may carry a frame of `frame` type (docs/protocol.md §3.1, §5).
bool frame_allowed(PacketType type, FrameType frame) noexcept;

// Reads the frames of a parsed packet one by one, checking each against the packet type.
class FrameReader {
 public:
  FrameReader(PacketType type, std::span<const std::byte> payload) noexcept
      : type_(type), rest_(payload) {}
  [[nodiscard]] bool done() const noexcept { return rest_.empty(); }
  // The next frame, valid until the next call; an error ends the packet
  // (frame_not_allowed among the decoder's).
  Result<const Frame*> next() noexcept;

 private:
  PacketType type_;
  std::span<const std::byte> rest_;
  Frame frame_;
};

// Assembles one packet into `out`: header first, then frames, then finish() writes the
// length field (long header) and the CRC32C trailer. Room for the trailer is kept back from
// the start, so add() fails with no_space rather than eat into it.
class PacketBuilder {
 public:
  // Long header of `type` (initial, handshake or retry). `full_packet_number` is
  // truncated to `packet_number_length` bytes (1..4).
  static Result<PacketBuilder> long_header(std::span<std::byte> out, PacketType type,
                                           ConnectionIdRef dcid, ConnectionIdRef scid,
                                           std::uint64_t full_packet_number,
                                           std::size_t packet_number_length,
                                           std::uint32_t version = kVersion1) noexcept;
  static Result<PacketBuilder> short_header(std::span<std::byte> out, ConnectionIdRef dcid,
                                            std::uint64_t full_packet_number,
                                            std::size_t packet_number_length) noexcept;

  // Appends a frame, checked against the packet type; bytes it took, or an error (the
  // packet is then unchanged).
  Result<std::size_t> add(const Frame& frame) noexcept;
  // Appends a STREAM frame's fields for `length` data bytes (frame.data is not read) and
  // returns the data area for the caller to fill before finish(); an error leaves the
  // packet unchanged (see encode_stream_header).
  Result<std::span<std::byte>> add_stream(const StreamFrame& frame, std::size_t length) noexcept;
  // The same for a DELTA_BLOCK frame with a fragment of `length` bytes (frame.fragment is
  // not read; see encode_delta_block_header).
  Result<std::span<std::byte>> add_delta_block(const DeltaBlockFrame& frame,
                                               std::size_t length) noexcept;
  // Appends an ACK of `ranges` (see encode_ack).
  Result<std::size_t> add_ack(std::span<const PacketRange> ranges,
                              std::uint64_t ack_delay) noexcept;
  // Bytes left for frames.
  [[nodiscard]] std::size_t room() const noexcept { return limit_ - pos_; }
  [[nodiscard]] std::size_t payload_size() const noexcept { return pos_ - header_size_; }
  // Fills with PADDING so the finished packet is `packet_size` bytes (no-op if it is
  // already as large, no_space if the buffer is smaller).
  Result<void> pad_to(std::size_t packet_size) noexcept;
  // Writes the length field and trailer; the size of the finished packet. The payload must
  // hold a frame (invalid_value otherwise).
  Result<std::size_t> finish() noexcept;

 private:
  PacketBuilder(std::span<std::byte> out, PacketType type, std::size_t header_size,
                std::size_t length_field) noexcept;

  std::span<std::byte> out_;
  PacketType type_;
  std::size_t header_size_;   // first payload byte
  std::size_t length_field_;  // offset of the long header's 4-byte Length, 0 for short
  std::size_t pos_;
  std::size_t limit_;  // out_.size() - kTrailerSize
};

// A version negotiation packet listing `versions` (docs/protocol.md §3.3); size written.
Result<std::size_t> encode_version_negotiation(std::span<std::byte> out, ConnectionIdRef dcid,
                                               ConnectionIdRef scid,
                                               std::span<const std::uint32_t> versions) noexcept;
// The versions of a parsed version negotiation packet's payload, written to `out`; how many.
// malformed_header if the payload is not a whole, non-empty list; no_space if `out` is short.
Result<std::size_t> decode_versions(std::span<const std::byte> payload,
                                    std::span<std::uint32_t> out) noexcept;

}  // namespace dwcp::proto
