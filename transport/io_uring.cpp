#include "transport/io_uring.h"

#include <netinet/udp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace dwcp::transport {

namespace {

// liburing 2.3's header predates these (kernel 6.2): ask the notification to say whether
// the kernel copied, and the bit it answers with.
constexpr unsigned kSendZcReportUsage = 1U << 3;    // IORING_SEND_ZC_REPORT_USAGE
constexpr std::uint32_t kNotifZcCopied = 1U << 31;  // IORING_NOTIF_USAGE_ZC_COPIED

constexpr int kBufferGroup = 0;
// Receive buffers in the ring: a power of two. When all are full the kernel ends the
// multishot receive (ENOBUFS) and the datagrams wait in the socket until the next
// receive() hands buffers back and re-arms; 128 GRO buffers hold 8 MiB.
constexpr unsigned kRxBuffers = 128;
// A buffer holds io_uring_recvmsg_out, the source address, the control messages and a
// full UDP payload (a GRO-coalesced one is at most that too).
constexpr std::size_t kRxBufferBytes = std::size_t{66} << 10;
static_assert(sizeof(io_uring_recvmsg_out) + SocketAddress::kCapacity + detail::kRxControlSize +
                  kMaxUdpPayload <=
              kRxBufferBytes);
constexpr std::uint64_t kReceiveTag = ~std::uint64_t{0};
// Completions are reaped before send() returns, so the send ring needs room for one
// chunk's results and notifications only.
constexpr unsigned kTxCqEntries = 4 * kMaxBatch;
constexpr unsigned kRxSqEntries = 8;
constexpr unsigned kRxCqEntries = 2 * kRxBuffers;
// How long send() waits for zero-copy notifications before giving the spans back anyway.
constexpr long kZerocopyWaitNs = 1'000'000'000;
constexpr int kEintrRetries = 4;

void* map_anonymous(std::size_t bytes) noexcept {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

UringProbe probe_uring() {
  UringProbe out;
  io_uring_probe* probe = io_uring_get_probe();
  if (probe == nullptr) {
    out.detail = "io_uring unavailable (io_uring_get_probe failed)";
    return out;
  }
  const bool sendmsg = io_uring_opcode_supported(probe, IORING_OP_SENDMSG) != 0;
  const bool recvmsg = io_uring_opcode_supported(probe, IORING_OP_RECVMSG) != 0;
  out.zerocopy = io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC) != 0;
  io_uring_free_probe(probe);
  out.supported = sendmsg && recvmsg;
  if (!out.supported) {
    out.detail =
        std::string("io_uring lacks") + (sendmsg ? "" : " SENDMSG") + (recvmsg ? "" : " RECVMSG");
  } else {
    out.detail = std::string("SENDMSG, RECVMSG") + (out.zerocopy ? ", SENDMSG_ZC" : "");
  }
  return out;
}

UringBackend::UringBackend(UdpSocket socket, std::size_t gso_max_segments, ZerocopyMode zerocopy,
                           bool zerocopy_opcode) noexcept
    : socket_(std::move(socket)),
      gso_max_segments_(std::clamp<std::size_t>(gso_max_segments, 1, kMaxGsoSegments)),
      zerocopy_(zerocopy, zerocopy_opcode) {
  // The kernel lays out the name, then the control messages: a name area rounded up to 8
  // bytes keeps the cmsghdrs aligned (28 bytes of sockaddr_in6 would misalign them).
  rx_msg_.msg_namelen = (SocketAddress::kCapacity + 7) / 8 * 8;
  rx_msg_.msg_controllen = detail::kRxControlSize;
}

UringBackend::~UringBackend() {
  // The buffer ring goes first, so nothing can land in the buffers once they are unmapped.
  if (rx_.initialised && buf_ring_ != nullptr) {
    (void)io_uring_unregister_buf_ring(&rx_.ring, kBufferGroup);
  }
  if (tx_.initialised) io_uring_queue_exit(&tx_.ring);
  if (rx_.initialised) io_uring_queue_exit(&rx_.ring);
  if (buf_ring_ != nullptr) ::munmap(buf_ring_, buf_ring_bytes_);
  if (buffers_ != nullptr) ::munmap(buffers_, buffers_bytes_);
}

IoResult<void> UringBackend::init_ring(Ring& r, unsigned entries, unsigned cq_entries) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_CQSIZE;
  params.cq_entries = cq_entries;
  int rc = io_uring_queue_init_params(entries, &r.ring, &params);
  if (rc == -EINVAL) {
    // A kernel before 6.1: no DEFER_TASKRUN (or SINGLE_ISSUER); an ordinary ring.
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = cq_entries;
    rc = io_uring_queue_init_params(entries, &r.ring, &params);
    if (rc == 0) {
      r.enabled = true;
      r.deferred = false;
    }
  } else if (rc == 0) {
    r.deferred = true;
  }
  if (rc < 0) return std::unexpected(io_error_from_errno(-rc, "io_uring_queue_init"));
  r.initialised = true;
  return {};
}

