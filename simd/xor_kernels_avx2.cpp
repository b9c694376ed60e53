// The avx2 variant: 32-byte AVX2 vectors find and XOR the changed bytes, PSHUFB with a
// table per byte mask packs and unpacks them a word at a time; compiled with -mavx2, called
// only after the CPU check.
#include <immintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

constexpr ShuffleTables kShuffle = make_shuffle_tables();

struct Avx2Ops {
  static constexpr std::size_t kWidth = 32;

  static __m256i load(const std::byte* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static __m128i load8(const std::byte* p) noexcept {
    return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  }
  static __m128i shuffle8(__m128i v, std::uint64_t control) noexcept {
    return _mm_shuffle_epi8(v, _mm_cvtsi64_si128(static_cast<long long>(control)));
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_xor_si256(load(a), load(b)));
  }
  static unsigned word_mask(const std::byte* block, const std::byte* base) noexcept {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i eq0 = _mm256_cmpeq_epi64(_mm256_xor_si256(load(block), load(base)), zero);
    const __m256i eq1 =
        _mm256_cmpeq_epi64(_mm256_xor_si256(load(block + 32), load(base + 32)), zero);
    const auto equal = static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(eq0))) |
                       static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(eq1))) << 4;
    return ~equal & 0xffu;
  }
  static std::size_t emit_chunk(std::byte* data, std::byte* masks, const std::byte* block,
                                const std::byte* base, unsigned words) noexcept {
    const __m256i a0 = load(block);
    const __m256i b0 = load(base);
    const __m256i a1 = load(block + 32);
    const __m256i b1 = load(base + 32);
    alignas(32) std::array<std::byte, 64> x{};
    _mm256_store_si256(reinterpret_cast<__m256i*>(x.data()), _mm256_xor_si256(a0, b0));
    _mm256_store_si256(reinterpret_cast<__m256i*>(x.data() + 32), _mm256_xor_si256(a1, b1));
    const auto equal_lo =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a0, b0)));
    const auto equal_hi =
        static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a1, b1)));
    const std::uint64_t byte_mask = ~((std::uint64_t{equal_hi} << 32) | equal_lo);

    _mm_storel_epi64(
        reinterpret_cast<__m128i*>(masks),
        shuffle8(_mm_cvtsi64_si128(static_cast<long long>(byte_mask)), kShuffle.compress[words]));
    std::byte* p = data;
    for (std::size_t w = 0; w < 8; ++w) {
      const unsigned m = static_cast<unsigned>(byte_mask >> (8 * w)) & 0xffu;
      _mm_storel_epi64(reinterpret_cast<__m128i*>(p),
                       shuffle8(load8(x.data() + 8 * w), kShuffle.compress[m]));
      p += bit_count(m);
    }
    return static_cast<std::size_t>(p - data);
  }
  static std::size_t apply_chunk(std::byte* out, const std::byte* from, const std::byte* masks,
                                 const std::byte* data, unsigned words,
                                 std::uint64_t& byte_mask) noexcept {
    const auto mask = static_cast<std::uint64_t>(
        _mm_cvtsi128_si64(shuffle8(load8(masks), kShuffle.expand[words])));
    const std::byte* p = data;
    for (std::size_t w = 0; w < 8; ++w) {
      const unsigned m = static_cast<unsigned>(mask >> (8 * w)) & 0xffu;
      const auto x =
          static_cast<std::uint64_t>(_mm_cvtsi128_si64(shuffle8(load8(p), kShuffle.expand[m])));
      store64(out + 8 * w, load64(from + 8 * w) ^ x);
      p += bit_count(m);
    }
    byte_mask = mask;
    return static_cast<std::size_t>(p - data);
  }
};

}  // namespace

const XorKernels kXorKernelsAvx2 = make_xor_kernels<Avx2Ops>(SimdLevel::avx2);

}  // namespace dwcp::simd::detail
