// Frames (docs/protocol.md §5): one struct per frame type, one variant over them all, and an
// encoder and decoder for each.
//
// Decoded frames refer into the decoded bytes (data, reason, cookie, ACK ranges): they are
// valid as long as those bytes are. decode_frame() checks every length against its input and
// every field against its range; it never reads past the span. encode_frame() returns the
// bytes written or no_space, and never writes past the span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "proto/errc.h"
#include "proto/transport_params.h"

namespace dwcp::proto {

inline constexpr std::size_t kMaxAckRanges = 256;  // further ranges after the first
inline constexpr std::size_t kMaxReasonLength = 1024;
inline constexpr std::size_t kMaxCookieLength = 255;
inline constexpr std::uint64_t kMaxBlockLength = std::uint64_t{16} << 20;
inline constexpr std::uint64_t kMaxStreams = std::uint64_t{1} << 60;

enum class FrameType : std::uint8_t {
  padding = 0x00,
  ping = 0x01,
  ack = 0x02,
  reset_stream = 0x03,
  max_data = 0x04,
  max_stream_data = 0x05,
  max_streams = 0x06,
  data_blocked = 0x07,
  stream_data_blocked = 0x08,
  connection_close = 0x09,
  pmtu_probe = 0x0a,
  stream = 0x10,       // 0x10..0x1f, low bits are StreamFlags
  delta_block = 0x20,  // 0x20..0x21, low bit is FIN
  block_request = 0x22,
  client_hello = 0x30,
  retry = 0x31,
  server_hello = 0x32,
};

namespace stream_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kMsg = 0x02;
inline constexpr std::uint8_t kLen = 0x04;
inline constexpr std::uint8_t kOff = 0x08;
}  // namespace stream_flags

// An inclusive range of packet numbers.
struct PacketRange {
  std::uint64_t smallest = 0;
  std::uint64_t largest = 0;
  friend bool operator==(const PacketRange&, const PacketRange&) = default;
};

// A run of PADDING bytes decodes as one frame.
struct PaddingFrame {
  std::size_t length = 1;
  friend bool operator==(const PaddingFrame&, const PaddingFrame&) = default;
};

struct PingFrame {
  friend bool operator==(const PingFrame&, const PingFrame&) = default;
};

// An ACK as it is on the wire: the first range in fields, the further ranges as encoded
// (gap, length) pairs, already checked by the decoder. ranges() walks them downwards.
// Build one with encode_ack() from a list of ranges.
struct AckFrame {
  std::uint64_t largest = 0;
  std::uint64_t ack_delay = 0;  // units of 2^ack_delay_exponent microseconds
  std::uint64_t first_range = 0;
  std::uint64_t range_count = 0;  // further ranges in range_bytes
  std::span<const std::byte> range_bytes;

  class RangeIterator {
   public:
    using value_type = PacketRange;
    using difference_type = std::ptrdiff_t;
    RangeIterator() = default;
    RangeIterator(const AckFrame* frame, std::size_t index) noexcept;
    PacketRange operator*() const noexcept { return current_; }
    RangeIterator& operator++() noexcept;
    RangeIterator operator++(int) noexcept {
      RangeIterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const RangeIterator& a, const RangeIterator& b) noexcept {
      return a.index_ == b.index_;
    }

   private:
    const AckFrame* frame_ = nullptr;
    std::size_t index_ = 0;   // 0 is the first range
    std::size_t offset_ = 0;  // into range_bytes
    PacketRange current_;
  };
  struct Ranges {
    const AckFrame* frame;
    [[nodiscard]] RangeIterator begin() const noexcept { return {frame, 0}; }
    [[nodiscard]] RangeIterator end() const noexcept {
      return {frame, static_cast<std::size_t>(frame->range_count) + 1};
    }
  };
  // Every acknowledged range, largest first. Only valid for a frame from decode_frame().
  [[nodiscard]] Ranges ranges() const noexcept { return {this}; }
};

struct ResetStreamFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t error_code = 0;
  std::uint64_t final_size = 0;
  friend bool operator==(const ResetStreamFrame&, const ResetStreamFrame&) = default;
};
struct MaxDataFrame {
  std::uint64_t maximum = 0;
  friend bool operator==(const MaxDataFrame&, const MaxDataFrame&) = default;
};
struct MaxStreamDataFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t maximum = 0;
  friend bool operator==(const MaxStreamDataFrame&, const MaxStreamDataFrame&) = default;
};
struct MaxStreamsFrame {
  std::uint64_t maximum = 0;  // ≤ kMaxStreams
  friend bool operator==(const MaxStreamsFrame&, const MaxStreamsFrame&) = default;
};
struct DataBlockedFrame {
  std::uint64_t limit = 0;
  friend bool operator==(const DataBlockedFrame&, const DataBlockedFrame&) = default;
};
struct StreamDataBlockedFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t limit = 0;
  friend bool operator==(const StreamDataBlockedFrame&, const StreamDataBlockedFrame&) = default;
};

struct ConnectionCloseFrame {
  std::uint64_t error_code = 0;       // TransportError, or ≥ kFirstApplicationError
  std::uint64_t frame_type = 0;       // the frame that caused the error, 0 if none
  std::span<const std::byte> reason;  // ≤ kMaxReasonLength
};

