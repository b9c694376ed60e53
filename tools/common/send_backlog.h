// How far a sending tool writes ahead of its connection. The connection's send buffer is
// sized for the flight of a long fat path (64 MiB, tools/send/sender.cpp), and a writer
// that fills it on a slow link queues seconds of data: a timed run (-t 15 at 50 Mbit/s)
// went on sending for 13 s after its time was up, and the first interval reported the
// buffer's fill as throughput. The tool therefore writes only while what it wrote but the
// connection has not yet sent once stays under a quarter of a second at the pacing rate,
// and never holds back below a floor, so a fast path never waits on the writer.
#pragma once

#include <chrono>
#include <cstdint>

#include "transport/api/connection.h"

namespace dwcp::tools {

class SendBacklog {
 public:
  using Clock = std::chrono::steady_clock;

  static constexpr std::chrono::milliseconds kAhead{250};
  static constexpr std::uint64_t kFloor = std::uint64_t{1} << 20;

  // Whether the tool may write more, `written` being the stream bytes it has handed the
  // connection so far. Reads the connection's statistics at most once a millisecond.
  [[nodiscard]] bool may_write(const Connection& connection, std::uint64_t written,
                               Clock::time_point now);

 private:
  std::uint64_t sent_ = 0;
  std::uint64_t limit_ = kFloor;
  Clock::time_point read_at_{};
};

}  // namespace dwcp::tools
