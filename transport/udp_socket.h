// The kernel's UDP socket, wrapped: an address value type, I/O errors as values, and a
// non-blocking socket that owns its descriptor and remembers what the kernel granted.
//
// Everything here is set-up or value code; the per-batch send and receive paths live in
// the I/O backends (io_backend.h), which take a UdpSocket over.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace dwcp::transport {

// ---------------------------------------------------------------------------------------
// Addresses

enum class AddressErrc {
  empty,            // nothing to parse
  missing_port,     // no ":port" (or "[v6]" without ":port")
  bad_port,         // port not a decimal number in 0..65535
  bad_host,         // host is not a numeric IPv4 or IPv6 address
  missing_bracket,  // "[v6" without "]", or a bare IPv6 address with a port
};

struct AddressError {
  AddressErrc code;
  std::string detail;  // names the offending part of the input
};

std::string_view to_string(AddressErrc code) noexcept;
// One line: "<code>: <detail>".
std::string to_string(const AddressError& error);

// An IPv4 or IPv6 socket address (address and port; an IPv6 scope id is kept but not
// parsed). A value type, trivially copyable.
//
// Storage is a union of sockaddr_in and sockaddr_in6 (28 bytes) rather than a
// sockaddr_storage (128 bytes): these are the only families a UDP transport uses, and a
// batch of 64 send entries then carries 2 KiB of addresses, not 8 KiB. from_sockaddr()
// accepts a sockaddr_storage filled by the kernel.
class SocketAddress {
 public:
  // Unspecified (AF_UNSPEC): family() == AF_UNSPEC, to_string() == "unspecified".
  SocketAddress() noexcept;

  // Numeric forms only (no name resolution): "1.2.3.4:443", "[::1]:443", "[::]:0".
  static std::expected<SocketAddress, AddressError> parse(std::string_view text);
  // An unspecified address if `sa` is not AF_INET / AF_INET6 or `len` is too short.
  static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len) noexcept;
  static SocketAddress loopback_v4(std::uint16_t port) noexcept;
  static SocketAddress loopback_v6(std::uint16_t port) noexcept;
  static SocketAddress any_v4(std::uint16_t port) noexcept;
  static SocketAddress any_v6(std::uint16_t port) noexcept;

  [[nodiscard]] sa_family_t family() const noexcept { return storage_.any.sa_family; }
  [[nodiscard]] bool is_v4() const noexcept { return family() == AF_INET; }
  [[nodiscard]] bool is_v6() const noexcept { return family() == AF_INET6; }
  [[nodiscard]] bool is_unspecified() const noexcept { return family() == AF_UNSPEC; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;

  // For the socket calls. size() is 0 for an unspecified address.
  [[nodiscard]] const sockaddr* data() const noexcept { return &storage_.any; }
  [[nodiscard]] sockaddr* data() noexcept { return &storage_.any; }
  [[nodiscard]] socklen_t size() const noexcept;
  // Room for either family, for the kernel to write into (recvmsg's msg_name).
  static constexpr socklen_t kCapacity = sizeof(sockaddr_in6);

  // "1.2.3.4:443", "[::1]:443", "unspecified".
  [[nodiscard]] std::string to_string() const;

  // Same family, address, port (and for IPv6, scope id); flow info is ignored.
  friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

 private:
  union Storage {
    sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
  };
  Storage storage_;
};

// ---------------------------------------------------------------------------------------
// Errors

// Grouped so is_fatal() can classify them: the first group is expected on a busy or lossy
// path and the caller carries on; the second means the socket or the call is wrong.
enum class IoErrc {
  // Not fatal.
  would_block,      // EAGAIN/EWOULDBLOCK: queue full on send, nothing to read on receive
  interrupted,      // EINTR
  message_too_big,  // EMSGSIZE: larger than the path MTU with don't-fragment set
  unreachable,      // ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN
  no_buffers,       // ENOBUFS, ENOMEM: the kernel is short of memory for now
  gso_refused,      // EIO on a GSO send: the route cannot segment; GSO is now off
  // Fatal.
  invalid_argument,  // EINVAL, or an entry the backend cannot carry (see IoBackend::send)
  unsupported,       // EOPNOTSUPP, ENOPROTOOPT, EAFNOSUPPORT, EPROTONOSUPPORT
  permission,        // EPERM, EACCES
  address_in_use,    // EADDRINUSE, EADDRNOTAVAIL
  bad_descriptor,    // EBADF, ENOTSOCK: the socket is closed
  system,            // any other errno
};

struct IoError {
  IoErrc code = IoErrc::system;
  int sys_errno = 0;    // 0 when the error did not come from the kernel
  const char* op = "";  // the call that failed ("sendmmsg", "bind", ...); a literal
};

[[nodiscard]] bool is_fatal(IoErrc code) noexcept;
std::string_view to_string(IoErrc code) noexcept;
// "sendmmsg: would_block (errno 11: Resource temporarily unavailable)".
std::string to_string(const IoError& error);
// Classifies an errno; `op` must be a string literal.
[[nodiscard]] IoError io_error_from_errno(int err, const char* op) noexcept;

