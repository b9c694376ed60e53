// Reference-counted handle to one pooled buffer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace dwcp::mempool {

class BufferPool;
class ThreadCache;

namespace detail {

class SizeClass;

// Per-buffer bookkeeping, kept apart from the buffer so the payload starts aligned and
// uses the whole buffer. One cache line each, so two threads working on neighbouring
// buffers do not share a line.
struct alignas(64) BufferHeader {
  std::atomic<std::uint32_t> refs{0};  // 0 while the buffer is free
  std::uint32_t index = 0;
  std::uint32_t capacity = 0;
  std::uint32_t length = 0;
  std::uint32_t class_index = 0;
  std::byte* data = nullptr;
  SizeClass* owner = nullptr;
  BufferPool* pool = nullptr;  // == &owner->pool(), kept here to save a load on release
};

// Drops one reference; the last one returns the buffer to its pool.
void release_reference(BufferHeader* header) noexcept;

}  // namespace detail

// A counted reference to a buffer from a BufferPool. Copying shares the buffer (the
// retransmit queue and an in-flight send can hold it at once); the buffer returns to its
// pool when the last handle lets go. An empty handle (operator bool false) is what an
// exhausted pool hands out.
//
// Thread safety: different handles to the same buffer may be copied and destroyed on
// different threads concurrently. The buffer's bytes and its length are shared by all
// handles and are not synchronised: the threads must agree who writes.
// Lifetime: every handle must be gone before its pool is destroyed.
class BufferHandle {
 public:
  BufferHandle() noexcept = default;
  BufferHandle(const BufferHandle& other) noexcept : header_(other.header_) {
    if (header_ != nullptr) header_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  BufferHandle(BufferHandle&& other) noexcept : header_(std::exchange(other.header_, nullptr)) {}
  BufferHandle& operator=(const BufferHandle& other) noexcept {
    BufferHandle copy(other);
    swap(copy);
    return *this;
  }
  BufferHandle& operator=(BufferHandle&& other) noexcept {
    BufferHandle moved(std::move(other));
    swap(moved);
    return *this;
  }
  ~BufferHandle() { reset(); }

  // Lets go of the buffer; the handle becomes empty.
  void reset() noexcept {
    if (header_ != nullptr) detail::release_reference(std::exchange(header_, nullptr));
  }
  void swap(BufferHandle& other) noexcept { std::swap(header_, other.header_); }

  explicit operator bool() const noexcept { return header_ != nullptr; }

  // The whole buffer. Precondition for all accessors below: the handle is not empty.
  [[nodiscard]] std::byte* data() const noexcept { return header_->data; }
  [[nodiscard]] std::size_t capacity() const noexcept { return header_->capacity; }
  [[nodiscard]] std::span<std::byte> buffer() const noexcept {
    return {header_->data, header_->capacity};
  }

  // How many bytes of the buffer hold payload; 0 after allocation.
  [[nodiscard]] std::size_t length() const noexcept { return header_->length; }
  // Returns false, changing nothing, if `length` exceeds the capacity.
  [[nodiscard]] bool set_length(std::size_t length) noexcept {
    if (length > header_->capacity) return false;
    header_->length = static_cast<std::uint32_t>(length);
    return true;
  }
  [[nodiscard]] std::span<std::byte> payload() const noexcept {
    return {header_->data, header_->length};
  }

  // Number of handles (and raw references) to this buffer; racy unless the caller holds
  // the only one.
  [[nodiscard]] std::uint32_t use_count() const noexcept {
    return header_->refs.load(std::memory_order_relaxed);
  }
  // Index of the buffer within its size class: stable, usable as a buffer id.
  [[nodiscard]] std::uint32_t index() const noexcept { return header_->index; }

  // Gives up this handle's reference without releasing it and returns the buffer's
  // start, for code that must carry a raw pointer (a kernel completion, say). Take the
  // reference back with BufferPool::from_raw. The handle becomes empty.
  [[nodiscard]] std::byte* into_raw() && noexcept {
    std::byte* data = header_->data;
    header_ = nullptr;
    return data;
  }

 private:
  friend class BufferPool;
  friend class ThreadCache;
  explicit BufferHandle(detail::BufferHeader* header) noexcept : header_(header) {}

  detail::BufferHeader* header_ = nullptr;
};

}  // namespace dwcp::mempool
