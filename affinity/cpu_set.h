// CpuSet: a set of CPU ids, with the Linux cpu-list text form ("0-3,8") and conversions
// to and from the kernel's cpu_set_t.
#pragma once

#include <sched.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affinity/affinity_error.h"

namespace dwcp::affinity {

// A value type: a growable bitset over CPU ids 0..kMaxCpuId. Copyable and movable; like any
// standard container, concurrent const use is safe and mutation needs external locking.
// Two sets compare equal when they hold the same ids, however they were built.
class CpuSet {
 public:
  // Largest id a set can hold. Far above Linux's NR_CPUS ceiling (8192), so every real
  // CPU fits, while bounding what a parsed list can allocate (128 KiB).
  static constexpr int kMaxCpuId = (1 << 20) - 1;

  CpuSet() = default;

  // Parses Linux cpu-list syntax: comma-separated items, each "N" or "A-B" with A <= B,
  // decimal ids in 0..kMaxCpuId (leading zeros allowed). Spaces, tabs and newlines are
  // allowed at either end and around commas, never inside an item ("1 - 3" is rejected),
  // so a sysfs file's trailing newline needs no trimming. The kernel's stride form
  // ("0-7:2/4") and "N" for the last CPU are not supported.
  // Returns the set, or malformed_cpu_list whose detail names the offending piece and its
  // 0-based byte position in `text`: empty or blank input, an empty item ("1,,2", "1,"),
  // a sign or any other stray character ("-1", "a"), a missing range end ("1-"), a
  // descending range ("3-1"), or an id above kMaxCpuId (overflow included).
  static AffinityResult<CpuSet> parse(std::string_view text);

  // Every CPU set in a fixed-size cpu_set_t (CPU_SETSIZE bits).
  static CpuSet from_cpu_set_t(const cpu_set_t& set);
  // Every CPU set in a CPU_ALLOC'd set of `size_bytes` bytes (the CPU_*_S macros' size).
  // Ids above kMaxCpuId are dropped.
  static CpuSet from_cpu_set_t(const cpu_set_t* set, std::size_t size_bytes);

  // Overwrites `out` with this set. Returns no_such_cpu naming the first id that does not
  // fit in CPU_SETSIZE (1024), leaving `out` unspecified; pinning uses dynamically sized
  // sets and has no such limit.
  AffinityResult<void> to_cpu_set_t(cpu_set_t& out) const;

  // Adds `cpu`. Returns false, leaving the set unchanged, when cpu is outside
  // 0..kMaxCpuId; true otherwise (also when it was already present).
  bool add(int cpu);
  // Removes `cpu` if present; ids outside the range are ignored.
  void remove(int cpu);
  void clear() { words_.clear(); }

  bool contains(int cpu) const;
  std::size_t count() const;
  bool empty() const { return words_.empty(); }
  // The lowest / highest id, or nullopt when empty.
  std::optional<int> first() const;
  std::optional<int> last() const;

  // Canonical cpu-list: ascending, runs of two or more collapsed to "A-B", no spaces
  // ("0-3,8"); "" for the empty set. parse(to_string()) == *this for every non-empty set.
  std::string to_string() const;

  // Ids in ascending order.
  std::vector<int> ids() const;

  // Forward iteration over ids in ascending order: for (int cpu : set). Iterators are
  // invalidated by any change to the set.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    using pointer = const int*;
    using reference = int;

    const_iterator() = default;
    int operator*() const { return cpu_; }
    const_iterator& operator++() {
      cpu_ = set_->next_from(cpu_ + 1);
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const const_iterator& other) const { return cpu_ == other.cpu_; }

   private:
    friend class CpuSet;
    const_iterator(const CpuSet* set, int cpu) : set_(set), cpu_(cpu) {}
    const CpuSet* set_ = nullptr;
    int cpu_ = -1;  // -1 is end()
  };
  const_iterator begin() const { return {this, next_from(0)}; }
  const_iterator end() const { return {this, -1}; }

  friend bool operator==(const CpuSet&, const CpuSet&) = default;
  // Union, intersection and difference (ids in the left set but not the right).
  friend CpuSet operator|(const CpuSet& a, const CpuSet& b);
  friend CpuSet operator&(const CpuSet& a, const CpuSet& b);
  friend CpuSet operator-(const CpuSet& a, const CpuSet& b);

 private:
  // Lowest id >= from, or -1 when there is none.
  int next_from(int from) const;
  // Drops high zero words so that equal sets have equal vectors (defaulted ==).
  void trim();

  std::vector<std::uint64_t> words_;
};

}  // namespace dwcp::affinity
