#include "affinity/topology.h"

#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <system_error>

namespace dwcp::affinity {

namespace fs = std::filesystem;

namespace {

// sysfs attributes are at most a page; anything longer is not one of ours.
constexpr std::size_t kMaxAttributeBytes = std::size_t{64} * 1024;
constexpr int kMaxNodeId = 1 << 20;

// Reads a whole small file. Returns the errno of a failed open/read as the error value so
// callers can tell "absent" (ENOENT) from "unreadable".
std::expected<std::string, int> read_attribute(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(errno);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return std::unexpected(err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMaxAttributeBytes) {
      ::close(fd);
      return std::unexpected(EFBIG);
    }
  }
  ::close(fd);
  return out;
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const auto begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kBlanks) - begin + 1);
}

AffinityResult<CpuSet> read_cpu_list(const fs::path& path, bool allow_empty) {
  auto text = read_attribute(path);
  if (!text)
    return std::unexpected(make_system_error("cannot read " + path.string(), text.error()));
  // A memory-only node's cpulist is a bare newline.
  if (allow_empty && trim(*text).empty()) return CpuSet{};
  auto set = CpuSet::parse(*text);
  if (!set) {
    return std::unexpected(AffinityError{AffinityErrc::malformed_cpu_list,
                                         "in " + path.string() + ": " + set.error().detail});
  }
  return set;
}

// "node12" -> 12; anything else (has_cpu, online, possible, power) -> nullopt.
std::optional<int> node_id_from_name(std::string_view name) {
  constexpr std::string_view kPrefix = "node";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size() || id > kMaxNodeId) {
    return std::nullopt;
  }
  return id;
}

bool is_safe_interface_name(std::string_view name) {
  // The name becomes a path component, so it must not climb out of class/net.
  return !name.empty() && name.size() < IFNAMSIZ && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

}  // namespace

AffinityResult<Topology> Topology::discover(fs::path sysfs_root) {
  auto online = read_cpu_list(sysfs_root / "devices/system/cpu/online", /*allow_empty=*/false);
  if (!online) return std::unexpected(std::move(online.error()));

  std::vector<std::pair<int, CpuSet>> nodes;
  const fs::path node_dir = sysfs_root / "devices/system/node";
  std::error_code ec;
  fs::directory_iterator it(node_dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return std::unexpected(make_system_error("cannot list " + node_dir.string(), ec.value()));
  }
  if (!ec) {
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      const auto id = node_id_from_name(it->path().filename().native());
      if (!id) continue;
      auto cpus = read_cpu_list(it->path() / "cpulist", /*allow_empty=*/true);
      if (!cpus) return std::unexpected(std::move(cpus.error()));
      nodes.emplace_back(*id, *cpus & *online);
    }
    if (ec) {
      return std::unexpected(make_system_error("cannot list " + node_dir.string(), ec.value()));
    }
  }
  if (nodes.empty()) {
    nodes.emplace_back(0, *online);
  } else {
    std::sort(nodes.begin(), nodes.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  return Topology(std::move(sysfs_root), std::move(*online), std::move(nodes));
}

std::vector<int> Topology::nodes() const {
  std::vector<int> ids;
  ids.reserve(nodes_.size());
  for (const auto& node : nodes_) {
    ids.push_back(node.first);
  }
  return ids;
}

AffinityResult<CpuSet> Topology::cpus_of_node(int node) const {
  for (const auto& [id, cpus] : nodes_) {
    if (id == node) return cpus;
  }
  std::string known;
  for (const auto& entry : nodes_) {
    if (!known.empty()) known += ',';
    known += std::to_string(entry.first);
  }
  return std::unexpected(
      AffinityError{AffinityErrc::no_such_node,
                    "node " + std::to_string(node) + " does not exist (nodes: " + known + ")"});
}

AffinityResult<int> Topology::node_of_cpu(int cpu) const {
  if (!online_.contains(cpu)) {
    return std::unexpected(AffinityError{
        AffinityErrc::no_such_cpu,
        "CPU " + std::to_string(cpu) + " is not online (online: " + online_.to_string() + ")"});
  }
  for (const auto& [id, cpus] : nodes_) {
    if (cpus.contains(cpu)) return id;
  }
  return std::unexpected(AffinityError{
      AffinityErrc::no_such_cpu,
      "CPU " + std::to_string(cpu) + " is online but no NUMA node lists it in " + root_.string()});
}

AffinityResult<void> Topology::validate(const CpuSet& set) const {
  const auto missing = (set - online_).first();
  if (!missing) return {};
  return std::unexpected(AffinityError{
      AffinityErrc::no_such_cpu,
      "CPU " + std::to_string(*missing) + " is not online (online: " + online_.to_string() + ")"});
}

AffinityResult<std::optional<int>> Topology::interface_numa_node(std::string_view ifname) const {
  if (!is_safe_interface_name(ifname)) {
    return std::unexpected(
        AffinityError{AffinityErrc::no_such_interface,
                      std::string("\"").append(ifname).append("\" is not a valid interface name")});
  }
  const fs::path iface = root_ / "class/net" / std::string(ifname);
  std::error_code ec;
  const bool present = fs::exists(iface, ec);
  if (ec) return std::unexpected(make_system_error("cannot stat " + iface.string(), ec.value()));
  if (!present) {
    return std::unexpected(AffinityError{
        AffinityErrc::no_such_interface,
        "no interface \"" + std::string(ifname) + "\" under " + (root_ / "class/net").string()});
  }

  std::optional<int> node;
  const fs::path numa_file = iface / "device" / "numa_node";
  if (auto text = read_attribute(numa_file)) {
    const std::string_view value = trim(*text);
    int parsed = 0;
    const auto [end, parse_ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
    if (parse_ec != std::errc{} || end != value.data() + value.size()) {
      return std::unexpected(
          AffinityError{AffinityErrc::system_error,
                        "cannot parse " + numa_file.string() + ": \"" + std::string(value) + "\""});
    }
    const bool known = std::any_of(nodes_.begin(), nodes_.end(),
                                   [parsed](const auto& entry) { return entry.first == parsed; });
    if (known) node = parsed;
  } else if (text.error() != ENOENT) {
    return std::unexpected(make_system_error("cannot read " + numa_file.string(), text.error()));
  }
  // ENOENT: virtual interface (no device link) or a bus without NUMA information.
  if (!node && nodes_.size() == 1) node = nodes_.front().first;
  return node;
}

}  // namespace dwcp::affinity
