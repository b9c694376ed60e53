// Byte-at-a-time reference for the XOR-delta codec: the tier every variant is tested
// against. Written for clarity, not speed, straight from the format in simd/xor_delta.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "simd/xor_delta.h"

namespace dwcp::test {

inline void reference_xor(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = a[i] ^ b[i];
}

inline void reference_put_varint(std::vector<std::byte>& out, std::uint64_t v) {
  do {
    const auto low = static_cast<std::uint8_t>(v & 0x7f);
    v >>= 7;
    out.push_back(static_cast<std::byte>(low | (v != 0 ? 0x80 : 0)));
  } while (v != 0);
}

// nullopt when the delta would not be smaller than the block.
inline std::optional<std::vector<std::byte>> reference_encode(std::span<const std::byte> base,
                                                              std::span<const std::byte> block) {
  using simd::kDeltaChunkBytes;
  using simd::kDeltaSegmentBytes;
  using simd::kDeltaWordBytes;
  const std::size_t n = block.size();
  // The XOR at i; the base counts as zeros past its end.
  auto x = [&](std::size_t i) { return i < base.size() ? block[i] ^ base[i] : block[i]; };
  auto changed = [&](std::size_t from, std::size_t len) {
    for (std::size_t i = from; i < std::min(from + len, n); ++i) {
      if (x(i) != std::byte{0}) return true;
    }
    return false;
  };

  std::vector<std::byte> out;
  reference_put_varint(out, n);
  for (std::size_t seg = 0; seg < n; seg += kDeltaSegmentBytes) {
    const std::size_t seg_end = std::min(seg + kDeltaSegmentBytes, n);
    const std::size_t chunks = (seg_end - seg + kDeltaChunkBytes - 1) / kDeltaChunkBytes;
    std::vector<std::byte> map((chunks + 7) / 8);
    std::vector<std::byte> word_masks;
    std::vector<std::byte> byte_masks;
    std::vector<std::byte> bytes;
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t chunk = seg + c * kDeltaChunkBytes;
      if (!changed(chunk, kDeltaChunkBytes)) continue;
      map[c / 8] |= static_cast<std::byte>(1u << (c % 8));
      unsigned words = 0;
      for (std::size_t w = 0; w < 8; ++w) {
        const std::size_t word = chunk + w * kDeltaWordBytes;
        if (!changed(word, kDeltaWordBytes)) continue;
        words |= 1u << w;
        unsigned mask = 0;
        for (std::size_t j = 0; j < 8 && word + j < n; ++j) {
          if (x(word + j) != std::byte{0}) mask |= 1u << j;
        }
        byte_masks.push_back(static_cast<std::byte>(mask));
      }
      word_masks.push_back(static_cast<std::byte>(words));
      for (std::size_t i = chunk; i < std::min(chunk + kDeltaChunkBytes, n); ++i) {
        if (x(i) != std::byte{0}) bytes.push_back(x(i));
      }
    }
    for (const auto* part : {&map, &word_masks, &byte_masks, &bytes}) {
      out.insert(out.end(), part->begin(), part->end());
    }
  }
  if (out.size() >= n) return std::nullopt;
  return out;
}

// The block `delta` rebuilds from `base`, or the error a decoder must report; `out_cap`
// as in decode_delta. Per segment: the chunk map (truncated, then malformed), the three
// streams (truncated), then each chunk's bits past the block (malformed).
inline simd::DeltaResult<std::vector<std::byte>> reference_decode(std::span<const std::byte> base,
                                                                  std::span<const std::byte> delta,
                                                                  std::size_t out_cap) {
  using simd::DeltaErrc;
  using simd::kDeltaChunkBytes;
  using simd::kDeltaSegmentBytes;
  using simd::kDeltaWordBytes;
  std::size_t in = 0;
  // The next `count` bytes, or nullopt if the delta ends first.
  auto take = [&](std::size_t count) -> std::optional<std::vector<std::byte>> {
    if (delta.size() - in < count) return std::nullopt;
    std::vector<std::byte> bytes(delta.begin() + static_cast<std::ptrdiff_t>(in),
                                 delta.begin() + static_cast<std::ptrdiff_t>(in + count));
    in += count;
    return bytes;
  };
  auto bit = [](std::byte b, std::size_t i) {
    return ((std::to_integer<unsigned>(b) >> i) & 1u) != 0;
  };

  std::uint64_t n = 0;
  for (unsigned shift = 0;; shift += 7) {
    const auto b = take(1);
    if (!b) return std::unexpected(DeltaErrc::truncated);
    const auto v = std::to_integer<std::uint64_t>((*b)[0]);
    if (shift == 63 && v > 1) return std::unexpected(DeltaErrc::malformed);
    n |= (v & 0x7f) << shift;
    if ((v & 0x80) == 0) break;
  }
  if (n > out_cap) return std::unexpected(DeltaErrc::no_space);

  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = i < base.size() ? base[i] : std::byte{0};
  for (std::size_t seg = 0; seg < n; seg += kDeltaSegmentBytes) {
    const std::size_t seg_end = std::min<std::size_t>(seg + kDeltaSegmentBytes, n);
    const std::size_t chunks = (seg_end - seg + kDeltaChunkBytes - 1) / kDeltaChunkBytes;
    const auto map = take((chunks + 7) / 8);
    if (!map) return std::unexpected(DeltaErrc::truncated);
    std::vector<std::size_t> set_chunks;
    for (std::size_t c = 0; c < map->size() * 8; ++c) {
      if (!bit((*map)[c / 8], c % 8)) continue;
      if (c >= chunks) return std::unexpected(DeltaErrc::malformed);
      set_chunks.push_back(c);
    }
    const auto word_masks = take(set_chunks.size());
    if (!word_masks) return std::unexpected(DeltaErrc::truncated);
    std::vector<std::size_t> set_words;  // chunk-relative word starts, as absolute positions
    for (std::size_t k = 0; k < set_chunks.size(); ++k) {
      for (std::size_t w = 0; w < 8; ++w) {
        if (bit((*word_masks)[k], w)) {
          set_words.push_back(seg + set_chunks[k] * kDeltaChunkBytes + w * kDeltaWordBytes);
        }
      }
    }
    const auto byte_masks = take(set_words.size());
    if (!byte_masks) return std::unexpected(DeltaErrc::truncated);
    std::vector<std::size_t> positions;
    for (std::size_t k = 0; k < set_words.size(); ++k) {
      for (std::size_t j = 0; j < 8; ++j) {
        if (bit((*byte_masks)[k], j)) positions.push_back(set_words[k] + j);
      }
    }
    const auto bytes = take(positions.size());
    if (!bytes) return std::unexpected(DeltaErrc::truncated);
    for (const std::size_t word : set_words) {
      if (word >= n) return std::unexpected(DeltaErrc::malformed);
    }
    for (std::size_t k = 0; k < positions.size(); ++k) {
      if (positions[k] >= n) return std::unexpected(DeltaErrc::malformed);
      out[positions[k]] ^= (*bytes)[k];
    }
  }
  if (in != delta.size()) return std::unexpected(DeltaErrc::malformed);
  return out;
}

}  // namespace dwcp::test
