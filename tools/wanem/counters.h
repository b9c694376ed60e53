// What the emulator did, per direction: every packet that came in is either forwarded or
// dropped for exactly one counted reason (or still held at exit: `in_flight`).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dwcp::wanem {

struct DirectionCounters {
  std::uint64_t packets_in = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t packets_forwarded = 0;  // originals and duplicates sent on
  std::uint64_t bytes_forwarded = 0;
  std::uint64_t dropped_random = 0;
  std::uint64_t dropped_burst = 0;
  std::uint64_t dropped_queue = 0;
  std::uint64_t dropped_no_buffer = 0;  // the packet pool was exhausted
  std::uint64_t dropped_send = 0;       // the output socket refused the frame
  std::uint64_t reordered = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t dropped_kernel = 0;   // lost at the input socket before the emulator read
                                      // them (its receive buffer overflowed): not in
                                      // packets_in
  std::uint64_t too_big = 0;          // truncated on receive, dropped
  std::uint64_t in_flight = 0;        // held when the emulator stopped
  std::uint64_t max_queue_bytes = 0;  // peak rate-limiter backlog
};

struct Counters {
  std::array<DirectionCounters, 2> direction{};  // [0] a->b, [1] b->a
  double elapsed_seconds = 0.0;
  std::uint64_t seed = 0;
  std::string profile;
};

std::string_view direction_name(std::size_t index);  // "a2b" or "b2a"

// Human-readable summary, one line per direction.
std::string format_text(const Counters& counters);
// One JSON object: {"profile":..,"seed":..,"elapsed_seconds":..,"a2b":{..},"b2a":{..}}.
std::string format_json(const Counters& counters);

}  // namespace dwcp::wanem
