#include <doctest/doctest.h>

#include <numa.h>
#include <numaif.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstddef>
#include <cstring>
#include <vector>

#include "affinity/affinity_error.h"
#include "affinity/memory_binding.h"

using dwcp::affinity::AffinityErrc;
namespace affinity = dwcp::affinity;

namespace {

constexpr std::size_t kPages = 4;

std::size_t page_size() {
  return static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// An anonymous private mapping of kPages pages, unmapped on destruction.
class Mapping {
 public:
  Mapping()
      : len_(kPages * page_size()),
        addr_(mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) {
    REQUIRE(addr_ != MAP_FAILED);
  }
  ~Mapping() { munmap(addr_, len_); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  std::byte* addr() const { return static_cast<std::byte*>(addr_); }
  std::size_t len() const { return len_; }

 private:
  std::size_t len_;
  void* addr_;
};

// get_mempolicy wants room for every possible node.
struct PolicyQuery {
  int mode = -1;
  std::vector<unsigned long> mask = std::vector<unsigned long>(
      static_cast<std::size_t>(numa_max_possible_node()) / (sizeof(unsigned long) * CHAR_BIT) + 1);
  unsigned long maxnode() const { return mask.size() * sizeof(unsigned long) * CHAR_BIT; }
  bool has_node(int node) const {
    constexpr std::size_t kBits = sizeof(unsigned long) * CHAR_BIT;
    const auto n = static_cast<std::size_t>(node);
    return ((mask[n / kBits] >> (n % kBits)) & 1UL) != 0;
  }
};

bool numa_supported() {
  return numa_available() >= 0;
}

}  // namespace

TEST_CASE("binding a mapped page range to node 0 sets an MPOL_BIND policy on it") {
  Mapping map;
  const auto bound = affinity::bind_memory_to_node(map.addr(), map.len(), 0);
  REQUIRE_MESSAGE(bound.has_value(), affinity::to_string(bound.error()));
  if (!numa_supported()) {
    MESSAGE("kernel without NUMA: binding to node 0 is a no-op, nothing to read back");
    return;
  }
  PolicyQuery policy;
  REQUIRE(get_mempolicy(&policy.mode, policy.mask.data(), policy.maxnode(), map.addr(),
                        MPOL_F_ADDR) == 0);
  CHECK(policy.mode == MPOL_BIND);
  CHECK(policy.has_node(0));

  std::memset(map.addr(), 0x5a, map.len());
  int node = -1;
  REQUIRE(get_mempolicy(&node, nullptr, 0, map.addr() + page_size(), MPOL_F_NODE | MPOL_F_ADDR) ==
          0);
  CHECK(node == 0);
}

TEST_CASE("binding pages that are already present keeps them usable") {
  Mapping map;
  std::memset(map.addr(), 0x33, map.len());
  REQUIRE(affinity::bind_memory_to_node(map.addr(), map.len(), 0).has_value());
  CHECK(map.addr()[map.len() - 1] == std::byte{0x33});
}

TEST_CASE("binding zero bytes succeeds") {
  Mapping map;
  CHECK(affinity::bind_memory_to_node(map.addr(), 0, 0).has_value());
}

TEST_CASE("binding to a node that does not exist fails with no_such_node") {
  Mapping map;
  const int missing = numa_supported() ? numa_max_node() + 1 : 1;
  for (const int node : {missing, -1, 1 << 20}) {
    CAPTURE(node);
    const auto bound = affinity::bind_memory_to_node(map.addr(), map.len(), node);
    REQUIRE_FALSE(bound.has_value());
    CHECK(bound.error().code == AffinityErrc::no_such_node);
  }
}

TEST_CASE("binding an unaligned address fails and leaves the range alone") {
  Mapping map;
  const auto bound = affinity::bind_memory_to_node(map.addr() + 1, map.len() - 1, 0);
  REQUIRE_FALSE(bound.has_value());
  CHECK(bound.error().code == AffinityErrc::system_error);
  CHECK(bound.error().detail.find("aligned") != std::string::npos);
  if (numa_supported()) {
    PolicyQuery policy;
    REQUIRE(get_mempolicy(&policy.mode, policy.mask.data(), policy.maxnode(), map.addr(),
                          MPOL_F_ADDR) == 0);
    CHECK(policy.mode == MPOL_DEFAULT);
  }
}

TEST_CASE("binding an unmapped range is a system error") {
  void* hole = mmap(nullptr, page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(hole != MAP_FAILED);
  REQUIRE(munmap(hole, page_size()) == 0);
  if (!numa_supported()) return;  // no system call to fail
  const auto bound = affinity::bind_memory_to_node(hole, page_size(), 0);
  REQUIRE_FALSE(bound.has_value());
  CHECK(bound.error().code == AffinityErrc::system_error);
}

TEST_CASE("preferring node 0 sets and resetting clears the thread policy") {
  const auto preferred = affinity::prefer_node_for_current_thread(0);
  REQUIRE_MESSAGE(preferred.has_value(), affinity::to_string(preferred.error()));
  if (numa_supported()) {
    PolicyQuery policy;
    REQUIRE(get_mempolicy(&policy.mode, policy.mask.data(), policy.maxnode(), nullptr, 0) == 0);
    CHECK(policy.mode == MPOL_PREFERRED);
    CHECK(policy.has_node(0));
  }
  REQUIRE(affinity::reset_memory_policy_for_current_thread().has_value());
  if (numa_supported()) {
    PolicyQuery policy;
    REQUIRE(get_mempolicy(&policy.mode, policy.mask.data(), policy.maxnode(), nullptr, 0) == 0);
    CHECK(policy.mode == MPOL_DEFAULT);
  }
}

TEST_CASE("preferring a node that does not exist fails with no_such_node") {
  const int missing = numa_supported() ? numa_max_node() + 1 : 1;
  const auto preferred = affinity::prefer_node_for_current_thread(missing);
  REQUIRE_FALSE(preferred.has_value());
  CHECK(preferred.error().code == AffinityErrc::no_such_node);
}
