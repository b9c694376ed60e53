// When a send goes zero-copy, shared by the backends that can (io_mmsg.h with MSG_ZEROCOPY,
// io_uring.h with SENDMSG_ZC), and the statistics that say what happened.
//
// Zero-copy pins the sender's pages instead of copying them; it pays off only for large
// buffers (the kernel's msg_zerocopy.rst puts the break-even near 10 KB) and only when the
// device really reads from those pages. On loopback, or a device without scatter-gather,
// the kernel copies anyway and says so in the completion (SO_EE_CODE_ZEROCOPY_COPIED,
// IORING_NOTIF_USAGE_ZC_COPIED); the pinning and the completion round trip are then pure
// cost (0.5-0.7x throughput, MACHINE.md). Automatic mode therefore uses zero-copy for large
// entries only, and stops for good at the first completion that says "copied".
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "transport/io_backend.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

// Entries smaller than this go by copy in automatic mode.
inline constexpr std::size_t kZerocopyMinBytes = std::size_t{16} << 10;

// Thread safety: use(), sent() and completed() belong to the sending thread; statistics()
// and active() may be called from any thread.
class ZerocopyPolicy {
 public:
  // `available`: the kernel accepted what zero-copy needs (SO_ZEROCOPY, the opcode).
  ZerocopyPolicy(ZerocopyMode mode, bool available) noexcept
      : mode_(mode), active_(available && mode != ZerocopyMode::off) {}

  [[nodiscard]] bool active() const noexcept { return active_.load(std::memory_order_relaxed); }
  // Whether an entry of `bytes` goes zero-copy now.
  [[nodiscard]] bool use(std::size_t bytes) const noexcept {
    return active() && (mode_ == ZerocopyMode::on || bytes >= kZerocopyMinBytes);
  }
  void sent(std::uint64_t entries) noexcept { add(sends_, entries); }
  // One completion (covering `count` sends); `copied`: the kernel copied the data.
  void completed(bool copied, std::uint64_t count = 1) noexcept {
    if (!copied) return;
    add(copied_, count);
    if (mode_ == ZerocopyMode::automatic && active()) {
      active_.store(false, std::memory_order_relaxed);
      turned_off_.store(true, std::memory_order_relaxed);
    }
  }
  // Completions that did not arrive in time: zero-copy is stopped in any mode, since the
  // kernel may still read pages the caller now reuses (a torn datagram then fails the
  // receiver's checksum and is recovered as loss).
  void late(std::uint64_t count) noexcept {
    add(late_, count);
    active_.store(false, std::memory_order_relaxed);
    turned_off_.store(true, std::memory_order_relaxed);
  }

  [[nodiscard]] IoStatistics statistics() const noexcept {
    IoStatistics s;
    s.zerocopy_sends = sends_.load(std::memory_order_relaxed);
    s.zerocopy_copied = copied_.load(std::memory_order_relaxed);
    s.zerocopy_late = late_.load(std::memory_order_relaxed);
    s.zerocopy_turned_off = turned_off_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // Only the sending thread writes the counters, so a load and a store suffice.
  static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  ZerocopyMode mode_;
  std::atomic<bool> active_;
  std::atomic<bool> turned_off_{false};
  std::atomic<std::uint64_t> sends_{0};
  std::atomic<std::uint64_t> copied_{0};
  std::atomic<std::uint64_t> late_{0};
};

}  // namespace dwcp::transport
