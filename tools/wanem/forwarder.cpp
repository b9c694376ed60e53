#include "tools/wanem/forwarder.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace dwcp::wanem {
namespace {

// epoll tags: the two ports are 0 and 1.
constexpr std::uint64_t kDeliveryTimer = 2;
constexpr std::uint64_t kEndTimer = 3;
constexpr std::uint64_t kSignal = 4;
// Receive batches per port per wake-up, so one busy direction cannot starve the other or
// the deliveries.
constexpr int kBatchesPerWake = 8;

std::string errno_message(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

itimerspec absolute(TimePoint at) {
  const auto ns = at.time_since_epoch().count();
  itimerspec spec{};
  spec.it_value.tv_sec = ns / 1'000'000'000;
  spec.it_value.tv_nsec = ns % 1'000'000'000;
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  return spec;
}

}  // namespace

Forwarder::Forwarder(const Config& config, PacketPort a, PacketPort b)
    : config_(config),
      ports_{std::move(a), std::move(b)},
      // Each direction draws from its own stream, so traffic one way does not change the
      // fate of packets the other way.
      links_{LinkModel(config.link[0], config.seed * 2 + 1),
             LinkModel(config.link[1], config.seed * 2 + 2)},
      pool_(config.max_packets) {
  counters_.seed = config.seed;
  counters_.profile = config.profile;
}

Forwarder::~Forwarder() {
  for (const int fd : {epoll_fd_, delivery_timer_fd_, end_timer_fd_, signal_fd_}) {
    if (fd >= 0) close(fd);
  }
}

std::expected<void, std::string> Forwarder::run() {
  // Timer expiries exactly when asked (the default slack is 50 us).
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  delivery_timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  end_timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  signal_fd_ = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (epoll_fd_ < 0 || delivery_timer_fd_ < 0 || end_timer_fd_ < 0 || signal_fd_ < 0) {
    return std::unexpected(errno_message("event set-up"));
  }
  auto watch = [&](int fd, std::uint64_t tag) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = tag;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
  };
  if (!watch(ports_[0].fd(), 0) || !watch(ports_[1].fd(), 1) ||
      !watch(delivery_timer_fd_, kDeliveryTimer) || !watch(end_timer_fd_, kEndTimer) ||
      !watch(signal_fd_, kSignal)) {
    return std::unexpected(errno_message("epoll_ctl"));
  }
  for (const PacketPort& port : ports_) (void)port.take_kernel_drops();  // count from here
  started_ = monotonic_now();
  stopped_ = started_;
  if (config_.duration.count() > 0) {
    const itimerspec end = absolute(started_ + config_.duration);
    if (timerfd_settime(end_timer_fd_, TFD_TIMER_ABSTIME, &end, nullptr) != 0) {
      return std::unexpected(errno_message("timerfd_settime"));
    }
  }

  std::array<epoll_event, 8> events{};
  bool stop = false;
  while (!stop) {
    const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_message("epoll_wait"));
    }
    for (int i = 0; i < ready; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag <= 1) {
        drain(tag);
      } else if (tag == kDeliveryTimer) {
        std::uint64_t expirations = 0;
        (void)read(delivery_timer_fd_, &expirations, sizeof expirations);
        armed_.reset();
      } else {
        stop = true;  // --duration reached, or SIGINT/SIGTERM
      }
    }
    if (last_error_ != 0) {
      errno = last_error_;
      return std::unexpected(errno_message("recvmmsg"));
    }
    const TimePoint now = monotonic_now();
    release_due(now);
    if (auto armed = arm_delivery_timer(now); !armed) return armed;
  }
  stopped_ = monotonic_now();
  for (std::size_t port = 0; port < ports_.size(); ++port) {
    counters_.direction[port].dropped_kernel += ports_[port].take_kernel_drops();
  }
  return {};
}

void Forwarder::drain(std::size_t port) {
  std::array<FrameSlot, PacketPort::kBatch> slots{};
  std::array<std::uint32_t, PacketPort::kBatch> handles{};
  for (int batch = 0; batch < kBatchesPerWake; ++batch) {
    std::size_t have = 0;
    for (; have < slots.size(); ++have) {
      const auto handle = pool_.acquire();
      if (!handle) break;
      handles[have] = *handle;
      slots[have] = FrameSlot{pool_.buffer(*handle).data(), PacketPool::kBufferSize, 0, false};
    }
    if (have == 0) {
      // Every buffer is held: read one frame into scratch space to count and drop it.
      std::array<std::byte, PacketPool::kBufferSize> scratch{};
      FrameSlot slot{scratch.data(), scratch.size(), 0, false};
      if (ports_[port].receive(std::span(&slot, 1)) == 1 && slot.length > 0) {
        counters_.direction[port].packets_in++;
        counters_.direction[port].bytes_in += slot.length;
        counters_.direction[port].dropped_no_buffer++;
      }
      return;
    }
    const int got = ports_[port].receive(std::span(slots.data(), have));
    if (got < 0) last_error_ = -got;
    const TimePoint now = monotonic_now();
    const std::size_t used = got > 0 ? static_cast<std::size_t>(got) : 0;
    for (std::size_t i = 0; i < used; ++i) {
      if (slots[i].length == 0) {
        pool_.release(handles[i]);
        continue;
      }
      accept_frame(port, handles[i], slots[i].length, slots[i].truncated, now);
    }
    for (std::size_t i = used; i < have; ++i) pool_.release(handles[i]);
    if (used < have) return;  // the socket is empty
  }
}

