#include <doctest/doctest.h>

#include <sched.h>

#include <future>
#include <string>
#include <thread>

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"
#include "affinity/pinning.h"
#include "affinity/topology.h"

using dwcp::affinity::AffinityErrc;
using dwcp::affinity::CpuSet;
using dwcp::affinity::Topology;
namespace affinity = dwcp::affinity;

namespace {

// Puts the calling thread's affinity back as it was when the guard was made.
class AffinityRestorer {
 public:
  AffinityRestorer() : saved_(affinity::current_thread_affinity()) { REQUIRE(saved_.has_value()); }
  ~AffinityRestorer() {
    cpu_set_t* mask = CPU_ALLOC(CpuSet::kMaxCpuId + 1);
    const std::size_t bytes = CPU_ALLOC_SIZE(CpuSet::kMaxCpuId + 1);
    CPU_ZERO_S(bytes, mask);
    for (const int cpu : *saved_) {
      CPU_SET_S(static_cast<std::size_t>(cpu), bytes, mask);
    }
    // Straight to the kernel so that a bug in the code under test cannot break the restore.
    CHECK(sched_setaffinity(0, bytes, mask) == 0);
    CPU_FREE(mask);
  }
  AffinityRestorer(const AffinityRestorer&) = delete;
  AffinityRestorer& operator=(const AffinityRestorer&) = delete;

  const CpuSet& saved() const { return *saved_; }

 private:
  affinity::AffinityResult<CpuSet> saved_;
};

Topology real_topology() {
  auto topology = Topology::discover();
  REQUIRE_MESSAGE(topology.has_value(), affinity::to_string(topology.error()));
  return *topology;
}

CpuSet only(int cpu) {
  CpuSet set;
  REQUIRE(set.add(cpu));
  return set;
}

}  // namespace

TEST_CASE("current thread affinity is a non-empty subset of the online CPUs") {
  const auto current = affinity::current_thread_affinity();
  REQUIRE(current.has_value());
  CHECK_FALSE(current->empty());
  CHECK(real_topology().validate(*current).has_value());
}

TEST_CASE("pinning the current thread to each usable CPU in turn moves it there") {
  AffinityRestorer restore;
  const Topology topology = real_topology();
  // CPUs online but outside this process's cpuset cannot be pinned to; skip them.
  const CpuSet usable = topology.online_cpus() & restore.saved();
  REQUIRE_FALSE(usable.empty());
  for (const int cpu : usable) {
    CAPTURE(cpu);
    const auto pinned = affinity::pin_current_thread(only(cpu));
    REQUIRE_MESSAGE(pinned.has_value(), affinity::to_string(pinned.error()));
    CHECK(affinity::current_thread_affinity().value() == only(cpu));
    CHECK(sched_getcpu() == cpu);
  }
}

TEST_CASE("pinning with a given topology works like discovering one") {
  AffinityRestorer restore;
  const Topology topology = real_topology();
  const int cpu = *restore.saved().last();
  REQUIRE(affinity::pin_current_thread(only(cpu), topology).has_value());
  CHECK(sched_getcpu() == cpu);
}

TEST_CASE("pinning to a CPU that does not exist fails and keeps the old affinity") {
  AffinityRestorer restore;
  const CpuSet before = affinity::current_thread_affinity().value();
  CpuSet set = only(0);
  REQUIRE(set.add(100000));
  const auto pinned = affinity::pin_current_thread(set);
  REQUIRE_FALSE(pinned.has_value());
  CHECK(pinned.error().code == AffinityErrc::no_such_cpu);
  CHECK(pinned.error().detail.find("100000") != std::string::npos);
  CHECK(affinity::current_thread_affinity().value() == before);
}

TEST_CASE("pinning to an empty set fails and keeps the old affinity") {
  AffinityRestorer restore;
  const CpuSet before = affinity::current_thread_affinity().value();
  const auto pinned = affinity::pin_current_thread(CpuSet{});
  REQUIRE_FALSE(pinned.has_value());
  CHECK(pinned.error().code == AffinityErrc::no_such_cpu);
  CHECK(affinity::current_thread_affinity().value() == before);
}

TEST_CASE("pin_thread pins another thread before it runs on") {
  AffinityRestorer restore;
  const int cpu = *restore.saved().last();
  std::promise<void> go;
  std::promise<int> ran_on;
  std::thread worker([&go, &ran_on] {
    go.get_future().wait();
    ran_on.set_value(sched_getcpu());
  });
  const auto pinned = affinity::pin_thread(worker, only(cpu));
  const auto read_back = affinity::thread_affinity(worker);
  go.set_value();
  const int seen = ran_on.get_future().get();
  worker.join();
  REQUIRE_MESSAGE(pinned.has_value(), affinity::to_string(pinned.error()));
  CHECK(read_back.value() == only(cpu));
  CHECK(seen == cpu);
}

TEST_CASE("pin_thread rejects a nonexistent CPU without touching the thread") {
  std::promise<void> go;
  std::thread worker([&go] { go.get_future().wait(); });
  const CpuSet before = affinity::thread_affinity(worker).value();
  const auto pinned = affinity::pin_thread(worker, only(100000));
  const CpuSet after = affinity::thread_affinity(worker).value();
  go.set_value();
  worker.join();
  REQUIRE_FALSE(pinned.has_value());
  CHECK(pinned.error().code == AffinityErrc::no_such_cpu);
  CHECK(after == before);
}

TEST_CASE("pin_thread refuses a thread that is not running") {
  std::thread idle;
  const auto pinned = affinity::pin_thread(idle, only(0));
  REQUIRE_FALSE(pinned.has_value());
  CHECK(pinned.error().code == AffinityErrc::system_error);
  CHECK_FALSE(affinity::thread_affinity(idle).has_value());
}
