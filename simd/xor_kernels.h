// The XOR-delta kernels, one table per SIMD level, all with the same signatures. The
// public functions in xor_delta.h call the table of active_simd_level(); tests and
// benchmarks call each table directly.
#pragma once

#include <cstddef>

#include "simd/cpu_features.h"
#include "simd/xor_delta.h"

namespace dwcp::simd {

struct XorKernels {
  SimdLevel level;
  // out[i] = a[i] ^ b[i], i < n. out may equal a or b.
  void (*xor_into)(std::byte* out, const std::byte* a, const std::byte* b, std::size_t n) noexcept;
  // The encoding of block[0, block_len) against base[0, base_len) into out, which has room
  // for block_len bytes; not_smaller when it would not fit in fewer.
  DeltaResult<std::size_t> (*encode)(const std::byte* base, std::size_t base_len,
                                     const std::byte* block, std::size_t block_len,
                                     std::byte* out) noexcept;
  // Rebuilds a block into out (out_cap bytes); see decode_delta.
  DeltaResult<std::size_t> (*decode)(const std::byte* base, std::size_t base_len,
                                     const std::byte* delta, std::size_t delta_len, std::byte* out,
                                     std::size_t out_cap) noexcept;
};

// The table for `level`, or nullptr if this CPU cannot run it.
const XorKernels* xor_kernels_for(SimdLevel level) noexcept;
// The table for active_simd_level().
const XorKernels& active_xor_kernels() noexcept;

namespace detail {
// One per level, defined in xor_kernels_<level>.cpp.
extern const XorKernels kXorKernelsScalar;
extern const XorKernels kXorKernelsSse2;
extern const XorKernels kXorKernelsAvx2;
extern const XorKernels kXorKernelsAvx512;
}  // namespace detail

}  // namespace dwcp::simd
