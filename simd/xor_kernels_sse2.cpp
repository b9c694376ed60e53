// The sse2 variant: 16-byte SSE2 vectors (every x86-64 has them).
#include <emmintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct Sse2Ops {
  static constexpr std::size_t kWidth = 16;

  static std::uint64_t equal_mask(const std::byte* a, const std::byte* b) noexcept {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)));
  }
  static bool equal4(const std::byte* a, const std::byte* b) noexcept {
    __m128i d = _mm_setzero_si128();
    for (int k = 0; k < 4; ++k) {
      d = _mm_or_si128(d, _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a) + k),
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(b) + k)));
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) == 0xffff;
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a));
    const __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_xor_si128(x, y));
  }
};

void xor_into_sse2(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) noexcept {
  xor_into_impl<Sse2Ops>(out, a, b, n);
}

DeltaResult<std::size_t> encode_sse2(const std::byte* base, std::size_t base_len,
                                     const std::byte* block, std::size_t block_len,
                                     std::byte* out) noexcept {
  return encode_impl<Sse2Ops>(base, base_len, block, block_len, out);
}

DeltaResult<std::size_t> decode_sse2(const std::byte* base, std::size_t base_len,
                                     const std::byte* delta, std::size_t delta_len, std::byte* out,
                                     std::size_t out_cap) noexcept {
  return decode_impl<Sse2Ops>(base, base_len, delta, delta_len, out, out_cap);
}

}  // namespace

const XorKernels kXorKernelsSse2 = {SimdLevel::sse2, xor_into_sse2, encode_sse2, decode_sse2};

}  // namespace dwcp::simd::detail
