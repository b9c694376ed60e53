// A full memory fence for the Dekker-style handshakes between app threads and the I/O
// thread (a message queued, then a flag read; a flag written, then the queue read).
//
// ThreadSanitizer does not model std::atomic_thread_fence (GCC refuses it under
// -fsanitize=thread); there a sequentially consistent read-modify-write of one shared
// atomic stands in, which orders the same way in its model.
//
// (An asymmetric fence — membarrier(2) on the I/O side, a compiler barrier on the app side —
// lost wake-ups on this project's paravirtualised test VM, so both sides pay the fence.)
#pragma once

#include <atomic>

namespace dwcp::detail {

inline void full_fence() noexcept {
#if defined(__SANITIZE_THREAD__)
  static std::atomic<int> fence_point{0};
  fence_point.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace dwcp::detail
