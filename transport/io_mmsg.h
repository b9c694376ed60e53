// The fast kernel backend: sendmmsg/recvmmsg, up to kMaxBatch messages per syscall, with
// UDP GSO on send (one buffer of N x segment_size bytes leaves as N datagrams, the
// kernel's per-packet cost paid once) and UDP GRO on receive (the kernel hands over
// consecutive datagrams of one flow as one buffer).
//
// MACHINE.md measured loopback at 0.33 Mpps without GSO, 1.4 Mpps with GSO, and ~96
// Gbit/s with GSO and GRO: the per-datagram kernel cost, not the syscall, is the limit.
//
// Zero-copy (MSG_ZEROCOPY, io_zerocopy.h decides which entries): the kernel pins the
// caller's pages and reports on the socket's error queue when it is done with them, as
// ranges of per-sendmsg ids. send() waits for those completions (poll for POLLERR, at most
// a second) before it returns, so the spans are free again when it does, as the interface
// promises; a completion that says SO_EE_CODE_ZEROCOPY_COPIED makes automatic mode stop.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "transport/io_backend.h"
#include "transport/io_zerocopy.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

// The socket is made blocking, and every call but receive_wait()'s first says MSG_DONTWAIT:
// an idle loop can then sleep in the receive call itself rather than in epoll followed by
// a receive (one system call fewer per wake-up, ~1.5 us here).
//
// Thread safety: one thread may be in send() while another is in receive(); each path
// has its own scratch arrays. Nothing else is shared but the GSO limit, which is atomic.
class MmsgBackend final : public IoBackend {
 public:
  // Takes the socket over. gso_max_segments: 1 turns GSO off; at most kMaxGsoSegments.
  // The caller (io_select.h) has checked that the kernel accepts UDP_SEGMENT. GRO is on
  // if the socket has it (SocketReport::gro). Zero-copy needs SocketReport::zerocopy
  // (SO_ZEROCOPY accepted) and a mode other than off.
  explicit MmsgBackend(UdpSocket socket, std::size_t gso_max_segments = kMaxGsoSegments,
                       ZerocopyMode zerocopy = ZerocopyMode::off) noexcept;

  [[nodiscard]] std::string_view name() const noexcept override { return "mmsg"; }
  [[nodiscard]] IoCapabilities capabilities() const noexcept override;
  [[nodiscard]] SocketAddress local_address() const noexcept override {
    return socket_.local_address();
  }
  [[nodiscard]] int fd() const noexcept override { return socket_.fd(); }
  [[nodiscard]] const UdpSocket& socket() const noexcept { return socket_; }
  [[nodiscard]] IoStatistics statistics() const noexcept override { return zerocopy_.statistics(); }

  // See IoBackend::send. One sendmmsg per kMaxBatch entries; an entry of several
  // datagrams carries a UDP_SEGMENT control message. If the kernel answers EIO to a GSO
  // entry (a route whose device cannot checksum-offload), GSO is turned off for good and
  // the call returns gso_refused.
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override;
  // See IoBackend::receive. One recvmmsg per kMaxBatch slots; a further one only if the
  // previous filled every slot.
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override;
  // See IoBackend::receive_wait: the first recvmmsg blocks (MSG_WAITFORONE) with the
  // socket's SO_RCVTIMEO as the limit. SO_RCVTIMEO is set only when the one in place does
  // not fit the wait (between a quarter and a half of it), so a loop that waits on
  // similar deadlines pays no setsockopt per wait.
  [[nodiscard]] IoResult<std::size_t> receive_wait(
      std::span<RxDatagram> batch,
      std::optional<std::chrono::nanoseconds> timeout) noexcept override;

 private:
  union RxControl {
    cmsghdr align;
    char bytes[detail::kRxControlSize];
  };

  // Reads zero-copy completions off the error queue until none is outstanding (bounded).
  void await_zerocopy() noexcept;
  // receive() and receive_wait(): `first_flags` for the first recvmmsg, MSG_DONTWAIT after.
  IoResult<std::size_t> receive_with(std::span<RxDatagram> batch, int first_flags) noexcept;
  // Makes SO_RCVTIMEO fit a wait of `timeout` (see receive_wait()).
  [[nodiscard]] bool fit_receive_timeout(std::optional<std::chrono::nanoseconds> timeout) noexcept;

  UdpSocket socket_;
  std::atomic<std::size_t> gso_max_segments_;
  ZerocopyPolicy zerocopy_;
  std::uint64_t zerocopy_pending_ = 0;  // zero-copy sends whose completion is not yet read
  // The socket blocks (every call but receive_wait()'s first passes MSG_DONTWAIT).
  bool blocking_ = false;
  std::chrono::nanoseconds receive_timeout_{0};  // SO_RCVTIMEO now; 0: none
  std::array<mmsghdr, kMaxBatch> tx_msgs_{};
  std::array<iovec, kMaxBatch> tx_iov_{};
  std::array<detail::GsoControl, kMaxBatch> tx_control_{};
  std::array<mmsghdr, kMaxBatch> rx_msgs_{};
  std::array<iovec, kMaxBatch> rx_iov_{};
  std::array<RxControl, kMaxBatch> rx_control_{};
};

}  // namespace dwcp::transport
