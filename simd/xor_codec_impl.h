// The XOR-delta codec written once over a vector "Ops" policy, and compiled once per SIMD
// level: each xor_kernels_<level>.cpp includes this file with its own compiler flags and
// its own Ops. Everything here has internal linkage, so no function compiled for a wider
// instruction set can stand in for the baseline one at link time.
//
// Ops provides:
//   kWidth                       bytes per vector (8, 16, 32 or 64)
//   Mask equal_mask(a, b)        bit i set when a[i] == b[i], i < kWidth
//   void xor_vector(out, a, b)   out[0, kWidth) = a ^ b
//   bool equal4(a, b)            a[0, 4 * kWidth) == b[0, 4 * kWidth)
// Loads are unaligned and never reach past the lengths given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd/xor_delta.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {  // NOLINT(cert-dcl59-cpp,google-build-namespaces): one copy per instruction set

template <typename Ops>
inline constexpr std::uint64_t kFullMask = Ops::kWidth == 64
                                               ? ~std::uint64_t{0}
                                               : (std::uint64_t{1} << Ops::kWidth) - 1;

template <typename Ops>
void xor_into_impl(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 4 * Ops::kWidth <= n; i += 4 * Ops::kWidth) {
    Ops::xor_vector(out + i, a + i, b + i);
    Ops::xor_vector(out + i + Ops::kWidth, a + i + Ops::kWidth, b + i + Ops::kWidth);
    Ops::xor_vector(out + i + 2 * Ops::kWidth, a + i + 2 * Ops::kWidth, b + i + 2 * Ops::kWidth);
    Ops::xor_vector(out + i + 3 * Ops::kWidth, a + i + 3 * Ops::kWidth, b + i + 3 * Ops::kWidth);
  }
  for (; i + Ops::kWidth <= n; i += Ops::kWidth) Ops::xor_vector(out + i, a + i, b + i);
  for (; i < n; ++i) out[i] = a[i] ^ b[i];
}

