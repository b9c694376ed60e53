#include "tools/wanem/counters.h"

#include <cstdio>
#include <utility>

namespace dwcp::wanem {
namespace {

template <typename Visit>
void for_each_field(const DirectionCounters& c, Visit&& visit) {
  visit("packets_in", c.packets_in);
  visit("bytes_in", c.bytes_in);
  visit("packets_forwarded", c.packets_forwarded);
  visit("bytes_forwarded", c.bytes_forwarded);
  visit("dropped_random", c.dropped_random);
  visit("dropped_burst", c.dropped_burst);
  visit("dropped_queue", c.dropped_queue);
  visit("dropped_no_buffer", c.dropped_no_buffer);
  visit("dropped_send", c.dropped_send);
  visit("reordered", c.reordered);
  visit("duplicated", c.duplicated);
  visit("corrupted", c.corrupted);
  visit("dropped_kernel", c.dropped_kernel);
  visit("too_big", c.too_big);
  visit("in_flight", c.in_flight);
  visit("max_queue_bytes", c.max_queue_bytes);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      std::array<char, 8> buf{};
      std::snprintf(buf.data(), buf.size(), "\\u%04x", static_cast<unsigned>(ch));
      out += buf.data();
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

std::string_view direction_name(std::size_t index) {
  return index == 0 ? "a2b" : "b2a";
}

std::string format_text(const Counters& counters) {
  std::string out;
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.3f", counters.elapsed_seconds);
  out += "dwcp-wanem: profile " + counters.profile + ", seed " + std::to_string(counters.seed) +
         ", " + buf.data() + " s\n";
  for (std::size_t d = 0; d < counters.direction.size(); ++d) {
    out += "  ";
    out += direction_name(d);
    out += ':';
    for_each_field(counters.direction[d], [&](std::string_view name, std::uint64_t value) {
      out += ' ';
      out += name;
      out += '=';
      out += std::to_string(value);
    });
    out += '\n';
  }
  return out;
}

std::string format_json(const Counters& counters) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), "%.6f", counters.elapsed_seconds);
  std::string out = "{\"profile\":" + json_string(counters.profile) +
                    ",\"seed\":" + std::to_string(counters.seed) +
                    ",\"elapsed_seconds\":" + buf.data();
  for (std::size_t d = 0; d < counters.direction.size(); ++d) {
    out += ",\"";
    out += direction_name(d);
    out += "\":{";
    bool first = true;
    for_each_field(counters.direction[d], [&](std::string_view name, std::uint64_t value) {
      if (!std::exchange(first, false)) out += ',';
      out += json_string(name) + ':' + std::to_string(value);
    });
    out += '}';
  }
  return out + "}\n";
}

}  // namespace dwcp::wanem
