// The XOR-delta codec written once over a vector "Ops" policy, and compiled once per SIMD
// level: each xor_kernels_<level>.cpp includes this file with its own compiler flags and
// its own Ops. Everything here has internal linkage, so no function compiled for a wider
// instruction set can stand in for the baseline one at link time.
//
// Ops provides, for one 64-byte chunk (see the format in xor_delta.h):
//   kWidth                          bytes per vector, for xor_into
//   void xor_vector(out, a, b)      out[0, kWidth) = a ^ b
//   unsigned word_mask(block, base) the chunk's word mask (0: unchanged)
//   size_t emit_chunk(data, masks, block, base, words)
//                                   writes the chunk's byte masks (one per bit of `words`,
//                                   its word mask) at `masks` and its changed XOR bytes at
//                                   `data`; returns the count of XOR bytes
//   size_t apply_chunk(out, from, masks, data, words, mask)
//                                   out[0, 64) = from[0, 64) ^ the chunk whose word mask
//                                   is `words`, byte masks start at `masks` and XOR bytes
//                                   at `data` (out may be from); returns the count of XOR
//                                   bytes, and sets `mask` to the changed positions
// emit_chunk may store, and apply_chunk may load, 8 bytes at `masks` and 64 at `data`
// whatever the counts; the loops below give them that room.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "simd/xor_delta.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {  // NOLINT(cert-dcl59-cpp,google-build-namespaces): one copy per instruction set

static_assert(kDeltaChunkBytes == 64 && kDeltaWordBytes == 8 && kDeltaSegmentBytes == 4096);

inline constexpr std::size_t kChunksPerSegment = kDeltaSegmentBytes / kDeltaChunkBytes;
// Room past a stream that emit_chunk and apply_chunk may touch.
inline constexpr std::size_t kMaskSlack = 8;
inline constexpr std::size_t kDataSlack = kDeltaChunkBytes;
// The most a segment's masks and XOR bytes span: word masks, byte masks, bytes.
inline constexpr std::size_t kSegmentBodyMax =
    kChunksPerSegment + kDeltaSegmentBytes / kDeltaWordBytes + kDeltaSegmentBytes;

inline unsigned bit_count(std::uint64_t v) noexcept {
#ifdef __POPCNT__
  return static_cast<unsigned>(__builtin_popcountll(v));
#else
  // No POPCNT in the baseline instruction set, and libgcc's fallback is a call.
  v -= (v >> 1) & 0x5555555555555555ULL;
  v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<unsigned>((v * 0x0101010101010101ULL) >> 56);
#endif
}

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

// memcpy in this level's vectors: glibc's memcpy, called here for the base, ran at half the
// speed of the same copy in the benchmark on Zen 5 (likely its REP MOVSB path).
template <typename Ops>
void copy_impl(std::byte* out, const std::byte* in, std::size_t n) noexcept {
  constexpr std::size_t step = 4 * Ops::kWidth;
  std::size_t i = 0;
  for (; i + step <= n; i += step) std::memcpy(out + i, in + i, step);
  std::memcpy(out + i, in + i, n - i);
}

