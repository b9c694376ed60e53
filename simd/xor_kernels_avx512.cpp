// The avx512 variant: 64-byte AVX-512BW vectors; compiled with -mavx512bw, called only after the
// CPU check.
#include <immintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct Avx512Ops {
  static constexpr std::size_t kWidth = 64;

  static std::uint64_t equal_mask(const std::byte* a, const std::byte* b) noexcept {
    const __m512i x = _mm512_loadu_si512(reinterpret_cast<const void*>(a));
    const __m512i y = _mm512_loadu_si512(reinterpret_cast<const void*>(b));
    return static_cast<std::uint64_t>(_mm512_cmpeq_epi8_mask(x, y));
  }
  static bool equal4(const std::byte* a, const std::byte* b) noexcept {
    __m512i d = _mm512_setzero_si512();
    for (int k = 0; k < 4; ++k) {
      d = _mm512_or_si512(d, _mm512_xor_si512(_mm512_loadu_si512(a + std::ptrdiff_t{64} * k),
                                              _mm512_loadu_si512(b + std::ptrdiff_t{64} * k)));
    }
    return _mm512_test_epi64_mask(d, d) == 0;
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    const __m512i x = _mm512_loadu_si512(reinterpret_cast<const void*>(a));
    const __m512i y = _mm512_loadu_si512(reinterpret_cast<const void*>(b));
    _mm512_storeu_si512(reinterpret_cast<void*>(out), _mm512_xor_si512(x, y));
  }
};

}  // namespace

const XorKernels kXorKernelsAvx512 = make_xor_kernels<Avx512Ops>(SimdLevel::avx512);

}  // namespace dwcp::simd::detail
