#include "simd/cpu_features.h"

#include <cpuid.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dwcp::simd {
namespace {

// XCR0 bits the OS sets when it saves a register file on context switch.
constexpr std::uint64_t kXcr0Sse = 1u << 1;
constexpr std::uint64_t kXcr0Avx = 1u << 2;
constexpr std::uint64_t kXcr0Opmask = 1u << 5;
constexpr std::uint64_t kXcr0ZmmHi256 = 1u << 6;
constexpr std::uint64_t kXcr0Hi16Zmm = 1u << 7;

std::uint64_t read_xcr0() noexcept {
  std::uint32_t eax = 0;
  std::uint32_t edx = 0;
  // xgetbv by opcode: no -mxsave needed for this translation unit.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (std::uint64_t{edx} << 32) | eax;
}

SimdLevel detect() noexcept {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return SimdLevel::scalar;
  const bool sse2 = (edx & bit_SSE2) != 0;
  const bool osxsave = (ecx & bit_OSXSAVE) != 0;
  if (!sse2) return SimdLevel::scalar;
  if (!osxsave) return SimdLevel::sse2;

  const std::uint64_t xcr0 = read_xcr0();
  if ((xcr0 & (kXcr0Sse | kXcr0Avx)) != (kXcr0Sse | kXcr0Avx)) return SimdLevel::sse2;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return SimdLevel::sse2;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = (ebx & bit_AVX2) != 0;
  if (!avx2) return SimdLevel::sse2;

  // VBMI2 and BMI2 too: the XOR-delta codec packs bytes with VPCOMPRESSB and masks with
  // PEXT. A CPU with AVX-512BW but not VBMI2 (Skylake-X, Cascade Lake) runs the avx2 level.
  const bool avx512 = (ebx & bit_AVX512F) != 0 && (ebx & bit_AVX512BW) != 0 &&
                      (ebx & bit_AVX512VL) != 0 && (ecx & bit_AVX512VBMI2) != 0 &&
                      (ebx & bit_BMI2) != 0;
  const std::uint64_t zmm_state = kXcr0Opmask | kXcr0ZmmHi256 | kXcr0Hi16Zmm;
  if (avx512 && (xcr0 & zmm_state) == zmm_state) return SimdLevel::avx512;
  return SimdLevel::avx2;
}

SimdLevel resolve_active() noexcept {
  const SimdLevel detected = detected_simd_level();
  const char* forced = std::getenv("DWCP_SIMD");
  if (forced == nullptr || *forced == '\0') return detected;
  const auto level = parse_simd_level(forced);
  if (!level) {
    std::fprintf(stderr, "dwcp: DWCP_SIMD=%s is not one of scalar, sse2, avx2, avx512; using %s\n",
                 forced, std::string(to_string(detected)).c_str());
    return detected;
  }
  if (*level > detected) {
    std::fprintf(stderr, "dwcp: DWCP_SIMD=%s is not supported by this CPU; using %s\n", forced,
                 std::string(to_string(detected)).c_str());
    return detected;
  }
  return *level;
}

}  // namespace

std::string_view to_string(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::scalar:
      return "scalar";
    case SimdLevel::sse2:
      return "sse2";
    case SimdLevel::avx2:
      return "avx2";
    case SimdLevel::avx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<SimdLevel> parse_simd_level(std::string_view name) noexcept {
  for (SimdLevel level : {SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512}) {
    if (name == to_string(level)) return level;
  }
  return std::nullopt;
}

SimdLevel detected_simd_level() noexcept {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel active_simd_level() noexcept {
  static const SimdLevel level = resolve_active();
  return level;
}

std::span<const SimdLevel> supported_simd_levels() noexcept {
  static constexpr std::array<SimdLevel, 4> kAll = {SimdLevel::scalar, SimdLevel::sse2,
                                                    SimdLevel::avx2, SimdLevel::avx512};
  return std::span<const SimdLevel>(kAll.data(),
                                    static_cast<std::size_t>(detected_simd_level()) + 1);
}

}  // namespace dwcp::simd
