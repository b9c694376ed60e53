#include "proto/ack_ranges.h"

#include <doctest/doctest.h>

#include <array>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include "proto/varint.h"

using namespace dwcp::proto;

namespace {

void check_invariants(const AckRanges& acks) {
  const auto ranges = acks.ranges();
  REQUIRE(ranges.size() <= acks.max_ranges());
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    REQUIRE(ranges[i].smallest <= ranges[i].largest);
    REQUIRE(ranges[i].smallest >= acks.floor());
    if (i > 0) REQUIRE(ranges[i].largest + 1 < ranges[i - 1].smallest);  // a gap between
  }
}

}  // namespace

TEST_CASE("in-order packets make one range; a loss splits it; a late arrival heals it") {
  AckRanges acks;
  for (std::uint64_t pn = 0; pn < 100; ++pn) CHECK(acks.add(pn));
  REQUIRE(acks.size() == 1);
  CHECK(acks.ranges()[0] == PacketRange{0, 99});
  CHECK(acks.add(101));
  CHECK(acks.add(102));
  REQUIRE(acks.size() == 2);
  CHECK(acks.ranges()[0] == PacketRange{101, 102});
  CHECK_FALSE(acks.contains(100));
  CHECK(acks.add(100));  // the reordered packet joins both ranges
  REQUIRE(acks.size() == 1);
  CHECK(acks.ranges()[0] == PacketRange{0, 102});
  CHECK_FALSE(acks.add(50));  // duplicate
  CHECK(acks.largest() == 102);
}

TEST_CASE("the range count is bounded by forgetting the oldest range") {
  AckRanges acks(4);
  for (std::uint64_t pn = 0; pn < 20; pn += 2) CHECK(acks.add(pn));
  CHECK(acks.size() == 4);
  CHECK(acks.ranges().back() == PacketRange{12, 12});
  CHECK(acks.floor() == 11);
  CHECK_FALSE(acks.add(3));  // below what was forgotten
  check_invariants(acks);
  CHECK_THROWS_AS(AckRanges(0), std::invalid_argument);
}

TEST_CASE("remove_below trims and drops ranges") {
  AckRanges acks;
  for (std::uint64_t pn : {1, 2, 3, 7, 8, 20}) acks.add(pn);
  acks.remove_below(8);
  const std::vector<PacketRange> expected{{20, 20}, {8, 8}};
  CHECK(std::vector(acks.ranges().begin(), acks.ranges().end()) == expected);
  CHECK_FALSE(acks.contains(7));
  CHECK_FALSE(acks.add(5));
  acks.remove_below(3);  // lower than the floor: no change
  CHECK(acks.floor() == 8);
  CHECK_FALSE(acks.add(kMaxVarint + 1));
}

TEST_CASE("random arrivals agree with a set, and the ranges always encode as an ACK") {
  std::mt19937_64 rng(99);
  for (std::size_t max_ranges :
       {std::size_t{1}, std::size_t{3}, std::size_t{16}, kMaxAckRanges + 1}) {
    AckRanges acks(max_ranges);
    std::set<std::uint64_t> seen;
    std::uint64_t next = 1000;
    std::array<std::byte, 8192> buffer{};
    for (int step = 0; step < 20000; ++step) {
      // Mostly in order, some lost, some late, some duplicated, a few far behind.
      std::uint64_t pn = next;
      switch (rng() % 10) {
        case 0:
          pn = next - std::min<std::uint64_t>(next, rng() % 64);
          break;
        case 1:
          next += 1 + rng() % 5;
          pn = next;
          break;
        case 2:
          pn = next - std::min<std::uint64_t>(next, rng() % 2000);
          break;
        default:
          ++next;
          break;
      }
      if (step % 5000 == 4999) acks.remove_below(next - 500);
      const bool fresh = pn >= acks.floor() && !seen.contains(pn);
      CHECK(acks.add(pn) == fresh);
      seen.insert(pn);
      check_invariants(acks);
      if (step % 97 == 0) {
        for (std::uint64_t probe = next > 300 ? next - 300 : 0; probe <= next + 2; ++probe) {
          if (probe < acks.floor()) continue;
          REQUIRE(acks.contains(probe) == seen.contains(probe));
        }
        auto written = encode_ack(buffer, acks.ranges(), 0);
        REQUIRE(written);
        auto decoded = decode_frame(std::span(buffer).first(*written));
        REQUIRE(decoded);
        const auto& ack = std::get<AckFrame>(decoded->first);
        CHECK(std::vector(ack.ranges().begin(), ack.ranges().end()) ==
              std::vector(acks.ranges().begin(), acks.ranges().end()));
      }
    }
  }
}
