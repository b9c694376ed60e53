// Bounded single-producer single-consumer ring.
//
// One thread pushes, one thread pops. Indices grow without wrapping (64-bit) and are
// masked into a power-of-two slot array, so all `capacity()` slots are usable. Each side
// keeps a private copy of the other side's index and rereads the shared one only when
// the copy says the ring looks full (producer) or empty (consumer), which keeps the two
// cores from trading the index cache lines on every operation (rigtorp's SPSCQueue).
// Batch operations publish one index store per batch.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "lockfree/cache_line.h"

namespace dwcp::lockfree {

// Thread safety: exactly one producer thread may call the push functions and exactly one
// consumer thread the pop functions, concurrently. size_approx() and capacity() may be
// called from any thread. Construction and destruction must not race with anything.
template <typename T>
class SpscRing {
 public:
  // Capacity is rounded up to a power of two (at least 2). Throws std::length_error if
  // that overflows, std::bad_alloc if the slots cannot be allocated.
  explicit SpscRing(std::size_t min_capacity)
      : mask_(round_up_capacity(min_capacity) - 1),
        slots_(static_cast<Slot*>(
            ::operator new (sizeof(Slot) * (mask_ + 1), std::align_val_t{kFalseSharingRange}))) {
    static_assert(offsetof(SpscRing, tail_) - offsetof(SpscRing, mask_) >= kFalseSharingRange);
    static_assert(offsetof(SpscRing, head_) - offsetof(SpscRing, tail_) >= kFalseSharingRange);
  }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // Destroys the elements still queued.
  ~SpscRing() {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    for (std::uint64_t i = head_.load(std::memory_order_relaxed); i != tail; ++i) {
      slot(i)->~T();
    }
    ::operator delete (slots_, std::align_val_t{kFalseSharingRange});
  }

  // Producer. Constructs an element in place. Returns false (and constructs nothing) if
  // the ring is full.
  template <typename... Args>
  [[nodiscard]] bool try_emplace(Args&&... args) noexcept(
      std::is_nothrow_constructible_v<T, Args&&...>) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      // Pairs with the release store of head_ in the pop functions: the slot is free.
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    ::new (static_cast<void*>(slot(tail))) T(std::forward<Args>(args)...);
    // Publishes the element; pairs with the acquire load of tail_ in the pop functions.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  [[nodiscard]] bool try_push(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    return try_emplace(value);
  }
  [[nodiscard]] bool try_push(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return try_emplace(std::move(value));
  }

  // Producer. Moves up to `count` elements from `first` into the ring with one publish.
  // Returns how many were pushed (0 when full); those elements are left moved-from.
  [[nodiscard]] std::size_t push_n(T* first, std::size_t count) noexcept(
      std::is_nothrow_move_constructible_v<T>) {
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    std::size_t free_slots = capacity() - (tail - head_cache_);
    if (free_slots < count) {
      head_cache_ = head_.load(std::memory_order_acquire);
      free_slots = capacity() - (tail - head_cache_);
    }
    const std::size_t n = count < free_slots ? count : free_slots;
    // At most two contiguous stretches (before and after the wrap), copied without
    // per-element masking; trivially copyable elements go by memcpy.
    const std::size_t first_part = before_wrap(tail, n);
    construct_from(slot(tail), first, first_part);
    construct_from(slot(tail + first_part), first + first_part, n - first_part);
    if (n != 0) tail_.store(tail + n, std::memory_order_release);
    // Ask for the lines the next batch will write while the consumer may still be reading
    // them: the ownership transfer then overlaps this batch instead of stalling the next.
    // Only slots already known free are touched, so no published element is disturbed.
    const std::uint64_t next = tail + n;
    const std::size_t known_free = capacity() - (next - head_cache_);
    const std::size_t ahead = n < known_free ? n : known_free;
    for (std::size_t i = 0; i < ahead; i += kSlotsPerLine) __builtin_prefetch(slot(next + i), 1);
    return n;
  }

