#include "transport/io_mmsg.h"

#include <linux/errqueue.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

namespace dwcp::transport {

namespace {

// EINTR is retried, a few times only: a signal storm should not pin the I/O thread.
constexpr int kEintrRetries = 4;
// How long send() waits for zero-copy completions before giving the spans back anyway.
constexpr auto kZerocopyWait = std::chrono::seconds(1);

}  // namespace

MmsgBackend::MmsgBackend(UdpSocket socket, std::size_t gso_max_segments,
                         ZerocopyMode zerocopy) noexcept
    : socket_(std::move(socket)),
      gso_max_segments_(std::clamp<std::size_t>(gso_max_segments, 1, kMaxGsoSegments)),
      zerocopy_(zerocopy, socket_.report().zerocopy),
      blocking_(socket_.set_blocking(true)) {}

IoCapabilities MmsgBackend::capabilities() const noexcept {
  IoCapabilities caps;
  caps.gso_max_segments = gso_max_segments_.load(std::memory_order_relaxed);
  caps.gso_max_bytes = kMaxUdpPayload;
  caps.gro = socket_.report().gro;
  caps.zerocopy = zerocopy_.active();
  caps.max_batch = kMaxBatch;
  caps.receive_wait = blocking_;
  return caps;
}

IoResult<std::size_t> MmsgBackend::send(std::span<const TxDatagram> batch) noexcept {
  const IoCapabilities caps = capabilities();
  std::size_t done = 0;
  while (done < batch.size()) {
    // MSG_ZEROCOPY is a flag of the whole sendmmsg call: a chunk is all zero-copy or none.
    const bool zerocopy = zerocopy_.use(batch[done].data.size());
    std::size_t n = 0;
    for (; n < kMaxBatch && done + n < batch.size(); ++n) {
      const TxDatagram& d = batch[done + n];
      if (!fits(d, caps)) break;  // sent up to here; the next call reports this entry
      if (n > 0 && zerocopy_.use(d.data.size()) != zerocopy) break;
      detail::prepare_send_msg(tx_msgs_[n].msg_hdr, tx_iov_[n], tx_control_[n], d.to, d.data,
                               d.segment_size);
    }
    if (n == 0) {
      if (done > 0) return done;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "sendmmsg (entry exceeds capabilities)"});
    }
    int sent = -1;
    int err = 0;
    bool copy = !zerocopy;
    for (int attempt = 0; attempt <= kEintrRetries; ++attempt) {
      const int flags = MSG_DONTWAIT | (copy ? 0 : MSG_ZEROCOPY);
      sent = ::sendmmsg(socket_.fd(), tx_msgs_.data(), static_cast<unsigned>(n), flags);
      err = sent < 0 ? errno : 0;
      // ENOBUFS with MSG_ZEROCOPY: the completions in flight used up the socket's option
      // memory (net.core.optmem_max); this chunk goes by copy.
      if (err == ENOBUFS && !copy) {
        copy = true;
        continue;
      }
      if (err != EINTR) break;
    }
    if (sent > 0 && !copy) {
      zerocopy_pending_ += static_cast<std::size_t>(sent);
      zerocopy_.sent(static_cast<std::size_t>(sent));
      await_zerocopy();
    }
    if (sent < 0) {
      if (done > 0) return done;
      if (err == EIO && batch[done].datagram_count() > 1) {
        gso_max_segments_.store(1, std::memory_order_relaxed);
        return std::unexpected(IoError{IoErrc::gso_refused, err, "sendmmsg"});
      }
      return std::unexpected(io_error_from_errno(err, "sendmmsg"));
    }
    done += static_cast<std::size_t>(sent);
    if (static_cast<std::size_t>(sent) < n) return done;
  }
  return done;
}

