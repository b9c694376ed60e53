// The largest UDP payload the local route to a peer carries unfragmented: the MTU the
// kernel keeps for the route (IP_MTU / IPV6_MTU of a socket connected to the peer), less
// the IP and UDP headers, at most kMaxUdpPayload: 65,507 bytes on loopback, 1,472 over
// Ethernet.
//
// An upper bound for path MTU discovery, never a promise: a smaller link further on is
// what the connection's probes find (docs/protocol.md §7.5).
#pragma once

#include <cstddef>
#include <optional>

#include "transport/udp_socket.h"

namespace dwcp::transport {

// nullopt when the kernel has no route to `peer` or will not say.
std::optional<std::size_t> route_datagram_limit(const SocketAddress& peer) noexcept;

}  // namespace dwcp::transport