  // Consumer. Moves the oldest element into `out`. Returns false if the ring is empty.
  [[nodiscard]] bool try_pop(T& out) noexcept(
      std::is_nothrow_move_assignable_v<T>&& std::is_nothrow_destructible_v<T>) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    T* element = slot(head);
    out = std::move(*element);
    element->~T();
    // Hands the slot back; pairs with the acquire load of head_ in the push functions.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer. Calls handler(T&&) for up to `limit` elements, oldest first, and frees
  // their slots with one publish. Returns how many were handled. The handler must not
  // throw and must not pop from this ring.
  template <typename Handler>
  std::size_t drain(Handler&& handler,
                    std::size_t limit) noexcept(std::is_nothrow_invocable_v<Handler&, T&&>) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    const std::size_t available = readable(head, limit);
    const std::size_t n = limit < available ? limit : available;
    // Start fetching the published elements after this batch: the producer wrote them and
    // will not touch them again until they are consumed.
    const std::size_t ahead = available - n < n ? available - n : n;
    for (std::size_t i = 0; i < ahead; i += kSlotsPerLine)
      __builtin_prefetch(slot(head + n + i), 0);
    for (std::size_t i = 0; i < n; ++i) {
      T* element = slot(head + i);
      handler(std::move(*element));
      element->~T();
    }
    if (n != 0) head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer. Moves up to `count` elements into out[0..); returns how many.
  [[nodiscard]] std::size_t pop_n(T* out, std::size_t count) noexcept(
      std::is_nothrow_move_assignable_v<T>&& std::is_nothrow_destructible_v<T>) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      const std::uint64_t head = head_.load(std::memory_order_relaxed);
      const std::size_t available = readable(head, count);
      const std::size_t n = count < available ? count : available;
      const std::size_t first_part = before_wrap(head, n);
      std::memcpy(out, slot(head), first_part * sizeof(T));
      std::memcpy(out + first_part, slot(head + first_part), (n - first_part) * sizeof(T));
      if (n != 0) head_.store(head + n, std::memory_order_release);
      return n;
    } else {
      std::size_t i = 0;
      return drain(
          [&](T&& v) noexcept(std::is_nothrow_move_assignable_v<T>) { out[i++] = std::move(v); },
          count);
    }
  }

  // Racy: exact only when neither side is running.
  [[nodiscard]] std::size_t size_approx() const noexcept {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint64_t tail = tail_.load(std::memory_order_acquire);
    return tail >= head ? static_cast<std::size_t>(tail - head) : 0;
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return mask_ + 1; }

 private:
  static std::size_t round_up_capacity(std::size_t n) {
    if (n > (std::size_t{1} << 62)) throw std::length_error("SpscRing capacity too large");
    return std::bit_ceil(n < 2 ? std::size_t{2} : n);
  }

  // Consumer: elements published from `head` on, rereading the producer's index only when
  // the cached copy shows fewer than `wanted`.
  std::size_t readable(std::uint64_t head, std::size_t wanted) noexcept {
    if (tail_cache_ - head < wanted) tail_cache_ = tail_.load(std::memory_order_acquire);
    return static_cast<std::size_t>(tail_cache_ - head);
  }

  // How many of `n` slots from `pos` lie before the end of the slot array.
  std::size_t before_wrap(std::uint64_t pos, std::size_t n) const noexcept {
    const std::size_t to_end = capacity() - (pos & mask_);
    return n < to_end ? n : to_end;
  }

  static void construct_from(T* to, T* from,
                             std::size_t n) noexcept(std::is_nothrow_move_constructible_v<T>) {
    if constexpr (std::is_trivially_copyable_v<T>) {
      if (n != 0) std::memcpy(static_cast<void*>(to), from, n * sizeof(T));
    } else {
      for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(to + i)) T(std::move(from[i]));
    }
  }

  struct Slot {
    alignas(T) std::byte bytes[sizeof(T)];  // NOLINT(*-member-init): raw storage for a T
  };
  // Stride for prefetching one cache line at a time.
  static constexpr std::size_t kSlotsPerLine =
      sizeof(Slot) >= kCacheLine ? 1 : kCacheLine / sizeof(Slot);
  T* slot(std::uint64_t index) const noexcept {
    return std::launder(reinterpret_cast<T*>(slots_[index & mask_].bytes));
  }

  // Read-only after construction, shared by both sides.
  alignas(kFalseSharingRange) const std::size_t mask_;
  Slot* const slots_;

  // Written by the producer.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> tail_{0};
  std::uint64_t head_cache_ = 0;

  // Written by the consumer.
  alignas(kFalseSharingRange) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_cache_ = 0;

  // Keeps whatever follows the ring off the consumer's line.
  char padding_[kFalseSharingRange - sizeof(std::atomic<std::uint64_t>) - sizeof(std::uint64_t)] =
      {};
};

}  // namespace dwcp::lockfree