inline std::uint64_t load64(const std::byte* p) noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store64(std::byte* p, std::uint64_t v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

// Bit j set when byte j of x is nonzero.
inline unsigned nonzero_bytes(std::uint64_t x) noexcept {
  constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  // 0x80 in every nonzero byte (no carries cross bytes: 0x7f + 0x7f < 0x100).
  const std::uint64_t high = (((x & kLow7) + kLow7) | x) & ~kLow7;
  // Gather the eight 0x80 bits into the low byte, byte j to bit j.
  return static_cast<unsigned>(((high >> 7) * 0x0102040810204080ULL) >> 56);
}

// PSHUFB controls for one 8-byte word, by byte mask: `compress` moves the marked bytes to
// the front in order, `expand` moves the front bytes out to the marked places. 0x80 zeroes.
struct ShuffleTables {
  std::array<std::uint64_t, 256> compress{};
  std::array<std::uint64_t, 256> expand{};
};

constexpr ShuffleTables make_shuffle_tables() noexcept {
  ShuffleTables t;
  for (unsigned mask = 0; mask < 256; ++mask) {
    std::uint64_t compress = 0;
    std::uint64_t expand = 0;
    unsigned rank = 0;
    for (unsigned j = 0; j < 8; ++j) {
      if ((mask >> j & 1u) != 0) {
        compress |= std::uint64_t{j} << (8 * rank);
        expand |= std::uint64_t{rank} << (8 * j);
        ++rank;
      } else {
        expand |= std::uint64_t{0x80} << (8 * j);
      }
    }
    for (unsigned r = rank; r < 8; ++r) compress |= std::uint64_t{0x80} << (8 * r);
    t.compress[mask] = compress;
    t.expand[mask] = expand;
  }
  return t;
}

// The chunk writer of the word-sized levels (scalar, sse2): `x` holds the chunk's 8 XOR
// words, `words` its word mask. Stores every candidate byte and advances by its bit, so
// the positions of the changes cost no branches; only the changed words are visited.
inline std::size_t emit_chunk_words(std::byte* data, std::byte* masks, const std::uint64_t* x,
                                    unsigned words) noexcept {
  std::byte* p = data;
  for (unsigned left = words; left != 0; left &= left - 1) {
    const auto w = static_cast<unsigned>(__builtin_ctz(left));
    const std::uint64_t v = x[w];
    const unsigned mask = nonzero_bytes(v);
    *masks++ = static_cast<std::byte>(mask);
    for (unsigned j = 0; j < 8; ++j) {
      *p = static_cast<std::byte>(v >> (8 * j));
      p += mask >> j & 1u;
    }
  }
  return static_cast<std::size_t>(p - data);
}

// The reader matching emit_chunk_words: reads each candidate byte, keeps it by its bit.
inline std::size_t apply_chunk_words(std::byte* out, const std::byte* from, const std::byte* masks,
                                     const std::byte* data, unsigned words,
                                     std::uint64_t& byte_mask) noexcept {
  const std::byte* p = data;
  std::array<std::uint64_t, 8> x{};
  std::uint64_t all = 0;
  for (unsigned left = words; left != 0; left &= left - 1) {
    const auto w = static_cast<unsigned>(__builtin_ctz(left));
    const auto mask = static_cast<unsigned>(*masks++);
    std::uint64_t v = 0;
    for (unsigned j = 0; j < 8; ++j) {
      const unsigned bit = mask >> j & 1u;
      v |= std::uint64_t{static_cast<std::uint8_t>(*p) & (0u - bit)} << (8 * j);
      p += bit;
    }
    x[w] = v;
    all |= std::uint64_t{mask} << (8 * w);
  }
  for (std::size_t w = 0; w < 8; ++w) store64(out + 8 * w, load64(from + 8 * w) ^ x[w]);
  byte_mask = all;
  return static_cast<std::size_t>(p - data);
}

// Set bits in the bytes [p, p + len).
inline std::size_t bits_in(const std::byte* p, std::size_t len) noexcept {
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) count += bit_count(load64(p + i));
  std::uint64_t rest = 0;  // byte by byte: a memcpy of a variable length is a call
  for (std::size_t k = 0; i + k < len; ++k) {
    rest |= std::uint64_t{static_cast<std::uint8_t>(p[i + k])} << (8 * k);
  }
  return count + bit_count(rest);
}

inline std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline std::byte* put_varint(std::byte* out, std::uint64_t v) noexcept {
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

// A chunk the fast paths cannot take (short, or past the base), copied into full 64-byte
// buffers: zeros past the block, and past the base.
struct StagedChunk {
  alignas(64) std::array<std::byte, kDeltaChunkBytes> block{};
  alignas(64) std::array<std::byte, kDeltaChunkBytes> base{};

  StagedChunk(const std::byte* block_at, std::size_t block_len, const std::byte* base_at,
              std::size_t base_len) noexcept {
    if (block_len != 0) std::memcpy(block.data(), block_at, block_len);
    if (base_len != 0) std::memcpy(base.data(), base_at, base_len);
  }
};

// Bits 0 .. count-1 set, count <= 64.
inline std::uint64_t low_bits(std::size_t count) noexcept {
  return count >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << count) - 1;
}

