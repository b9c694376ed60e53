// The portable variant: 64-bit words, no vector instructions. Always built, always safe.
#include <cstring>

#include "simd/xor_codec_impl.h"
#include "simd/xor_kernels.h"

namespace dwcp::simd::detail {
namespace {

struct ScalarOps {
  static constexpr std::size_t kWidth = 8;

  static std::uint64_t load(const std::byte* p) noexcept {
    std::uint64_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static std::uint64_t equal_mask(const std::byte* a, const std::byte* b) noexcept {
    const std::uint64_t x = load(a) ^ load(b);
    // 0x80 in every byte of x that is zero (no carries cross bytes: 0x7f + 0x7f < 0x100).
    constexpr std::uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
    const std::uint64_t zero_bytes = ~(((x & kLow7) + kLow7) | x | kLow7);
    // Gather the eight 0x80 bits into the low byte, byte i to bit i.
    return ((zero_bytes >> 7) * 0x0102040810204080ULL) >> 56;
  }
  static bool equal4(const std::byte* a, const std::byte* b) noexcept {
    return ((load(a) ^ load(b)) | (load(a + 8) ^ load(b + 8)) | (load(a + 16) ^ load(b + 16)) |
            (load(a + 24) ^ load(b + 24))) == 0;
  }
  static void xor_vector(std::byte* out, const std::byte* a, const std::byte* b) noexcept {
    const std::uint64_t v = load(a) ^ load(b);
    std::memcpy(out, &v, sizeof v);
  }
};

}  // namespace

const XorKernels kXorKernelsScalar = make_xor_kernels<ScalarOps>(SimdLevel::scalar);

}  // namespace dwcp::simd::detail
