#include "affinity/memory_binding.h"

#include <numa.h>
#include <numaif.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace dwcp::affinity {

namespace {

constexpr std::size_t kBitsPerLong = sizeof(unsigned long) * CHAR_BIT;

bool numa_supported() {
  return numa_available() >= 0;
}

AffinityResult<void> check_node(int node) {
  bool exists = false;
  if (numa_supported()) {
    exists = node >= 0 && node <= numa_max_node() &&
             numa_bitmask_isbitset(numa_all_nodes_ptr, static_cast<unsigned>(node)) != 0;
  } else {
    exists = node == 0;
  }
  if (exists) return {};
  return std::unexpected(AffinityError{
      AffinityErrc::no_such_node,
      "node " + std::to_string(node) + " does not exist or holds no memory this process may use"});
}

// A raw node mask for the system calls. Built by hand rather than with
// numa_allocate_nodemask(), which exits the process when it cannot allocate.
struct NodeMask {
  explicit NodeMask(int node) : words(static_cast<std::size_t>(node) / kBitsPerLong + 1, 0UL) {
    words[static_cast<std::size_t>(node) / kBitsPerLong] |=
        1UL << (static_cast<std::size_t>(node) % kBitsPerLong);
  }
  // The kernel reads maxnode - 1 bits (libnuma passes size + 1 for the same reason).
  unsigned long maxnode() const { return words.size() * kBitsPerLong + 1; }
  std::vector<unsigned long> words;
};

}  // namespace

AffinityResult<void> bind_memory_to_node(void* addr, std::size_t len, int node) {
  if (auto ok = check_node(node); !ok) return ok;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  if (reinterpret_cast<std::uintptr_t>(addr) % page != 0) {
    char where[32];
    std::snprintf(where, sizeof where, "%p", addr);
    return std::unexpected(make_system_error(std::string("address ") + where +
                                                 " is not aligned to the page size " +
                                                 std::to_string(page),
                                             EINVAL));
  }
  if (len == 0 || !numa_supported()) return {};
  const NodeMask mask(node);
  if (mbind(addr, len, MPOL_BIND, mask.words.data(), mask.maxnode(), MPOL_MF_MOVE) != 0) {
    return std::unexpected(make_system_error("mbind to node " + std::to_string(node), errno));
  }
  return {};
}

AffinityResult<void> prefer_node_for_current_thread(int node) {
  if (auto ok = check_node(node); !ok) return ok;
  if (!numa_supported()) return {};
  const NodeMask mask(node);
  if (set_mempolicy(MPOL_PREFERRED, mask.words.data(), mask.maxnode()) != 0) {
    return std::unexpected(make_system_error(
        "set_mempolicy(MPOL_PREFERRED, node " + std::to_string(node) + ")", errno));
  }
  return {};
}

AffinityResult<void> reset_memory_policy_for_current_thread() {
  if (!numa_supported()) return {};
  if (set_mempolicy(MPOL_DEFAULT, nullptr, 0) != 0) {
    return std::unexpected(make_system_error("set_mempolicy(MPOL_DEFAULT)", errno));
  }
  return {};
}

}  // namespace dwcp::affinity
