// The fallback kernel backend: one sendmsg or recvmsg per datagram, no GSO. Always
// works (any Linux, any route); io_select.h falls back to it when the kernel refuses
// UDP GSO. If the socket has UDP_GRO on, coalesced receives are reported as such.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

#include "transport/io_backend.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

// Thread safety: one thread may be in send() while another is in receive().
class PlainBackend final : public IoBackend {
 public:
  // Takes the socket over.
  explicit PlainBackend(UdpSocket socket) noexcept : socket_(std::move(socket)) {}

  [[nodiscard]] std::string_view name() const noexcept override { return "plain"; }
  // gso_max_segments 1: every entry must be a single datagram.
  [[nodiscard]] IoCapabilities capabilities() const noexcept override;
  [[nodiscard]] SocketAddress local_address() const noexcept override {
    return socket_.local_address();
  }
  [[nodiscard]] int fd() const noexcept override { return socket_.fd(); }
  [[nodiscard]] const UdpSocket& socket() const noexcept { return socket_; }

  // See IoBackend::send: one sendmsg per entry.
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override;
  // See IoBackend::receive: one recvmsg per slot, until the socket is empty.
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override;

 private:
  UdpSocket socket_;
};

}  // namespace dwcp::transport