// Count of leading positions where a and b hold the same byte.
template <typename Ops>
std::size_t equal_prefix(const std::byte* a, const std::byte* b, std::size_t n) noexcept {
  std::size_t i = 0;
  // Four vectors per step, tested together (XOR, OR, one test), while all are equal: long
  // unchanged runs are the common case. The masks are only computed for the step that
  // holds the first difference.
  constexpr std::size_t w = Ops::kWidth;
  for (; i + 4 * w <= n; i += 4 * w) {
    if (Ops::equal4(a + i, b + i)) continue;
    for (std::size_t v = 0;; v += w) {
      const std::uint64_t m = Ops::equal_mask(a + i + v, b + i + v);
      if (m != kFullMask<Ops>) return i + v + static_cast<std::size_t>(__builtin_ctzll(~m));
    }
  }
  for (; i + Ops::kWidth <= n; i += Ops::kWidth) {
    const std::uint64_t m = Ops::equal_mask(a + i, b + i);
    if (m != kFullMask<Ops>) {
      return i + static_cast<std::size_t>(__builtin_ctzll(~m));
    }
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Bit i of the result is set when bits i .. i+kDeltaMinEqualRun-1 of `equal` all are.
template <typename Word>
Word equal_run_starts(Word equal) noexcept {
  static_assert(kDeltaMinEqualRun == 8);
  equal &= equal >> 1;
  equal &= equal >> 2;
  equal &= equal >> 4;
  return equal;
}

// Where the literal that starts at `start` ends: the first position from which
// kDeltaMinEqualRun equal bytes follow, or from which equal bytes reach the end of the
// block (only when `common` is the block's end); `common` if neither.
template <typename Ops>
std::size_t literal_end(const std::byte* block, const std::byte* base, std::size_t start,
                        std::size_t common, bool common_is_end) noexcept {
  constexpr std::size_t w = Ops::kWidth;
  std::size_t i = start;
  if (i + 2 * w <= common) {
    std::uint64_t current = Ops::equal_mask(block + i, base + i);
    for (; i + 2 * w <= common; i += w) {
      const std::uint64_t next = Ops::equal_mask(block + i + w, base + i + w);
      // A run starting in `current` may end in `next`: look at both, keep starts in current.
      std::uint64_t starts = 0;
      if constexpr (w == 64) {
        const unsigned __int128 window =
            (static_cast<unsigned __int128>(next) << 64) | static_cast<unsigned __int128>(current);
        starts = static_cast<std::uint64_t>(equal_run_starts(window));
      } else {
        starts = equal_run_starts(current | (next << w)) & kFullMask<Ops>;
      }
      if (starts != 0) return i + static_cast<std::size_t>(__builtin_ctzll(starts));
      current = next;
    }
  }
  // Fewer than two vectors left. No run found above began before i, and none that began
  // before i reaches `common` (it would have been long enough to be found), so a run
  // counted from i is the whole run.
  std::size_t run_start = common;
  for (std::size_t p = i; p < common; ++p) {
    if (block[p] != base[p]) {
      run_start = common;
      continue;
    }
    if (run_start == common) run_start = p;
    if (p + 1 - run_start >= kDeltaMinEqualRun) return run_start;
  }
  return common_is_end ? run_start : common;
}

inline constexpr std::size_t kMaxVarint = 10;  // bytes of a 64-bit LEB128 integer

inline std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline std::byte* put_varint(std::byte* out, std::uint64_t v) noexcept {
  if (v < 0x80) {  // the usual token length
    *out = static_cast<std::byte>(v);
    return out + 1;
  }
  while (v >= 0x80) {
    *out++ = static_cast<std::byte>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<std::byte>(v);
  return out;
}

// Reads one integer from [*in, end); false when truncated or over 64 bits (*error says
// which).
inline bool get_varint(const std::byte*& in, const std::byte* end, std::uint64_t& v,
                       DeltaErrc& error) noexcept {
  if (in != end && static_cast<std::uint8_t>(*in) < 0x80) {  // the usual token length
    v = static_cast<std::uint8_t>(*in++);
    return true;
  }
  v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (in == end) {
      error = DeltaErrc::truncated;
      return false;
    }
    const auto byte = static_cast<std::uint8_t>(*in++);
    if (shift == 63 && byte > 1) break;
    v |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80u) == 0) return true;
  }
  error = DeltaErrc::malformed;
  return false;
}

template <typename Ops>
DeltaResult<std::size_t> encode_impl(const std::byte* base, std::size_t base_len,
                                     const std::byte* block, std::size_t n,
                                     std::byte* out) noexcept {
  const std::size_t common = base_len < n ? base_len : n;
  std::byte* const out_begin = out;
  const std::size_t header = varint_size(n);
  if (header >= n) return std::unexpected(DeltaErrc::not_smaller);
  out = put_varint(out, n);

  std::size_t pos = 0;
  while (pos < n) {
    const std::size_t zero_start = pos;
    pos += equal_prefix<Ops>(block + pos, base + pos, pos < common ? common - pos : 0);
    std::size_t literal_start = pos;
    std::size_t literal_stop = pos;
    if (pos < common) {
      literal_stop = literal_end<Ops>(block, base, pos, common, common == n);
    }
    if (literal_stop >= common) literal_stop = n;  // past the base everything is literal
    if (pos == n) literal_stop = n;

    const std::size_t zero_len = literal_start - zero_start;
    const std::size_t literal_len = literal_stop - literal_start;
    const auto used = static_cast<std::size_t>(out - out_begin);
    // Stay strictly below n; checked before writing, so out never passes n bytes.
    if (used + varint_size(zero_len) + varint_size(literal_len) + literal_len >= n) {
      return std::unexpected(DeltaErrc::not_smaller);
    }
    out = put_varint(out, zero_len);
    out = put_varint(out, literal_len);
    // A literal of at most one vector, inside the base, with a vector of room left in the
    // output: one XOR and one store; the bytes stored past the literal are overwritten next.
    if (literal_len <= Ops::kWidth && literal_start + Ops::kWidth <= common &&
        used + 2 * kMaxVarint + Ops::kWidth < n) {
      Ops::xor_vector(out, block + literal_start, base + literal_start);
      out += literal_len;
      pos = literal_stop;
      continue;
    }
    const std::size_t xor_stop = literal_stop < common ? literal_stop : common;
    if (xor_stop > literal_start) {
      xor_into_impl<Ops>(out, block + literal_start, base + literal_start,
                         xor_stop - literal_start);
      out += xor_stop - literal_start;
    }
    if (literal_stop > xor_stop) {
      const std::size_t start = xor_stop > literal_start ? xor_stop : literal_start;
      std::memcpy(out, block + start, literal_stop - start);
      out += literal_stop - start;
    }
    pos = literal_stop;
  }
  return static_cast<std::size_t>(out - out_begin);
}

