// Bounded multi-producer multi-consumer ring (Dmitry Vyukov's bounded MPMC queue).
//
// Every slot carries a sequence number that says whose turn it is: a slot with
// sequence == pos is free for the producer that claims position pos, one with
// sequence == pos + 1 holds the element for the consumer that claims pos. Producers and
// consumers claim positions with a CAS on their own counter and never touch the other
// side's counter, so a push and a pop do not contend with each other.
//
// Batch operations claim several consecutive positions with a single CAS, after
// checking that every slot in the run is ready. Once the CAS succeeds nobody else can
// claim those positions, and a ready slot stays ready until its owner consumes it, so the
// check cannot go stale.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "lockfree/cache_line.h"

namespace dwcp::lockfree {

// Thread safety: any number of threads may push and pop concurrently. size_approx() and
// capacity() may be called from any thread. Construction and destruction must not race
// with anything. Progress: lock-free except that a producer (consumer) preempted between
// claiming a slot and publishing it holds up consumers (producers) of that one slot.
template <typename T>
class MpmcRing {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T> &&
                    std::is_nothrow_destructible_v<T>,
                "a throw after a slot is claimed would wedge that slot");

 public:
  // Capacity is rounded up to a power of two (at least 2). Throws std::length_error if
  // that overflows, std::bad_alloc if the slots cannot be allocated.
  explicit MpmcRing(std::size_t min_capacity)
      : mask_(round_up_capacity(min_capacity) - 1),
        slots_(static_cast<Slot*>(
            ::operator new (sizeof(Slot) * (mask_ + 1), std::align_val_t{kFalseSharingRange}))) {
    static_assert(offsetof(MpmcRing, enqueue_pos_) - offsetof(MpmcRing, mask_) >=
                  kFalseSharingRange);
    static_assert(offsetof(MpmcRing, dequeue_pos_) - offsetof(MpmcRing, enqueue_pos_) >=
                  kFalseSharingRange);
    for (std::size_t i = 0; i <= mask_; ++i) {
      ::new (static_cast<void*>(&slots_[i])) Slot;
      slots_[i].sequence.store(i, std::memory_order_relaxed);
    }
  }

  MpmcRing(const MpmcRing&) = delete;
  MpmcRing& operator=(const MpmcRing&) = delete;

