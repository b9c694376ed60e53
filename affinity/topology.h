// Topology: which CPUs are online, how they group into NUMA nodes, and which node a
// network interface hangs off, as read from sysfs.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"

namespace dwcp::affinity {

// A snapshot taken by discover(): later CPU or node hotplug is not seen until the next
// discover(). Immutable after construction, so concurrent use from any number of threads
// is safe. Copyable and movable.
class Topology {
 public:
  // Reads, below `sysfs_root` (tests point it at a fake tree):
  //   devices/system/cpu/online          the online CPUs (required)
  //   devices/system/node/node<N>/cpulist  the CPUs of each node; a node may list none
  //                                      (memory-only node). Kept as the online ones.
  // Without any node<N> directory (kernel without NUMA, or a container that hides it)
  // the machine is reported as one node, 0, holding every online CPU.
  // Errors: system_error when a required file or directory cannot be read (detail names
  // the path and the errno text); malformed_cpu_list when a file's content does not parse
  // (detail names the file and the parse error).
  static AffinityResult<Topology> discover(std::filesystem::path sysfs_root = "/sys");

  const std::filesystem::path& sysfs_root() const { return root_; }

  const CpuSet& online_cpus() const { return online_; }

  // At least 1.
  std::size_t node_count() const { return nodes_.size(); }
  // Node ids in ascending order; not necessarily contiguous.
  std::vector<int> nodes() const;

  // The online CPUs of `node` (possibly empty for a memory-only node), or no_such_node.
  AffinityResult<CpuSet> cpus_of_node(int node) const;

  // The node holding `cpu`, or no_such_cpu when the CPU is not online or (inconsistent
  // sysfs) belongs to no node.
  AffinityResult<int> node_of_cpu(int cpu) const;

  // Success when every CPU of `set` is online (an empty set passes); otherwise
  // no_such_cpu naming the lowest CPU that is not.
  AffinityResult<void> validate(const CpuSet& set) const;

  // The NUMA node of network interface `ifname`, read now (not at discover()) from
  // class/net/<ifname>/device/numa_node below the sysfs root:
  //   - the node id when the device reports one this topology knows;
  //   - when the node is unknown — a virtual interface (lo, veth, bridges: no device
  //     directory), a device without a numa_node file (virtio), numa_node -1, or an id
  //     this topology does not have — the only node's id on a single-node machine, and
  //     std::nullopt on a multi-node machine, where the caller must choose (any node
  //     works, none is local).
  // Errors: no_such_interface when the interface does not exist, or the name is empty,
  // ".", "..", contains '/' or NUL, or is longer than IFNAMSIZ-1 (such names never reach
  // the file system); system_error when numa_node exists but cannot be read or parsed.
  AffinityResult<std::optional<int>> interface_numa_node(std::string_view ifname) const;

 private:
  Topology(std::filesystem::path root, CpuSet online, std::vector<std::pair<int, CpuSet>> nodes)
      : root_(std::move(root)), online_(std::move(online)), nodes_(std::move(nodes)) {}

  std::filesystem::path root_;
  CpuSet online_;
  std::vector<std::pair<int, CpuSet>> nodes_;  // sorted by node id, never empty
};

}  // namespace dwcp::affinity