bool UringBackend::enable(Ring& r) noexcept {
  if (r.enabled) return true;
  // liburing 2.3 declares io_uring_enable_rings() but its library does not export it.
  if (::syscall(__NR_io_uring_register, r.ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0) {
    return false;
  }
  r.enabled = true;
  return true;
}

IoResult<void> UringBackend::setup_buffers() {
  buf_ring_bytes_ = kRxBuffers * sizeof(io_uring_buf);
  buf_ring_ = static_cast<io_uring_buf_ring*>(map_anonymous(buf_ring_bytes_));
  buffers_bytes_ = kRxBuffers * kRxBufferBytes;
  buffers_ = static_cast<std::byte*>(map_anonymous(buffers_bytes_));
  if (buf_ring_ == nullptr || buffers_ == nullptr) {
    return std::unexpected(io_error_from_errno(errno, "mmap"));
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(buf_ring_);
  reg.ring_entries = kRxBuffers;
  reg.bgid = kBufferGroup;
  const int rc = io_uring_register_buf_ring(&rx_.ring, &reg, 0);
  if (rc < 0) {
    ::munmap(buf_ring_, buf_ring_bytes_);
    buf_ring_ = nullptr;
    return std::unexpected(io_error_from_errno(-rc, "io_uring_register_buf_ring"));
  }
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(kRxBuffers);
  for (unsigned i = 0; i < kRxBuffers; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + i * kRxBufferBytes, kRxBufferBytes,
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(kRxBuffers));
  return {};
}

IoResult<std::unique_ptr<UringBackend>> UringBackend::open(UdpSocket socket,
                                                           std::size_t gso_max_segments,
                                                           ZerocopyMode zerocopy) {
  const UringProbe probe = probe_uring();
  if (!probe.supported) {
    return std::unexpected(IoError{IoErrc::unsupported, 0, "io_uring_get_probe"});
  }
  std::unique_ptr<UringBackend> b(
      new UringBackend(std::move(socket), gso_max_segments, zerocopy, probe.zerocopy));
  if (auto r = init_ring(b->tx_, kMaxBatch, kTxCqEntries); !r) return std::unexpected(r.error());
  if (auto r = init_ring(b->rx_, kRxSqEntries, kRxCqEntries); !r) {
    return std::unexpected(r.error());
  }
  if (auto r = b->setup_buffers(); !r) return std::unexpected(r.error());
  b->description_ = b->rx_.deferred ? "SINGLE_ISSUER|DEFER_TASKRUN" : "plain rings";
  b->description_ += ", multishot recvmsg on a " + std::to_string(kRxBuffers) + " x " +
                     std::to_string(kRxBufferBytes >> 10) + " KiB buffer ring";
  b->description_ += probe.zerocopy ? ", SENDMSG_ZC " : ", no SENDMSG_ZC ";
  b->description_ += std::string(to_string(zerocopy));
  return b;
}

IoCapabilities UringBackend::capabilities() const noexcept {
  IoCapabilities caps;
  caps.gso_max_segments = gso_max_segments_.load(std::memory_order_relaxed);
  caps.gso_max_bytes = kMaxUdpPayload;
  caps.gro = socket_.report().gro;
  caps.zerocopy = zerocopy_.active();
  caps.max_batch = kMaxBatch;
  return caps;
}

int UringBackend::fd() const noexcept {
  return rx_.deferred ? socket_.fd() : rx_.ring.ring_fd;
}

IoResult<std::size_t> UringBackend::send(std::span<const TxDatagram> batch) noexcept {
  if (batch.empty()) return 0;
  if (!enable(tx_)) return std::unexpected(io_error_from_errno(errno, "io_uring_enable_rings"));
  const IoCapabilities caps = capabilities();
  std::size_t done = 0;
  while (done < batch.size()) {
    std::size_t n = 0;
    io_uring_sqe* last = nullptr;
    for (; n < kMaxBatch && done + n < batch.size(); ++n) {
      const TxDatagram& d = batch[done + n];
      if (!fits(d, caps)) break;  // sent up to here; the next call reports this entry
      io_uring_sqe* sqe = io_uring_get_sqe(&tx_.ring);
      if (sqe == nullptr) break;  // cannot happen: the ring is drained before returning
      detail::prepare_send_msg(tx_msgs_[n], tx_iov_[n], tx_control_[n], d.to, d.data,
                               d.segment_size);
      // MSG_DONTWAIT makes a full socket buffer complete with EAGAIN at once rather than
      // park the request on a poll, which would make send() wait for room.
      if (zerocopy_.use(d.data.size())) {
        io_uring_prep_sendmsg_zc(sqe, socket_.fd(), &tx_msgs_[n], MSG_DONTWAIT);
        sqe->ioprio |= kSendZcReportUsage;
      } else {
        io_uring_prep_sendmsg(sqe, socket_.fd(), &tx_msgs_[n], MSG_DONTWAIT);
      }
      sqe->user_data = n;
      // Linked, so the entries leave in order and a refused one cancels those after it:
      // the taken entries are then always a leading run, as the interface reports them.
      sqe->flags |= IOSQE_IO_LINK;
      tx_result_[n] = -ECANCELED;  // until its completion says otherwise
      last = sqe;
    }
    if (n == 0) {
      if (done > 0) return done;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "io_uring sendmsg (entry exceeds capabilities)"});
    }
    last->flags &= static_cast<std::uint8_t>(~IOSQE_IO_LINK);

    int rc = -EINTR;
    for (int attempt = 0; attempt <= kEintrRetries && rc == -EINTR; ++attempt) {
      rc = io_uring_submit_and_wait(&tx_.ring, static_cast<unsigned>(n));
      // EINTR in the wait leaves the entries submitted; the loop below reaps them.
      if (rc == -EINTR) break;
    }
    if (rc < 0 && rc != -EINTR) {
      if (done > 0) return done;
      return std::unexpected(io_error_from_errno(-rc, "io_uring_submit"));
    }

    // Reap every result, then the zero-copy notifications, so no request still points at
    // the spans or the scratch arrays when send() returns.
    std::size_t results = 0;
    std::size_t notifications = 0;
    std::uint64_t zerocopy_sent = 0;
    while (results < n) {
      io_uring_cqe* cqe = nullptr;
      const int w = io_uring_wait_cqe(&tx_.ring, &cqe);
      if (w == -EINTR) continue;
      if (w < 0) break;  // the ring is broken; nothing more will come
      if ((cqe->flags & IORING_CQE_F_NOTIF) != 0) {
        zerocopy_.completed((static_cast<std::uint32_t>(cqe->res) & kNotifZcCopied) != 0);
        if (notifications > 0) --notifications;
      } else if (cqe->user_data < n) {
        tx_result_[cqe->user_data] = cqe->res;
        ++results;
        if ((cqe->flags & IORING_CQE_F_MORE) != 0) {
          ++notifications;
          if (cqe->res >= 0) ++zerocopy_sent;
        }
      }
      io_uring_cqe_seen(&tx_.ring, cqe);
    }
    if (notifications > 0) await_notifications(notifications);
    zerocopy_.sent(zerocopy_sent);

    std::size_t taken = 0;
    while (taken < n && tx_result_[taken] >= 0) ++taken;
    done += taken;
    if (taken < n) {
      if (done > 0) return done;
      const int err = -tx_result_[0];
      if (err == EIO && batch[0].datagram_count() > 1) {
        gso_max_segments_.store(1, std::memory_order_relaxed);
        return std::unexpected(IoError{IoErrc::gso_refused, err, "io_uring sendmsg"});
      }
      return std::unexpected(io_error_from_errno(err, "io_uring sendmsg"));
    }
  }
  return done;
}

