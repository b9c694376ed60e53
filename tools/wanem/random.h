// A small seeded generator (xoshiro256**, seeded through splitmix64): the same seed gives
// the same sequence on every machine and library version, which std::mt19937 with
// std::uniform_real_distribution does not promise. Each link direction owns one, so a
// run repeats packet for packet when the traffic repeats.
#pragma once

#include <array>
#include <cstdint>

namespace dwcp::wanem {

class Random {
 public:
  explicit Random(std::uint64_t seed);

  std::uint64_t next_u64();
  // Uniform in [0, 1).
  double next_unit();
  // True with probability p (p <= 0: never; p >= 1: always, without drawing).
  bool chance(double p);
  // Uniform in [0, bound); bound 0 gives 0.
  std::uint64_t below(std::uint64_t bound);

 private:
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace dwcp::wanem
