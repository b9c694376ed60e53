// Where a Node's I/O threads run and where their memory comes from. On a machine with
// several NUMA nodes a packet's bytes cross the interconnect whenever the NIC, the thread
// handling the packet and its buffers sit on different nodes; the placement keeps them on
// one node when it can tell which.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "affinity/cpu_set.h"
#include "affinity/topology.h"
#include "transport/api/options.h"
#include "transport/udp_socket.h"

namespace dwcp {

struct NumaPlacement {
  std::optional<affinity::CpuSet> io_cpus;        // pin the I/O thread here
  std::optional<affinity::CpuSet> receiver_cpus;  // and the receiver thread (dedicated mode)
  std::optional<int> memory_node;                 // the node the threads' memory comes from
  std::string detail;                             // one line: what was chosen and why
};

// Decides the placement:
// - `cpus` given (a CPU list, NodeOptions::cpus): the I/O thread on its first CPU, the
//   receiver thread (dedicated mode) on the second, else the first; memory on the node of
//   the I/O thread's CPU;
// - else, in dedicated mode on a machine with several nodes, when `interface` (the one
//   holding the bound address) reports its node: both threads on that node's CPUs, and
//   memory there;
// - else no pinning, and memory wherever the kernel puts it.
// Errors, as one line: a CPU list that does not parse or names a CPU that is not online.
std::expected<NumaPlacement, std::string> plan_numa_placement(
    std::string_view cpus, ThreadingMode threading, const affinity::Topology& topology,
    std::optional<std::string_view> interface);

// The network interface that holds `address` (getifaddrs), or nullopt for a wildcard
// address or one no interface has.
std::optional<std::string> interface_holding(const transport::SocketAddress& address);

}  // namespace dwcp
