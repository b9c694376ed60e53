#include "transport/io_select.h"

#include <netinet/udp.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "transport/io_mmsg.h"
#include "transport/io_plain.h"
#include "transport/io_uring.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

std::string_view to_string(BackendKind kind) noexcept {
  switch (kind) {
    case BackendKind::automatic:
      return "auto";
    case BackendKind::mmsg_gso:
      return "mmsg+gso";
    case BackendKind::mmsg:
      return "mmsg";
    case BackendKind::plain:
      return "plain";
    case BackendKind::uring:
      return "uring";
  }
  return "unknown";
}

bool parse_backend_kind(std::string_view text, BackendKind& out) noexcept {
  if (text == "auto") {
    out = BackendKind::automatic;
  } else if (text == "mmsg+gso" || text == "mmsg_gso") {
    out = BackendKind::mmsg_gso;
  } else if (text == "mmsg") {
    out = BackendKind::mmsg;
  } else if (text == "plain") {
    out = BackendKind::plain;
  } else if (text == "uring" || text == "io_uring") {
    out = BackendKind::uring;
  } else {
    return false;
  }
  return true;
}

namespace {

constexpr int kProbeWaitMs = 200;
constexpr std::uint16_t kProbeSegment = 64;
constexpr std::size_t kProbeBytes = std::size_t{2} * kProbeSegment;

std::string errno_text(int err) {
  const char* desc = strerrordesc_np(err);
  return std::string(desc != nullptr ? desc : "?") + " (errno " + std::to_string(err) + ")";
}

// Sends two kProbeSegment-byte segments as one GSO datagram between two fresh loopback
// sockets. Returns false with `detail` filled if the kernel refused the send.
bool probe_send(sa_family_t family, std::string& detail) {
  SocketOptions quiet;
  quiet.receive_buffer = 0;
  quiet.send_buffer = 0;
  quiet.gro = false;
  const SocketAddress loopback =
      family == AF_INET6 ? SocketAddress::loopback_v6(0) : SocketAddress::loopback_v4(0);
  auto rx = UdpSocket::open(loopback, quiet);
  auto tx = UdpSocket::open(loopback, quiet);
  if (!rx || !tx) {
    detail += "; no loopback test send (" + to_string(rx ? tx.error() : rx.error()) + ")";
    return true;
  }
  std::array<std::byte, kProbeBytes> payload{};
  iovec iov{};
  detail::GsoControl control{};
  msghdr msg{};
  const SocketAddress to = rx->local_address();
  detail::prepare_send_msg(msg, iov, control, to, payload, kProbeSegment);
  if (::sendmsg(tx->fd(), &msg, 0) < 0) {
    detail += "; test send refused: " + errno_text(errno);
    return false;
  }
  pollfd pfd{rx->fd(), POLLIN, 0};
  const int ready = ::poll(&pfd, 1, kProbeWaitMs);
  if (ready <= 0) {
    detail += "; test send taken but nothing arrived within 200 ms";
    return true;
  }
  std::array<std::byte, kProbeBytes> in{};
  const ssize_t got = ::recv(rx->fd(), in.data(), in.size(), MSG_DONTWAIT);
  if (got == kProbeSegment) {
    detail += "; test send of 2 segments arrived as 64-byte datagrams";
  } else {
    detail += "; test send arrived as " + std::to_string(got) + " bytes";
  }
  return true;
}

}  // namespace

GsoProbe probe_gso(const UdpSocket& socket) {
  GsoProbe probe;
  const int on = kProbeSegment;
  if (::setsockopt(socket.fd(), IPPROTO_UDP, UDP_SEGMENT, &on, sizeof on) != 0) {
    probe.detail = "setsockopt(UDP_SEGMENT) refused: " + errno_text(errno);
    return probe;
  }
  const int off = 0;
  (void)::setsockopt(socket.fd(), IPPROTO_UDP, UDP_SEGMENT, &off, sizeof off);
  probe.detail = "UDP_SEGMENT accepted";
  probe.supported = probe_send(socket.local_address().family(), probe.detail);
  return probe;
}

IoResult<BackendSelection> open_backend(const SocketAddress& bind_to, const SocketOptions& options,
                                        BackendKind want) {
  auto socket = UdpSocket::open(bind_to, options);
  if (!socket) return std::unexpected(socket.error());
  const SocketReport report = socket->report();
  const auto describe_socket = [&] {
    std::string s = report.gro ? "GRO on" : (options.gro ? "GRO refused" : "GRO off");
    s += "; rcvbuf " + std::to_string(report.receive_buffer) +
         (report.receive_buffer_forced ? " forced" : "");
    s += ", sndbuf " + std::to_string(report.send_buffer) +
         (report.send_buffer_forced ? " forced" : "");
    s += "; zerocopy " + std::string(to_string(options.zerocopy));
    if (options.zerocopy != ZerocopyMode::off && !report.zerocopy) s += " (SO_ZEROCOPY refused)";
    return s;
  };

  BackendSelection out;
  if (want == BackendKind::plain) {
    out.kind = BackendKind::plain;
    out.reason = "plain (asked for; " + describe_socket() + ")";
    out.backend = std::make_unique<PlainBackend>(std::move(*socket));
    return out;
  }
  if (want == BackendKind::mmsg) {
    out.kind = BackendKind::mmsg;
    out.reason = "mmsg (asked for, GSO not used; " + describe_socket() + ")";
    out.backend = std::make_unique<MmsgBackend>(std::move(*socket), 1, options.zerocopy);
    return out;
  }
  const GsoProbe gso = probe_gso(*socket);
  if (want == BackendKind::uring) {
    const UringProbe probe = probe_uring();
    if (!probe.supported) return std::unexpected(IoError{IoErrc::unsupported, 0, "io_uring probe"});
    const std::string socket_text = describe_socket();
    auto uring = UringBackend::open(std::move(*socket), gso.supported ? kMaxGsoSegments : 1,
                                    options.zerocopy);
    if (!uring) return std::unexpected(uring.error());
    out.kind = BackendKind::uring;
    out.reason = "uring (asked for; " + probe.detail + "; " + (*uring)->description() + "; " +
                 (gso.supported ? "GSO: " : "no GSO: ") + gso.detail + "; " + socket_text + ")";
    out.backend = std::move(*uring);
    return out;
  }
  if (!gso.supported) {
    if (want == BackendKind::mmsg_gso) {
      return std::unexpected(IoError{IoErrc::unsupported, 0, "UDP GSO (kernel refused)"});
    }
    // Without GSO, batching syscalls buys only ~5% (MACHINE.md): the per-datagram kernel
    // cost dominates, so the simplest backend is the fallback.
    out.kind = BackendKind::plain;
    out.reason = "plain (GSO unavailable: " + gso.detail + "; " + describe_socket() + ")";
    out.backend = std::make_unique<PlainBackend>(std::move(*socket));
    return out;
  }
  out.kind = BackendKind::mmsg_gso;
  out.reason = "mmsg+gso (" + gso.detail + "; " + describe_socket() + ")";
  out.backend =
      std::make_unique<MmsgBackend>(std::move(*socket), kMaxGsoSegments, options.zerocopy);
  return out;
}

}  // namespace dwcp::transport