void UringBackend::await_notifications(std::size_t notifications) noexcept {
  timespec deadline{};
  ::clock_gettime(CLOCK_MONOTONIC, &deadline);
  const long end_ns = deadline.tv_nsec + kZerocopyWaitNs;
  deadline.tv_sec += end_ns / 1'000'000'000;
  deadline.tv_nsec = end_ns % 1'000'000'000;
  while (notifications > 0) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&tx_.ring, &cqe) != 0) {
      timespec now{};
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      long left_ns =
          (deadline.tv_sec - now.tv_sec) * 1'000'000'000 + deadline.tv_nsec - now.tv_nsec;
      if (left_ns <= 0) {
        zerocopy_.late(notifications);
        return;
      }
      __kernel_timespec wait{left_ns / 1'000'000'000, left_ns % 1'000'000'000};
      const int w = io_uring_wait_cqe_timeout(&tx_.ring, &cqe, &wait);
      if (w == -ETIME || w == -EINTR) continue;
      if (w < 0) {
        zerocopy_.late(notifications);
        return;
      }
    }
    if ((cqe->flags & IORING_CQE_F_NOTIF) != 0) {
      zerocopy_.completed((static_cast<std::uint32_t>(cqe->res) & kNotifZcCopied) != 0);
      --notifications;
    }
    io_uring_cqe_seen(&tx_.ring, cqe);
  }
}

