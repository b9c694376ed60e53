// Errors reported by the buffer pool. Exhaustion is not among them: an empty pool is an
// expected condition and is reported as an empty BufferHandle.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace dwcp::mempool {

enum class PoolErrc {
  invalid_config,  // a size class with zero size or count, or classes out of order
  out_of_memory,   // the arena could not be mapped
  no_such_node,    // the requested NUMA node does not exist
  foreign_buffer,  // a pointer that is not the start of one of this pool's buffers
  double_free,     // a buffer released more often than it was held
};

struct PoolError {
  PoolErrc code;
  std::string detail;
};

std::string_view to_string(PoolErrc code) noexcept;
// One line: "<code>: <detail>".
std::string to_string(const PoolError& error);

template <typename T>
using PoolResult = std::expected<T, PoolError>;

}  // namespace dwcp::mempool
