// The io_uring backend (liburing): sends are one IORING_OP_SENDMSG (or SENDMSG_ZC) per
// entry, linked so they leave in order and a refusal cancels the rest, with the UDP_SEGMENT
// control message for GSO entries, all submitted with one io_uring_enter. Receives come
// from a multishot IORING_OP_RECVMSG that stays armed on a provided buffer ring, so the
// steady state needs no syscall per batch beyond the one that runs the ring's task work.
//
// Two rings, one per direction: the IoBackend contract lets one thread send while another
// receives (the dedicated threading mode), and IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN,
// tried first, need one thread per ring. The rings start disabled and each is enabled by
// the first thread that uses it, so the backend may be opened on one thread and driven
// from another; from then on each direction belongs to that thread.
//
// Waiting (fd()): with DEFER_TASKRUN the kernel reads the socket into the buffer ring only
// inside this backend's io_uring_enter calls, and receive() reports would_block only after
// running that work and finding the completion queue empty; a datagram arriving later
// stays in the socket and makes it readable, so fd() is the socket. Without DEFER_TASKRUN
// (an older kernel) the kernel may consume the datagram while the thread sleeps in epoll,
// and fd() is the receive ring's descriptor instead, readable when completions wait.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "transport/io_backend.h"
#include "transport/io_zerocopy.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

struct UringProbe {
  bool supported = false;  // the opcodes this backend needs are there
  bool zerocopy = false;   // IORING_OP_SENDMSG_ZC is there
  std::string detail;      // what was found, or what was missing
};

// Asks the kernel (io_uring_get_probe) for SENDMSG, RECVMSG and SENDMSG_ZC. A kernel
// without io_uring, or with it disabled (kernel.io_uring_disabled), reports unsupported.
UringProbe probe_uring();

// Thread safety: one thread may be in send() while another is in receive(); each
// direction has its own ring, scratch arrays and state, and is bound to the first thread
// that uses it (SINGLE_ISSUER). statistics() and capabilities() are safe from any thread.
class UringBackend final : public IoBackend {
 public:
  // Takes the socket over and sets up both rings and the receive buffer ring.
  // gso_max_segments: 1 turns GSO off. Errors: io_uring refused (unsupported, permission,
  // no_buffers for a locked-memory limit), the buffer ring could not be registered.
  static IoResult<std::unique_ptr<UringBackend>> open(UdpSocket socket,
                                                      std::size_t gso_max_segments,
                                                      ZerocopyMode zerocopy);
  ~UringBackend() override;
  UringBackend(const UringBackend&) = delete;
  UringBackend& operator=(const UringBackend&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return "uring"; }
  [[nodiscard]] IoCapabilities capabilities() const noexcept override;
  [[nodiscard]] SocketAddress local_address() const noexcept override {
    return socket_.local_address();
  }
  // The socket with DEFER_TASKRUN, else the receive ring (see the note above).
  [[nodiscard]] int fd() const noexcept override;
  [[nodiscard]] const UdpSocket& socket() const noexcept { return socket_; }
  [[nodiscard]] IoStatistics statistics() const noexcept override { return zerocopy_.statistics(); }
  // The set-up flags the kernel accepted: "SINGLE_ISSUER|DEFER_TASKRUN, multishot recvmsg,
  // 64 x 65536 B buffer ring, SENDMSG_ZC".
  [[nodiscard]] const std::string& description() const noexcept { return description_; }

  // See IoBackend::send. Entries go in chunks of kMaxBatch linked SQEs; a chunk ends at
  // the first entry the kernel refuses. Zero-copy entries are waited for (the notification
  // CQE, at most kZerocopyWait) before send() returns, so the spans are free again, as the
  // interface promises. EIO on a GSO entry turns GSO off and returns gso_refused.
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override;
  // See IoBackend::receive. Copies datagrams out of the buffer ring into the slots and
  // gives the buffers back; re-arms the multishot receive when the kernel ended it.
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override;

 private:
  UringBackend(UdpSocket socket, std::size_t gso_max_segments, ZerocopyMode zerocopy,
               bool zerocopy_opcode) noexcept;

  struct Ring {
    io_uring ring{};
    bool initialised = false;
    bool enabled = false;   // io_uring_enable_rings done (SINGLE_ISSUER binds the caller)
    bool deferred = false;  // DEFER_TASKRUN: completions need io_uring_get_events
  };

  static IoResult<void> init_ring(Ring& r, unsigned entries, unsigned cq_entries);
  static bool enable(Ring& r) noexcept;
  IoResult<void> setup_buffers();
  bool arm_receive() noexcept;
  void recycle(std::uint16_t buffer_id) noexcept;
  // Fills `slot` from one receive completion; false if the completion held no datagram.
  bool take_completion(const io_uring_cqe& cqe, RxDatagram& slot) noexcept;
  // Waits for `notifications` zero-copy notification CQEs (bounded).
  void await_notifications(std::size_t notifications) noexcept;

  UdpSocket socket_;
  std::atomic<std::size_t> gso_max_segments_;
  ZerocopyPolicy zerocopy_;
  Ring tx_;
  Ring rx_;
  std::string description_;

  // Send side.
  std::array<msghdr, kMaxBatch> tx_msgs_{};
  std::array<iovec, kMaxBatch> tx_iov_{};
  std::array<detail::GsoControl, kMaxBatch> tx_control_{};
  std::array<int, kMaxBatch> tx_result_{};

  // Receive side: the buffer ring's memory (mmap'd, page-aligned) and the buffers.
  msghdr rx_msg_{};  // the template the multishot receive lays each buffer out by
  io_uring_buf_ring* buf_ring_ = nullptr;
  std::size_t buf_ring_bytes_ = 0;
  std::byte* buffers_ = nullptr;
  std::size_t buffers_bytes_ = 0;
  bool armed_ = false;
};

}  // namespace dwcp::transport
