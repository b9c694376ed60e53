#include "mempool/arena.h"

#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <string>

using namespace dwcp::mempool;

namespace {

long reserved_huge_pages() {
  std::ifstream in("/proc/sys/vm/nr_hugepages");
  long n = 0;
  in >> n;
  return n;
}

bool thp_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(in, line) && line.find("[never]") == std::string::npos;
}

}  // namespace

TEST_CASE("an arena is at least as large as asked and writable end to end") {
  auto arena = Arena::map(3 * 4096 + 1);
  REQUIRE(arena.has_value());
  CHECK(arena->size() >= 3 * 4096 + 1);
  std::memset(arena->data(), 0xab, arena->size());
  CHECK(arena->data()[arena->size() - 1] == std::byte{0xab});
}

TEST_CASE("the reported page backing matches what the system offers") {
  auto arena = Arena::map(4 << 20);
  REQUIRE(arena.has_value());
  MESSAGE("arena backed by " << to_string(arena->backing()));
  if (reserved_huge_pages() == 0) CHECK(arena->backing() != PageBacking::explicit_huge_pages);
  if (reserved_huge_pages() == 0 && thp_enabled()) {
    CHECK(arena->backing() == PageBacking::transparent_huge_pages);
  }
  if (reserved_huge_pages() == 0 && !thp_enabled()) {
    CHECK(arena->backing() == PageBacking::normal_pages);
  }
}

TEST_CASE("huge pages can be turned off") {
  auto arena = Arena::map(1 << 20, {.numa_node = -1, .huge_pages = HugePages::off});
  REQUIRE(arena.has_value());
  CHECK(arena->backing() == PageBacking::normal_pages);
  CHECK(arena->size() == 1 << 20);
}

TEST_CASE("an arena lands on the node asked for") {
  auto arena = Arena::map(1 << 16, {.numa_node = 0});
  REQUIRE(arena.has_value());
  CHECK(arena->numa_node() == 0);
}

TEST_CASE("a node that does not exist is an error") {
  auto arena = Arena::map(1 << 16, {.numa_node = 4000});
  REQUIRE_FALSE(arena.has_value());
  CHECK(arena.error().code == PoolErrc::no_such_node);
  CHECK(to_string(arena.error()).find("4000") != std::string::npos);
}

TEST_CASE("an empty arena is refused") {
  auto arena = Arena::map(0);
  REQUIRE_FALSE(arena.has_value());
  CHECK(arena.error().code == PoolErrc::invalid_config);
}

TEST_CASE("moving an arena transfers the mapping") {
  auto arena = Arena::map(4096);
  REQUIRE(arena.has_value());
  std::byte* data = arena->data();
  Arena moved = std::move(*arena);
  CHECK(moved.data() == data);
  CHECK(arena->data() == nullptr);
  moved.data()[0] = std::byte{1};
}
