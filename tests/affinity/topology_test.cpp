#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"
#include "affinity/topology.h"
#include "tests/support/fake_sysfs.h"

namespace fs = std::filesystem;
using dwcp::affinity::AffinityErrc;
using dwcp::affinity::CpuSet;
using dwcp::affinity::Topology;
using dwcp::testing::FakeSysfs;

namespace {

// Two nodes of four CPUs each; eth1 on node 1, eth9 with numa_node -1, veth0 virtual,
// and virtio0 whose device has no numa_node file.
void build_two_node_machine(const FakeSysfs& sys) {
  sys.write("devices/system/cpu/online", "0-7\n");
  sys.write("devices/system/node/node0/cpulist", "0-3\n");
  sys.write("devices/system/node/node1/cpulist", "4-7\n");
  sys.write("devices/system/node/online", "0-1\n");
  sys.write("devices/system/node/possible", "0-1\n");
  sys.mkdir("devices/system/node/has_cpu");
  sys.add_pci_interface("eth1", "1\n");
  sys.add_pci_interface("eth9", "-1\n");
  sys.add_virtual_interface("veth0");
  sys.mkdir("devices/virtio0/net/virtio0");
  sys.mkdir("class/net/virtio0/device");
}

Topology discovered(const fs::path& root) {
  auto topology = Topology::discover(root);
  REQUIRE_MESSAGE(topology.has_value(), dwcp::affinity::to_string(topology.error()));
  return *topology;
}

CpuSet cpus(std::string_view text) {
  return *CpuSet::parse(text);
}

}  // namespace

TEST_CASE("discover reads online CPUs and the CPUs of each node") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const Topology topology = discovered(sys.root());
  CHECK(topology.online_cpus() == cpus("0-7"));
  CHECK(topology.node_count() == 2);
  CHECK(topology.nodes() == std::vector<int>{0, 1});
  CHECK(topology.cpus_of_node(0).value() == cpus("0-3"));
  CHECK(topology.cpus_of_node(1).value() == cpus("4-7"));
}

TEST_CASE("node_of_cpu finds the node holding a CPU") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const Topology topology = discovered(sys.root());
  CHECK(topology.node_of_cpu(0).value() == 0);
  CHECK(topology.node_of_cpu(5).value() == 1);
}

TEST_CASE("node_of_cpu rejects a CPU that is not online") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const auto node = discovered(sys.root()).node_of_cpu(8);
  REQUIRE_FALSE(node.has_value());
  CHECK(node.error().code == AffinityErrc::no_such_cpu);
  CHECK(discovered(sys.root()).node_of_cpu(-1).error().code == AffinityErrc::no_such_cpu);
}

TEST_CASE("cpus_of_node rejects a node that does not exist") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const auto node = discovered(sys.root()).cpus_of_node(2);
  REQUIRE_FALSE(node.has_value());
  CHECK(node.error().code == AffinityErrc::no_such_node);
}

TEST_CASE("validate names the first CPU that is not online") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const Topology topology = discovered(sys.root());
  CHECK(topology.validate(cpus("0-7")).has_value());
  CHECK(topology.validate(CpuSet{}).has_value());
  const auto result = topology.validate(cpus("3,9,12"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == AffinityErrc::no_such_cpu);
  CHECK(result.error().detail.starts_with("CPU 9 "));
}

TEST_CASE("interface on node 1 resolves to node 1") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const auto node = discovered(sys.root()).interface_numa_node("eth1");
  REQUIRE(node.has_value());
  CHECK(*node == std::optional<int>(1));
}

TEST_CASE("interface with numa_node -1 is unknown on a multi-node machine") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const auto node = discovered(sys.root()).interface_numa_node("eth9");
  REQUIRE(node.has_value());
  CHECK_FALSE(node->has_value());
}

TEST_CASE("virtual interface is unknown on a multi-node machine") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const Topology topology = discovered(sys.root());
  const auto veth = topology.interface_numa_node("veth0");
  REQUIRE(veth.has_value());
  CHECK_FALSE(veth->has_value());
  const auto virtio = topology.interface_numa_node("virtio0");
  REQUIRE(virtio.has_value());
  CHECK_FALSE(virtio->has_value());
}

TEST_CASE("interface reporting a node the machine lacks is unknown") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  sys.add_pci_interface("eth7", "7\n");
  const auto node = discovered(sys.root()).interface_numa_node("eth7");
  REQUIRE(node.has_value());
  CHECK_FALSE(node->has_value());
}

TEST_CASE("missing interface is no_such_interface") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  const auto node = discovered(sys.root()).interface_numa_node("eth5");
  REQUIRE_FALSE(node.has_value());
  CHECK(node.error().code == AffinityErrc::no_such_interface);
  CHECK(node.error().detail.find("eth5") != std::string::npos);
}

