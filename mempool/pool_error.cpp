#include "mempool/pool_error.h"

namespace dwcp::mempool {

std::string_view to_string(PoolErrc code) noexcept {
  switch (code) {
    case PoolErrc::invalid_config:
      return "invalid pool configuration";
    case PoolErrc::out_of_memory:
      return "out of memory";
    case PoolErrc::no_such_node:
      return "no such NUMA node";
    case PoolErrc::foreign_buffer:
      return "foreign buffer";
    case PoolErrc::double_free:
      return "double free";
  }
  return "unknown pool error";
}

std::string to_string(const PoolError& error) {
  std::string line(to_string(error.code));
  if (!error.detail.empty()) {
    line += ": ";
    line += error.detail;
  }
  return line;
}

}  // namespace dwcp::mempool