void MmsgBackend::await_zerocopy() noexcept {
  const auto deadline = std::chrono::steady_clock::now() + kZerocopyWait;
  while (zerocopy_pending_ > 0) {
    union {
      cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6))];
    } control{};
    msghdr msg{};
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
    if (::recvmsg(socket_.fd(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (err != EAGAIN || left.count() <= 0) break;
      // POLLERR is reported whatever the events asked for.
      pollfd pfd{socket_.fd(), 0, 0};
      (void)::poll(&pfd, 1, static_cast<int>(left.count()) + 1);
      continue;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool recverr = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!recverr) continue;
      sock_extended_err ee{};
      std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
      if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee.ee_errno != 0) continue;
      // The ids [ee_info, ee_data] completed; they wrap at 2^32.
      const std::uint64_t count = std::uint32_t(ee.ee_data - ee.ee_info) + std::uint64_t{1};
      zerocopy_pending_ -= std::min(count, zerocopy_pending_);
      zerocopy_.completed((ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) != 0, count);
    }
  }
  if (zerocopy_pending_ > 0) {
    zerocopy_.late(zerocopy_pending_);
    zerocopy_pending_ = 0;
  }
}

IoResult<std::size_t> MmsgBackend::receive(std::span<RxDatagram> batch) noexcept {
  return receive_with(batch, MSG_DONTWAIT);
}

IoResult<std::size_t> MmsgBackend::receive_wait(
    std::span<RxDatagram> batch, std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (!blocking_) return std::unexpected(IoError{IoErrc::unsupported, 0, "receive_wait"});
  if (timeout && *timeout < kMinReceiveWait) {
    return std::unexpected(
        IoError{IoErrc::invalid_argument, 0, "receive_wait (timeout below kMinReceiveWait)"});
  }
  if (!fit_receive_timeout(timeout)) {
    return std::unexpected(io_error_from_errno(errno, "setsockopt(SO_RCVTIMEO)"));
  }
  return receive_with(batch, MSG_WAITFORONE);
}

bool MmsgBackend::fit_receive_timeout(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  using std::chrono::nanoseconds;
  nanoseconds wanted{0};
  if (timeout) {
    // The kernel rounds the timeout up to whole jiffies (and its timer wheel adds up to an
    // eighth): half the wait stays early for waits of kMinReceiveWait and more.
    if (receive_timeout_ > nanoseconds::zero() && receive_timeout_ >= *timeout / 4 &&
        receive_timeout_ <= *timeout / 2) {
      return true;
    }
    wanted = *timeout / 2;
  } else if (receive_timeout_ == nanoseconds::zero()) {
    return true;
  }
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wanted).count();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(us / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  if (::setsockopt(socket_.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return false;
  receive_timeout_ = wanted;
  return true;
}

IoResult<std::size_t> MmsgBackend::receive_with(std::span<RxDatagram> batch,
                                                int first_flags) noexcept {
  std::size_t done = 0;
  int flags = first_flags;
  while (done < batch.size()) {
    const std::size_t n = std::min(kMaxBatch, batch.size() - done);
    for (std::size_t i = 0; i < n; ++i) {
      RxDatagram& slot = batch[done + i];
      rx_iov_[i].iov_base = slot.buffer.data();
      rx_iov_[i].iov_len = slot.buffer.size();
      msghdr& msg = rx_msgs_[i].msg_hdr;
      msg = msghdr{};
      msg.msg_name = slot.from.data();
      msg.msg_namelen = SocketAddress::kCapacity;
      msg.msg_iov = &rx_iov_[i];
      msg.msg_iovlen = 1;
      msg.msg_control = rx_control_[i].bytes;
      msg.msg_controllen = sizeof(rx_control_[i].bytes);
      rx_msgs_[i].msg_len = 0;
    }
    int got = -1;
    int err = 0;
    // A waiting call is not retried after a signal: the retry would wait its full
    // timeout again.
    const int attempts = flags == MSG_DONTWAIT ? kEintrRetries : 0;
    for (int attempt = 0; attempt <= attempts; ++attempt) {
      got = ::recvmmsg(socket_.fd(), rx_msgs_.data(), static_cast<unsigned>(n), flags, nullptr);
      err = got < 0 ? errno : 0;
      if (err != EINTR) break;
    }
    flags = MSG_DONTWAIT;
    if (got < 0) {
      if (done > 0) return done;
      return std::unexpected(io_error_from_errno(err, "recvmmsg"));
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
      RxDatagram& slot = batch[done + i];
      const msghdr& msg = rx_msgs_[i].msg_hdr;
      slot.length = rx_msgs_[i].msg_len;
      slot.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
      const std::size_t seg = detail::gro_segment_size(msg);
      slot.segment_size = seg != 0 ? seg : slot.length;
    }
    done += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < n) break;
  }
  return done;
}

}  // namespace dwcp::transport