TEST_CASE("interface names that could escape class/net are refused") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  // A tree an escaping name would reach if it were used as a path.
  sys.write("class/evil/device/numa_node", "1\n");
  sys.write("class/net/eth1/evil/device/numa_node", "1\n");
  const Topology topology = discovered(sys.root());
  for (const std::string_view name :
       {"../evil", "..", ".", "", "eth1/evil", "eth1/../eth1", "a_name_too_long_for_linux"}) {
    CAPTURE(name);
    const auto node = topology.interface_numa_node(name);
    REQUIRE_FALSE(node.has_value());
    CHECK(node.error().code == AffinityErrc::no_such_interface);
  }
  const auto nul = topology.interface_numa_node(std::string_view("eth1\0x", 6));
  REQUIRE_FALSE(nul.has_value());
  CHECK(nul.error().code == AffinityErrc::no_such_interface);
}

TEST_CASE("unparseable numa_node is a system error") {
  FakeSysfs sys;
  build_two_node_machine(sys);
  sys.add_pci_interface("eth3", "one\n");
  const auto node = discovered(sys.root()).interface_numa_node("eth3");
  REQUIRE_FALSE(node.has_value());
  CHECK(node.error().code == AffinityErrc::system_error);
}

TEST_CASE("machine without node directories is one node holding every online CPU") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-3\n");
  sys.add_pci_interface("eth0", "-1\n");
  sys.add_virtual_interface("lo");
  const Topology topology = discovered(sys.root());
  CHECK(topology.node_count() == 1);
  CHECK(topology.nodes() == std::vector<int>{0});
  CHECK(topology.cpus_of_node(0).value() == cpus("0-3"));
  CHECK(topology.node_of_cpu(3).value() == 0);
  CHECK(topology.interface_numa_node("eth0").value() == std::optional<int>(0));
  CHECK(topology.interface_numa_node("lo").value() == std::optional<int>(0));
}

TEST_CASE("empty node directory is the same as none") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-1\n");
  sys.write("devices/system/node/possible", "0\n");
  const Topology topology = discovered(sys.root());
  CHECK(topology.nodes() == std::vector<int>{0});
  CHECK(topology.cpus_of_node(0).value() == cpus("0-1"));
}

TEST_CASE("memory-only node has no CPUs and node ids may have gaps") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-3\n");
  sys.write("devices/system/node/node0/cpulist", "0-3\n");
  sys.write("devices/system/node/node2/cpulist", "\n");
  const Topology topology = discovered(sys.root());
  CHECK(topology.nodes() == std::vector<int>{0, 2});
  CHECK(topology.cpus_of_node(2).value().empty());
  CHECK(topology.cpus_of_node(1).error().code == AffinityErrc::no_such_node);
}

TEST_CASE("node CPUs are limited to the online ones") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-2\n");
  sys.write("devices/system/node/node0/cpulist", "0-3\n");
  CHECK(discovered(sys.root()).cpus_of_node(0).value() == cpus("0-2"));
}

TEST_CASE("discover fails without an online file") {
  FakeSysfs sys;
  const auto topology = Topology::discover(sys.root());
  REQUIRE_FALSE(topology.has_value());
  CHECK(topology.error().code == AffinityErrc::system_error);
  CHECK(topology.error().detail.find("ENOENT") != std::string::npos);
}

TEST_CASE("discover reports a malformed online file with its path") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-x\n");
  const auto topology = Topology::discover(sys.root());
  REQUIRE_FALSE(topology.has_value());
  CHECK(topology.error().code == AffinityErrc::malformed_cpu_list);
  CHECK(topology.error().detail.find("devices/system/cpu/online") != std::string::npos);
}

TEST_CASE("discover reports a malformed node cpulist") {
  FakeSysfs sys;
  sys.write("devices/system/cpu/online", "0-3\n");
  sys.write("devices/system/node/node0/cpulist", "3-0\n");
  const auto topology = Topology::discover(sys.root());
  REQUIRE_FALSE(topology.has_value());
  CHECK(topology.error().code == AffinityErrc::malformed_cpu_list);
  CHECK(topology.error().detail.find("node0/cpulist") != std::string::npos);
}

TEST_CASE("real sysfs has CPU 0 online and at least one node") {
  const Topology topology = discovered("/sys");
  CHECK(topology.online_cpus().contains(0));
  CHECK(topology.node_count() >= 1);
  CHECK(topology.node_of_cpu(0).has_value());
  for (const int node : topology.nodes()) {
    CHECK(topology.cpus_of_node(node).has_value());
  }
  CHECK(topology.validate(topology.online_cpus()).has_value());
}

TEST_CASE("real loopback interface exists and resolves on a one-node machine") {
  const Topology topology = discovered("/sys");
  const auto node = topology.interface_numa_node("lo");
  REQUIRE_MESSAGE(node.has_value(), dwcp::affinity::to_string(node.error()));
  if (topology.node_count() == 1) CHECK(*node == std::optional<int>(topology.nodes().front()));
  CHECK(topology.interface_numa_node("dwcp-no-such0").error().code ==
        AffinityErrc::no_such_interface);
}
