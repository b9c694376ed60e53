// Cache-line constants shared by every concurrent structure in dwcp.
#pragma once

#include <cstddef>

namespace dwcp::lockfree {

// Size of one cache line on x86-64.
inline constexpr std::size_t kCacheLine = 64;

// Distance that keeps two independently written fields from sharing a line, counting the
// adjacent-line prefetcher that pulls lines in pairs (folly and Aeron pad the same way).
// std::hardware_destructive_interference_size is not used: GCC warns that its value may
// change between compiler versions, which would change our layouts.
inline constexpr std::size_t kFalseSharingRange = 128;

}  // namespace dwcp::lockfree
