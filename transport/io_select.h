// Picks the I/O backend at run time, asking the kernel what works (as Seastar picks
// io_uring, then linux-aio, then epoll): sendmmsg with GSO, else plain sendmsg, which
// always works. sendmmsg without GSO and io_uring are there when asked for (docs/performance.md
// "I/O backends" has the measurements that keep io_uring out of the automatic choice). The
// choice and the reason for it are reported, for tools to print.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "transport/io_backend.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

enum class BackendKind {
  automatic,  // the best that works: mmsg_gso, else plain
  mmsg_gso,   // sendmmsg/recvmmsg with UDP GSO (and GRO when the kernel has it)
  mmsg,       // sendmmsg/recvmmsg, no GSO
  plain,      // one sendmsg/recvmsg per datagram
  uring,      // io_uring: linked SENDMSG (GSO when the kernel has it), multishot RECVMSG
};

std::string_view to_string(BackendKind kind) noexcept;
// "auto", "mmsg+gso" (or "mmsg_gso"), "mmsg", "plain", "uring" (or "io_uring"); false, `out`
// untouched, if unknown.
bool parse_backend_kind(std::string_view text, BackendKind& out) noexcept;

struct GsoProbe {
  bool supported = false;
  std::string detail;  // what was tried and what the kernel said
};

// Does the kernel segment UDP for this socket's family? Sets UDP_SEGMENT on `socket` (then
// back to 0), then sends a two-segment datagram between two throw-away sockets on the
// family's loopback address and waits (poll, at most 200 ms) to see it arrive. A socket
// option the kernel rejects means no; a test send it rejects (EIO, EINVAL) means no;
// a datagram that does not arrive in time is reported but still counts as yes, since the
// kernel took it.
GsoProbe probe_gso(const UdpSocket& socket);

struct BackendSelection {
  std::unique_ptr<IoBackend> backend;
  BackendKind kind = BackendKind::plain;  // what runs; never automatic
  // One line for logs and --version: "mmsg+gso (UDP_SEGMENT accepted, ...; GRO on;
  // rcvbuf 67108864 forced, sndbuf 16777216 forced)".
  std::string reason;
};

// Opens a socket on `bind_to` with `options` and wraps it in the backend `want` asks
// for; options.zerocopy goes to the backends that can send zero-copy (mmsg, uring).
// Errors: the socket's (bind, ...), unsupported when mmsg_gso is demanded and the kernel
// cannot segment or uring is demanded and the kernel has no usable io_uring, or what
// setting up io_uring failed with. automatic never fails for want of GSO.
IoResult<BackendSelection> open_backend(const SocketAddress& bind_to,
                                        const SocketOptions& options = {},
                                        BackendKind want = BackendKind::automatic);

}  // namespace dwcp::transport
