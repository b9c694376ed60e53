// XOR-delta codec: a new version of a block sent as the XOR against the version the peer
// already holds, with the zero runs squeezed out.
//
// Format (version 1; all integers unsigned LEB128, 7 bits a byte, low group first, at
// most 10 bytes):
//
//   delta   = block_length token*
//   token   = zero_run literal_length literal_byte{literal_length}
//
// The tokens cover the new block exactly, in order: a zero run of z bytes means "the base's
// next z bytes are unchanged", a literal of L bytes carries new XOR base for the next L
// bytes. Where the new block is longer than the base, the base counts as zero bytes there,
// so the literal is the new bytes themselves. Every token covers at least one byte.
// A decoder rejects: a truncated integer or literal, an integer over 64 bits, a token
// covering no bytes or running past block_length, and bytes after the last token.
//
// This encoder ends a literal where at least kDeltaMinEqualRun equal bytes start, or where
// an equal run reaches the end of the block: shorter runs cost less inside the literal than
// a token boundary. Decoders accept any token split.
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
  truncated,    // decode: the delta ends inside an integer or a literal, or before the block
  malformed,    // decode: an over-long integer, an empty token, an overrun or trailing bytes
};
std::string_view to_string(DeltaErrc code) noexcept;

template <typename T>
using DeltaResult = std::expected<T, DeltaErrc>;

inline constexpr std::size_t kDeltaMinEqualRun = 8;

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
