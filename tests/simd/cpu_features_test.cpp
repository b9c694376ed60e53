// Detection and dispatch. Run plain, and by CTest once per forced level with DWCP_SIMD and
// DWCP_EXPECT_SIMD set; a level this CPU lacks is skipped (exit 77).
#include "simd/cpu_features.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

#include "simd/xor_kernels.h"
#include "tests/simd/forced_level_main.h"

using namespace dwcp::simd;

namespace {

std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    }
  }
  return {};
}

}  // namespace

TEST_CASE("level names round-trip and unknown names are refused") {
  for (SimdLevel level : {SimdLevel::scalar, SimdLevel::sse2, SimdLevel::avx2, SimdLevel::avx512}) {
    CHECK(parse_simd_level(to_string(level)) == level);
  }
  CHECK_FALSE(parse_simd_level("AVX2").has_value());
  CHECK_FALSE(parse_simd_level("").has_value());
  CHECK_FALSE(parse_simd_level("neon").has_value());
}

TEST_CASE("detection agrees with the kernel's view of the CPU") {
  const auto flags = cpuinfo_flags();
  REQUIRE_FALSE(flags.empty());
  const SimdLevel detected = detected_simd_level();
  MESSAGE("detected " << to_string(detected));
  CHECK(detected >= SimdLevel::sse2);  // part of x86-64
  CHECK((detected >= SimdLevel::avx2) == flags.contains("avx2"));
  // The avx512 level also needs VBMI2 (VPCOMPRESSB) and BMI2 (PEXT) for the delta codec.
  const bool avx512 = flags.contains("avx512f") && flags.contains("avx512bw") &&
                      flags.contains("avx512vl") && flags.contains("avx512_vbmi2") &&
                      flags.contains("bmi2");
  CHECK((detected >= SimdLevel::avx512) == avx512);
}

TEST_CASE("the supported levels run from scalar to the detected level") {
  const auto levels = supported_simd_levels();
  REQUIRE_FALSE(levels.empty());
  CHECK(levels.front() == SimdLevel::scalar);
  CHECK(levels.back() == detected_simd_level());
  for (SimdLevel level : levels) {
    const XorKernels* kernels = xor_kernels_for(level);
    REQUIRE(kernels != nullptr);
    CHECK(kernels->level == level);
  }
  if (detected_simd_level() < SimdLevel::avx512) {
    CHECK(xor_kernels_for(SimdLevel::avx512) == nullptr);
  }
}

TEST_CASE("the active level follows DWCP_SIMD") {
  const char* expected = std::getenv("DWCP_EXPECT_SIMD");
  const SimdLevel want =
      expected != nullptr ? parse_simd_level(expected).value() : detected_simd_level();
  CHECK(active_simd_level() == want);
  CHECK(active_xor_kernels().level == want);
}

int main(int argc, char** argv) {
  return dwcp::test::run_at_forced_simd_level(argc, argv);
}
