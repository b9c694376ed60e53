// main() for the simd tests that CTest also runs with DWCP_SIMD forced: with
// DWCP_EXPECT_SIMD set, a level this CPU lacks is a skip (exit 77), and a level the
// dispatcher did not select is a failure.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "simd/cpu_features.h"

namespace dwcp::test {

inline int run_at_forced_simd_level(int argc, char** argv) {
  if (const char* expected = std::getenv("DWCP_EXPECT_SIMD")) {
    const auto level = simd::parse_simd_level(expected);
    if (level && *level > simd::detected_simd_level()) {
      std::printf("skipped: this CPU has no %s (detected %s)\n", expected,
                  std::string(simd::to_string(simd::detected_simd_level())).c_str());
      return 77;
    }
  }
  doctest::Context context(argc, argv);
  return context.run();
}

}  // namespace dwcp::test
