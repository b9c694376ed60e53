// Thread pinning: restrict a thread to a set of CPUs.
#pragma once

#include <thread>

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"
#include "affinity/topology.h"

namespace dwcp::affinity {

// The pin functions check `cpus` before asking the kernel, so a bad request fails with a
// clear error and leaves the thread's affinity as it was:
//   - no_such_cpu when `cpus` is empty or names a CPU that is not online (the detail
//     names the lowest such CPU);
//   - system_error when the topology cannot be read (the overloads without a Topology
//     call Topology::discover() each time; pass one to avoid re-reading /sys), or when the
//     kernel refuses, e.g. EINVAL because every CPU in the set lies outside the
//     process's cpuset cgroup. The kernel silently drops CPUs outside that cgroup as long
//     as one remains; read the result back with *_affinity() if that matters.
// CPU ids beyond 1024 are supported (dynamically sized masks). All functions are safe to
// call from any thread. Setup-time calls: they allocate and may read sysfs.

// Pins the calling thread. On success the thread runs only on `cpus` by the time this
// returns (the kernel migrates it before returning).
AffinityResult<void> pin_current_thread(const CpuSet& cpus);
AffinityResult<void> pin_current_thread(const CpuSet& cpus, const Topology& topology);

// Pins `thread`, which must be joinable (system_error otherwise); the std::thread is only
// borrowed for the call.
AffinityResult<void> pin_thread(std::thread& thread, const CpuSet& cpus);
AffinityResult<void> pin_thread(std::thread& thread, const CpuSet& cpus, const Topology& topology);

// The CPUs the calling thread / `thread` may run on, or system_error.
AffinityResult<CpuSet> current_thread_affinity();
AffinityResult<CpuSet> thread_affinity(std::thread& thread);

}  // namespace dwcp::affinity
