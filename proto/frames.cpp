#include "proto/frames.h"

#include <array>
#include <cstring>

#include "proto/varint.h"
#include "proto/wire_cursor.h"

namespace dwcp::proto {
namespace {

constexpr std::uint8_t type_byte(FrameType type) noexcept {
  return static_cast<std::uint8_t>(type);
}

// ---- checks shared by encoder and decoder ----

bool stream_frame_valid(const StreamFrame& f) noexcept {
  return f.offset <= kMaxVarint && f.data.size() <= kMaxVarint - f.offset &&
         (!f.data.empty() || f.fin);
}

// `fragment_length` stands for f.fragment.size(): an encoder may write the fragment later.
bool delta_block_valid(const DeltaBlockFrame& f, std::size_t fragment_length) noexcept {
  if (f.block_length > kMaxBlockLength || f.new_version <= f.base_version) return false;
  // A record ends a message, and a message has a last byte.
  if (f.record_length == 0) return false;
  if (f.record_offset > kMaxVarint || f.record_length > kMaxVarint - f.record_offset) return false;
  if (f.fragment_offset > f.record_length ||
      fragment_length > f.record_length - f.fragment_offset) {
    return false;
  }
  switch (f.encoding) {
    case BlockEncoding::whole:
      return f.base_version == 0 && f.record_length == f.block_length;
    case BlockEncoding::xor_delta:
      return f.record_length < f.block_length;
  }
  return false;
}

Errc hello_cookie_error(std::size_t length) noexcept {
  return length > kMaxCookieLength ? Errc::limit_exceeded : Errc::invalid_value;
}

// ---- encoders ----

void write_transport_parameters(WireWriter& w, const TransportParameters& params) noexcept {
  std::array<std::byte, kMaxTransportParametersBytes> buffer{};
  auto size = encode_transport_parameters(buffer, params);
  if (!size) return w.fail(size.error());
  w.varint(*size);
  w.bytes(std::span(buffer).first(*size));
}

void write_cookie(WireWriter& w, std::span<const std::byte> cookie) noexcept {
  if (cookie.size() > kMaxCookieLength) return w.fail(Errc::limit_exceeded);
  w.varint(cookie.size());
  w.bytes(cookie);
}

void write(WireWriter& w, const PaddingFrame& f) noexcept {
  if (f.length == 0) return w.fail(Errc::invalid_value);
  w.zeros(f.length);
}
void write(WireWriter& w, const PingFrame&) noexcept {
  w.u8(type_byte(FrameType::ping));
}
void write(WireWriter& w, const AckFrame& f) noexcept {
  if (f.range_count > kMaxAckRanges) return w.fail(Errc::too_many_ack_ranges);
  if (f.first_range > f.largest) return w.fail(Errc::invalid_value);
  w.u8(type_byte(FrameType::ack));
  w.varint(f.largest);
  w.varint(f.ack_delay);
  w.varint(f.range_count);
  w.varint(f.first_range);
  w.bytes(f.range_bytes);
}
void write(WireWriter& w, const ResetStreamFrame& f) noexcept {
  w.u8(type_byte(FrameType::reset_stream));
  w.varint(f.stream_id);
  w.varint(f.error_code);
  w.varint(f.final_size);
}
void write(WireWriter& w, const MaxDataFrame& f) noexcept {
  w.u8(type_byte(FrameType::max_data));
  w.varint(f.maximum);
}
void write(WireWriter& w, const MaxStreamDataFrame& f) noexcept {
  w.u8(type_byte(FrameType::max_stream_data));
  w.varint(f.stream_id);
  w.varint(f.maximum);
}
void write(WireWriter& w, const MaxStreamsFrame& f) noexcept {
  if (f.maximum > kMaxStreams) return w.fail(Errc::invalid_value);
  w.u8(type_byte(FrameType::max_streams));
  w.varint(f.maximum);
}
void write(WireWriter& w, const DataBlockedFrame& f) noexcept {
  w.u8(type_byte(FrameType::data_blocked));
  w.varint(f.limit);
}
void write(WireWriter& w, const StreamDataBlockedFrame& f) noexcept {
  w.u8(type_byte(FrameType::stream_data_blocked));
  w.varint(f.stream_id);
  w.varint(f.limit);
}
void write(WireWriter& w, const ConnectionCloseFrame& f) noexcept {
  if (f.reason.size() > kMaxReasonLength) return w.fail(Errc::limit_exceeded);
  w.u8(type_byte(FrameType::connection_close));
  w.varint(f.error_code);
  w.varint(f.frame_type);
  w.varint(f.reason.size());
  w.bytes(f.reason);
}
void write(WireWriter& w, const PmtuProbeFrame& f) noexcept {
  if (f.probe_size < kMinDatagramSize || f.probe_size > kMaxDatagramSize) {
    return w.fail(Errc::invalid_value);
  }
  w.u8(type_byte(FrameType::pmtu_probe));
  w.varint(f.probe_size);
}
bool stream_header_valid(const StreamFrame& f, std::size_t length) noexcept {
  return f.offset <= kMaxVarint && length <= kMaxVarint - f.offset && (length != 0 || f.fin);
}
// The fields of a STREAM frame with `length` data bytes, without the data.
void write_stream_fields(WireWriter& w, const StreamFrame& f, std::size_t length) noexcept {
  if (!stream_header_valid(f, length)) return w.fail(Errc::invalid_value);
  std::uint8_t type = type_byte(FrameType::stream);
  if (f.fin) type |= stream_flags::kFin;
  if (f.message_end) type |= stream_flags::kMsg;
  if (f.has_length) type |= stream_flags::kLen;
  if (f.offset != 0) type |= stream_flags::kOff;
  w.u8(type);
  w.varint(f.stream_id);
  if (f.offset != 0) w.varint(f.offset);
  if (f.has_length) w.varint(length);
}
void write(WireWriter& w, const StreamFrame& f) noexcept {
  write_stream_fields(w, f, f.data.size());
  w.bytes(f.data);
}
// The fields of a DELTA_BLOCK frame whose fragment is `length` bytes (f.fragment unread).
void write_delta_block_fields(WireWriter& w, const DeltaBlockFrame& f,
                              std::size_t length) noexcept {
  if (!delta_block_valid(f, length)) return w.fail(Errc::invalid_value);
  w.u8(type_byte(FrameType::delta_block) | (f.fin ? 1u : 0u));
  w.varint(f.stream_id);
  w.varint(f.record_offset);
  w.varint(f.key);
  w.varint(f.base_version);
  w.varint(f.new_version);
  w.varint(f.block_length);
  w.u32(f.block_crc32c);
  w.u8(static_cast<std::uint8_t>(f.encoding));
  w.varint(f.record_length);
  w.varint(f.fragment_offset);
  w.varint(length);
}
void write(WireWriter& w, const DeltaBlockFrame& f) noexcept {
  write_delta_block_fields(w, f, f.fragment.size());
  w.bytes(f.fragment);
}
void write(WireWriter& w, const BlockRequestFrame& f) noexcept {
  if (f.version == 0) return w.fail(Errc::invalid_value);
  w.u8(type_byte(FrameType::block_request));
  w.varint(f.stream_id);
  w.varint(f.key);
  w.varint(f.version);
}
void write(WireWriter& w, const ClientHelloFrame& f) noexcept {
  w.u8(type_byte(FrameType::client_hello));
  write_cookie(w, f.cookie);
  write_transport_parameters(w, f.params);
}
void write(WireWriter& w, const RetryFrame& f) noexcept {
  if (f.cookie.empty()) return w.fail(Errc::invalid_value);
  w.u8(type_byte(FrameType::retry));
  write_cookie(w, f.cookie);
}
void write(WireWriter& w, const ServerHelloFrame& f) noexcept {
  w.u8(type_byte(FrameType::server_hello));
  write_transport_parameters(w, f.params);
}

// std::visit without its bad_variant_access path.
template <std::size_t I = 0>
void write_alternative(WireWriter& w, const Frame& frame) noexcept {
  if constexpr (I < std::variant_size_v<Frame>) {
    if (const auto* f = std::get_if<I>(&frame)) return write(w, *f);
    write_alternative<I + 1>(w, frame);
  }
}

// ---- decoders: the type byte is already consumed ----

AckFrame read_ack(WireReader& r, std::span<const std::byte> in) noexcept {
  AckFrame f;
  f.largest = r.varint();
  f.ack_delay = r.varint();
  f.range_count = r.varint();
  f.first_range = r.varint();
  if (!r) return f;
  if (f.range_count > kMaxAckRanges) {
    r.fail(Errc::too_many_ack_ranges);
    return f;
  }
  if (f.first_range > f.largest) {
    r.fail(Errc::invalid_value);
    return f;
  }
  // Walk the ranges once to check that none goes below packet number 0.
  const std::size_t start = r.consumed();
  std::uint64_t smallest = f.largest - f.first_range;
  for (std::uint64_t i = 0; i < f.range_count && r; ++i) {
    const std::uint64_t gap = r.varint();
    const std::uint64_t length = r.varint();
    if (!r) break;
    if (smallest < 2 || gap > smallest - 2) {
      r.fail(Errc::invalid_value);
      break;
    }
    const std::uint64_t largest = smallest - gap - 2;
    if (length > largest) {
      r.fail(Errc::invalid_value);
      break;
    }
    smallest = largest - length;
  }
  if (r) f.range_bytes = in.subspan(start, r.consumed() - start);
  return f;
}

StreamFrame read_stream(WireReader& r, std::uint8_t type) noexcept {
  StreamFrame f;
  f.fin = (type & stream_flags::kFin) != 0;
  f.message_end = (type & stream_flags::kMsg) != 0;
  f.has_length = (type & stream_flags::kLen) != 0;
  f.stream_id = r.varint();
  if ((type & stream_flags::kOff) != 0) f.offset = r.varint();
  f.data = f.has_length ? r.bytes(r.varint()) : r.rest();
  if (r && !stream_frame_valid(f)) r.fail(Errc::invalid_value);
  return f;
}

DeltaBlockFrame read_delta_block(WireReader& r, std::uint8_t type) noexcept {
  DeltaBlockFrame f;
  f.fin = (type & 1u) != 0;
  f.stream_id = r.varint();
  f.record_offset = r.varint();
  f.key = r.varint();
  f.base_version = r.varint();
  f.new_version = r.varint();
  f.block_length = r.varint();
  f.block_crc32c = r.u32();
  const std::uint8_t encoding = r.u8();
  f.record_length = r.varint();
  f.fragment_offset = r.varint();
  f.fragment = r.bytes(r.varint());
  if (!r) return f;
  if (encoding > static_cast<std::uint8_t>(BlockEncoding::xor_delta)) {
    r.fail(Errc::invalid_value);
    return f;
  }
  f.encoding = static_cast<BlockEncoding>(encoding);
  if (!delta_block_valid(f, f.fragment.size())) r.fail(Errc::invalid_value);
  return f;
}

std::span<const std::byte> read_cookie(WireReader& r) noexcept {
  const std::uint64_t length = r.varint();
  if (r && length > kMaxCookieLength) {
    r.fail(hello_cookie_error(length));
    return {};
  }
  return r.bytes(length);
}

TransportParameters read_transport_parameters(WireReader& r) noexcept {
  const std::uint64_t length = r.varint();
  if (r && length > kMaxTransportParametersBytes) {
    r.fail(Errc::limit_exceeded);
    return {};
  }
  const auto bytes = r.bytes(length);
  if (!r) return {};
  auto params = decode_transport_parameters(bytes);
  if (!params) {
    r.fail(params.error() == Errc::truncated ? Errc::transport_parameter : params.error());
    return {};
  }
  return *params;
}

}  // namespace

AckFrame::RangeIterator::RangeIterator(const AckFrame* frame, std::size_t index) noexcept
    : frame_(frame), index_(index) {
  if (index_ == 0) current_ = {frame->largest - frame->first_range, frame->largest};
}

AckFrame::RangeIterator& AckFrame::RangeIterator::operator++() noexcept {
  if (index_ < frame_->range_count) {
    // The decoder checked these bytes; a frame built by hand must be just as valid.
    const auto bytes = frame_->range_bytes.subspan(offset_);
    const auto gap = decode_varint(bytes);
    const auto length = decode_varint(bytes.subspan(gap ? gap->second : bytes.size()));
    if (gap && length) {
      offset_ += gap->second + length->second;
      const std::uint64_t largest = current_.smallest - gap->first - 2;
      current_ = {largest - length->first, largest};
    }
  }
  ++index_;
  return *this;
}

std::string_view to_string(FrameType type) noexcept {
  switch (type) {
    case FrameType::padding:
      return "PADDING";
    case FrameType::ping:
      return "PING";
    case FrameType::ack:
      return "ACK";
    case FrameType::reset_stream:
      return "RESET_STREAM";
    case FrameType::max_data:
      return "MAX_DATA";
    case FrameType::max_stream_data:
      return "MAX_STREAM_DATA";
    case FrameType::max_streams:
      return "MAX_STREAMS";
    case FrameType::data_blocked:
      return "DATA_BLOCKED";
    case FrameType::stream_data_blocked:
      return "STREAM_DATA_BLOCKED";
    case FrameType::connection_close:
      return "CONNECTION_CLOSE";
    case FrameType::pmtu_probe:
      return "PMTU_PROBE";
    case FrameType::stream:
      return "STREAM";
    case FrameType::delta_block:
      return "DELTA_BLOCK";
    case FrameType::block_request:
      return "BLOCK_REQUEST";
    case FrameType::client_hello:
      return "CLIENT_HELLO";
    case FrameType::retry:
      return "RETRY";
    case FrameType::server_hello:
      return "SERVER_HELLO";
  }
  return "UNKNOWN";
}

FrameType frame_type(const Frame& frame) noexcept {
  // In the order of the Frame variant's alternatives.
  static constexpr std::array<FrameType, std::variant_size_v<Frame>> kTypes{
      FrameType::padding,
      FrameType::ping,
      FrameType::ack,
      FrameType::reset_stream,
      FrameType::max_data,
      FrameType::max_stream_data,
      FrameType::max_streams,
      FrameType::data_blocked,
      FrameType::stream_data_blocked,
      FrameType::connection_close,
      FrameType::pmtu_probe,
      FrameType::stream,
      FrameType::delta_block,
      FrameType::block_request,
      FrameType::client_hello,
      FrameType::retry,
      FrameType::server_hello,
  };
  return kTypes[frame.index()];  // never valueless: every alternative is trivially copyable
}

bool is_ack_eliciting(const Frame& frame) noexcept {
  const FrameType type = frame_type(frame);
  return type != FrameType::padding && type != FrameType::ack &&
         type != FrameType::connection_close;
}

Result<std::size_t> encode_frame(std::span<std::byte> out, const Frame& frame) noexcept {
  WireWriter w(out);
  write_alternative(w, frame);
  return w.result();
}

Result<std::size_t> encode_stream_header(std::span<std::byte> out, const StreamFrame& frame,
                                         std::size_t length) noexcept {
  WireWriter w(out);
  write_stream_fields(w, frame, length);
  const std::size_t header = w.written();
  w.reserve(length);
  if (!w) return std::unexpected(w.error());
  return header;
}

Result<std::size_t> encode_delta_block_header(std::span<std::byte> out,
                                              const DeltaBlockFrame& frame,
                                              std::size_t length) noexcept {
  WireWriter w(out);
  write_delta_block_fields(w, frame, length);
  const std::size_t header = w.written();
  w.reserve(length);
  if (!w) return std::unexpected(w.error());
  return header;
}

Result<std::size_t> encode_ack(std::span<std::byte> out, std::span<const PacketRange> ranges,
                               std::uint64_t ack_delay) noexcept {
  if (ranges.empty()) return std::unexpected(Errc::invalid_value);
  if (ranges.size() > kMaxAckRanges + 1) return std::unexpected(Errc::too_many_ack_ranges);
  WireWriter w(out);
  const PacketRange& first = ranges.front();
  if (first.smallest > first.largest) return std::unexpected(Errc::invalid_value);
  w.u8(type_byte(FrameType::ack));
  w.varint(first.largest);
  w.varint(ack_delay);
  w.varint(ranges.size() - 1);
  w.varint(first.largest - first.smallest);
  std::uint64_t previous_smallest = first.smallest;
  for (const PacketRange& range : ranges.subspan(1)) {
    // Disjoint and non-adjacent: at least one missing number between ranges.
    if (range.smallest > range.largest || range.largest >= previous_smallest ||
        previous_smallest - range.largest < 2) {
      return std::unexpected(Errc::invalid_value);
    }
    w.varint(previous_smallest - range.largest - 2);
    w.varint(range.largest - range.smallest);
    previous_smallest = range.smallest;
  }
  return w.result();
}

Result<std::size_t> decode_frame(std::span<const std::byte> in, Frame& frame) noexcept {
  WireReader r(in);
  const auto type = static_cast<std::uint8_t>(r.minimal_type());
  if (!r) return r.failure();

  if (type == type_byte(FrameType::padding)) {
    std::size_t length = 1;
    while (length < in.size() && in[length] == std::byte{0}) ++length;
    frame = PaddingFrame{length};
    return length;
  }
  if ((type & 0xf0) == type_byte(FrameType::stream)) {
    frame = read_stream(r, type);
  } else if ((type & 0xfe) == type_byte(FrameType::delta_block)) {
    frame = read_delta_block(r, type);
  } else {
    switch (static_cast<FrameType>(type)) {
      case FrameType::ping:
        frame = PingFrame{};
        break;
      case FrameType::ack:
        frame = read_ack(r, in);
        break;
      case FrameType::reset_stream: {
        ResetStreamFrame f;
        f.stream_id = r.varint();
        f.error_code = r.varint();
        f.final_size = r.varint();
        frame = f;
        break;
      }
      case FrameType::max_data:
        frame = MaxDataFrame{r.varint()};
        break;
      case FrameType::block_request: {
        BlockRequestFrame f;
        f.stream_id = r.varint();
        f.key = r.varint();
        f.version = r.varint();
        if (r && f.version == 0) r.fail(Errc::invalid_value);
        frame = f;
        break;
      }
      case FrameType::max_stream_data: {
        MaxStreamDataFrame f;
        f.stream_id = r.varint();
        f.maximum = r.varint();
        frame = f;
        break;
      }
      case FrameType::max_streams: {
        const MaxStreamsFrame f{r.varint()};
        if (r && f.maximum > kMaxStreams) r.fail(Errc::invalid_value);
        frame = f;
        break;
      }
      case FrameType::data_blocked:
        frame = DataBlockedFrame{r.varint()};
        break;
      case FrameType::stream_data_blocked: {
        StreamDataBlockedFrame f;
        f.stream_id = r.varint();
        f.limit = r.varint();
        frame = f;
        break;
      }
      case FrameType::connection_close: {
        ConnectionCloseFrame f;
        f.error_code = r.varint();
        f.frame_type = r.varint();
        const std::uint64_t length = r.varint();
        if (r && length > kMaxReasonLength) r.fail(Errc::limit_exceeded);
        f.reason = r.bytes(length);
        frame = f;
        break;
      }
      case FrameType::pmtu_probe: {
        const PmtuProbeFrame f{r.varint()};
        if (r && (f.probe_size < kMinDatagramSize || f.probe_size > kMaxDatagramSize)) {
          r.fail(Errc::invalid_value);
        }
        frame = f;
        break;
      }
      case FrameType::client_hello: {
        ClientHelloFrame f;
        f.cookie = read_cookie(r);
        f.params = read_transport_parameters(r);
        frame = f;
        break;
      }
      case FrameType::retry: {
        const RetryFrame f{read_cookie(r)};
        if (r && f.cookie.empty()) r.fail(Errc::invalid_value);
        frame = f;
        break;
      }
      case FrameType::server_hello:
        frame = ServerHelloFrame{read_transport_parameters(r)};
        break;
      default:
        return std::unexpected(Errc::unknown_frame);
    }
  }
  if (!r) return r.failure();
  return r.consumed();
}

Result<std::pair<Frame, std::size_t>> decode_frame(std::span<const std::byte> in) noexcept {
  Frame frame;
  auto size = decode_frame(in, frame);
  if (!size) return std::unexpected(size.error());
  return std::pair{frame, *size};
}

}  // namespace dwcp::proto
