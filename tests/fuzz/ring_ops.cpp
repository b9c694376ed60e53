// Drives SpscRing and MpmcRing through a byte-coded sequence of single and batch
// operations, checking each step against a std::deque model and element lifetimes.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "lockfree/mpmc_ring.h"
#include "lockfree/spsc_ring.h"
#include "tests/support/lifetime_tracker.h"

namespace {

using dwcp::test::LifetimeTracker;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

template <typename Ring>
void run(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Ring ring(1 + data[0] % 64);
  std::deque<std::uint64_t> model;
  std::uint64_t next = 0;
  for (std::size_t i = 1; i < size; ++i) {
    const std::size_t amount = data[i] >> 3;
    switch (data[i] & 7) {
      case 0:
      case 1: {
        const bool pushed = ring.try_push(LifetimeTracker(next));
        check(pushed == (model.size() < ring.capacity()));
        if (pushed) model.push_back(next++);
        break;
      }
      case 2: {
        LifetimeTracker out;
        const bool popped = ring.try_pop(out);
        check(popped == !model.empty());
        if (popped) {
          check(out.value == model.front());
          model.pop_front();
        }
        break;
      }
      case 3: {
        std::vector<LifetimeTracker> batch;
        for (std::size_t k = 0; k < amount; ++k) batch.emplace_back(next + k);
        const std::size_t pushed = ring.push_n(batch.data(), batch.size());
        check(pushed == std::min(amount, ring.capacity() - model.size()));
        for (std::size_t k = 0; k < pushed; ++k) model.push_back(next++);
        break;
      }
      case 4: {
        std::vector<LifetimeTracker> out(amount);
        const std::size_t popped = ring.pop_n(out.data(), out.size());
        check(popped == std::min(amount, model.size()));
        for (std::size_t k = 0; k < popped; ++k) {
          check(out[k].value == model.front());
          model.pop_front();
        }
        break;
      }
      case 5: {
        const std::size_t handled = ring.drain(
            [&](LifetimeTracker&& t) noexcept {
              check(!model.empty() && t.value == model.front());
              model.pop_front();
            },
            amount);
        check(handled <= amount);
        break;
      }
      default:
        check(ring.size_approx() == model.size());
        break;
    }
    check(LifetimeTracker::live == static_cast<long>(model.size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  LifetimeTracker::reset();
  run<dwcp::lockfree::SpscRing<LifetimeTracker>>(data, size);
  run<dwcp::lockfree::MpmcRing<LifetimeTracker>>(data, size);
  check(LifetimeTracker::live == 0 && LifetimeTracker::errors == 0);
  return 0;
}
