// Errors of the wire codec, and the connection error codes of docs/protocol.md §8.
#pragma once

#include <cstdint>
#include <expected>
#include <string_view>

namespace dwcp::proto {

// What a codec function reports instead of a value. Decoders never read past their span
// and encoders never write past theirs; these say why they stopped.
enum class Errc : std::uint8_t {
  no_space,             // encode: the output span is too small
  truncated,            // decode: the input ends inside a field or frame
  value_too_large,      // encode: a variable-length integer above 2^62 - 1
  unknown_frame,        // decode: a frame type not listed, or not one byte long
  invalid_value,        // a field out of its range, or fields that contradict each other
  too_many_ack_ranges,  // an ACK frame with more than kMaxAckRanges further ranges
  limit_exceeded,       // a reason, cookie or parameter list longer than its limit
  transport_parameter,  // a duplicate, malformed or out-of-range transport parameter
  frame_not_allowed,    // a frame type that the packet type may not carry
  malformed_header,     // fixed or reserved bits wrong, a long CID, a short datagram
  unsupported_version,  // a long header with a version this codec does not speak
  bad_checksum,         // the packet's CRC32C trailer does not match
};

std::string_view to_string(Errc code) noexcept;

template <typename T>
using Result = std::expected<T, Errc>;

// CONNECTION_CLOSE error codes (docs/protocol.md §8).
enum class TransportError : std::uint64_t {
  no_error = 0x0,
  internal_error = 0x1,
  connection_refused = 0x2,
  flow_control_error = 0x3,
  stream_limit_error = 0x4,
  stream_state_error = 0x5,
  final_size_error = 0x6,
  frame_encoding_error = 0x7,
  transport_parameter_error = 0x8,
  protocol_violation = 0x9,
  invalid_cookie = 0xa,
  version_not_supported = 0xb,
};
inline constexpr std::uint64_t kFirstApplicationError = 0x100;

std::string_view to_string(TransportError code) noexcept;

// Packet-level errors drop the datagram (anyone can forge one); frame-level errors inside
// a packet whose trailer verified close the connection with this code.
bool drops_packet(Errc code) noexcept;
TransportError close_code(Errc code) noexcept;

}  // namespace dwcp::proto
