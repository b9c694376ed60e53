#include "mempool/arena.h"

#include <numa.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

namespace dwcp::mempool {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

// madvise(MADV_HUGEPAGE) succeeds even when THP is switched off, so ask sysfs.
bool transparent_huge_pages_enabled() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(in, line) && line.find("[never]") == std::string::npos;
}

PoolResult<int> resolve_node(int requested) {
  if (numa_available() < 0) {
    if (requested > 0) {
      return std::unexpected(PoolError{
          PoolErrc::no_such_node,
          "node " + std::to_string(requested) + " requested but the kernel has no NUMA support"});
    }
    return 0;
  }
  if (requested < 0) {
    const int cpu = sched_getcpu();
    const int node = cpu >= 0 ? numa_node_of_cpu(cpu) : 0;
    return node >= 0 ? node : 0;
  }
  if (requested > numa_max_node() || numa_bitmask_isbitset(numa_all_nodes_ptr, requested) == 0) {
    return std::unexpected(
        PoolError{PoolErrc::no_such_node, "node " + std::to_string(requested) + " does not exist"});
  }
  return requested;
}

// A 2 MiB-aligned region, so the kernel can back it with transparent huge pages.
std::byte* map_aligned(std::size_t size) {
  const std::size_t span = size + kHugePage;
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto* base = static_cast<std::byte*>(raw);
  const auto addr = reinterpret_cast<std::uintptr_t>(base);
  auto* aligned = reinterpret_cast<std::byte*>(round_up(addr, kHugePage));
  const std::size_t head = static_cast<std::size_t>(aligned - base);
  if (head != 0) munmap(base, head);
  const std::size_t tail = span - head - size;
  if (tail != 0) munmap(aligned + size, tail);
  return aligned;
}

}  // namespace

std::string_view to_string(PageBacking backing) noexcept {
  switch (backing) {
    case PageBacking::explicit_huge_pages:
      return "explicit huge pages";
    case PageBacking::transparent_huge_pages:
      return "transparent huge pages";
    case PageBacking::normal_pages:
      return "normal pages";
  }
  return "unknown";
}

PoolResult<Arena> Arena::map(std::size_t bytes, const ArenaOptions& options) {
  if (bytes == 0) return std::unexpected(PoolError{PoolErrc::invalid_config, "empty arena"});
  const auto node = resolve_node(options.numa_node);
  if (!node) return std::unexpected(node.error());

  std::byte* data = nullptr;
  std::size_t size = 0;
  PageBacking backing = PageBacking::normal_pages;
  if (options.huge_pages == HugePages::prefer) {
    size = round_up(bytes, kHugePage);
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
                   -1, 0);
    if (p != MAP_FAILED) {
      data = static_cast<std::byte*>(p);
      backing = PageBacking::explicit_huge_pages;
    } else {
      data = map_aligned(size);
      if (data != nullptr && madvise(data, size, MADV_HUGEPAGE) == 0 &&
          transparent_huge_pages_enabled()) {
        backing = PageBacking::transparent_huge_pages;
      }
    }
  } else {
    size = round_up(bytes, static_cast<std::size_t>(sysconf(_SC_PAGESIZE)));
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) data = static_cast<std::byte*>(p);
  }
  if (data == nullptr) {
    return std::unexpected(
        PoolError{PoolErrc::out_of_memory,
                  "mmap of " + std::to_string(size) + " bytes failed: " + std::strerror(errno)});
  }

  // Bind before the first touch: the first write decides where a page lives.
  if (numa_available() >= 0) numa_tonode_memory(data, size, *node);
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  for (std::size_t off = 0; off < size; off += page) {
    *reinterpret_cast<volatile std::byte*>(data + off) = std::byte{0};
  }
  return Arena(data, size, backing, *node);
}

Arena::Arena(Arena&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      backing_(other.backing_),
      numa_node_(other.numa_node_) {}

Arena& Arena::operator=(Arena&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    backing_ = other.backing_;
    numa_node_ = other.numa_node_;
  }
  return *this;
}

Arena::~Arena() {
  if (data_ != nullptr) munmap(data_, size_);
}

}  // namespace dwcp::mempool
