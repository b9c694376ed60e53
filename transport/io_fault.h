// A fault-injecting decorator over any backend, for tests: drops, delays, reorders,
// duplicates and corrupts datagrams, from a seeded PRNG so a failing run can be replayed
// (Aeron's loss-generating interceptors do the same job).
//
// Faults apply on the send side, to each datagram as the wire would carry it: a GSO entry
// is split into its datagrams, each judged on its own, and the survivors go to the inner
// backend one datagram per entry. To fault the other direction, wrap the peer's backend.
// receive() passes straight through.
//
// No wall clock and no sleeping: delay is measured against the `now` a test passes to
// advance(), and reordering in datagrams (a reordered datagram leaves after
// `reorder_distance` datagrams sent after it). Datagrams the inner backend will not take
// yet (would_block) stay queued here and leave on a later send(), advance() or flush().
//
// With every probability 0 the decorator is a transparent pass-through: send() forwards
// the caller's batch untouched (GSO entries stay whole).
//
// Allocates (it copies every faulted datagram): a test tool, not for the hot path.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transport/clock.h"
#include "transport/io_backend.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

struct FaultConfig {
  std::uint64_t seed = 1;
  // Probabilities per datagram, each judged independently, in [0, 1].
  double drop = 0.0;
  double duplicate = 0.0;  // a second copy follows the first
  double corrupt = 0.0;    // one byte XORed with a non-zero value (empty datagrams exempt)
  double delay = 0.0;      // held for delay_time after the send
  double reorder = 0.0;    // held until reorder_distance later datagrams have left
  Duration delay_time = std::chrono::milliseconds(10);
  std::size_t reorder_distance = 3;
  // Most datagrams held here at once; past it send() takes nothing and says would_block.
  std::size_t max_held = 65536;
  // Datagrams larger than this vanish, as past a link with a smaller MTU that drops
  // instead of saying so (a path MTU black hole); 0: no limit.
  std::size_t black_hole_above = 0;

  [[nodiscard]] bool any() const noexcept {
    return drop > 0 || duplicate > 0 || corrupt > 0 || delay > 0 || reorder > 0 ||
           black_hole_above > 0;
  }
};

struct FaultCounters {
  std::uint64_t seen = 0;  // datagrams offered to send()
  std::uint64_t dropped = 0;
  std::uint64_t too_large = 0;   // dropped by black_hole_above
  std::uint64_t duplicated = 0;  // extra copies made
  std::uint64_t corrupted = 0;
  std::uint64_t delayed = 0;
  std::uint64_t reordered = 0;
  std::uint64_t forwarded = 0;     // datagrams the inner backend took
  std::uint64_t inner_errors = 0;  // datagrams the inner backend refused for good (lost)
};

class FaultBackend final : public IoBackend {
 public:
  // `inner` must outlive this decorator. `now` starts the decorator's clock.
  FaultBackend(IoBackend& inner, const FaultConfig& config, Instant now = kSimulatedEpoch);

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] IoCapabilities capabilities() const noexcept override {
    IoCapabilities caps = inner_.capabilities();
    caps.receive_wait = false;  // held datagrams come due by time, not by the socket
    return caps;
  }
  [[nodiscard]] SocketAddress local_address() const noexcept override {
    return inner_.local_address();
  }
  [[nodiscard]] int fd() const noexcept override { return inner_.fd(); }
  [[nodiscard]] IoStatistics statistics() const noexcept override { return inner_.statistics(); }

  // Takes entries (checked against the inner capabilities, as a real backend would),
  // applies the faults, and hands what is due to the inner backend. Returns the entries
  // taken; dropped datagrams count as taken, as the network would have them. A fatal
  // inner error is returned if it happens before any entry was taken.
  [[nodiscard]] IoResult<std::size_t> send(std::span<const TxDatagram> batch) noexcept override;
  [[nodiscard]] IoResult<std::size_t> receive(std::span<RxDatagram> batch) noexcept override {
    return inner_.receive(batch);
  }

  // Moves the clock to `now` (never backwards) and sends what has come due.
  IoResult<std::size_t> advance(Instant now) noexcept;
  // Sends what is due at the current time and count; returns how many went.
  IoResult<std::size_t> flush() noexcept;
  // Makes every held datagram due and sends them (the end of a test).
  IoResult<std::size_t> release_all() noexcept;

  [[nodiscard]] const FaultCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::size_t held() const noexcept { return held_.size(); }
  [[nodiscard]] const FaultConfig& config() const noexcept { return config_; }

 private:
  struct Held {
    SocketAddress to;
    std::vector<std::byte> bytes;
    std::uint64_t seq = 0;        // order of submission, over all copies
    Instant due;                  // delayed: not before this time
    std::uint64_t after_seq = 0;  // reordered: not before a datagram with seq >= this left
    bool reorder = false;
    bool gone = false;
  };

  [[nodiscard]] double uniform() noexcept;  // [0, 1), identical on every standard library
  void submit(const SocketAddress& to, std::span<const std::byte> bytes);
  [[nodiscard]] bool is_due(const Held& h) const noexcept;

  IoBackend& inner_;
  FaultConfig config_;
  std::string name_;
  std::mt19937_64 rng_;
  Instant now_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t max_forwarded_seq_ = 0;
  bool forwarded_any_ = false;
  std::vector<Held> held_;
  FaultCounters counters_;
};

}  // namespace dwcp::transport
