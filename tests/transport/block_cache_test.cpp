#include "transport/block_cache.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

using dwcp::transport::BlockCache;

namespace {

std::vector<std::uint64_t> keys(const BlockCache& cache) {
  std::vector<std::uint64_t> out;
  for (const BlockCache::Entry& e : cache.entries()) out.push_back(e.key);
  return out;
}

}  // namespace

TEST_CASE("the least recently updated key goes first when the key limit is passed") {
  BlockCache cache(3, 1000);
  for (std::uint64_t key : {1, 2, 3}) REQUIRE(cache.update(key, 1, 10) != nullptr);
  REQUIRE(cache.update(1, 2, 10) != nullptr);  // 1 becomes the most recent
  REQUIRE(cache.update(4, 1, 10) != nullptr);
  CHECK(keys(cache) == std::vector<std::uint64_t>{3, 1, 4});
  CHECK(cache.find(2) == nullptr);
  CHECK(cache.find(1)->version == 2);
  CHECK(cache.evictions() == 1);
  CHECK(cache.bytes() == 30);
}

TEST_CASE("the byte limit evicts as many old keys as it takes, never the one updated") {
  BlockCache cache(100, 100);
  for (std::uint64_t key : {1, 2, 3, 4}) REQUIRE(cache.update(key, 1, 25) != nullptr);
  REQUIRE(cache.update(5, 1, 60) != nullptr);  // 160 bytes: 1, 2 and 3 go
  CHECK(keys(cache) == std::vector<std::uint64_t>{4, 5});
  CHECK(cache.bytes() == 85);
  // Growing a key counts its new length only.
  REQUIRE(cache.update(4, 2, 40) != nullptr);
  CHECK(keys(cache) == std::vector<std::uint64_t>{5, 4});
  CHECK(cache.bytes() == 100);
  CHECK(cache.evictions() == 3);
}

TEST_CASE("a block longer than the byte limit is not kept, and its older version goes") {
  BlockCache cache(10, 100);
  BlockCache::Entry* entry = cache.update(1, 1, 50);
  REQUIRE(entry != nullptr);
  entry->bytes.assign(50, std::byte{1});
  CHECK(cache.update(1, 2, 101) == nullptr);
  CHECK(cache.find(1) == nullptr);
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
  CHECK(cache.evictions() == 1);
}

TEST_CASE("a cache with no keys or no bytes keeps nothing") {
  BlockCache none(0, 1000);
  CHECK_FALSE(none.enabled());
  CHECK(none.update(1, 1, 10) == nullptr);
  BlockCache no_bytes(10, 0);
  CHECK_FALSE(no_bytes.enabled());
  CHECK(no_bytes.update(1, 1, 1) == nullptr);
  CHECK(none.size() == 0);
}

TEST_CASE("an update keeps the entry's bytes and flags for the caller to change") {
  BlockCache cache(10, 1000);
  BlockCache::Entry* entry = cache.update(7, 1, 3);
  entry->bytes = {std::byte{1}, std::byte{2}, std::byte{3}};
  entry->poisoned = true;
  entry = cache.update(7, 2, 4);
  REQUIRE(entry != nullptr);
  CHECK(entry->bytes.size() == 3);
  CHECK(entry->poisoned);
  CHECK(entry->version == 2);
  CHECK(entry->length == 4);
  CHECK(cache.bytes() == 4);
}
