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

}  // namespace

const XorKernels kXorKernelsSse2 = make_xor_kernels<Sse2Ops>(SimdLevel::sse2);

}  // namespace dwcp::simd::detail
