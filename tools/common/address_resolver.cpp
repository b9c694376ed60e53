#include "tools/common/address_resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <memory>

namespace dwcp::tools {

std::expected<transport::SocketAddress, std::string> resolve_address(std::string_view host,
                                                                     std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string name(host);
  std::string problem = "cannot resolve host '";
  problem += name;
  problem += "': ";
  if (name.empty()) {
    problem += "empty name";
    return std::unexpected(problem);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    problem += gai_strerror(rc);
    return std::unexpected(problem);
  }
  const std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, &freeaddrinfo);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto address = transport::SocketAddress::from_sockaddr(a->ai_addr, a->ai_addrlen);
    if (address.is_unspecified()) continue;
    address.set_port(port);
    return address;
  }
  problem += "no IPv4 or IPv6 address";
  return std::unexpected(problem);
}

}  // namespace dwcp::tools