// Per segment, pass 1 takes every chunk's word mask (a cheap test), which gives the chunk
// map and the length of every stream; pass 2 compresses only the changed chunks, straight
// to their places. Unchanged data then runs at load speed.
template <typename Ops>
DeltaResult<std::size_t> encode_impl(const std::byte* base, std::size_t base_len,
                                     const std::byte* block, std::size_t n,
                                     std::byte* out) noexcept {
  const std::size_t common = base_len < n ? base_len : n;
  if (varint_size(n) >= n) return std::unexpected(DeltaErrc::not_smaller);
  std::byte* p = put_varint(out, n);
  std::byte* const limit = out + n;  // the delta must end before this

  // Chunk `at` staged: block bytes up to n, base bytes up to the common length.
  auto stage = [&](std::size_t at) noexcept {
    const std::size_t block_len = n - at < kDeltaChunkBytes ? n - at : kDeltaChunkBytes;
    const std::size_t base_left = common > at ? common - at : 0;
    return StagedChunk(block + at, block_len, base_left != 0 ? base + at : nullptr,
                       base_left < kDeltaChunkBytes ? base_left : kDeltaChunkBytes);
  };

  for (std::size_t seg = 0; seg < n; seg += kDeltaSegmentBytes) {
    const std::size_t seg_len = n - seg < kDeltaSegmentBytes ? n - seg : kDeltaSegmentBytes;
    const std::size_t chunks = (seg_len + kDeltaChunkBytes - 1) / kDeltaChunkBytes;
    const std::size_t map_bytes = (chunks + 7) / 8;
    // Chunks wholly inside both block and base take the fast path.
    const std::size_t inside = common > seg ? common - seg : 0;
    const std::size_t full = (inside < seg_len ? inside : seg_len) / kDeltaChunkBytes;

    // Eight chunks' word masks at a time, as one 64-bit word: its nonzero bytes are eight
    // bits of the chunk map, its bits the byte masks to come.
    std::array<std::byte, kChunksPerSegment> words{};
    std::uint64_t map = 0;
    std::size_t mask_count = 0;
    std::size_t c = 0;
    for (; c + 8 <= full; c += 8) {
      std::uint64_t eight = 0;
      for (std::size_t k = 0; k < 8; ++k) {
        const std::size_t at = seg + (c + k) * kDeltaChunkBytes;
        eight |= std::uint64_t{Ops::word_mask(block + at, base + at)} << (8 * k);
      }
      store64(words.data() + c, eight);
      map |= std::uint64_t{nonzero_bytes(eight)} << c;
      mask_count += bit_count(eight);
    }
    for (; c < chunks; ++c) {
      const std::size_t at = seg + c * kDeltaChunkBytes;
      unsigned w = 0;
      if (c < full) {
        w = Ops::word_mask(block + at, base + at);
      } else {
        const StagedChunk s = stage(at);
        w = Ops::word_mask(s.block.data(), s.base.data());
      }
      words[c] = static_cast<std::byte>(w);
      map |= std::uint64_t{w != 0} << c;
      mask_count += bit_count(w);
    }
    const std::size_t chunk_count = bit_count(map);
    if (static_cast<std::size_t>(limit - p) <= map_bytes + chunk_count + mask_count) {
      return std::unexpected(DeltaErrc::not_smaller);
    }
    for (std::size_t i = 0; i < map_bytes; ++i) p[i] = static_cast<std::byte>(map >> (8 * i));
    p += map_bytes;
    for (std::uint64_t left = map; left != 0; left &= left - 1) {
      *p++ = words[static_cast<std::size_t>(__builtin_ctzll(left))];
    }

    // Byte masks go to a local buffer first: their 8-byte stores would run into XOR bytes
    // already written behind them.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): written before read
    std::array<std::byte, kDeltaSegmentBytes / kDeltaWordBytes + kMaskSlack> masks;
    std::size_t mask_at = 0;
    std::byte* data = p + mask_count;
    std::uint64_t left = map;
    // With room for 8 bytes per byte mask, no chunk can reach the limit: no check per chunk.
    if (static_cast<std::size_t>(limit - data) >= 8 * mask_count + kDataSlack) {
      for (std::uint64_t fast = left & low_bits(full); fast != 0; fast &= fast - 1) {
        const auto k = static_cast<std::size_t>(__builtin_ctzll(fast));
        const std::size_t at = seg + k * kDeltaChunkBytes;
        const auto w = static_cast<unsigned>(words[k]);
        data += Ops::emit_chunk(data, masks.data() + mask_at, block + at, base + at, w);
        mask_at += bit_count(w);
      }
      left &= ~low_bits(full);
    }
    for (; left != 0; left &= left - 1) {
      const auto k = static_cast<std::size_t>(__builtin_ctzll(left));
      const std::size_t at = seg + k * kDeltaChunkBytes;
      const auto w = static_cast<unsigned>(words[k]);
      if (k < full && static_cast<std::size_t>(limit - data) >= kDataSlack) {
        data += Ops::emit_chunk(data, masks.data() + mask_at, block + at, base + at, w);
      } else {
        const StagedChunk s =
            k < full ? StagedChunk(block + at, kDeltaChunkBytes, base + at, kDeltaChunkBytes)
                     : stage(at);
        std::array<std::byte, kDataSlack> staged{};
        const std::size_t len = Ops::emit_chunk(staged.data(), masks.data() + mask_at,
                                                s.block.data(), s.base.data(), w);
        if (static_cast<std::size_t>(limit - data) <= len) {
          return std::unexpected(DeltaErrc::not_smaller);
        }
        std::memcpy(data, staged.data(), len);
        data += len;
      }
      mask_at += bit_count(w);
    }
    std::memcpy(p, masks.data(), mask_count);
    p = data;
  }
  if (p >= limit) return std::unexpected(DeltaErrc::not_smaller);
  return static_cast<std::size_t>(p - out);
}

