// NUMA memory placement through libnuma: bind a range to a node, or set the calling
// thread's preferred node.
#pragma once

#include <cstddef>

#include "affinity/affinity_error.h"

namespace dwcp::affinity {

// Kernels without NUMA support (numa_available() < 0) are treated as a single node 0:
// asking for node 0 there succeeds and does nothing, any other node is no_such_node.
// Elsewhere a node exists when the calling process may allocate memory on it (libnuma's
// numa_all_nodes_ptr, which honours the cpuset cgroup). All functions are safe to call
// from any thread; they are setup-time calls (a system call each).

// Binds the pages of [addr, addr + len) to `node` (mbind MPOL_BIND with MPOL_MF_MOVE):
// pages faulted later come from `node` only, and pages already present that are used by
// this process alone are moved there. `addr` must be page aligned; `len` is rounded up to
// whole pages by the kernel, and len 0 is a successful no-op. The range must be mapped.
// The caller keeps ownership of the memory; the policy lasts as long as the mapping.
// Errors: no_such_node; system_error for an unaligned addr (EINVAL, detail names the
// address and page size) and for a kernel refusal (EFAULT for an unmapped range, EIO
// when a page could not be moved, EPERM where seccomp forbids mbind).
AffinityResult<void> bind_memory_to_node(void* addr, std::size_t len, int node);

// Makes `node` the calling thread's preferred node (set_mempolicy MPOL_PREFERRED): its
// later allocations come from `node` while it has free memory, from other nodes after.
// Pages already allocated stay where they are. Errors: no_such_node; system_error when
// the kernel refuses.
AffinityResult<void> prefer_node_for_current_thread(int node);

// Returns the calling thread to the system default policy (MPOL_DEFAULT: allocate on the
// node of the CPU that faults the page). A no-op without NUMA support. Errors:
// system_error when the kernel refuses.
AffinityResult<void> reset_memory_policy_for_current_thread();

}  // namespace dwcp::affinity
