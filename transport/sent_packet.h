// What the sender remembers about a packet until it is acknowledged or declared lost: its
// size and time for loss recovery and congestion control, a delivery-rate snapshot, and
// what it carried, so that lost data can be sent again in new packets.
#pragma once

#include <array>
#include <cstdint>

#include "transport/clock.h"

namespace dwcp::transport {

// A stretch of one stream's bytes. The stream's send buffer knows where messages end
// inside it, so a retransmission can be cut differently from the original. No default
// values: a packet's unused chunks are never read, and a record is made per packet sent.
struct StreamChunk {
  std::uint64_t stream_id;
  std::uint64_t offset;
  std::uint32_t length;  // within one packet
  bool fin;
};

// Control frames a packet carried that must be sent again (with current values) if it is
// lost, as bits.
namespace control_frame {
inline constexpr std::uint16_t kMaxData = 1u << 0;
inline constexpr std::uint16_t kMaxStreams = 1u << 1;
inline constexpr std::uint16_t kDataBlocked = 1u << 2;
inline constexpr std::uint16_t kHandshake = 1u << 3;      // a hello: the handshake resends it
inline constexpr std::uint16_t kMaxStreamData = 1u << 4;  // for the streams in `chunks`
inline constexpr std::uint16_t kResetStream = 1u << 5;    // idem
inline constexpr std::uint16_t kClose = 1u << 6;
inline constexpr std::uint16_t kBlockRequest = 1u << 7;  // BLOCK_REQUESTs: those standing
inline constexpr std::uint16_t kPmtuProbe = 1u << 8;     // a path MTU probe: never sent again
}  // namespace control_frame

struct SentPacket {
  // Stretches of different streams (or of one stream, not back to back) in one packet.
  static constexpr std::size_t kMaxChunks = 8;

  // User-provided, so that SentPacket{} does not zero the chunks first: only the first
  // chunk_count are ever read, and zeroing them all (a rep stos per packet) was a fifth of
  // the samples in Connection::send_data.
  // NOLINTNEXTLINE(modernize-use-equals-default,cppcoreguidelines-pro-type-member-init)
  SentPacket() noexcept {}

  std::uint64_t packet_number = 0;
  Instant sent_time;
  std::uint32_t bytes = 0;  // UDP payload bytes
  bool ack_eliciting = false;
  bool in_flight = false;  // counted in bytes in flight (all but ACK-only packets)

  // Delivery-rate snapshot at send time (draft-cheng-iccrg-delivery-rate-estimation).
  std::uint64_t delivered = 0;
  Instant delivered_time;
  Instant first_sent_time;
  bool is_app_limited = false;

  std::array<StreamChunk, kMaxChunks> chunks;  // the first chunk_count hold values
  std::uint8_t chunk_count = 0;
  std::uint16_t control = 0;  // control_frame bits

  // A path MTU probe: its loss is no congestion signal (docs/protocol.md §7.5).
  [[nodiscard]] bool is_pmtu_probe() const noexcept {
    return (control & control_frame::kPmtuProbe) != 0;
  }

  // Bookkeeping of the loss detector.
  enum class State : std::uint8_t { in_flight, acked, lost };
  State state = State::in_flight;
};

}  // namespace dwcp::transport