// Copies the base (zeros past its end) into `out` first, then rebuilds each changed chunk
// over it: unchanged data then costs one large memcpy. Changed chunks are read from the
// base, not from `out`, so they never wait for the memcpy's stores. Each segment's stream
// lengths are checked against the delta before any of it is used.
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
  if (out != base && from_base != 0) copy_impl<Ops>(out, base, from_base);
  if (n > from_base) std::memset(out + from_base, 0, n - from_base);

  for (std::size_t seg = 0; seg < n; seg += kDeltaSegmentBytes) {
    const std::size_t seg_len = n - seg < kDeltaSegmentBytes ? n - seg : kDeltaSegmentBytes;
    const std::size_t chunks = (seg_len + kDeltaChunkBytes - 1) / kDeltaChunkBytes;
    const std::size_t map_bytes = (chunks + 7) / 8;
    if (static_cast<std::size_t>(end - in) < map_bytes) {
      return std::unexpected(DeltaErrc::truncated);
    }
    std::uint64_t map = 0;
    for (std::size_t i = 0; i < map_bytes; ++i) {
      map |= std::uint64_t{static_cast<std::uint8_t>(in[i])} << (8 * i);
    }
    in += map_bytes;
    if ((map & ~low_bits(chunks)) != 0) return std::unexpected(DeltaErrc::malformed);

    // The three streams' lengths, each known once the one before it is read.
    std::size_t left = static_cast<std::size_t>(end - in);
    const std::size_t chunk_count = bit_count(map);
    if (left < chunk_count) return std::unexpected(DeltaErrc::truncated);
    left -= chunk_count;
    const std::size_t mask_count = bits_in(in, chunk_count);
    if (left < mask_count) return std::unexpected(DeltaErrc::truncated);
    left -= mask_count;
    const std::size_t byte_count = bits_in(in + chunk_count, mask_count);
    if (left < byte_count) return std::unexpected(DeltaErrc::truncated);
    const std::size_t body_len = chunk_count + mask_count + byte_count;

    // The kernels read past the streams: near the delta's end, read a padded copy.
    const std::byte* body = in;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init): 4.7 KB, filled only if used
    std::array<std::byte, kSegmentBodyMax + kDataSlack> copy;
    if (static_cast<std::size_t>(end - in) - body_len < kDataSlack) {
      std::memcpy(copy.data(), in, body_len);
      std::memset(copy.data() + body_len, 0, kDataSlack);
      body = copy.data();
    }
    in += body_len;

    const std::byte* word_masks = body;
    const std::byte* masks = body + chunk_count;
    const std::byte* data = masks + mask_count;
    // Chunks wholly inside the base first (a prefix of the segment's), with no checks.
    const std::size_t inside = from_base > seg ? from_base - seg : 0;
    const std::size_t full = (inside < seg_len ? inside : seg_len) / kDeltaChunkBytes;
    for (std::uint64_t fast = map & low_bits(full); fast != 0; fast &= fast - 1) {
      const auto c = static_cast<std::size_t>(__builtin_ctzll(fast));
      const std::size_t at = seg + c * kDeltaChunkBytes;
      const auto words = static_cast<unsigned>(*word_masks++);
      std::uint64_t mask = 0;
      data += Ops::apply_chunk(out + at, base + at, masks, data, words, mask);
      masks += bit_count(words);
    }
    for (map &= ~low_bits(full); map != 0; map &= map - 1) {
      const auto c = static_cast<std::size_t>(__builtin_ctzll(map));
      const std::size_t at = seg + c * kDeltaChunkBytes;
      const auto words = static_cast<unsigned>(*word_masks++);
      // A short chunk, or one past the base: rebuilt in a local copy, its masks checked
      // against the block's end.
      const std::size_t chunk_len = n - at < kDeltaChunkBytes ? n - at : kDeltaChunkBytes;
      alignas(64) std::array<std::byte, kDeltaChunkBytes> staged{};
      std::memcpy(staged.data(), out + at, chunk_len);
      std::uint64_t mask = 0;
      data += Ops::apply_chunk(staged.data(), staged.data(), masks, data, words, mask);
      const std::size_t word_count = (chunk_len + kDeltaWordBytes - 1) / kDeltaWordBytes;
      if ((words & ~low_bits(word_count)) != 0 || (mask & ~low_bits(chunk_len)) != 0) {
        return std::unexpected(DeltaErrc::malformed);
      }
      std::memcpy(out + at, staged.data(), chunk_len);
      masks += bit_count(words);
    }
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
