// Shared by the I/O backend tests: payload patterns and a bounded receive loop that waits
// on the socket with poll() (synchronisation on the kernel's readiness, not a sleep).
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "transport/io_backend.h"
#include "transport/io_mmsg.h"
#include "transport/io_plain.h"
#include "transport/io_uring.h"

namespace dwcp::transport::test {

// A datagram's bytes: an 8-byte id, then a pattern derived from it, so any datagram can be
// checked on its own and a corrupted one is caught.
inline std::vector<std::byte> pattern(std::uint64_t id, std::size_t size) {
  std::vector<std::byte> out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((id * 131 + i * 7 + (i >> 8)) & 0xff);
  }
  std::memcpy(out.data(), &id, std::min<std::size_t>(size, sizeof id));
  return out;
}

// One single-datagram send entry per payload, all to `to`.
inline std::vector<TxDatagram> entries_to(const SocketAddress& to,
                                          const std::vector<std::vector<std::byte>>& payloads) {
  std::vector<TxDatagram> out;
  out.reserve(payloads.size());
  for (const auto& p : payloads) out.push_back(TxDatagram{to, p, 0});
  return out;
}

// The kernel backends every socket test runs over. The zero-copy kinds send every entry
// zero-copy (ZerocopyMode::on), so the completion path is exercised even on loopback.
enum class Kind { plain, mmsg, mmsg_zerocopy, uring, uring_zerocopy };

inline constexpr Kind kAllKinds[] = {Kind::plain, Kind::mmsg, Kind::mmsg_zerocopy, Kind::uring,
                                     Kind::uring_zerocopy};

inline std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::plain:
      return "plain";
    case Kind::mmsg:
      return "mmsg";
    case Kind::mmsg_zerocopy:
      return "mmsg+zerocopy";
    case Kind::uring:
      return "uring";
    case Kind::uring_zerocopy:
      return "uring+zerocopy";
  }
  return "?";
}

// Opens `kind` on `bind_to`, with GSO up to `gso_segments` (plain ignores it). nullptr, with
// `why` saying what this kernel lacks, when the kind cannot run here: the caller reports
// the case as skipped.
inline std::unique_ptr<IoBackend> open_kind(Kind kind, const SocketAddress& bind_to,
                                            std::size_t gso_segments, std::string& why,
                                            SocketOptions options = {}) {
  const bool zerocopy = kind == Kind::mmsg_zerocopy || kind == Kind::uring_zerocopy;
  options.zerocopy = zerocopy ? ZerocopyMode::on : ZerocopyMode::off;
  auto s = UdpSocket::open(bind_to, options);
  if (!s) {
    why = "socket on " + bind_to.to_string() + ": " + to_string(s.error());
    return nullptr;
  }
  switch (kind) {
    case Kind::plain:
      return std::make_unique<PlainBackend>(std::move(*s));
    case Kind::mmsg:
    case Kind::mmsg_zerocopy:
      if (zerocopy && !s->report().zerocopy) {
        why = "SO_ZEROCOPY refused by this kernel";
        return nullptr;
      }
      return std::make_unique<MmsgBackend>(std::move(*s), gso_segments, options.zerocopy);
    case Kind::uring:
    case Kind::uring_zerocopy: {
      const UringProbe probe = probe_uring();
      if (!probe.supported || (zerocopy && !probe.zerocopy)) {
        why = "io_uring: " + probe.detail + (zerocopy ? " (SENDMSG_ZC needed)" : "");
        return nullptr;
      }
      auto b = UringBackend::open(std::move(*s), gso_segments, options.zerocopy);
      if (!b) {
        why = "io_uring set-up: " + to_string(b.error());
        return nullptr;
      }
      return std::move(*b);
    }
  }
  return nullptr;
}

inline std::uint64_t id_of(std::span<const std::byte> datagram) {
  std::uint64_t id = 0;
  std::memcpy(&id, datagram.data(), std::min(datagram.size(), sizeof id));
  return id;
}

// A received datagram, split out of a (possibly GRO-coalesced) slot.
struct Received {
  SocketAddress from;
  std::vector<std::byte> bytes;
  std::size_t slot_length = 0;   // the slot it came in
  std::size_t segment_size = 0;  // the slot's GRO segment size
};

// Receives until `want` datagrams (after splitting GRO slots) have arrived, or `timeout`
// passes, or 10,000 calls were made. Slot buffers are kMaxUdpPayload bytes.
inline std::vector<Received> receive_datagrams(
    IoBackend& backend, std::size_t want,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
  std::vector<Received> out;
  std::vector<std::vector<std::byte>> storage(16, std::vector<std::byte>(kMaxUdpPayload));
  std::vector<RxDatagram> slots(storage.size());
  out.reserve(want);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int call = 0; call < 10000 && out.size() < want; ++call) {
    for (std::size_t i = 0; i < slots.size(); ++i) slots[i] = RxDatagram{storage[i]};
    const auto got = backend.receive(slots);
    if (!got) {
      if (got.error().code != IoErrc::would_block) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || backend.fd() < 0) break;
      pollfd pfd{backend.fd(), POLLIN, 0};
      (void)::poll(&pfd, 1, static_cast<int>(left.count()));
      continue;
    }
    for (std::size_t i = 0; i < *got; ++i) {
      const RxDatagram& slot = slots[i];
      for (std::size_t s = 0; s < slot.segment_count(); ++s) {
        const auto seg = slot.segment(s);
        out.push_back(
            Received{slot.from, {seg.begin(), seg.end()}, slot.length, slot.segment_size});
      }
    }
  }
  return out;
}

}  // namespace dwcp::transport::test