bool UringBackend::arm_receive() noexcept {
  io_uring_sqe* sqe = io_uring_get_sqe(&rx_.ring);
  if (sqe == nullptr) return false;
  io_uring_prep_recvmsg_multishot(sqe, socket_.fd(), &rx_msg_, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  sqe->user_data = kReceiveTag;
  if (io_uring_submit(&rx_.ring) < 0) return false;
  armed_ = true;
  return true;
}

void UringBackend::recycle(std::uint16_t buffer_id) noexcept {
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{buffer_id} * kRxBufferBytes,
                        kRxBufferBytes, buffer_id, io_uring_buf_ring_mask(kRxBuffers), 0);
  // Pairs with the kernel's read of the ring tail: the entry is complete before it shows.
  io_uring_buf_ring_advance(buf_ring_, 1);
}

bool UringBackend::take_completion(const io_uring_cqe& cqe, RxDatagram& slot) noexcept {
  if ((cqe.flags & IORING_CQE_F_BUFFER) == 0) return false;
  const auto buffer_id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  std::byte* buffer = buffers_ + std::size_t{buffer_id} * kRxBufferBytes;
  io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buffer, cqe.res, &rx_msg_);
  if (out == nullptr) {
    recycle(buffer_id);
    return false;
  }
  const socklen_t name_len = std::min<socklen_t>(out->namelen, rx_msg_.msg_namelen);
  slot.from = SocketAddress::from_sockaddr(static_cast<const sockaddr*>(io_uring_recvmsg_name(out)),
                                           name_len);
  std::size_t segment = 0;
  for (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(out, &rx_msg_); c != nullptr;
       c = io_uring_recvmsg_cmsg_nexthdr(out, &rx_msg_, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      segment = static_cast<std::size_t>(std::max(size, 0));
    }
  }
  const auto payload_len =
      static_cast<std::size_t>(io_uring_recvmsg_payload_length(out, cqe.res, &rx_msg_));
  const std::size_t copied = std::min(payload_len, slot.buffer.size());
  if (copied > 0) std::memcpy(slot.buffer.data(), io_uring_recvmsg_payload(out, &rx_msg_), copied);
  slot.length = copied;
  slot.truncated = (out->flags & MSG_TRUNC) != 0 || payload_len > slot.buffer.size();
  slot.segment_size = segment != 0 ? segment : slot.length;
  recycle(buffer_id);
  return true;
}

IoResult<std::size_t> UringBackend::receive(std::span<RxDatagram> batch) noexcept {
  if (batch.empty()) return 0;
  if (!enable(rx_)) return std::unexpected(io_error_from_errno(errno, "io_uring_enable_rings"));
  if (!armed_ && !arm_receive()) {
    return std::unexpected(IoError{IoErrc::no_buffers, 0, "io_uring recvmsg (arm)"});
  }
  std::size_t filled = 0;
  int first_error = 0;
  bool entered = false;
  while (filled < batch.size()) {
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&rx_.ring, &cqe) != 0) {
      // Nothing posted: run the deferred work once (the kernel reads the socket into the
      // buffer ring now), then take what it produced.
      if (entered || !rx_.deferred) break;
      entered = true;
      if (io_uring_get_events(&rx_.ring) < 0) break;
      continue;
    }
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (cqe->res < 0) {
      // ENOBUFS: every buffer was full; they are handed back as the slots are filled.
      if (cqe->res != -ENOBUFS && first_error == 0) first_error = -cqe->res;
    } else if (take_completion(*cqe, batch[filled])) {
      ++filled;
    }
    io_uring_cqe_seen(&rx_.ring, cqe);
    if (!more) {
      armed_ = false;
      if (!arm_receive()) break;
    }
    if (first_error != 0) break;
  }
  if (filled > 0) return filled;
  if (first_error != 0)
    return std::unexpected(io_error_from_errno(first_error, "io_uring recvmsg"));
  return std::unexpected(IoError{IoErrc::would_block, EAGAIN, "io_uring recvmsg"});
}

}  // namespace dwcp::transport
