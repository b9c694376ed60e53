#include "transport/io_plain.h"

#include <cerrno>

namespace dwcp::transport {

namespace {

constexpr int kEintrRetries = 4;

}  // namespace

IoCapabilities PlainBackend::capabilities() const noexcept {
  IoCapabilities caps;
  caps.gso_max_segments = 1;
  caps.gso_max_bytes = kMaxUdpPayload;
  caps.gro = socket_.report().gro;
  caps.zerocopy = false;
  caps.max_batch = 1;
  return caps;
}

IoResult<std::size_t> PlainBackend::send(std::span<const TxDatagram> batch) noexcept {
  const IoCapabilities caps = capabilities();
  std::size_t done = 0;
  for (const TxDatagram& d : batch) {
    if (!fits(d, caps)) {
      if (done > 0) return done;
      return std::unexpected(
          IoError{IoErrc::invalid_argument, 0, "sendmsg (entry exceeds capabilities)"});
    }
    iovec iov{const_cast<std::byte*>(d.data.data()), d.data.size()};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr*>(d.to.data());
    msg.msg_namelen = d.to.size();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t sent = -1;
    int err = 0;
    for (int attempt = 0; attempt <= kEintrRetries; ++attempt) {
      sent = ::sendmsg(socket_.fd(), &msg, 0);
      err = sent < 0 ? errno : 0;
      if (err != EINTR) break;
    }
    if (sent < 0) {
      if (done > 0) return done;
      return std::unexpected(io_error_from_errno(err, "sendmsg"));
    }
    ++done;
  }
  return done;
}

IoResult<std::size_t> PlainBackend::receive(std::span<RxDatagram> batch) noexcept {
  std::size_t done = 0;
  for (RxDatagram& slot : batch) {
    alignas(cmsghdr) char control[detail::kRxControlSize];
    iovec iov{slot.buffer.data(), slot.buffer.size()};
    msghdr msg{};
    msg.msg_name = slot.from.data();
    msg.msg_namelen = SocketAddress::kCapacity;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t got = -1;
    int err = 0;
    for (int attempt = 0; attempt <= kEintrRetries; ++attempt) {
      got = ::recvmsg(socket_.fd(), &msg, 0);
      err = got < 0 ? errno : 0;
      if (err != EINTR) break;
    }
    if (got < 0) {
      if (done > 0) return done;
      return std::unexpected(io_error_from_errno(err, "recvmsg"));
    }
    slot.length = static_cast<std::size_t>(got);
    slot.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    const std::size_t seg = detail::gro_segment_size(msg);
    slot.segment_size = seg != 0 ? seg : slot.length;
    ++done;
  }
  return done;
}

}  // namespace dwcp::transport