template <typename T>
using IoResult = std::expected<T, IoError>;

// ---------------------------------------------------------------------------------------
// The socket

// Zero-copy sends (MSG_ZEROCOPY, io_uring SEND_ZC). The kernel pins the pages instead of
// copying them, but copies anyway on loopback and on devices without scatter-gather, and
// then zero-copy costs throughput (0.5-0.7x measured, MACHINE.md).
enum class ZerocopyMode : std::uint8_t {
  automatic,  // large entries go zero-copy until a completion says the kernel copied
  on,         // every entry goes zero-copy, whatever the completions say
  off,        // never
};

std::string_view to_string(ZerocopyMode mode) noexcept;
// "auto", "on", "off"; false, `out` untouched, for anything else.
bool parse_zerocopy_mode(std::string_view text, ZerocopyMode& out) noexcept;

struct SocketOptions {
  // Asked-for kernel buffer sizes. SO_RCVBUFFORCE/SO_SNDBUFFORCE are tried first (they
  // need CAP_NET_ADMIN and ignore net.core.rmem_max/wmem_max); without the capability the
  // plain options give at most the sysctl maximum. 0 leaves the kernel default.
  std::size_t receive_buffer = std::size_t{32} << 20;
  std::size_t send_buffer = std::size_t{8} << 20;
  bool gro = true;            // UDP_GRO: the kernel may hand over coalesced datagrams
  bool dont_fragment = true;  // IP(V6)_PMTUDISC_DO, so an oversized probe fails honestly
  bool reuse_port = false;    // SO_REUSEPORT
  bool v6_only = true;        // IPV6_V6ONLY on an IPv6 socket
  // Zero-copy sends; unless off, SO_ZEROCOPY is asked for (a refusal is only reported).
  ZerocopyMode zerocopy = ZerocopyMode::automatic;
};

// What the kernel actually granted.
struct SocketReport {
  // As getsockopt(SO_RCVBUF/SO_SNDBUF) reads them: the kernel doubles the asked-for size
  // to leave room for its bookkeeping, so these are about twice the usable payload.
  std::size_t receive_buffer = 0;
  std::size_t send_buffer = 0;
  bool receive_buffer_forced = false;  // SO_RCVBUFFORCE was accepted
  bool send_buffer_forced = false;
  bool gro = false;
  bool dont_fragment = false;
  bool zerocopy = false;  // SO_ZEROCOPY was accepted (MSG_ZEROCOPY sends are possible)
};

// A close-on-exec UDP socket bound to an address, non-blocking unless set_blocking(true).
// Move-only; closes its descriptor on destruction. Not thread-safe, except that the kernel
// serialises concurrent send and receive calls on one descriptor (one sender and one receiver
// thread may share it).
class UdpSocket {
 public:
  // Opens, sets the options and binds. Option failures other than the buffer sizes and
  // GRO are errors; buffer sizes and GRO fall back and say so in report().
  static IoResult<UdpSocket> open(const SocketAddress& bind_to, const SocketOptions& options = {});

  UdpSocket() noexcept = default;
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket();

  [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int fd() const noexcept { return fd_; }
  // The bound address, with the port the kernel chose if 0 was asked for.
  [[nodiscard]] const SocketAddress& local_address() const noexcept { return local_; }
  [[nodiscard]] const SocketReport& report() const noexcept { return report_; }

  // Turns UDP_GRO on or off after opening; false if the kernel refused.
  bool set_gro(bool on) noexcept;
  // Clears or sets O_NONBLOCK. A blocking socket lets one receive call also be the wait
  // for the next datagram; every other call must then pass MSG_DONTWAIT. False if fcntl
  // failed (the mode is unchanged).
  bool set_blocking(bool on) noexcept;
  void close() noexcept;

 private:
  int fd_ = -1;
  SocketAddress local_;
  SocketReport report_;
};

namespace detail {

// Room for the UDP_SEGMENT control message of a GSO send.
union GsoControl {
  cmsghdr align;
  char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
};

// Makes `msg` a send of `data` to `to` through `iov`. A segment_size below data's size
// attaches UDP_SEGMENT (in `control`), so the kernel cuts the buffer into datagrams of that
// size; otherwise `msg` carries no control message. `msg`, `iov` and `control` must outlive
// the send, as must `to` and `data`.
void prepare_send_msg(msghdr& msg, iovec& iov, GsoControl& control, const SocketAddress& to,
                      std::span<const std::byte> data, std::uint16_t segment_size) noexcept;

// Room for the control messages a receive asks for (UDP_GRO's segment size, an int).
inline constexpr std::size_t kRxControlSize = CMSG_SPACE(sizeof(int));
// The UDP_GRO control message of a received message: the size of each coalesced
// datagram, or 0 if there is none.
[[nodiscard]] std::size_t gro_segment_size(const msghdr& msg) noexcept;

}  // namespace detail

}  // namespace dwcp::transport
