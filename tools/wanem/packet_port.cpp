#include "tools/wanem/packet_port.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <array>
#include <utility>

namespace dwcp::wanem {
namespace {

std::string failure(const std::string& interface_name, const char* what) {
  return interface_name + ": " + what + ": " + std::strerror(errno);
}

}  // namespace

std::expected<PacketPort, std::string> PacketPort::open(const std::string& interface_name) {
  const unsigned ifindex = if_nametoindex(interface_name.c_str());
  if (ifindex == 0) return std::unexpected(failure(interface_name, "no such interface"));
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return std::unexpected(failure(interface_name, "socket(AF_PACKET)"));
  PacketPort port(fd, interface_name, static_cast<int>(ifindex));

  const int one = 1;
  // Frames we send must not be read back as input (Linux 4.20+); the packet type check in
  // receive() covers older kernels.
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // Straight to the driver: the emulator is the queue discipline.
  (void)setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
  // Room for bursts while the loop is busy with the other port; FORCE needs CAP_NET_ADMIN,
  // the plain call is the fallback.
  const int buffer = 16 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }

  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return std::unexpected(failure(interface_name, "bind"));
  }
  // Frames for the far host carry its MAC, not ours: take every frame.
  packet_mreq membership{};
  membership.mr_ifindex = static_cast<int>(ifindex);
  membership.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership, sizeof membership) != 0) {
    return std::unexpected(failure(interface_name, "promiscuous mode"));
  }
  return port;
}

PacketPort::PacketPort(PacketPort&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)), ifindex_(other.ifindex_) {}

PacketPort& PacketPort::operator=(PacketPort&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    ifindex_ = other.ifindex_;
  }
  return *this;
}

PacketPort::~PacketPort() {
  if (fd_ >= 0) close(fd_);
}

int PacketPort::receive(std::span<FrameSlot> slots) const {
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_ll, kBatch> from{};
  const std::size_t count = std::min(slots.size(), kBatch);
  for (std::size_t i = 0; i < count; ++i) {
    iov[i] = iovec{slots[i].data, slots[i].capacity};
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
    messages[i].msg_hdr.msg_name = &from[i];
    messages[i].msg_hdr.msg_namelen = sizeof from[i];
  }
  int got = 0;
  do {
    got = recvmmsg(fd_, messages.data(), static_cast<unsigned>(count), MSG_DONTWAIT | MSG_TRUNC,
                   nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  for (int i = 0; i < got; ++i) {
    const auto index = static_cast<std::size_t>(i);
    FrameSlot& slot = slots[index];
    if (from[index].sll_pkttype == PACKET_OUTGOING) {
      slot.length = 0;  // one we sent ourselves: the caller skips empty slots
      slot.truncated = false;
      continue;
    }
    const auto& m = messages[index];
    slot.length = std::min<std::size_t>(m.msg_len, slot.capacity);
    slot.truncated = m.msg_len > slot.capacity || (m.msg_hdr.msg_flags & MSG_TRUNC) != 0;
  }
  return got;
}

std::uint64_t PacketPort::take_kernel_drops() const {
  tpacket_stats stats{};
  socklen_t length = sizeof stats;
  if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &stats, &length) != 0) return 0;
  return stats.tp_drops;
}

int PacketPort::send(std::span<const FrameSlot> slots) const {
  std::array<mmsghdr, kBatch> messages{};
  std::array<iovec, kBatch> iov{};
  const std::size_t count = std::min(slots.size(), kBatch);
  for (std::size_t i = 0; i < count; ++i) {
    iov[i] = iovec{slots[i].data, slots[i].length};
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  do {
    sent = sendmmsg(fd_, messages.data(), static_cast<unsigned>(count), MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  return sent;
}

}  // namespace dwcp::wanem
