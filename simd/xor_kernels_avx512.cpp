// The avx512 variant: a chunk is one 64-byte vector; VPCOMPRESSB packs its changed bytes
// and VPEXPANDB unpacks them (AVX512_VBMI2), PEXT and PDEP (BMI2) pack and unpack its byte
// masks. Compiled with -mavx512bw -mavx512vbmi2 -mbmi2, called only after the CPU check.
#include <immintrin.h>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

// 0xff in byte w for each bit w of `words`.
inline std::uint64_t word_bytes(unsigned words) noexcept {
  return _pdep_u64(words, 0x0101010101010101ULL) * 0xff;
}

struct Avx512Ops {
  static constexpr std::size_t kWidth = 64;

  static __m512i load(const std::byte* p) noexcept { return _mm512_loadu_si512(p); }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    _mm512_storeu_si512(out, _mm512_xor_si512(load(a), load(b)));
  }
  static unsigned word_mask(const std::byte* block, const std::byte* base) noexcept {
    const __m512i x = _mm512_xor_si512(load(block), load(base));
    return _mm512_test_epi64_mask(x, x);
  }
  static std::size_t emit_chunk(std::byte* data, std::byte* masks, const std::byte* block,
                                const std::byte* base, unsigned words) noexcept {
    const __m512i x = _mm512_xor_si512(load(block), load(base));
    const __mmask64 byte_mask = _mm512_test_epi8_mask(x, x);
    // The byte masks are the nonzero bytes of byte_mask, packed with PEXT: an XMM
    // VPEXPANDB beside the 64-byte one made each decoded chunk ~4x slower on Zen 5, and
    // encoding keeps to the same scheme.
    store64(masks, _pext_u64(byte_mask, word_bytes(words)));
    _mm512_storeu_si512(data, _mm512_maskz_compress_epi8(byte_mask, x));
    return bit_count(byte_mask);
  }
  static std::size_t apply_chunk(std::byte* out, const std::byte* from, const std::byte* masks,
                                 const std::byte* data, unsigned words,
                                 std::uint64_t& byte_mask) noexcept {
    const std::uint64_t mask = _pdep_u64(load64(masks), word_bytes(words));
    __m512i packed = load(data);
    // Keep the load apart: GCC folds it into VPEXPANDB's memory form, which takes a third
    // longer per chunk on Zen 5.
    asm("" : "+v"(packed));
    const __m512i x = _mm512_maskz_expand_epi8(mask, packed);
    _mm512_storeu_si512(out, _mm512_xor_si512(load(from), x));
    byte_mask = mask;
    return bit_count(mask);
  }
};

}  // namespace

const XorKernels kXorKernelsAvx512 = make_xor_kernels<Avx512Ops>(SimdLevel::avx512);

}  // namespace dwcp::simd::detail
