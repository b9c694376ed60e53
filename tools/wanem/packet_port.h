// One port of the emulator: an AF_PACKET socket bound to a network interface, moving whole
// Ethernet frames in batches with recvmmsg/sendmmsg (one system call per batch). Frames
// the socket itself sent are ignored (PACKET_IGNORE_OUTGOING, and the packet type checked
// as well), so a frame forwarded out of one port never comes back in.
// Why not a TPACKET_V3 ring: the emulator holds every frame for its delay, so each frame
// is copied out of the ring anyway; recvmmsg copies once, straight into the pool buffer
// that holds the frame until it leaves. docs/wan-lab.md has the measurements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>

namespace dwcp::wanem {

struct FrameSlot {
  std::byte* data = nullptr;  // receive: buffer to fill; send: frame to send
  std::size_t capacity = 0;   // receive: buffer size
  std::size_t length = 0;     // receive: bytes received; send: bytes to send
  bool truncated = false;     // receive: the frame was larger than the buffer
};

class PacketPort {
 public:
  static constexpr std::size_t kBatch = 64;

  // Opens and binds the socket, non-blocking, with large socket buffers. Needs
  // CAP_NET_RAW. The error names the interface and the failing call.
  static std::expected<PacketPort, std::string> open(const std::string& interface_name);

  PacketPort(PacketPort&& other) noexcept;
  PacketPort& operator=(PacketPort&& other) noexcept;
  PacketPort(const PacketPort&) = delete;
  PacketPort& operator=(const PacketPort&) = delete;
  ~PacketPort();

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  // Fills up to min(slots.size(), kBatch) slots. Returns the number of slots used (0:
  // nothing waiting), or -errno on failure. A used slot with length 0 held a frame this
  // socket sent itself: skip it.
  int receive(std::span<FrameSlot> slots) const;
  // Frames the kernel dropped because this socket's receive buffer was full, since the
  // last call (PACKET_STATISTICS resets on read).
  std::uint64_t take_kernel_drops() const;

  // Sends up to min(slots.size(), kBatch) frames. Returns how many the kernel took (0 when
  // it would block), or -errno when the first frame failed.
  int send(std::span<const FrameSlot> slots) const;

 private:
  PacketPort(int fd, std::string name, int ifindex)
      : fd_(fd), name_(std::move(name)), ifindex_(ifindex) {}

  int fd_ = -1;
  std::string name_;
  int ifindex_ = 0;
};

}  // namespace dwcp::wanem
