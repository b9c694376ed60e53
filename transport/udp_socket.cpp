#include "transport/udp_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace dwcp::transport {

// ---------------------------------------------------------------------------------------
// Addresses

std::string_view to_string(AddressErrc code) noexcept {
  switch (code) {
    case AddressErrc::empty:
      return "empty";
    case AddressErrc::missing_port:
      return "missing_port";
    case AddressErrc::bad_port:
      return "bad_port";
    case AddressErrc::bad_host:
      return "bad_host";
    case AddressErrc::missing_bracket:
      return "missing_bracket";
  }
  return "unknown";
}

std::string to_string(const AddressError& error) {
  std::string out(to_string(error.code));
  out += ": ";
  out += error.detail;
  return out;
}

SocketAddress::SocketAddress() noexcept : storage_{} {
  storage_.any.sa_family = AF_UNSPEC;
}

namespace {

std::expected<std::uint16_t, AddressError> parse_port(std::string_view text,
                                                      std::string_view whole) {
  unsigned value = 0;
  const char* const first = text.begin();
  const char* const end = text.end();
  const auto [ptr, ec] = std::from_chars(first, end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value > 65535) {
    return std::unexpected(AddressError{
        AddressErrc::bad_port,
        "port '" + std::string(text) + "' in '" + std::string(whole) + "' is not 0-65535"});
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::expected<SocketAddress, AddressError> SocketAddress::parse(std::string_view text) {
  const std::string whole(text);
  if (text.empty()) return std::unexpected(AddressError{AddressErrc::empty, "no address given"});
  SocketAddress out;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return std::unexpected(
          AddressError{AddressErrc::missing_bracket, "no ']' after '[' in '" + whole + "'"});
    }
    const std::string host(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return std::unexpected(
          AddressError{AddressErrc::missing_port, "expected ':port' after ']' in '" + whole + "'"});
    }
    const auto port = parse_port(rest.substr(1), text);
    if (!port) return std::unexpected(port.error());
    out.storage_.v6 = sockaddr_in6{};
    out.storage_.v6.sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, host.c_str(), &out.storage_.v6.sin6_addr) != 1) {
      return std::unexpected(AddressError{
          AddressErrc::bad_host, "'" + host + "' in '" + whole + "' is not an IPv6 address"});
    }
    out.storage_.v6.sin6_port = htons(*port);
    return out;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return std::unexpected(
        AddressError{AddressErrc::missing_port, "expected 'host:port', got '" + whole + "'"});
  }
  if (text.find(':') != colon) {
    return std::unexpected(
        AddressError{AddressErrc::missing_bracket,
                     "an IPv6 address with a port is written '[addr]:port', got '" + whole + "'"});
  }
  const std::string host(text.substr(0, colon));
  const auto port = parse_port(text.substr(colon + 1), text);
  if (!port) return std::unexpected(port.error());
  out.storage_.v4 = sockaddr_in{};
  out.storage_.v4.sin_family = AF_INET;
  if (host.empty() || inet_pton(AF_INET, host.c_str(), &out.storage_.v4.sin_addr) != 1) {
    return std::unexpected(AddressError{
        AddressErrc::bad_host, "'" + host + "' in '" + whole + "' is not an IPv4 address"});
  }
  out.storage_.v4.sin_port = htons(*port);
  return out;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) noexcept {
  SocketAddress out;
  if (sa == nullptr) return out;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(&out.storage_.v4, sa, sizeof(sockaddr_in));
  } else if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(&out.storage_.v6, sa, sizeof(sockaddr_in6));
  }
  return out;
}

SocketAddress SocketAddress::loopback_v4(std::uint16_t port) noexcept {
  SocketAddress out;
  out.storage_.v4 = sockaddr_in{};
  out.storage_.v4.sin_family = AF_INET;
  out.storage_.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  out.storage_.v4.sin_port = htons(port);
  return out;
}

