// The portable variant: 64-bit words, no vector instructions. Always built, always safe.
#include <cstring>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct ScalarOps {
  static constexpr std::size_t kWidth = 8;

  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    store64(out, load64(a) ^ load64(b));
  }
  static unsigned word_mask(const std::byte* block, const std::byte* base) noexcept {
    unsigned words = 0;
    for (std::size_t w = 0; w < 8; ++w) {
      words |= unsigned{load64(block + 8 * w) != load64(base + 8 * w)} << w;
    }
    return words;
  }
  static std::size_t emit_chunk(std::byte* data, std::byte* masks, const std::byte* block,
                                const std::byte* base, unsigned words) noexcept {
    std::array<std::uint64_t, 8> x{};
    for (std::size_t w = 0; w < 8; ++w) x[w] = load64(block + 8 * w) ^ load64(base + 8 * w);
    return emit_chunk_words(data, masks, x.data(), words);
  }
  static std::size_t apply_chunk(std::byte* out, const std::byte* from, const std::byte* masks,
                                 const std::byte* data, unsigned words,
                                 std::uint64_t& byte_mask) noexcept {
    return apply_chunk_words(out, from, masks, data, words, byte_mask);
  }
};

}  // namespace

const XorKernels kXorKernelsScalar = make_xor_kernels<ScalarOps>(SimdLevel::scalar);

}  // namespace dwcp::simd::detail
