// The sse2 variant: 16-byte SSE2 vectors (every x86-64 has them). SSE2 has no byte
// shuffle, so chunks are packed and unpacked by the word-sized code the scalar level uses;
// the vectors find and XOR the changed words.
#include <emmintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct Sse2Ops {
  static constexpr std::size_t kWidth = 16;

  static __m128i load(const std::byte* p) noexcept {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_xor_si128(load(a), load(b)));
  }
  static unsigned word_mask(const std::byte* block, const std::byte* base) noexcept {
    std::uint64_t equal = 0;  // bit i: byte i of the chunk unchanged
    for (std::size_t k = 0; k < 4; ++k) {
      const __m128i eq = _mm_cmpeq_epi8(load(block + 16 * k), load(base + 16 * k));
      equal |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(eq))} << (16 * k);
    }
    return nonzero_bytes(~equal);
  }
  static std::size_t emit_chunk(std::byte* data, std::byte* masks, const std::byte* block,
                                const std::byte* base, unsigned words) noexcept {
    alignas(16) std::array<std::uint64_t, 8> x{};
    for (std::size_t k = 0; k < 4; ++k) {
      _mm_store_si128(reinterpret_cast<__m128i*>(x.data() + 2 * k),
                      _mm_xor_si128(load(block + 16 * k), load(base + 16 * k)));
    }
    return emit_chunk_words(data, masks, x.data(), words);
  }
  static std::size_t apply_chunk(std::byte* out, const std::byte* from, const std::byte* masks,
                                 const std::byte* data, unsigned words,
                                 std::uint64_t& byte_mask) noexcept {
    return apply_chunk_words(out, from, masks, data, words, byte_mask);
  }
};

}  // namespace

const XorKernels kXorKernelsSse2 = make_xor_kernels<Sse2Ops>(SimdLevel::sse2);

}  // namespace dwcp::simd::detail
