// One anonymous memory mapping for a pool's buffers: NUMA-local, huge-page backed when
// the system allows it, and faulted in up front so the hot path never page-faults.
#pragma once

#include <cstddef>
#include <string_view>

#include "mempool/pool_error.h"

namespace dwcp::mempool {

// What actually backs the arena, best first.
enum class PageBacking {
  explicit_huge_pages,     // MAP_HUGETLB from the reserved pool (vm.nr_hugepages)
  transparent_huge_pages,  // madvise(MADV_HUGEPAGE) accepted and THP not disabled
  normal_pages,
};
std::string_view to_string(PageBacking backing) noexcept;

enum class HugePages { prefer, off };

struct ArenaOptions {
  // NUMA node to place the memory on; -1 means the node of the CPU the caller runs on.
  int numa_node = -1;
  HugePages huge_pages = HugePages::prefer;
};

// Move-only owner of the mapping; unmaps on destruction. Not thread-safe itself; the
// memory it hands out is plain memory.
class Arena {
 public:
  // Maps at least `bytes` (rounded up to the page or huge-page size). Errors:
  // invalid_config for zero bytes, no_such_node, out_of_memory.
  static PoolResult<Arena> map(std::size_t bytes, const ArenaOptions& options = {});

  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&& other) noexcept;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] PageBacking backing() const noexcept { return backing_; }
  // The node the memory is bound to; 0 on a kernel without NUMA support.
  [[nodiscard]] int numa_node() const noexcept { return numa_node_; }

 private:
  Arena(std::byte* data, std::size_t size, PageBacking backing, int node) noexcept
      : data_(data), size_(size), backing_(backing), numa_node_(node) {}

  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  PageBacking backing_ = PageBacking::normal_pages;
  int numa_node_ = 0;
};

}  // namespace dwcp::mempool
