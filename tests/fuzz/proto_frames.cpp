// The frame and transport-parameter decoders on raw bytes, and encode_ack on arbitrary
// range lists, all read from the same input:
//  - decode_frame frame after frame until one fails; each decoded frame must survive
//    encode_frame → decode_frame unchanged (proto_fuzz_support.h);
//  - decode_transport_parameters on the whole input; parameters it accepts must be valid
//    and encode → decode to themselves;
//  - the input as 16-byte (largest, smallest) pairs: encode_ack must succeed exactly when
//    the list is well formed, and what it writes must decode to the same ranges.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/frames.h"
#include "proto/transport_params.h"
#include "tests/fuzz/proto_fuzz_support.h"

namespace {

using namespace dwcp::proto;
using dwcp::fuzz::check;

void decode_frames(std::span<const std::byte> in) {
  while (!in.empty()) {
    const auto decoded = decode_frame(in);
    if (!decoded) return;
    check(decoded->second > 0 && decoded->second <= in.size(), "frame size out of range");
    dwcp::fuzz::check_frame_round_trip(decoded->first, decoded->second);
    in = in.subspan(decoded->second);
  }
}

void decode_parameters(std::span<const std::byte> in) {
  const auto params = decode_transport_parameters(in);
  if (!params) return;
  check(validate(*params).has_value(), "decoded transport parameters do not validate");
  std::array<std::byte, kMaxTransportParametersBytes> out{};
  const auto size = encode_transport_parameters(out, *params);
  check(size.has_value(), "encode_transport_parameters fails on decoded parameters");
  const auto again = decode_transport_parameters(std::span(out).first(*size));
  check(again && *again == *params, "transport parameters differ after encode and decode");
}

std::uint64_t load_u64(std::span<const std::byte> p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void encode_ranges(std::span<const std::byte> in) {
  if (in.size() < 17) return;
  // The top bits of each value are masked by a selector so that both small numbers and
  // ones at the edges of the varint range come up.
  const auto selector = static_cast<std::uint8_t>(in[0]);
  const std::uint64_t mask = (selector & 1)   ? ~std::uint64_t{0}
                             : (selector & 2) ? kMaxVarint
                                              : 0xffff;
  in = in.subspan(1);
  std::vector<PacketRange> ranges;
  for (; in.size() >= 16 && ranges.size() < kMaxAckRanges + 2; in = in.subspan(16)) {
    ranges.push_back({load_u64(in.subspan(8)) & mask, load_u64(in) & mask});
  }
  const std::uint64_t ack_delay = selector >> 2;
  std::vector<std::byte> out(16 * ranges.size() + 32);
  const auto size = encode_ack(out, ranges, ack_delay);
  const bool valid = ranges.size() <= kMaxAckRanges + 1 && dwcp::fuzz::ranges_well_formed(ranges);
  check(size.has_value() == valid, "encode_ack accepts a bad range list or rejects a good one");
  if (!size) return;
  const auto decoded = decode_frame(std::span(out).first(*size));
  check(decoded && decoded->second == *size && std::holds_alternative<AckFrame>(decoded->first),
        "decode_frame rejects what encode_ack wrote");
  check(dwcp::fuzz::collect_ranges(std::get<AckFrame>(decoded->first)) == ranges,
        "encode_ack changes the ranges");
  check(std::get<AckFrame>(decoded->first).ack_delay == ack_delay, "encode_ack changes the delay");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  decode_frames(in);
  decode_parameters(in);
  encode_ranges(in);
  return 0;
}