SocketAddress SocketAddress::loopback_v6(std::uint16_t port) noexcept {
  SocketAddress out;
  out.storage_.v6 = sockaddr_in6{};
  out.storage_.v6.sin6_family = AF_INET6;
  out.storage_.v6.sin6_addr = in6addr_loopback;
  out.storage_.v6.sin6_port = htons(port);
  return out;
}

SocketAddress SocketAddress::any_v4(std::uint16_t port) noexcept {
  SocketAddress out;
  out.storage_.v4 = sockaddr_in{};
  out.storage_.v4.sin_family = AF_INET;
  out.storage_.v4.sin_addr.s_addr = htonl(INADDR_ANY);
  out.storage_.v4.sin_port = htons(port);
  return out;
}

SocketAddress SocketAddress::any_v6(std::uint16_t port) noexcept {
  SocketAddress out;
  out.storage_.v6 = sockaddr_in6{};
  out.storage_.v6.sin6_family = AF_INET6;
  out.storage_.v6.sin6_addr = in6addr_any;
  out.storage_.v6.sin6_port = htons(port);
  return out;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (is_v4()) return ntohs(storage_.v4.sin_port);
  if (is_v6()) return ntohs(storage_.v6.sin6_port);
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) noexcept {
  if (is_v4()) storage_.v4.sin_port = htons(port);
  if (is_v6()) storage_.v6.sin6_port = htons(port);
}

socklen_t SocketAddress::size() const noexcept {
  if (is_v4()) return sizeof(sockaddr_in);
  if (is_v6()) return sizeof(sockaddr_in6);
  return 0;
}

