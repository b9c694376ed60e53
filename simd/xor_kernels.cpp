#include "simd/xor_kernels.h"

namespace dwcp::simd {

const XorKernels* xor_kernels_for(SimdLevel level) noexcept {
  if (level > detected_simd_level()) return nullptr;
  switch (level) {
    case SimdLevel::scalar:
      return &detail::kXorKernelsScalar;
    case SimdLevel::sse2:
      return &detail::kXorKernelsSse2;
    case SimdLevel::avx2:
      return &detail::kXorKernelsAvx2;
    case SimdLevel::avx512:
      return &detail::kXorKernelsAvx512;
  }
  return &detail::kXorKernelsScalar;
}

const XorKernels& active_xor_kernels() noexcept {
  static const XorKernels& kernels = *xor_kernels_for(active_simd_level());
  return kernels;
}

}  // namespace dwcp::simd
