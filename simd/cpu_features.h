// Which vector instruction sets this CPU and kernel support, detected once, and which
// one dwcp uses. DWCP_SIMD=scalar|sse2|avx2|avx512 in the environment forces a lower
// level, so tests and benchmarks can run every variant on one machine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace dwcp::simd {

// Ordered: each level implies the ones below it.
enum class SimdLevel : std::uint8_t {
  scalar,  // portable 64-bit word code, any x86-64
  sse2,    // 16-byte vectors (every x86-64 has SSE2)
  avx2,    // 32-byte vectors; needs the OS to save YMM state
  avx512,  // 64-byte vectors, AVX-512F/BW/VL/VBMI2 and BMI2; needs the OS to save ZMM and mask
           // state
};

std::string_view to_string(SimdLevel level) noexcept;
// "scalar", "sse2", "avx2", "avx512"; nullopt for anything else.
std::optional<SimdLevel> parse_simd_level(std::string_view name) noexcept;

// The best level the CPU and the OS support (CPUID plus XGETBV). Computed once; thread-safe.
SimdLevel detected_simd_level() noexcept;

// The level dwcp's dispatched functions use: the detected level, lowered by DWCP_SIMD if
// that is set. A DWCP_SIMD that is unknown or above the detected level is reported once
// on stderr and ignored. Resolved on first use; thread-safe.
SimdLevel active_simd_level() noexcept;

// Every level this machine can run, lowest first (always starts with scalar).
std::span<const SimdLevel> supported_simd_levels() noexcept;

}  // namespace dwcp::simd
