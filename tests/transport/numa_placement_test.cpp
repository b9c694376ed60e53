#include "transport/api/numa_placement.h"

#include <doctest/doctest.h>

#include <string>

#include "affinity/topology.h"
#include "tests/support/fake_sysfs.h"
#include "transport/udp_socket.h"

using dwcp::NumaPlacement;
using dwcp::ThreadingMode;
using dwcp::affinity::CpuSet;
using dwcp::affinity::Topology;
using dwcp::testing::FakeSysfs;

namespace {

// Two nodes of four CPUs; eth1 on node 1, veth0 virtual.
Topology two_nodes(const FakeSysfs& sys) {
  sys.write("devices/system/cpu/online", "0-7\n");
  sys.write("devices/system/node/node0/cpulist", "0-3\n");
  sys.write("devices/system/node/node1/cpulist", "4-7\n");
  sys.add_pci_interface("eth1", "1\n");
  sys.add_virtual_interface("veth0");
  auto topology = Topology::discover(sys.root());
  REQUIRE(topology.has_value());
  return *topology;
}

NumaPlacement plan(const Topology& topology, std::string_view cpus, ThreadingMode threading,
                   std::optional<std::string_view> interface) {
  auto placement = dwcp::plan_numa_placement(cpus, threading, topology, interface);
  REQUIRE_MESSAGE(placement.has_value(), placement.error());
  return *placement;
}

}  // namespace

TEST_CASE("a CPU list pins the threads to its first two CPUs, memory on the first's node") {
  FakeSysfs sys;
  const Topology topology = two_nodes(sys);
  const NumaPlacement p = plan(topology, "5,2", ThreadingMode::dedicated, "eth1");
  REQUIRE(p.io_cpus);
  CHECK(p.io_cpus->to_string() == "2");
  CHECK(p.receiver_cpus->to_string() == "5");
  CHECK(p.memory_node == 0);
  CHECK(p.detail.find("node 0") != std::string::npos);
  // One CPU serves both threads.
  const NumaPlacement one = plan(topology, "6", ThreadingMode::dedicated, std::nullopt);
  CHECK(one.receiver_cpus->to_string() == "6");
  CHECK(one.memory_node == 1);
}

TEST_CASE("dedicated mode without a CPU list follows the NIC's node") {
  FakeSysfs sys;
  const Topology topology = two_nodes(sys);
  const NumaPlacement p = plan(topology, "", ThreadingMode::dedicated, "eth1");
  REQUIRE(p.io_cpus);
  CHECK(p.io_cpus->to_string() == "4-7");
  CHECK(p.receiver_cpus->to_string() == "4-7");
  CHECK(p.memory_node == 1);
  // A virtual interface, no interface, or the shared mode: nothing is pinned.
  for (const auto& [threading, interface] :
       {std::pair{ThreadingMode::dedicated, std::optional<std::string_view>{"veth0"}},
        std::pair{ThreadingMode::dedicated, std::optional<std::string_view>{}},
        std::pair{ThreadingMode::shared, std::optional<std::string_view>{"eth1"}}}) {
    const NumaPlacement none = plan(topology, "", threading, interface);
    CHECK_FALSE(none.io_cpus);
    CHECK_FALSE(none.memory_node);
    CHECK(none.detail.starts_with("not pinned"));
  }
}

TEST_CASE("a single-node machine pins nothing unless asked") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-1\n");
  sys.add_pci_interface("eth0", "0\n");
  auto topology = Topology::discover(sys.root());
  REQUIRE(topology.has_value());
  CHECK_FALSE(plan(*topology, "", ThreadingMode::dedicated, "eth0").io_cpus);
  CHECK(plan(*topology, "1", ThreadingMode::shared, "eth0").io_cpus->to_string() == "1");
}

TEST_CASE("bad CPU lists are refused with a message") {
  FakeSysfs sys;
  const Topology topology = two_nodes(sys);
  for (const char* bad : {"x", "9", "3-1", "0,,1"}) {
    auto placement = dwcp::plan_numa_placement(bad, ThreadingMode::shared, topology, std::nullopt);
    REQUIRE_FALSE(placement.has_value());
    CHECK(placement.error().starts_with("cpus: "));
  }
}

TEST_CASE("the interface holding an address") {
  CHECK(dwcp::interface_holding(dwcp::transport::SocketAddress::loopback_v4(0)) == "lo");
  CHECK_FALSE(dwcp::interface_holding(dwcp::transport::SocketAddress::any_v4(0)));
  CHECK_FALSE(dwcp::interface_holding(*dwcp::transport::SocketAddress::parse("192.0.2.77:1")));
}
