#include "transport/io_mmsg.h"

#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace dwcp::transport {

namespace {

// EINTR is retried, a few times only: a signal storm should not pin the I/O thread.
constexpr int kEintrRetries = 4;

}  // namespace

MmsgBackend::MmsgBackend(UdpSocket socket, std::size_t gso_max_segments) noexcept
    : socket_(std::move(socket)),
      gso_max_segments_(std::clamp<std::size_t>(gso_max_segments, 1, kMaxGsoSegments)) {}

IoCapabilities MmsgBackend::capabilities() const noexcept {
  IoCapabilities caps;
  caps.gso_max_segments = gso_max_segments_.load(std::memory_order_relaxed);
  caps.gso_max_bytes = kMaxUdpPayload;
  caps.gro = socket_.report().gro;
  caps.zerocopy = false;
  caps.max_batch = kMaxBatch;
  return caps;
}

IoResult<std::size_t> MmsgBackend::send(std::span<const TxDatagram> batch) noexcept {
  const IoCapabilities caps = capabilities();
  std::size_t done = 0;
  while (done < batch.size()) {
    std::size_t n = 0;
    for (; n < kMaxBatch && done + n < batch.size(); ++n) {
      const TxDatagram& d = batch[done + n];
      if (!fits(d, caps)) break;  // sent up to here; the next call reports this entry
      iovec& iov = tx_iov_[n];
      iov.iov_base = const_cast<std::byte*>(d.data.data());
      iov.iov_len = d.data.size();
      msghdr& msg = tx_msgs_[n].msg_hdr;
      msg = msghdr{};
      msg.msg_name = const_cast<sockaddr*>(d.to.data());
      msg.msg_namelen = d.to.size();
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      if (d.datagram_count() > 1) {
        msg.msg_control = tx_control_[n].bytes;
        msg.msg_controllen = sizeof(tx_control_[n].bytes);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = IPPROTO_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const std::uint16_t seg = d.segment_size;
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
      }
    }
    if (n == 0) {
      if (done > 0) return done;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "sendmmsg (entry exceeds capabilities)"});
    }
    int sent = -1;
    int err = 0;
    for (int attempt = 0; attempt <= kEintrRetries; ++attempt) {
      sent = ::sendmmsg(socket_.fd(), tx_msgs_.data(), static_cast<unsigned>(n), 0);
      err = sent < 0 ? errno : 0;
      if (err != EINTR) break;
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

IoResult<std::size_t> MmsgBackend::receive(std::span<RxDatagram> batch) noexcept {
  std::size_t done = 0;
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
    for (int attempt = 0; attempt <= kEintrRetries; ++attempt) {
      got = ::recvmmsg(socket_.fd(), rx_msgs_.data(), static_cast<unsigned>(n), 0, nullptr);
      err = got < 0 ? errno : 0;
      if (err != EINTR) break;
    }
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