// Copies the base (zeros past its end) into `out` first, then XORs each literal into
// place: unchanged runs then cost one large memcpy, not one small copy per token.
template <typename Ops>
DeltaResult<std::size_t> decode_impl(const std::byte* base, std::size_t base_len,
                                     const std::byte* delta, std::size_t delta_len, std::byte* out,
                                     std::size_t out_cap) noexcept {
  const std::byte* in = delta;
  const std::byte* const end = delta + delta_len;
  DeltaErrc error = DeltaErrc::malformed;
  std::uint64_t n64 = 0;
  if (!get_varint(in, end, n64, error)) return std::unexpected(error);
  if (n64 > out_cap) return std::unexpected(DeltaErrc::no_space);
  const auto n = static_cast<std::size_t>(n64);

  const std::size_t from_base = base_len < n ? base_len : n;
  if (out != base) std::memcpy(out, base, from_base);
  if (n > from_base) std::memset(out + from_base, 0, n - from_base);

  std::size_t pos = 0;
  while (pos < n) {
    std::uint64_t zero_len = 0;
    std::uint64_t literal_len = 0;
    if (!get_varint(in, end, zero_len, error) || !get_varint(in, end, literal_len, error)) {
      return std::unexpected(error);
    }
    const std::size_t room = n - pos;
    if (zero_len > room || literal_len > room - zero_len || zero_len + literal_len == 0) {
      return std::unexpected(DeltaErrc::malformed);
    }
    const auto available = static_cast<std::size_t>(end - in);
    if (literal_len > available) return std::unexpected(DeltaErrc::truncated);
    pos += zero_len;
    if (literal_len <= 8 && available >= 8 && n - pos >= 8) {
      // A short literal, the usual case for scattered changes: one masked 64-bit XOR. The
      // bytes past the literal are XORed with zero, so they keep their value.
      std::uint64_t word = 0;
      std::uint64_t literal = 0;
      std::memcpy(&word, out + pos, 8);
      std::memcpy(&literal, in, 8);
      const std::uint64_t mask =
          literal_len == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * literal_len)) - 1;
      word ^= literal & mask;
      std::memcpy(out + pos, &word, 8);
    } else {
      xor_into_impl<Ops>(out + pos, in, out + pos, literal_len);
    }
    in += literal_len;
    pos += literal_len;
  }
  if (in != end) return std::unexpected(DeltaErrc::malformed);
  return n;
}

// The kernel table of one level: the functions above, instantiated with that level's Ops.
template <typename Ops>
constexpr XorKernels make_xor_kernels(SimdLevel level) noexcept {
  return {level, &xor_into_impl<Ops>, &encode_impl<Ops>, &decode_impl<Ops>};
}

}  // namespace
}  // namespace dwcp::simd::detail
