#include "transport/route_mtu.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace dwcp::transport {

namespace {

constexpr std::size_t kUdpHeader = 8;
constexpr std::size_t kIpv4Header = 20;
constexpr std::size_t kIpv6Header = 40;
// An IP packet's length field counts at most 65,535 bytes: the IPv4 header inside them,
// IPv6's outside.
constexpr std::size_t kMaxIpv4Payload = 65535 - kIpv4Header - kUdpHeader;
constexpr std::size_t kMaxIpv6Payload = 65535 - kUdpHeader;

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
  return std::min(static_cast<std::size_t>(mtu) - headers,
                  peer.is_v4() ? kMaxIpv4Payload : kMaxIpv6Payload);
}

}  // namespace dwcp::transport
