#include "affinity/pinning.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <memory>
#include <string>

namespace dwcp::affinity {

namespace {

struct CpuAllocFree {
  void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};
using CpuMask = std::unique_ptr<cpu_set_t, CpuAllocFree>;

// Sizing the kernel mask from the highest CPU asked for, not CPU_SETSIZE, is what lets
// machines with more than 1024 CPUs be pinned.
AffinityResult<void> set_affinity(pthread_t thread, const CpuSet& cpus, const Topology& topology) {
  if (cpus.empty()) {
    return std::unexpected(
        AffinityError{AffinityErrc::no_such_cpu, "the CPU set is empty; a thread needs a CPU"});
  }
  if (auto valid = topology.validate(cpus); !valid) return valid;

  const auto ncpus = static_cast<std::size_t>(cpus.last().value_or(0)) + 1;
  CpuMask mask(CPU_ALLOC(ncpus));
  if (!mask) return std::unexpected(make_system_error("CPU_ALLOC", ENOMEM));
  const std::size_t bytes = CPU_ALLOC_SIZE(ncpus);
  CPU_ZERO_S(bytes, mask.get());
  for (const int cpu : cpus) {
    CPU_SET_S(static_cast<std::size_t>(cpu), bytes, mask.get());
  }

  // pthread_*affinity_np return the error number instead of setting errno.
  const int err = pthread_setaffinity_np(thread, bytes, mask.get());
  if (err != 0) {
    return std::unexpected(
        make_system_error("pthread_setaffinity_np(" + cpus.to_string() + ")", err));
  }
  return {};
}

AffinityResult<void> set_affinity(pthread_t thread, const CpuSet& cpus) {
  auto topology = Topology::discover();
  if (!topology) return std::unexpected(std::move(topology.error()));
  return set_affinity(thread, cpus, *topology);
}

AffinityResult<CpuSet> get_affinity(pthread_t thread) {
  // The kernel rejects a mask smaller than its CPU count with EINVAL; grow until it fits.
  for (std::size_t ncpus = CPU_SETSIZE;; ncpus *= 2) {
    CpuMask mask(CPU_ALLOC(ncpus));
    if (!mask) return std::unexpected(make_system_error("CPU_ALLOC", ENOMEM));
    const std::size_t bytes = CPU_ALLOC_SIZE(ncpus);
    const int err = pthread_getaffinity_np(thread, bytes, mask.get());
    if (err == 0) return CpuSet::from_cpu_set_t(mask.get(), bytes);
    if (err != EINVAL || ncpus > static_cast<std::size_t>(CpuSet::kMaxCpuId)) {
      return std::unexpected(make_system_error("pthread_getaffinity_np", err));
    }
  }
}

AffinityResult<pthread_t> handle_of(std::thread& thread) {
  if (!thread.joinable()) {
    return std::unexpected(AffinityError{AffinityErrc::system_error,
                                         "the std::thread is not joinable (no running thread)"});
  }
  return thread.native_handle();
}

}  // namespace

AffinityResult<void> pin_current_thread(const CpuSet& cpus) {
  return set_affinity(pthread_self(), cpus);
}

AffinityResult<void> pin_current_thread(const CpuSet& cpus, const Topology& topology) {
  return set_affinity(pthread_self(), cpus, topology);
}

AffinityResult<void> pin_thread(std::thread& thread, const CpuSet& cpus) {
  auto handle = handle_of(thread);
  if (!handle) return std::unexpected(std::move(handle.error()));
  return set_affinity(*handle, cpus);
}

AffinityResult<void> pin_thread(std::thread& thread, const CpuSet& cpus, const Topology& topology) {
  auto handle = handle_of(thread);
  if (!handle) return std::unexpected(std::move(handle.error()));
  return set_affinity(*handle, cpus, topology);
}

AffinityResult<CpuSet> current_thread_affinity() {
  return get_affinity(pthread_self());
}

AffinityResult<CpuSet> thread_affinity(std::thread& thread) {
  auto handle = handle_of(thread);
  if (!handle) return std::unexpected(std::move(handle.error()));
  return get_affinity(*handle);
}

}  // namespace dwcp::affinity
