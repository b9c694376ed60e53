// Helpers shared by the threaded benchmarks: bounded spinning and CPU pinning.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "affinity/cpu_set.h"
#include "affinity/pinning.h"

namespace dwcp::bench {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// Spin, then yield (two threads may share a core). wait() returns false once the caller has
// made no progress for kStallLimit: a lost item then fails the case instead of hanging it.
class Backoff {
 public:
  [[nodiscard]] bool wait() noexcept {
    if (++spins_ < kSpinLimit) {
      cpu_relax();
      return true;
    }
    std::this_thread::yield();
    const auto now = std::chrono::steady_clock::now();
    if (spins_ == kSpinLimit) {
      since_ = now;
      return true;
    }
    return now - since_ < kStallLimit;
  }
  void reset() noexcept { spins_ = 0; }

 private:
  static constexpr std::uint32_t kSpinLimit = 1024;
  static constexpr auto kStallLimit = std::chrono::seconds(5);
  std::uint32_t spins_ = 0;
  std::chrono::steady_clock::time_point since_{};
};

// Pins the calling thread to `cpu`; the error as text, or nullopt.
inline std::optional<std::string> pin_to(int cpu) {
  affinity::CpuSet set;
  set.add(cpu);
  auto pinned = affinity::pin_current_thread(set);
  if (!pinned) return "cannot pin to CPU " + std::to_string(cpu) + ": " + to_string(pinned.error());
  return std::nullopt;
}

// Pins the benchmark's thread for one case and puts its affinity back afterwards.
class ScopedPin {
 public:
  explicit ScopedPin(int cpu) {
    if (auto saved = affinity::current_thread_affinity()) saved_ = std::move(*saved);
    error_ = pin_to(cpu);
  }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;
  ~ScopedPin() {
    if (saved_) (void)affinity::pin_current_thread(*saved_);
  }
  [[nodiscard]] const std::optional<std::string>& error() const { return error_; }

 private:
  std::optional<affinity::CpuSet> saved_;
  std::optional<std::string> error_;
};

}  // namespace dwcp::bench
