// The route's datagram limit, checked against the MTU the kernel gives the loopback
// interface: the limit is that MTU less the IP and UDP headers, within what the I/O
// backends' buffers hold (65,507 bytes).
#include "transport/route_mtu.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

using namespace dwcp::transport;

namespace {

std::size_t loopback_mtu() {
  std::ifstream file("/sys/class/net/lo/mtu");
  std::size_t mtu = 0;
  file >> mtu;
  REQUIRE_MESSAGE(mtu > 0, "cannot read /sys/class/net/lo/mtu");
  return mtu;
}

}  // namespace

TEST_CASE("the limit to an IPv4 loopback peer is lo's MTU less 28 bytes of headers") {
  const auto limit = route_datagram_limit(SocketAddress::loopback_v4(9));
  REQUIRE(limit);
  CHECK(limit.value_or(0) == std::min<std::size_t>(loopback_mtu() - 28, 65507));
}

TEST_CASE("the limit to an IPv6 loopback peer is lo's MTU less 48 bytes of headers") {
  const auto limit = route_datagram_limit(SocketAddress::loopback_v6(9));
  if (!limit) {
    // A kernel without IPv6 has no route to ::1; the IPv4 case covers the computation.
    MESSAGE("no IPv6 route to ::1 on this machine");
    return;
  }
  CHECK(limit.value_or(0) == std::min<std::size_t>(loopback_mtu() - 48, 65507));
}

TEST_CASE("an unspecified address has no route and so no limit") {
  CHECK_FALSE(route_datagram_limit(SocketAddress{}));
}
