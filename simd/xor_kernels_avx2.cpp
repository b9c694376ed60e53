// The avx2 variant: 32-byte AVX2 vectors; compiled with -mavx2, called only after the CPU check.
#include <immintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct Avx2Ops {
  static constexpr std::size_t kWidth = 32;

  static std::uint64_t equal_mask(const std::byte* a, const std::byte* b) noexcept {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, y)));
  }
  static bool equal4(const std::byte* a, const std::byte* b) noexcept {
    __m256i d = _mm256_setzero_si256();
    for (int k = 0; k < 4; ++k) {
      d = _mm256_or_si256(
          d, _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a) + k),
                              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b) + k)));
    }
    return _mm256_testz_si256(d, d) != 0;
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_xor_si256(x, y));
  }
};

}  // namespace

const XorKernels kXorKernelsAvx2 = make_xor_kernels<Avx2Ops>(SimdLevel::avx2);

}  // namespace dwcp::simd::detail
