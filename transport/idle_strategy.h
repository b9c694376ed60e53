// What an I/O thread does when a pass over its work found nothing to do (Aeron's idle
// strategies): spin, back off (spin, then yield, then block), or block at once. Blocking
// waits, with a timeout at the next timer, so an idle node uses no CPU and still wakes for
// a datagram, a command or a timer:
// - in the socket's receive call itself (ReceiveWait) when the next timer is at least
//   kMinReceiveWait away: the datagram that wakes the thread is read by the same system
//   call, one fewer per wake-up (~1.5 us here, on every ping-pong's critical path). An app
//   thread's wake() then sends the socket an empty datagram from a doorbell socket;
// - otherwise in epoll, on the socket and on an eventfd that wake() signals.
//
// A blocking wake-up costs ~25 µs on a small VM (MACHINE.md); spinning avoids it at the
// price of a core. The default, backoff, spins for a short while before blocking, unless
// the thread waits for its pacer to let data out later than the spinning would last.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "transport/clock.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

enum class IdleMode : std::uint8_t {
  spin,     // never sleeps: lowest latency, one core busy
  backoff,  // spins, then yields, then blocks (the default)
  block,    // blocks as soon as there is nothing to do
};

std::string_view to_string(IdleMode mode) noexcept;
// "spin", "backoff", "block"; false, `out` untouched, for anything else.
bool parse_idle_mode(std::string_view text, IdleMode& out) noexcept;

// A loop thread's own receive call that can be its wait (Node::wait_receive).
struct ReceiveWait {
  // The socket's bound address: a wake-up is an empty datagram sent to it.
  SocketAddress address;
  // Waits for a datagram, at most the timeout (none: no limit), and keeps what came. False
  // if it cannot wait now.
  std::function<bool(std::optional<Duration>)> wait;
};

struct IdleCounters {
  std::uint64_t spins = 0;
  std::uint64_t yields = 0;
  std::uint64_t blocks = 0;         // waits, in epoll or in the receive call
  std::uint64_t receive_waits = 0;  // of which in the receive call
  std::uint64_t early_blocks = 0;   // of which backoff's for a distant paced send, unspun
  std::uint64_t wakeups = 0;        // wake() calls that had to signal (eventfd or doorbell)
};

// Thread safety: begin_pass(), idle() and counters() belong to the loop thread; wake() may
// be called from any thread at any time.
class IdleStrategy {
 public:
  // Watches `fd` (the socket; -1 for none) for readability. With `receive_wait` (not in
  // spin mode) it waits in that call for distant deadlines; if no doorbell socket can be
  // set up for it, it waits in epoll only. Errors: epoll or eventfd could not be created.
  static IoResult<std::unique_ptr<IdleStrategy>> create(IdleMode mode, int fd,
                                                        ReceiveWait receive_wait = {});
  IdleStrategy(const IdleStrategy&) = delete;
  IdleStrategy& operator=(const IdleStrategy&) = delete;
  ~IdleStrategy();

  // The loop thread starts a pass: wake() calls from now on keep the next idle() from
  // blocking, so a command queued after the pass looked at its queue is never slept on.
  void begin_pass() noexcept;
  // The pass is over. `did_work` resets the backoff. `deadline`: the earliest timer;
  // a block never outlasts it. `paced`: that timer is a pacer letting data out
  // (Node::next_is_paced_send()). Backoff then blocks at once when the deadline is further
  // off than its spinning and yielding would last: the thread knows when it can send next,
  // packets that come first wake it, and spinning until then only takes the core from
  // the receiver or whatever else runs here (a paced sender spun most of its time away).
  void idle(bool did_work, std::optional<Instant> deadline, Instant now,
            bool paced = false) noexcept;
  // Whether idle(did_work, deadline, now, paced) would block now.
  [[nodiscard]] bool would_block(bool did_work, Instant now,
                                 std::optional<Instant> deadline = std::nullopt,
                                 bool paced = false) const noexcept;
  // Any thread: the loop has work; ends a blocking wait or keeps the next one from starting.
  void wake() noexcept;

  [[nodiscard]] IdleMode mode() const noexcept { return mode_; }
  // The doorbell's address, if the strategy waits in the receive call: empty datagrams
  // from it are wake-ups (Node::set_wake_source).
  [[nodiscard]] std::optional<SocketAddress> wake_source() const;
  [[nodiscard]] IdleCounters counters() const noexcept;

 private:
  // Where the loop thread sleeps, for wake() to know how to end it.
  enum class Sleep : std::uint8_t { awake, in_epoll, in_receive };

  IdleStrategy(IdleMode mode, int epoll_fd, int event_fd) noexcept;
  void block(std::optional<Instant> deadline, Instant now) noexcept;
  // Marks the thread asleep `where`; false (and awake) if a wake() came since begin_pass().
  [[nodiscard]] bool fall_asleep(Sleep where) noexcept;
  // Whether backoff blocks at once, or after spinning and yielding now.
  [[nodiscard]] bool backoff_blocks(Instant now, std::optional<Instant> deadline,
                                    bool paced) const noexcept;
  // A paced send further off than backoff spins and yields.
  [[nodiscard]] static bool distant_paced_send(std::optional<Instant> deadline, Instant now,
                                               bool paced) noexcept {
    return paced && deadline && *deadline - now >= kSpinTime + kYieldTime;
  }

  // How long backoff spins, then yields, after the last pass that did work, before it
  // blocks. Counted in time, not passes: a pass costs a system call or more, and a
  // thread that spins for long on a busy machine loses its core to the scheduler.
  static constexpr Duration kSpinTime = std::chrono::microseconds(20);
  static constexpr Duration kYieldTime = std::chrono::microseconds(50);

  IdleMode mode_;
  int epoll_fd_;
  int event_fd_;
  std::optional<Instant> idle_since_;  // the first idle pass after work
  std::uint64_t seen_signals_ = 0;
  IdleCounters counters_;
  std::atomic<std::uint64_t> signals_{0};
  std::atomic<Sleep> sleeping_{Sleep::awake};
  ReceiveWait receive_wait_;  // its wait is unset when the thread waits in epoll only
  UdpSocket doorbell_;        // connected to receive_wait_.address
  std::atomic<std::uint64_t> wakeups_{0};
};

}  // namespace dwcp::transport
