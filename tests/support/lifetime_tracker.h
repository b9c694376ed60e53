// An element type that counts its own lifetimes, for container tests: a copy or move
// from a destroyed object, a double destruction, or a leak shows up in the counters.
#pragma once

#include <atomic>
#include <cstdint>

namespace dwcp::test {

class LifetimeTracker {
 public:
  static inline std::atomic<long> live{0};
  static inline std::atomic<long> errors{0};

  static void reset() {
    live = 0;
    errors = 0;
  }

  explicit LifetimeTracker(std::uint64_t v = 0) noexcept : value(v) { ++live; }
  LifetimeTracker(const LifetimeTracker& other) noexcept : value(other.value) {
    check(other);
    ++live;
  }
  LifetimeTracker(LifetimeTracker&& other) noexcept : value(other.value) {
    check(other);
    ++live;
  }
  LifetimeTracker& operator=(const LifetimeTracker& other) noexcept {
    check(*this);
    check(other);
    value = other.value;
    return *this;
  }
  LifetimeTracker& operator=(LifetimeTracker&& other) noexcept {
    check(*this);
    check(other);
    value = other.value;
    return *this;
  }
  ~LifetimeTracker() {
    check(*this);
    state_ = kDestroyed;
    --live;
  }

  std::uint64_t value;

 private:
  static constexpr std::uint32_t kAlive = 0xA11CE5u;
  static constexpr std::uint32_t kDestroyed = 0xDEADu;
  static void check(const LifetimeTracker& t) noexcept {
    if (t.state_ != kAlive) ++errors;
  }
  std::uint32_t state_ = kAlive;
};

}  // namespace dwcp::test
