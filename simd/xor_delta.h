// XOR-delta codec: a new version of a block sent as the XOR against the version the peer
// already holds, with the unchanged bytes left out. Where the new block is longer than the
// base, the base counts as zero bytes there (so a changed byte there is the new byte).
//
// Format (version 2). x[i] = block[i] XOR base[i] for i < block_length; byte i "changed"
// when x[i] != 0.
//
//   delta    = block_length segment*
//   segment  = chunk_map word_mask{K} byte_mask{W} xor_byte{B}
//
// block_length is an unsigned LEB128 integer (7 bits a byte, low group first, at most 10
// bytes, at most 64 bits). The block is cut into segments of 4096 bytes, the last one
// shorter (no segment for an empty block), each segment into chunks of 64 bytes and each
// chunk into words of 8 bytes, the last of each shorter. Bit b of a byte is
// (byte >> b) & 1. In a segment of L bytes:
//
//   chunk_map  ceil(ceil(L / 64) / 8) bytes. Bit c % 8 of byte c / 8 is set when chunk c
//              holds a changed byte. K = number of set bits.
//   word_mask  one per set map bit, in chunk order: bit w set when word w of that chunk
//              holds a changed byte. W = set bits in all K word masks.
//   byte_mask  one per set word-mask bit, in chunk then word order: bit j set when byte j
//              of that word changed. B = set bits in all W byte masks.
//   xor_byte   x[i] for each set byte-mask bit, in block order.
//
// Segments follow each other with nothing between; the delta ends after the last one.
// Sizes: an unchanged segment costs its map (8 bytes for 4096); a changed byte costs at
// most 3 bytes plus its share of the map. Why this format: every level builds and reads a
// chunk without branching on the data (VPCOMPRESSB/VPEXPANDB on AVX-512, PSHUFB tables on
// AVX2), and with the streams grouped, where a chunk's masks and bytes start does not
// depend on unpacking the chunk before it.
//
// A decoder rejects, as truncated, a delta that ends inside block_length, a chunk map or
// one of a segment's three streams (whose lengths K, W, B it knows from the part before);
// as malformed, an integer over 64 bits, a map, word-mask or byte-mask bit for a chunk,
// word or byte at or past block_length, and bytes after the last segment. Order within a
// segment: the map's length, the map's bits, the three streams' lengths, then the mask
// bits; the first failure is the error. It accepts a zero word mask, a zero byte mask and
// a zero xor_byte, none of which this encoder writes: they only spend bytes, and rebuild
// the same block as a clear bit. The encoder's output is the canonical delta of a block;
// decoding never depends on which form was sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>

namespace dwcp::simd {

enum class DeltaErrc : std::uint8_t {
  not_smaller,  // encode: the delta would not be smaller than the block; send it whole
  no_space,     // the output span is smaller than the operation needs
  truncated,    // decode: the delta ends inside an integer, a map or a stream
  malformed,    // decode: an over-long integer, a bit past the block, or trailing bytes
};
std::string_view to_string(DeltaErrc code) noexcept;

template <typename T>
using DeltaResult = std::expected<T, DeltaErrc>;

inline constexpr std::size_t kDeltaSegmentBytes = 4096;  // one chunk map each
inline constexpr std::size_t kDeltaChunkBytes = 64;      // one bit of a chunk map
inline constexpr std::size_t kDeltaWordBytes = 8;        // one bit of a word mask

// Output room encode_delta needs for a block of `block_size` bytes. A successful encoding
// is always shorter than the block, so a buffer of the block's size suffices.
constexpr std::size_t max_encoded_size(std::size_t block_size) noexcept {
  return block_size;
}

// out[i] = a[i] ^ b[i] for i < out.size(); `a` and `b` must be at least that long (else
// no_space, nothing written). `out` may be `a` or `b` itself, but not overlap them
// otherwise. Any length, any alignment.
DeltaResult<void> xor_into(std::span<std::byte> out, std::span<const std::byte> a,
                           std::span<const std::byte> b) noexcept;

// Encodes `block` against `base` into `out`; returns the delta's length, always less than
// block.size(). Errors: no_space if out.size() < max_encoded_size(block.size());
// not_smaller if the delta would be block.size() bytes or more (also for an empty block).
DeltaResult<std::size_t> encode_delta(std::span<const std::byte> base,
                                      std::span<const std::byte> block,
                                      std::span<std::byte> out) noexcept;

// The length of the block a delta rebuilds, read from its first integer.
DeltaResult<std::uint64_t> delta_block_size(std::span<const std::byte> delta) noexcept;

// Rebuilds the new block from `base` and `delta` into `out`; returns its length. Every
// length in the delta is checked against the delta, the block length and `out` before a
// byte is written there: garbage gives truncated or malformed, never a read or write out
// of bounds. no_space if `out` is shorter than the block. `out` may be `base` itself (in
// place), but must not overlap it otherwise. On error, `out` holds unspecified bytes.
DeltaResult<std::size_t> decode_delta(std::span<const std::byte> base,
                                      std::span<const std::byte> delta,
                                      std::span<std::byte> out) noexcept;

}  // namespace dwcp::simd
