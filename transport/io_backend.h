// The small interface every datagram I/O backend implements: send a batch, receive a
// batch, say what you can do. Backends: io_mmsg.h (sendmmsg/recvmmsg with GSO and GRO),
// io_plain.h (one sendmsg/recvmsg per datagram, always there), io_recording.h (memory
// only, for tests), io_fault.h (drops, delays, reorders, duplicates and corrupts on top of
// another backend). io_select.h picks one at run time.
//
// Hot path rules: send() and receive() never throw and never allocate (the test-only
// backends excepted); would-block is IoErrc::would_block, a value like any other.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "transport/udp_socket.h"

namespace dwcp::transport {

// Largest UDP payload over IPv4 (65535 - 20 - 8); also the bound on one GSO buffer and on
// one GRO-coalesced receive.
inline constexpr std::size_t kMaxUdpPayload = 65507;
// The kernel's UDP_MAX_SEGMENTS (include/linux/udp.h, 64 since 5.x).
inline constexpr std::size_t kMaxGsoSegments = 64;
// Datagram entries handed to the kernel per sendmmsg/recvmmsg call.
inline constexpr std::size_t kMaxBatch = 64;
// The shortest wait receive_wait() takes: the kernel times a socket's receive in jiffies
// (up to 10 ms each), so a wait is asked for at half its length and must be long enough
// for that to stay early.
inline constexpr std::chrono::milliseconds kMinReceiveWait{20};

// One entry of a send batch: `data` leaves as one datagram, or, if segment_size is
// non-zero and smaller than data.size(), as ceil(size / segment_size) datagrams of
// segment_size bytes, the last one possibly shorter (UDP GSO). The spans are read during
// send() only.
struct TxDatagram {
  SocketAddress to;
  std::span<const std::byte> data;
  std::uint16_t segment_size = 0;

  // Datagrams this entry becomes on the wire.
  [[nodiscard]] std::size_t datagram_count() const noexcept {
    if (segment_size == 0 || data.size() <= segment_size) return 1;
    return (data.size() + segment_size - 1) / segment_size;
  }
};

// One slot of a receive batch. The caller sets `buffer` (a pool buffer's
// BufferHandle::buffer(), or any span); receive() fills the rest.
struct RxDatagram {
  RxDatagram() noexcept = default;
  explicit RxDatagram(std::span<std::byte> into) noexcept : buffer(into) {}

  std::span<std::byte> buffer;  // in: where the bytes go
  SocketAddress from;           // out: the sender
  std::size_t length = 0;       // out: bytes written to buffer
  // out: with GRO, `length` bytes are consecutive datagrams of segment_size bytes from
  // the same sender, the last one possibly shorter. Equal to length when the kernel
  // handed over a single datagram (0 for an empty datagram).
  std::size_t segment_size = 0;
  bool truncated = false;  // out: the datagram did not fit in `buffer` (MSG_TRUNC)