struct PmtuProbeFrame {
  std::uint64_t probe_size = 0;  // kMinDatagramSize..kMaxDatagramSize
  friend bool operator==(const PmtuProbeFrame&, const PmtuProbeFrame&) = default;
};

struct StreamFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t offset = 0;
  std::span<const std::byte> data;
  bool fin = false;          // the stream ends with this frame's last byte
  bool message_end = false;  // the last data byte ends a message
  // Encode only: false omits the length field, so the data runs to the end of the packet
  // (the frame must then be the packet's last). Decoded frames report which form came.
  bool has_length = true;
};

enum class BlockEncoding : std::uint8_t { whole = 0, xor_delta = 1 };

struct DeltaBlockFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t record_offset = 0;  // stream offset of the record's first byte
  std::uint64_t key = 0;
  std::uint64_t base_version = 0;  // 0 for a whole block
  std::uint64_t new_version = 0;   // > base_version
  std::uint64_t block_length = 0;  // ≤ kMaxBlockLength
  std::uint32_t block_crc32c = 0;  // CRC32C of the rebuilt block
  BlockEncoding encoding = BlockEncoding::whole;
  std::uint64_t record_length = 0;    // bytes of the encoded block
  std::uint64_t fragment_offset = 0;  // within the record
  std::span<const std::byte> fragment;
  bool fin = false;
};

// Asks the peer to send its current version of `key` on `stream_id` whole: the requester
// holds `version` of the key but could not rebuild it (docs/protocol.md §5.11).
struct BlockRequestFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t key = 0;
  std::uint64_t version = 0;  // ≥ 1
  friend bool operator==(const BlockRequestFrame&, const BlockRequestFrame&) = default;
};

// Transport parameters travel decoded; the decoder rejects invalid ones.
struct ClientHelloFrame {
  std::span<const std::byte> cookie;  // empty on the first attempt; ≤ kMaxCookieLength
  TransportParameters params;
};
struct RetryFrame {
  std::span<const std::byte> cookie;  // 1..kMaxCookieLength
};
struct ServerHelloFrame {
  TransportParameters params;
};

using Frame =
    std::variant<PaddingFrame, PingFrame, AckFrame, ResetStreamFrame, MaxDataFrame,
                 MaxStreamDataFrame, MaxStreamsFrame, DataBlockedFrame, StreamDataBlockedFrame,
                 ConnectionCloseFrame, PmtuProbeFrame, StreamFrame, DeltaBlockFrame,
                 BlockRequestFrame, ClientHelloFrame, RetryFrame, ServerHelloFrame>;
// Frames are plain values referring into packet bytes: cheap to copy, never valueless.
static_assert(std::is_trivially_copyable_v<Frame>);

// The name docs/protocol.md gives the type: "ACK", "STREAM", ...
std::string_view to_string(FrameType type) noexcept;

// The base type of a frame (StreamFrame → stream, whatever its flags).
FrameType frame_type(const Frame& frame) noexcept;
// Frames a receiver must acknowledge: all but PADDING, ACK and CONNECTION_CLOSE.
bool is_ack_eliciting(const Frame& frame) noexcept;

// Bytes written, or no_space, value_too_large, invalid_value (a field out of range, e.g.
// empty STREAM data without FIN), limit_exceeded, too_many_ack_ranges.
Result<std::size_t> encode_frame(std::span<std::byte> out, const Frame& frame) noexcept;

// Writes the fields of a STREAM frame carrying `length` data bytes (`frame.data` is not
// read: only its fields are), and reserves those bytes right after them for the caller to
// fill. Returns the header size; out[header size, header size + length) is the data area.
// Same errors as encode_frame() for the frame with that much data. Lets a sender copy
// stream bytes once, straight into the packet.
Result<std::size_t> encode_stream_header(std::span<std::byte> out, const StreamFrame& frame,
                                         std::size_t length) noexcept;

// The same for a DELTA_BLOCK frame with a fragment of `length` bytes: writes its fields and
// returns their size; out[size, size + length) is the fragment's area.
Result<std::size_t> encode_delta_block_header(std::span<std::byte> out,
                                              const DeltaBlockFrame& frame,
                                              std::size_t length) noexcept;

// Encodes an ACK of `ranges`, which must be disjoint, non-adjacent and sorted largest
// first (invalid_value otherwise); at most kMaxAckRanges + 1 of them.
Result<std::size_t> encode_ack(std::span<std::byte> out, std::span<const PacketRange> ranges,
                               std::uint64_t ack_delay) noexcept;

// One frame from the start of `in`, and the bytes it took. Errors: truncated,
// unknown_frame, invalid_value, too_many_ack_ranges, limit_exceeded, transport_parameter.
Result<std::pair<Frame, std::size_t>> decode_frame(std::span<const std::byte> in) noexcept;
// The same into `frame` (left unspecified on error); the bytes it took. Saves a copy of
// the frame on hot paths.
Result<std::size_t> decode_frame(std::span<const std::byte> in, Frame& frame) noexcept;

}  // namespace dwcp::proto
