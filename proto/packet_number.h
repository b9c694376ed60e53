// Packet numbers on the wire: truncated to 1-4 bytes by the sender, recovered by the
// receiver from the largest number it has seen (docs/protocol.md §3.4, RFC 9000 §17.1 and
// Appendix A).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "proto/varint.h"

namespace dwcp::proto {

inline constexpr std::uint64_t kMaxPacketNumber = kMaxVarint;

// The length dwcp's senders use: the longest. RFC 9000's shortest safe length (below) counts
// on packet protection to reject a number recovered wrongly, and a CRC does not: a packet
// held back in the network until the receiver's window moved past half its truncated range
// would be read as a number still to come. Acknowledging it would acknowledge data the real
// packet carried, which the receiver then drops as a duplicate. Four bytes put that half
// range at 2^31 packets.
inline constexpr std::size_t kSentPacketNumberLength = 4;

// The fewest bytes to send `packet_number` in, when `largest_acked` is the largest number
// the peer has acknowledged (or no packet has been acknowledged: pass `no_ack`): enough to
// represent twice the unacknowledged range (RFC 9000 §17.1).
inline constexpr std::uint64_t kNoAck = ~std::uint64_t{0};
constexpr std::size_t packet_number_length(std::uint64_t packet_number,
                                           std::uint64_t largest_acked) noexcept {
  const std::uint64_t unacked =
      largest_acked == kNoAck ? packet_number + 1 : packet_number - largest_acked;
  // More than 2 * unacked distinct values: one bit above the unacked count's width.
  const auto bits = static_cast<std::size_t>(std::bit_width(unacked)) + 1;
  const std::size_t bytes = (bits + 7) / 8;
  return bytes > 4 ? 4 : bytes;
}

// The full packet number closest to largest_received + 1 whose low 8 * length bits are
// `truncated` (RFC 9000 Appendix A.3). `largest_received` is kNoAck before any packet.
constexpr std::uint64_t decode_packet_number(std::uint64_t largest_received,
                                             std::uint64_t truncated, std::size_t length) noexcept {
  const std::uint64_t expected = largest_received == kNoAck ? 0 : largest_received + 1;
  const std::uint64_t window = std::uint64_t{1} << (8 * length);
  const std::uint64_t half = window / 2;
  const std::uint64_t mask = window - 1;
  const std::uint64_t candidate = (expected & ~mask) | truncated;
  if (candidate + half <= expected && candidate < (std::uint64_t{1} << 62) - window) {
    return candidate + window;
  }
  if (candidate > expected + half && candidate >= window) return candidate - window;
  return candidate;
}

}  // namespace dwcp::proto
