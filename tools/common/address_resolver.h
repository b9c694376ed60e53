// Host names and numeric addresses to a socket address (getaddrinfo), for -c and -B.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "transport/udp_socket.h"

namespace dwcp::tools {

// "127.0.0.1", "::1", "[::1]", "localhost", "example.org": the first address the resolver
// gives (IPv4 or IPv6), with `port`. Error: one line naming the host and the resolver's
// answer.
std::expected<transport::SocketAddress, std::string> resolve_address(std::string_view host,
                                                                     std::uint16_t port);

}  // namespace dwcp::tools
