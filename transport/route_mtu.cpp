#include "transport/route_mtu.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "transport/io_backend.h"

namespace dwcp::transport {

namespace {

constexpr std::size_t kUdpHeader = 8;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kIpv6Header = 40;

}  // namespace

std::optional<std::size_t> route_datagram_limit(const SocketAddress& peer) noexcept {
  if (peer.is_unspecified()) return std::nullopt;
  const int fd = ::socket(peer.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  int mtu = 0;
  socklen_t length = sizeof(mtu);
  // connect() on a UDP socket sends nothing: it looks the route up and caches its MTU.
  const bool known = ::connect(fd, peer.data(), peer.size()) == 0 &&
                     (peer.is_v4() ? ::getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &length)
                                   : ::getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &length)) == 0;
  ::close(fd);
  const std::size_t headers = kUdpHeader + (peer.is_v4() ? kIpv4Header : kIpv6Header);
  if (!known || mtu <= 0 || static_cast<std::size_t>(mtu) <= headers) return std::nullopt;
  // The I/O backends' buffers hold kMaxUdpPayload (IPv4's largest); IPv6 could carry 20
  // bytes more, not worth a second size.
  return std::min(static_cast<std::size_t>(mtu) - headers, kMaxUdpPayload);
}

}  // namespace dwcp::transport
