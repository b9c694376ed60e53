#include "transport/api/numa_placement.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace dwcp {

namespace {

affinity::CpuSet single(int cpu) {
  affinity::CpuSet set;
  set.add(cpu);
  return set;
}

bool same_host(const sockaddr* a, const transport::SocketAddress& b) {
  if (a == nullptr || a->sa_family != b.family()) return false;
  if (b.is_v4()) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(b.data());
    return x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(a);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(b.data());
  return std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace

std::expected<NumaPlacement, std::string> plan_numa_placement(
    std::string_view cpus, ThreadingMode threading, const affinity::Topology& topology,
    std::optional<std::string_view> interface) {
  NumaPlacement placement;
  if (!cpus.empty()) {
    auto parsed = affinity::CpuSet::parse(cpus);
    if (!parsed) return std::unexpected("cpus: " + affinity::to_string(parsed.error()));
    if (parsed->empty()) return std::unexpected("cpus: the list names no CPU");
    if (auto valid = topology.validate(*parsed); !valid) {
      return std::unexpected("cpus: " + affinity::to_string(valid.error()));
    }
    const std::vector<int> ids = parsed->ids();
    placement.io_cpus = single(ids.front());
    placement.receiver_cpus = single(ids.size() > 1 ? ids[1] : ids.front());
    if (auto node = topology.node_of_cpu(ids.front())) placement.memory_node = *node;
    placement.detail = "pinned to CPU " + std::to_string(ids.front());
    if (threading == ThreadingMode::dedicated) {
      placement.detail += ", receiver to CPU " + std::to_string(placement.receiver_cpus->ids()[0]);
    }
    if (placement.memory_node) {
      placement.detail += ", memory on node " + std::to_string(*placement.memory_node);
    }
    return placement;
  }
  if (threading != ThreadingMode::dedicated || topology.node_count() < 2) {
    placement.detail = "not pinned";
    return placement;
  }
  if (!interface) {
    placement.detail = "not pinned (no interface holds the bound address)";
    return placement;
  }
  auto reported = topology.interface_numa_node(*interface);
  const std::optional<int> node = reported ? *reported : std::nullopt;
  if (!node) {
    placement.detail = "not pinned (the NUMA node of " + std::string(*interface) + " is unknown)";
    return placement;
  }
  const int id = *node;
  auto node_cpus = topology.cpus_of_node(id);
  if (!node_cpus || node_cpus->empty()) {
    placement.detail = "not pinned (node " + std::to_string(id) + " has no CPU online)";
    return placement;
  }
  placement.io_cpus = *node_cpus;
  placement.receiver_cpus = *node_cpus;
  placement.memory_node = id;
  placement.detail = "pinned to node " + std::to_string(id) + " of " + std::string(*interface) +
                     " (CPUs " + node_cpus->to_string() + "), memory there";
  return placement;
}

std::optional<std::string> interface_holding(const transport::SocketAddress& address) {
  if (address.is_unspecified()) return std::nullopt;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (const ifaddrs* entry = list; entry != nullptr && !found; entry = entry->ifa_next) {
    if (same_host(entry->ifa_addr, address)) found = entry->ifa_name;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace dwcp
