// Checks shared by the proto fuzz targets: frame equality, the ACK range invariant and the
// encode/decode round trip of one decoded frame. Every failure aborts with a message, so
// libFuzzer and the replay driver both stop on it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <type_traits>
#include <variant>
#include <vector>

#include "proto/frames.h"
#include "proto/varint.h"

namespace dwcp::fuzz {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

inline std::vector<proto::PacketRange> collect_ranges(const proto::AckFrame& f) {
  std::vector<proto::PacketRange> out;
  for (const proto::PacketRange r : f.ranges()) out.push_back(r);
  return out;
}

// Largest first, each range well-formed, at least one missing number between neighbours.
inline bool ranges_well_formed(std::span<const proto::PacketRange> ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].smallest > ranges[i].largest || ranges[i].largest > proto::kMaxVarint) {
      return false;
    }
    // Written without `largest + 2` so that values near 2^64 cannot wrap into validity.
    if (i > 0 && (ranges[i].largest >= ranges[i - 1].smallest ||
                  ranges[i - 1].smallest - ranges[i].largest < 2)) {
      return false;
    }
  }
  return true;
}

inline void check_ack(const proto::AckFrame& f) {
  const auto ranges = collect_ranges(f);
  check(ranges.size() == f.range_count + 1, "ACK: ranges() count differs from range_count");
  check(ranges.front().largest == f.largest && ranges.front().smallest == f.largest - f.first_range,
        "ACK: first range differs from largest/first_range");
  check(ranges_well_formed(ranges), "ACK: ranges not descending, disjoint and non-adjacent");
}

inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return std::ranges::equal(a, b);
}

inline bool frames_equal(const proto::Frame& a, const proto::Frame& b) {
  using namespace proto;
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, AckFrame>) {
          return x.largest == y.largest && x.ack_delay == y.ack_delay &&
                 x.first_range == y.first_range && x.range_count == y.range_count &&
                 collect_ranges(x) == collect_ranges(y);
        } else if constexpr (std::is_same_v<T, ConnectionCloseFrame>) {
          return x.error_code == y.error_code && x.frame_type == y.frame_type &&
                 same_bytes(x.reason, y.reason);
        } else if constexpr (std::is_same_v<T, StreamFrame>) {
          return x.stream_id == y.stream_id && x.offset == y.offset && same_bytes(x.data, y.data) &&
                 x.fin == y.fin && x.message_end == y.message_end && x.has_length == y.has_length;
        } else if constexpr (std::is_same_v<T, DeltaBlockFrame>) {
          return x.stream_id == y.stream_id && x.record_offset == y.record_offset &&
                 x.key == y.key && x.base_version == y.base_version &&
                 x.new_version == y.new_version && x.block_length == y.block_length &&
                 x.block_crc32c == y.block_crc32c && x.encoding == y.encoding &&
                 x.record_length == y.record_length && x.fragment_offset == y.fragment_offset &&
                 same_bytes(x.fragment, y.fragment) && x.fin == y.fin;
        } else if constexpr (std::is_same_v<T, ClientHelloFrame>) {
          return same_bytes(x.cookie, y.cookie) && x.params == y.params;
        } else if constexpr (std::is_same_v<T, RetryFrame>) {
          return same_bytes(x.cookie, y.cookie);
        } else if constexpr (std::is_same_v<T, ServerHelloFrame>) {
          return x.params == y.params;
        } else {
          return x == y;
        }
      },
      a);
}

// `frame` came from decode_frame() and took `consumed` bytes. Encoding it must succeed in
// exactly its size (and fail with no_space one byte short); decoding that must give the
// same frame, and encoding again the same bytes.
inline void check_frame_round_trip(const proto::Frame& frame, std::size_t consumed) {
  using namespace proto;
  if (const auto* ack = std::get_if<AckFrame>(&frame)) check_ack(*ack);

  // Hellos re-encode every transport parameter, so they may grow by up to ~90 bytes.
  std::vector<std::byte> first(consumed + 256);
  const auto size = encode_frame(first, frame);
  check(size.has_value(), "encode_frame fails on a decoded frame");
  check(*size > 0 && *size <= first.size(), "encode_frame size out of range");
  first.resize(*size);

  std::vector<std::byte> short_buffer(*size - 1);
  const auto too_small = encode_frame(short_buffer, frame);
  check(!too_small && too_small.error() == Errc::no_space,
        "encode_frame into a buffer one byte short does not fail with no_space");

  const auto again = decode_frame(first);
  check(again.has_value(), "decode_frame rejects what encode_frame wrote");
  check(again->second == *size, "re-decoded frame does not take all its encoded bytes");
  check(frames_equal(frame, again->first), "frame differs after encode and decode");

  std::vector<std::byte> second(*size);
  const auto size2 = encode_frame(second, again->first);
  check(size2 && *size2 == *size && second == first, "second encoding differs from the first");

  if (const auto* ack = std::get_if<AckFrame>(&again->first)) {
    // encode_ack() from the list of ranges must give back the same ranges.
    check_ack(*ack);
    const auto ranges = collect_ranges(*ack);
    std::vector<std::byte> built(16 * ranges.size() + 32);
    const auto built_size = encode_ack(built, ranges, ack->ack_delay);
    check(built_size.has_value(), "encode_ack rejects the ranges of a decoded ACK");
    const auto rebuilt = decode_frame(std::span(built).first(*built_size));
    check(rebuilt && rebuilt->second == *built_size &&
              std::holds_alternative<AckFrame>(rebuilt->first),
          "decode_frame rejects what encode_ack wrote");
    check(collect_ranges(std::get<AckFrame>(rebuilt->first)) == ranges,
          "encode_ack changes the ranges");
  }
}

}  // namespace dwcp::fuzz