  // Destroys the elements still queued.
  ~MpmcRing() {
    const std::uint64_t tail = enqueue_pos_.load(std::memory_order_relaxed);
    for (std::uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed); pos != tail; ++pos) {
      slot(pos).element()->~T();
    }
    for (std::size_t i = 0; i <= mask_; ++i) slots_[i].~Slot();
    ::operator delete (slots_, std::align_val_t{kFalseSharingRange});
  }

  // Constructs an element in place. Returns false (and constructs nothing) if the ring is
  // full.
  // A constructor that may throw runs before a slot is claimed, so a throw leaves the ring
  // untouched.
  template <typename... Args>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept(
      std::is_nothrow_constructible_v<T, Args&&...>) {
    if constexpr (!std::is_nothrow_constructible_v<T, Args&&...>) {
      T value(std::forward<Args>(args)...);
      return try_emplace(std::move(value));
    } else {
      std::uint64_t pos = enqueue_pos_.load(std::memory_order_relaxed);
      for (;;) {
        Slot& s = slot(pos);
        // Pairs with the release store of a consumer that freed this slot a lap ago.
        const std::uint64_t seq = s.sequence.load(std::memory_order_acquire);
        const auto diff = static_cast<std::int64_t>(seq - pos);
        if (diff == 0) {
          if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
            ::new (static_cast<void*>(s.element())) T(std::forward<Args>(args)...);
            // Publishes the element; pairs with the acquire load in the pop functions.
            s.sequence.store(pos + 1, std::memory_order_release);
            return true;
          }
        } else if (diff < 0) {
          return false;  // the slot still holds last lap's element: full
        } else {
          pos = enqueue_pos_.load(std::memory_order_relaxed);
        }
      }
    }
  }

  [[nodiscard]] bool try_push(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    return try_emplace(value);
  }
  [[nodiscard]] bool try_push(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return try_emplace(std::move(value));
  }

  // Moves the oldest element into `out`. Returns false if the ring is empty.
  [[nodiscard]] bool try_pop(T& out) noexcept(
      std::is_nothrow_move_assignable_v<T>&& std::is_nothrow_destructible_v<T>) {
    std::uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slot(pos);
      const std::uint64_t seq = s.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::int64_t>(seq - (pos + 1));
      if (diff == 0) {
        if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          T* element = s.element();
          out = std::move(*element);
          element->~T();
          // Frees the slot for the producer one lap ahead.
          s.sequence.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // no element published here yet: empty
      } else {
        pos = dequeue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  // Moves up to `count` elements from `first` into the ring, claiming their slots with
  // one CAS. Returns how many were pushed (0 when full); those are left moved-from.
  [[nodiscard]] std::size_t push_n(T* first, std::size_t count) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    if (count == 0) return 0;
    std::uint64_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      const std::size_t n = ready_run(pos, count, 0);
      if (n == 0) {
        if (slot_lags(pos, 0)) return 0;
        pos = enqueue_pos_.load(std::memory_order_relaxed);
        continue;
      }
      if (enqueue_pos_.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < n; ++i) {
          Slot& s = slot(pos + i);
          ::new (static_cast<void*>(s.element())) T(std::move(first[i]));
          s.sequence.store(pos + i + 1, std::memory_order_release);
        }
        return n;
      }
    }
  }

  // Calls handler(T&&) for up to `limit` elements, claiming their slots with one CAS.
  // Returns how many were handled. The handler must not throw.
  template <typename Handler>
  std::size_t drain(Handler&& handler,
                    std::size_t limit) noexcept(std::is_nothrow_invocable_v<Handler&, T&&>) {
    if (limit == 0) return 0;
    std::uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      const std::size_t n = ready_run(pos, limit, 1);
      if (n == 0) {
        if (slot_lags(pos, 1)) return 0;
        pos = dequeue_pos_.load(std::memory_order_relaxed);
        continue;
      }
      if (dequeue_pos_.compare_exchange_weak(pos, pos + n, std::memory_order_relaxed)) {
        for (std::size_t i = 0; i < n; ++i) {
          Slot& s = slot(pos + i);
          T* element = s.element();
          handler(std::move(*element));
          element->~T();
          s.sequence.store(pos + i + mask_ + 1, std::memory_order_release);
        }
        return n;
      }
    }
  }

  // Moves up to `count` elements into out[0..); returns how many.
  [[nodiscard]] std::size_t pop_n(T* out, std::size_t count) noexcept(
      std::is_nothrow_move_assignable_v<T>&& std::is_nothrow_destructible_v<T>) {
    std::size_t i = 0;
    return drain(
        [&](T&& v) noexcept(std::is_nothrow_move_assignable_v<T>) { out[i++] = std::move(v); },
        count);
  }

  // Racy: exact only when no operation is running.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::uint64_t head = dequeue_pos_.load(std::memory_order_acquire);
    const std::uint64_t tail = enqueue_pos_.load(std::memory_order_acquire);
    return tail >= head ? static_cast<std::size_t>(tail - head) : 0;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  // NOLINTNEXTLINE(*-member-init): `bytes` is raw storage, constructed into on push.
  struct Slot {
    std::atomic<std::uint64_t> sequence;
    alignas(T) std::byte bytes[sizeof(T)];
    T* element() noexcept { return std::launder(reinterpret_cast<T*>(bytes)); }
  };

  static std::size_t round_up_capacity(std::size_t n) {
    if (n > (std::size_t{1} << 62)) throw std::length_error("MpmcRing capacity too large");
    return std::bit_ceil(n < 2 ? std::size_t{2} : n);
  }

  Slot& slot(std::uint64_t pos) const noexcept { return slots_[pos & mask_]; }

  // Length of the run of slots from `pos` (at most `limit`, never past one lap) whose
  // sequence is pos + i + turn, i.e. ready for a producer (turn 0) or consumer (turn 1).
  std::size_t ready_run(std::uint64_t pos, std::size_t limit, std::uint64_t turn) const noexcept {
    if (limit > mask_ + 1) limit = mask_ + 1;
    std::size_t n = 0;
    while (n < limit && slot(pos + n).sequence.load(std::memory_order_acquire) == pos + n + turn) {
      ++n;
    }
    return n;
  }

  // True when the slot at `pos` is behind the caller's turn: full for a producer, empty
  // for a consumer. False means another thread moved the counter past `pos`.
  bool slot_lags(std::uint64_t pos, std::uint64_t turn) const noexcept {
    const std::uint64_t seq = slot(pos).sequence.load(std::memory_order_acquire);
    return static_cast<std::int64_t>(seq - (pos + turn)) < 0;
  }

  alignas(kFalseSharingRange) const std::size_t mask_;
  Slot* const slots_;

  // Claimed by producers.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> enqueue_pos_{0};

  // Claimed by consumers.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> dequeue_pos_{0};
  char padding_[kFalseSharingRange - sizeof(std::atomic<std::uint64_t>)] = {};
};

}  // namespace dwcp::lockfree
