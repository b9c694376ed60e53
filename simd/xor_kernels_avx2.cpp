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

void xor_into_avx2(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) noexcept {
  xor_into_impl<Avx2Ops>(out, a, b, n);
}

DeltaResult<std::size_t> encode_avx2(const std::byte* base, std::size_t base_len,
                                     const std::byte* block, std::size_t block_len,
                                     std::byte* out) noexcept {
  return encode_impl<Avx2Ops>(base, base_len, block, block_len, out);
}

DeltaResult<std::size_t> decode_avx2(const std::byte* base, std::size_t base_len,
                                     const std::byte* delta, std::size_t delta_len, std::byte* out,
                                     std::size_t out_cap) noexcept {
  return decode_impl<Avx2Ops>(base, base_len, delta, delta_len, out, out_cap);
}

}  // namespace

const XorKernels kXorKernelsAvx2 = {SimdLevel::avx2, xor_into_avx2, encode_avx2, decode_avx2};

}  // namespace dwcp::simd::detail