std::string SocketAddress::to_string() const {
  // Built by appending: an operator+ chain trips a false -Wrestrict at -O3 (GCC PR 105329).
  char host[INET6_ADDRSTRLEN] = {};
  std::string out;
  if (is_v4()) {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, host, sizeof host);
    out += host;
    out += ':';
  } else if (is_v6()) {
    inet_ntop(AF_INET6, &storage_.v6.sin6_addr, host, sizeof host);
    out += '[';
    out += host;
    out += "]:";
  } else {
    return "unspecified";
  }
  out += std::to_string(port());
  return out;
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
  if (a.family() != b.family()) return false;
  if (a.is_v4()) {
    return a.storage_.v4.sin_port == b.storage_.v4.sin_port &&
           a.storage_.v4.sin_addr.s_addr == b.storage_.v4.sin_addr.s_addr;
  }
  if (a.is_v6()) {
    return a.storage_.v6.sin6_port == b.storage_.v6.sin6_port &&
           a.storage_.v6.sin6_scope_id == b.storage_.v6.sin6_scope_id &&
           std::memcmp(&a.storage_.v6.sin6_addr, &b.storage_.v6.sin6_addr, sizeof(in6_addr)) == 0;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Errors

bool is_fatal(IoErrc code) noexcept {
  switch (code) {
    case IoErrc::would_block:
    case IoErrc::interrupted:
    case IoErrc::message_too_big:
    case IoErrc::unreachable:
    case IoErrc::no_buffers:
    case IoErrc::gso_refused:
      return false;
    case IoErrc::invalid_argument:
    case IoErrc::unsupported:
    case IoErrc::permission:
    case IoErrc::address_in_use:
    case IoErrc::bad_descriptor:
    case IoErrc::system:
      return true;
  }
  return true;
}

std::string_view to_string(ZerocopyMode mode) noexcept {
  switch (mode) {
    case ZerocopyMode::automatic:
      return "auto";
    case ZerocopyMode::on:
      return "on";
    case ZerocopyMode::off:
      return "off";
  }
  return "unknown";
}

bool parse_zerocopy_mode(std::string_view text, ZerocopyMode& out) noexcept {
  if (text == "auto") {
    out = ZerocopyMode::automatic;
  } else if (text == "on") {
    out = ZerocopyMode::on;
  } else if (text == "off") {
    out = ZerocopyMode::off;
  } else {
    return false;
  }
  return true;
}

std::string_view to_string(IoErrc code) noexcept {
  switch (code) {
    case IoErrc::would_block:
      return "would_block";
    case IoErrc::interrupted:
      return "interrupted";
    case IoErrc::message_too_big:
      return "message_too_big";
    case IoErrc::unreachable:
      return "unreachable";
    case IoErrc::no_buffers:
      return "no_buffers";
    case IoErrc::gso_refused:
      return "gso_refused";
    case IoErrc::invalid_argument:
      return "invalid_argument";
    case IoErrc::unsupported:
      return "unsupported";
    case IoErrc::permission:
      return "permission";
    case IoErrc::address_in_use:
      return "address_in_use";
    case IoErrc::bad_descriptor:
      return "bad_descriptor";
    case IoErrc::system:
      return "system";
  }
  return "unknown";
}

std::string to_string(const IoError& error) {
  std::string out;
  if (error.op != nullptr && *error.op != '\0') {
    out += error.op;
    out += ": ";
  }
  out += to_string(error.code);
  if (error.sys_errno != 0) {
    out += " (errno ";
    out += std::to_string(error.sys_errno);
    out += ": ";
    out += strerrordesc_np(error.sys_errno) != nullptr ? strerrordesc_np(error.sys_errno) : "?";
    out += ")";
  }
  return out;
}

IoError io_error_from_errno(int err, const char* op) noexcept {
  IoErrc code = IoErrc::system;
  switch (err) {
    case EAGAIN:
      code = IoErrc::would_block;
      break;
    case EINTR:
      code = IoErrc::interrupted;
      break;
    case EMSGSIZE:
      code = IoErrc::message_too_big;
      break;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
      code = IoErrc::unreachable;
      break;
    case ENOBUFS:
    case ENOMEM:
      code = IoErrc::no_buffers;
      break;
    case EINVAL:
    case EFAULT:
      code = IoErrc::invalid_argument;
      break;
    case EOPNOTSUPP:
    case ENOPROTOOPT:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
      code = IoErrc::unsupported;
      break;
    case EPERM:
    case EACCES:
      code = IoErrc::permission;
      break;
    case EADDRINUSE:
    case EADDRNOTAVAIL:
      code = IoErrc::address_in_use;
      break;
    case EBADF:
    case ENOTSOCK:
      code = IoErrc::bad_descriptor;
      break;
    default:
      break;
  }
  return IoError{code, err, op};
}

// ---------------------------------------------------------------------------------------
// The socket

namespace {

int get_int_option(int fd, int level, int name) noexcept {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, level, name, &value, &len) != 0) return -1;
  return value;
}

bool set_int_option(int fd, int level, int name, int value) noexcept {
  return setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// Forced first (root or CAP_NET_ADMIN), else the plain option, which the kernel caps at
// net.core.[rw]mem_max. Returns whether the forced option was accepted.
bool set_buffer(int fd, int force_name, int plain_name, std::size_t bytes) noexcept {
  if (bytes == 0) return false;
  // The kernel doubles the value and keeps it in an int.
  const int value = static_cast<int>(std::min<std::size_t>(bytes, std::size_t{1} << 30));
  if (set_int_option(fd, SOL_SOCKET, force_name, value)) return true;
  (void)set_int_option(fd, SOL_SOCKET, plain_name, value);
  return false;
}

}  // namespace

