// An in-memory backend for tests: records every datagram sent (GSO entries split into
// their datagrams, as the wire would carry them) and hands out datagrams a test injects.
// Two of them can be linked so that what one sends, the other receives: a lossless
// in-memory link, which io_fault.h can make lossy. Lets the sender, the receiver and the
// whole connection be tested without sockets and without a clock.
//
// Allocates (it copies every datagram): a test tool, not for the hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "transport/io_backend.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

struct RecordedDatagram {
  SocketAddress to;
  std::vector<std::byte> bytes;
  std::size_t send_call = 0;  // which send() call (from 0) carried it
  std::size_t entry = 0;      // which entry of that call's batch
};

// Not thread-safe.
class RecordingBackend final : public IoBackend {
 public:
  // `local` is what local_address() returns and the source the peer sees; `caps` is what
  // capabilities() reports and what send() enforces.
  explicit RecordingBackend(SocketAddress local = SocketAddress::loopback_v4(4433),
                            IoCapabilities caps = default_capabilities());
  static IoCapabilities default_capabilities() noexcept;

  [[nodiscard]] std::string_view name() const noexcept override { return "recording"; }
  [[nodiscard]] IoCapabilities capabilities() const noexcept override { return caps_; }
  [[nodiscard]] SocketAddress local_address() const noexcept override { return local_; }
  [[nodiscard]] int fd() const noexcept override { return -1; }

  // Records the entries (and delivers them to the linked peer) while the send budget
  // lasts; an entry that does not fit in what is left of the budget is not taken, so a
  // call that can take nothing returns would_block. A queued failure comes first.
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override;
  // Injected datagrams, oldest first; would_block when there are none. A datagram longer
  // than the slot's buffer is cut and marked truncated.
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override;

  // --- test controls -------------------------------------------------------------------
  // Queues a datagram for receive(). segment_size > 0 presents `bytes` as GRO-coalesced
  // datagrams of that size; 0 as one datagram.
  void inject(const SocketAddress& from, std::span<const std::byte> bytes,
              std::size_t segment_size = 0);
  // What this backend sends, `peer` receives (from local_address()). nullptr unlinks.
  // Both must stay alive while linked.
  void link_to(RecordingBackend* peer) noexcept { peer_ = peer; }
  // Datagrams send() may still take before it reports would_block; unlimited by default.
  void set_send_budget(std::size_t datagrams) noexcept { send_budget_ = datagrams; }
  // The next send() fails with `error`, taking nothing.
  void fail_next_send(IoError error) noexcept { next_send_error_ = error; }

  [[nodiscard]] const std::vector<RecordedDatagram>& sent() const noexcept { return sent_; }
  [[nodiscard]] std::size_t send_calls() const noexcept { return send_calls_; }
  [[nodiscard]] std::size_t pending_receive() const noexcept { return inbox_.size(); }
  void clear_sent() noexcept { sent_.clear(); }

 private:
  struct Inbound {
    SocketAddress from;
    std::vector<std::byte> bytes;
    std::size_t segment_size = 0;
  };

  SocketAddress local_;
  IoCapabilities caps_;
  RecordingBackend* peer_ = nullptr;
  std::size_t send_budget_ = std::numeric_limits<std::size_t>::max();
  std::optional<IoError> next_send_error_;
  std::size_t send_calls_ = 0;
  std::vector<RecordedDatagram> sent_;
  std::deque<Inbound> inbox_;
};

}  // namespace dwcp::transport
