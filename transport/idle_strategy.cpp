#include "transport/idle_strategy.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <thread>
#include <utility>

#include "transport/io_backend.h"

namespace dwcp::transport {

std::string_view to_string(IdleMode mode) noexcept {
  switch (mode) {
    case IdleMode::spin:
      return "spin";
    case IdleMode::backoff:
      return "backoff";
    case IdleMode::block:
      return "block";
  }
  return "unknown";
}

bool parse_idle_mode(std::string_view text, IdleMode& out) noexcept {
  for (IdleMode mode : {IdleMode::spin, IdleMode::backoff, IdleMode::block}) {
    if (text == to_string(mode)) {
      out = mode;
      return true;
    }
  }
  return false;
}

namespace {

// A socket connected to `target` (an unspecified address stands for the loopback one),
// bound to the same address, so the datagrams it sends stay on the host; none if the
// kernel refuses.
std::optional<UdpSocket> open_doorbell(SocketAddress target) {
  if (target == SocketAddress::any_v4(target.port())) {
    target = SocketAddress::loopback_v4(target.port());
  } else if (target == SocketAddress::any_v6(target.port())) {
    target = SocketAddress::loopback_v6(target.port());
  }
  SocketAddress from = target;
  from.set_port(0);
  SocketOptions quiet;
  quiet.receive_buffer = 0;
  quiet.send_buffer = 0;
  quiet.gro = false;
  quiet.zerocopy = ZerocopyMode::off;
  auto socket = UdpSocket::open(from, quiet);
  if (!socket || ::connect(socket->fd(), target.data(), target.size()) != 0) return std::nullopt;
  return std::move(*socket);
}

}  // namespace

IoResult<std::unique_ptr<IdleStrategy>> IdleStrategy::create(IdleMode mode, int fd,
                                                             ReceiveWait receive_wait) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return std::unexpected(io_error_from_errno(errno, "epoll_create1"));
  const int event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd < 0) {
    const int error = errno;
    ::close(epoll_fd);
    return std::unexpected(io_error_from_errno(error, "eventfd"));
  }
  // A spinning node never sleeps: its socket stays out of the epoll set, since every
  // datagram that arrives at a watched socket runs the epoll callback in the sender's
  // sendmsg (~1 µs a datagram here).
  for (int watched : {event_fd, fd}) {
    if (watched < 0 || (mode == IdleMode::spin && watched == fd)) continue;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = watched;
    if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, watched, &event) != 0) {
      const int error = errno;
      ::close(event_fd);
      ::close(epoll_fd);
      return std::unexpected(io_error_from_errno(error, "epoll_ctl"));
    }
  }
  std::unique_ptr<IdleStrategy> strategy(new IdleStrategy(mode, epoll_fd, event_fd));
  if (mode != IdleMode::spin && receive_wait.wait) {
    if (auto doorbell = open_doorbell(receive_wait.address)) {
      strategy->doorbell_ = std::move(*doorbell);
      strategy->receive_wait_ = std::move(receive_wait);
    }
  }
  return strategy;
}

IdleStrategy::IdleStrategy(IdleMode mode, int epoll_fd, int event_fd) noexcept
    : mode_(mode), epoll_fd_(epoll_fd), event_fd_(event_fd) {}

IdleStrategy::~IdleStrategy() {
  ::close(event_fd_);
  ::close(epoll_fd_);
}

void IdleStrategy::begin_pass() noexcept {
  seen_signals_ = signals_.load(std::memory_order_seq_cst);
}

void IdleStrategy::idle(bool did_work, std::optional<Instant> deadline, Instant now,
                        bool paced) noexcept {
  if (did_work) {
    idle_since_.reset();
    return;
  }
  if (!idle_since_) idle_since_ = now;
  const Duration idle_for = now - *idle_since_;
  switch (mode_) {
    case IdleMode::spin:
      ++counters_.spins;
      __builtin_ia32_pause();
      return;
    case IdleMode::backoff:
      if (backoff_blocks(now, deadline, paced)) {
        if (idle_for < kSpinTime + kYieldTime) ++counters_.early_blocks;
        block(deadline, now);
        return;
      }
      if (idle_for < kSpinTime) {
        ++counters_.spins;
        __builtin_ia32_pause();
        return;
      }
      ++counters_.yields;
      std::this_thread::yield();
      return;
    case IdleMode::block:
      block(deadline, now);
      return;
  }
}

