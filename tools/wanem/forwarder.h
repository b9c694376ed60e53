// The emulator's event loop: reads frames from both ports, runs each through its
// direction's LinkModel, holds it in the Scheduler and sends it out of the other port when
// due. One thread; epoll over the two sockets, one timerfd armed for the earliest due
// frame, one timerfd for --duration, and a signalfd for SIGINT/SIGTERM. Frames due at the
// same wake-up leave in batches of up to 64 per sendmmsg.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>

#include "tools/wanem/cli.h"
#include "tools/wanem/counters.h"
#include "tools/wanem/link_model.h"
#include "tools/wanem/packet_pool.h"
#include "tools/wanem/packet_port.h"
#include "tools/wanem/scheduler.h"

namespace dwcp::wanem {

class Forwarder {
 public:
  // Takes both ports. SIGINT and SIGTERM must already be blocked in every thread (the
  // forwarder reads them from a signalfd).
  Forwarder(const Config& config, PacketPort a, PacketPort b);
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;
  ~Forwarder();

  // Runs until a signal, the duration's end, or a failure (the message).
  std::expected<void, std::string> run();

  // Counters so far; frames still held are reported as in_flight.
  Counters counters() const;

 private:
  void drain(std::size_t port);
  void accept_frame(std::size_t direction, std::uint32_t handle, std::size_t length, bool truncated,
                    TimePoint now);
  void release_due(TimePoint now);
  void flush(std::size_t port);
  std::expected<void, std::string> arm_delivery_timer(TimePoint now);

  Config config_;
  std::array<PacketPort, 2> ports_;
  std::array<LinkModel, 2> links_;
  PacketPool pool_;
  Scheduler scheduler_;
  Counters counters_;
  std::array<std::array<std::uint32_t, PacketPort::kBatch>, 2> pending_{};  // due, per port
  std::array<std::size_t, 2> pending_count_{};
  int epoll_fd_ = -1;
  int delivery_timer_fd_ = -1;
  int end_timer_fd_ = -1;
  int signal_fd_ = -1;
  std::optional<TimePoint> armed_;
  TimePoint started_{};
  TimePoint stopped_{};
  int last_error_ = 0;
};

}  // namespace dwcp::wanem