IoResult<UdpSocket> UdpSocket::open(const SocketAddress& bind_to, const SocketOptions& options) {
  if (bind_to.is_unspecified()) {
    return std::unexpected(IoError{IoErrc::invalid_argument, 0, "bind (unspecified address)"});
  }
  UdpSocket sock;
  sock.fd_ = ::socket(bind_to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (sock.fd_ < 0) return std::unexpected(io_error_from_errno(errno, "socket"));
  const int fd = sock.fd_;

  if (bind_to.is_v6() && !set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, options.v6_only ? 1 : 0)) {
    return std::unexpected(io_error_from_errno(errno, "setsockopt(IPV6_V6ONLY)"));
  }
  if (options.reuse_port && !set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1)) {
    return std::unexpected(io_error_from_errno(errno, "setsockopt(SO_REUSEPORT)"));
  }

  sock.report_.receive_buffer_forced =
      set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.receive_buffer);
  sock.report_.send_buffer_forced = set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.send_buffer);
  sock.report_.receive_buffer = static_cast<std::size_t>(get_int_option(fd, SOL_SOCKET, SO_RCVBUF));
  sock.report_.send_buffer = static_cast<std::size_t>(get_int_option(fd, SOL_SOCKET, SO_SNDBUF));

  if (options.dont_fragment) {
    if (bind_to.is_v6()) {
      if (!set_int_option(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO)) {
        return std::unexpected(io_error_from_errno(errno, "setsockopt(IPV6_MTU_DISCOVER)"));
      }
      // A dual-stack socket sends IPv4 too; the IPv4 option covers those packets. An
      // IPv6-only socket may refuse it, which is harmless.
      (void)set_int_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO);
    } else if (!set_int_option(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)) {
      return std::unexpected(io_error_from_errno(errno, "setsockopt(IP_MTU_DISCOVER)"));
    }
    sock.report_.dont_fragment = true;
  }

  if (options.gro) (void)sock.set_gro(true);
  if (options.zerocopy != ZerocopyMode::off) {
    sock.report_.zerocopy = set_int_option(fd, SOL_SOCKET, SO_ZEROCOPY, 1);
  }

  if (::bind(fd, bind_to.data(), bind_to.size()) != 0) {
    return std::unexpected(io_error_from_errno(errno, "bind"));
  }
  sockaddr_in6 bound{};
  socklen_t len = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
    return std::unexpected(io_error_from_errno(errno, "getsockname"));
  }
  sock.local_ = SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), len);
  return sock;
}

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), local_(other.local_), report_(other.report_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    local_ = other.local_;
    report_ = other.report_;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  close();
}

bool UdpSocket::set_gro(bool on) noexcept {
  if (fd_ < 0) return false;
  const bool ok = set_int_option(fd_, IPPROTO_UDP, UDP_GRO, on ? 1 : 0);
  if (ok) report_.gro = on;
  return ok;
}

// NOLINTNEXTLINE(readability-make-member-function-const): it changes the socket's mode
bool UdpSocket::set_blocking(bool on) noexcept {
  if (fd_ < 0) return false;
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return false;
  return ::fcntl(fd_, F_SETFL, on ? flags & ~O_NONBLOCK : flags | O_NONBLOCK) == 0;
}

void UdpSocket::close() noexcept {
  if (fd_ >= 0) {
    // The descriptor is gone whatever close() returns (EINTR included), so its result
    // carries nothing to act on.
    (void)::close(fd_);
    fd_ = -1;
  }
}

namespace detail {

void prepare_send_msg(msghdr& msg, iovec& iov, GsoControl& control, const SocketAddress& to,
                      std::span<const std::byte> data, std::uint16_t segment_size) noexcept {
  // The kernel only reads through these pointers; the struct fields lack the const.
  iov.iov_base = const_cast<std::byte*>(data.data());
  iov.iov_len = data.size();
  msg = msghdr{};
  msg.msg_name = const_cast<sockaddr*>(to.data());
  msg.msg_namelen = to.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (segment_size == 0 || data.size() <= segment_size) return;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof control.bytes;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
  std::memcpy(CMSG_DATA(c), &segment_size, sizeof segment_size);
}

std::size_t gro_segment_size(const msghdr& msg) noexcept {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      return size > 0 ? static_cast<std::size_t>(size) : 0;
    }
  }
  return 0;
}

}  // namespace detail

}  // namespace dwcp::transport