void Forwarder::accept_frame(std::size_t direction, std::uint32_t handle, std::size_t length,
                             bool truncated, TimePoint now) {
  DirectionCounters& c = counters_.direction[direction];
  c.packets_in++;
  c.bytes_in += length;
  if (truncated) {
    c.too_big++;
    pool_.release(handle);
    return;
  }
  LinkModel& link = links_[direction];
  const Decision d = link.on_packet(now, length);
  switch (d.verdict) {
    case Verdict::drop_random:
      c.dropped_random++;
      pool_.release(handle);
      return;
    case Verdict::drop_burst:
      c.dropped_burst++;
      pool_.release(handle);
      return;
    case Verdict::drop_queue:
      c.dropped_queue++;
      pool_.release(handle);
      return;
    case Verdict::forward:
      break;
  }
  c.max_queue_bytes = std::max(c.max_queue_bytes, link.backlog_bytes(now));
  pool_.length(handle) = static_cast<std::uint16_t>(length);
  const auto output = static_cast<std::uint8_t>(1 - direction);
  if (d.corrupt) {
    pool_.buffer(handle)[d.corrupt_offset] ^= std::byte{d.corrupt_mask};
    c.corrupted++;
  }
  if (d.reordered) c.reordered++;
  scheduler_.push(d.deliver_at, handle, output);
  if (d.duplicate) {
    if (const auto copy = pool_.acquire()) {
      std::memcpy(pool_.buffer(*copy).data(), pool_.buffer(handle).data(), length);
      pool_.length(*copy) = static_cast<std::uint16_t>(length);
      scheduler_.push(d.deliver_at, *copy, output);
      c.duplicated++;
    }
  }
}

void Forwarder::release_due(TimePoint now) {
  while (const auto due = scheduler_.pop_due(now)) {
    const std::size_t port = due->output;
    pending_[port][pending_count_[port]++] = due->handle;
    if (pending_count_[port] == PacketPort::kBatch) flush(port);
  }
  flush(0);
  flush(1);
}

void Forwarder::flush(std::size_t port) {
  const std::size_t count = pending_count_[port];
  if (count == 0) return;
  DirectionCounters& c = counters_.direction[1 - port];
  std::array<FrameSlot, PacketPort::kBatch> slots{};
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t h = pending_[port][i];
    slots[i] = FrameSlot{pool_.buffer(h).data(), 0, pool_.length(h), false};
  }
  std::size_t done = 0;
  while (done < count) {
    const int sent = ports_[port].send(std::span(slots.data() + done, count - done));
    if (sent <= 0) {
      // The device refused the frame (its queue is full): a loss the link did not plan.
      c.dropped_send++;
      ++done;
      continue;
    }
    for (std::size_t i = done; i < done + static_cast<std::size_t>(sent); ++i) {
      c.packets_forwarded++;
      c.bytes_forwarded += slots[i].length;
    }
    done += static_cast<std::size_t>(sent);
  }
  for (std::size_t i = 0; i < count; ++i) pool_.release(pending_[port][i]);
  pending_count_[port] = 0;
}

std::expected<void, std::string> Forwarder::arm_delivery_timer(TimePoint now) {
  const auto next = scheduler_.next_due();
  if (!next || next == armed_) return {};
  // Already due (the loop left work for the next pass): fire at once.
  const itimerspec spec = absolute(std::max(*next, now));
  if (timerfd_settime(delivery_timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    return std::unexpected(errno_message("timerfd_settime"));
  }
  armed_ = next;
  return {};
}

Counters Forwarder::counters() const {
  Counters out = counters_;
  const TimePoint end = stopped_ > started_ ? stopped_ : monotonic_now();
  out.elapsed_seconds = std::chrono::duration<double>(end - started_).count();
  // Frames still held, per direction: a frame leaving by port p travels direction 1 - p.
  Scheduler copy = scheduler_;
  while (const auto held = copy.pop_due(TimePoint::max())) {
    out.direction[1 - held->output].in_flight++;
  }
  return out;
}

}  // namespace dwcp::wanem