bool IdleStrategy::would_block(bool did_work, Instant now, std::optional<Instant> deadline,
                               bool paced) const noexcept {
  if (did_work) return false;
  switch (mode_) {
    case IdleMode::spin:
      return false;
    case IdleMode::backoff:
      return backoff_blocks(now, deadline, paced);
    case IdleMode::block:
      return true;
  }
  return false;
}

bool IdleStrategy::backoff_blocks(Instant now, std::optional<Instant> deadline,
                                  bool paced) const noexcept {
  if (distant_paced_send(deadline, now, paced)) return true;
  return idle_since_ && now - *idle_since_ >= kSpinTime + kYieldTime;
}

void IdleStrategy::block(std::optional<Instant> deadline, Instant now) noexcept {
  std::optional<Duration> wait;
  if (deadline) wait = *deadline > now ? *deadline - now : Duration::zero();
  if (receive_wait_.wait && (!wait || *wait >= kMinReceiveWait)) {
    if (!fall_asleep(Sleep::in_receive)) return;
    const bool waited = receive_wait_.wait(wait);
    sleeping_.store(Sleep::awake, std::memory_order_relaxed);
    if (waited) {
      ++counters_.blocks;
      ++counters_.receive_waits;
      return;
    }
  }
  if (!fall_asleep(Sleep::in_epoll)) return;
  ++counters_.blocks;
  timespec timeout{};
  const timespec* timeout_ptr = nullptr;
  if (wait) {
    const auto ns = wait->count();
    timeout.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    timeout.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    timeout_ptr = &timeout;
  }
  epoll_event events[2];
  const int ready = ::epoll_pwait2(epoll_fd_, events, 2, timeout_ptr, nullptr);
  sleeping_.store(Sleep::awake, std::memory_order_relaxed);
  for (int i = 0; i < ready; ++i) {
    if (events[i].data.fd == event_fd_) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto ignored = ::read(event_fd_, &count, sizeof count);
    }
  }
}

bool IdleStrategy::fall_asleep(Sleep where) noexcept {
  // The sleeping state first, then the signal count (both sequentially consistent): a
  // wake() either sees the state and signals, or its count is seen here.
  sleeping_.store(where, std::memory_order_seq_cst);
  if (signals_.load(std::memory_order_seq_cst) == seen_signals_) return true;
  sleeping_.store(Sleep::awake, std::memory_order_relaxed);
  return false;
}

void IdleStrategy::wake() noexcept {
  signals_.fetch_add(1, std::memory_order_seq_cst);
  switch (sleeping_.load(std::memory_order_seq_cst)) {
    case Sleep::awake:
      return;
    case Sleep::in_epoll: {
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto ignored = ::write(event_fd_, &one, sizeof one);
      break;
    }
    case Sleep::in_receive: {
      // An empty datagram; if the socket's buffer is too full to take it, the receive
      // call has data and is not sleeping anyway.
      const char nothing = 0;
      [[maybe_unused]] const auto ignored = ::send(doorbell_.fd(), &nothing, 0, MSG_DONTWAIT);
      break;
    }
  }
  wakeups_.fetch_add(1, std::memory_order_relaxed);
}

std::optional<SocketAddress> IdleStrategy::wake_source() const {
  if (!receive_wait_.wait) return std::nullopt;
  return doorbell_.local_address();
}

IdleCounters IdleStrategy::counters() const noexcept {
  IdleCounters counters = counters_;
  counters.wakeups = wakeups_.load(std::memory_order_relaxed);
  return counters;
}

}  // namespace dwcp::transport
