// A sysfs look-alike for tests of code that reads CPU, NUMA and network-interface
// topology: a fresh temporary directory, removed on destruction.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace dwcp::testing {

// A sysfs look-alike in a fresh temporary directory, removed on destruction.
class FakeSysfs {
 public:
  FakeSysfs() {
    static std::atomic<int> counter{0};
    root_ = std::filesystem::temp_directory_path() /
            ("dwcp_affinity_sysfs_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  ~FakeSysfs() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  const std::filesystem::path& root() const { return root_; }

  void write(const std::filesystem::path& relative, std::string_view content) const {
    const std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  void mkdir(const std::filesystem::path& relative) const {
    std::filesystem::create_directories(root_ / relative);
  }

  // A NIC the way sysfs shows one: class/net/<name> links to the device's net directory,
  // whose "device" links to the PCI device holding numa_node.
  void add_pci_interface(std::string_view name, std::string_view numa_node) const {
    const std::filesystem::path pci = "devices/pci0000:00/0000:00:01.0/" + std::string(name);
    write(pci / "numa_node", numa_node);
    mkdir(pci / "net" / name);
    std::filesystem::create_directory_symlink(root_ / pci, root_ / pci / "net" / name / "device");
    mkdir("class/net");
    std::filesystem::create_directory_symlink(root_ / pci / "net" / name,
                                              root_ / "class/net" / name);
  }
  // A virtual interface: no device link at all.
  void add_virtual_interface(std::string_view name) const {
    write(std::filesystem::path("devices/virtual/net") / name / "mtu", "65536\n");
    mkdir("class/net");
    std::filesystem::create_directory_symlink(root_ / "devices/virtual/net" / name,
                                              root_ / "class/net" / name);
  }

 private:
  std::filesystem::path root_;
};

}  // namespace dwcp::testing
