#include "transport/block_slab.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

using namespace dwcp::transport;

namespace {

bool aligned_to(const std::byte* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
}

}  // namespace

TEST_CASE("units are distinct, aligned, rounded to 64 bytes, and writable whole") {
  BlockSlab slab(20'000, 300);
  CHECK(slab.unit_size() == 20'032);
  std::vector<std::byte*> units;
  for (int i = 0; i < 300; ++i) {
    std::byte* unit = slab.allocate();
    REQUIRE(aligned_to(unit, 64));
    std::memset(unit, i & 0xff, slab.unit_size());
    units.push_back(unit);
  }
  CHECK(std::set<std::byte*>(units.begin(), units.end()).size() == units.size());
  // No unit overlaps another: each still holds what was written into it.
  for (std::size_t i = 0; i < units.size(); ++i) {
    CHECK(units[i][0] == static_cast<std::byte>(i & 0xff));
    CHECK(units[i][slab.unit_size() - 1] == static_cast<std::byte>(i & 0xff));
  }
}

TEST_CASE("a slab that may hold megabytes takes 2 MiB chunks aligned to huge pages") {
  BlockSlab slab(20'480, 1000);  // ~20 MB at most
  std::byte* first = slab.allocate();
  CHECK(aligned_to(first, BlockSlab::kHugeChunk));
  CHECK(slab.reserved_bytes() == BlockSlab::kHugeChunk);
  // 2 MiB hold 102 units of 20 KiB; the 103rd opens a second chunk.
  for (int i = 1; i < 102; ++i) (void)slab.allocate();
  CHECK(slab.reserved_bytes() == BlockSlab::kHugeChunk);
  (void)slab.allocate();
  CHECK(slab.reserved_bytes() == 2 * BlockSlab::kHugeChunk);
}

TEST_CASE("a slab for a small window takes small chunks") {
  BlockSlab slab(20'480, 20);  // 400 kB at most: no huge page for it
  (void)slab.allocate();
  CHECK(slab.reserved_bytes() < BlockSlab::kHugeChunk);
  CHECK(slab.reserved_bytes() >= slab.unit_size());
}

TEST_CASE("released units are handed out again before the slab takes more memory") {
  BlockSlab slab(4096, 4);
  std::vector<std::byte*> units;
  for (int i = 0; i < 4; ++i) units.push_back(slab.allocate());
  const std::size_t reserved = slab.reserved_bytes();
  for (std::byte* unit : units) slab.release(unit);
  std::set<std::byte*> again;
  for (int i = 0; i < 4; ++i) again.insert(slab.allocate());
  CHECK(again == std::set<std::byte*>(units.begin(), units.end()));
  CHECK(slab.reserved_bytes() == reserved);
}