  [[nodiscard]] std::size_t segment_count() const noexcept {
    if (segment_size == 0 || length <= segment_size) return 1;
    return (length + segment_size - 1) / segment_size;
  }
  // The i-th datagram of a coalesced receive; precondition i < segment_count().
  [[nodiscard]] std::span<std::byte> segment(std::size_t i) const noexcept {
    if (segment_size == 0) return buffer.first(length);
    const std::size_t start = i * segment_size;
    return buffer.subspan(start, std::min(segment_size, length - start));
  }
};

struct IoCapabilities {
  // Most datagrams one TxDatagram may become; 1 means no GSO (every entry must be one
  // datagram). May drop to 1 at run time if the route refuses GSO (IoErrc::gso_refused).
  std::size_t gso_max_segments = 1;
  // Most bytes in one TxDatagram.
  std::size_t gso_max_bytes = kMaxUdpPayload;
  // receive() may return coalesced datagrams (RxDatagram::segment_size < length). The
  // receive buffers should then hold kMaxUdpPayload bytes, or coalesced datagrams are
  // truncated.
  bool gro = false;
  // Zero-copy sends are in use now (MSG_ZEROCOPY or io_uring SEND_ZC). An automatic
  // backend turns this off by itself once the kernel reports that it copied anyway.
  bool zerocopy = false;
  std::size_t max_batch = kMaxBatch;  // entries per syscall (a hint; any batch is accepted)
  // receive_wait() works: the receive call can itself wait for the first datagram.
  bool receive_wait = false;
};

// What a backend did beyond the datagrams, for statistics. Counters only grow.
struct IoStatistics {
  std::uint64_t zerocopy_sends = 0;   // entries handed to the kernel for zero-copy
  std::uint64_t zerocopy_copied = 0;  // of those, completions saying the kernel copied anyway
  std::uint64_t zerocopy_late = 0;    // completions not seen within the wait bound
  // Automatic mode turned zero-copy off (completions said "copied"); it stays off.
  bool zerocopy_turned_off = false;
};

// Thread safety: a backend is used by one thread at a time, except that a socket backend
// may have one thread in send() and another in receive().
class IoBackend {
 public:
  IoBackend() = default;
  IoBackend(const IoBackend&) = delete;
  IoBackend& operator=(const IoBackend&) = delete;
  virtual ~IoBackend() = default;

  // Short name: "mmsg", "plain", "recording", "fault(mmsg)".
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;
  [[nodiscard]] virtual IoCapabilities capabilities() const noexcept = 0;
  // The socket's bound address (unspecified for a backend without one).
  [[nodiscard]] virtual SocketAddress local_address() const noexcept = 0;
  // Descriptor to wait on for readability (epoll), or -1.
  [[nodiscard]] virtual int fd() const noexcept = 0;

  // Sends entries in order. Returns how many leading entries the kernel took: all of
  // them, or fewer when the kernel stopped part-way (a full queue, a per-datagram error);
  // 0 for an empty batch. When not even the first entry was taken, returns the error
  // about that first entry instead: would_block (try again when writable),
  // message_too_big / unreachable (that entry is lost; go on with the next),
  // gso_refused (re-cut the batch to the new capabilities), invalid_argument (an entry
  // breaks the capabilities: more than gso_max_segments datagrams, more than
  // gso_max_bytes, or an unspecified address), or a fatal error.
  [[nodiscard]] virtual IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept = 0;

  // Fills leading slots of `batch` with received datagrams. Returns how many (at least 1),
  // or would_block when none is waiting, or an error. An empty batch returns 0.
  [[nodiscard]] virtual IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept = 0;

  // receive() that first waits for a datagram, so that waking up and reading are one
  // system call. Waits at most `timeout` (none: no limit), which must be at least
  // kMinReceiveWait; may return before it (would_block, or interrupted) but never
  // after. Backends without capabilities().receive_wait return unsupported at once; a
  // timeout below kMinReceiveWait is invalid_argument.
  [[nodiscard]] virtual IoResult<std::size_t> receive_wait(
      std::span<RxDatagram> batch, std::optional<std::chrono::nanoseconds> timeout) noexcept;

  // A snapshot; safe to call from any thread (the fields are read relaxed).
  [[nodiscard]] virtual IoStatistics statistics() const noexcept { return {}; }
};

inline IoResult<std::size_t> IoBackend::receive_wait(
    std::span<RxDatagram> /*batch*/, std::optional<std::chrono::nanoseconds> /*timeout*/) noexcept {
  return std::unexpected(IoError{IoErrc::unsupported, 0, "receive_wait"});
}

// Checks one send entry against the capabilities (the rule send() applies).
[[nodiscard]] inline bool fits(const TxDatagram& d, const IoCapabilities& caps) noexcept {
  return !d.to.is_unspecified() && d.data.size() <= caps.gso_max_bytes &&
         d.datagram_count() <= caps.gso_max_segments;
}

}  // namespace dwcp::transport
