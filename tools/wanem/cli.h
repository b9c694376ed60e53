// dwcp-wanem's command line: a profile, then options that override it.
//
//   dwcp-wanem --if-a IFACE --if-b IFACE [PROFILE] [OPTIONS]
//
// Link options apply to both directions; prefixed with a2b- or b2a- (--a2b-loss 1%) to one.
// Parsing is pure (no I/O) so it is unit-tested; a bad command line gives one message
// naming the problem and kExitUsage.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "tools/wanem/link_model.h"

namespace dwcp::wanem {

// Exit codes of dwcp-wanem (docs/wan-lab.md lists them).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // failed while forwarding
inline constexpr int kExitUsage = 2;    // bad command line
inline constexpr int kExitSetup = 3;    // an interface is missing, no permission, ...

enum class Action : std::uint8_t { run, help, version, list_profiles };

struct Config {
  Action action = Action::run;
  std::string profile = "lan";
  std::string if_a;
  std::string if_b;
  std::array<LinkParams, 2> link{};  // [0] a->b, [1] b->a
  std::uint64_t seed = 1;
  Duration duration{0};  // 0: until SIGINT/SIGTERM
  std::string json_path;
  bool quiet = false;
  std::uint32_t max_packets = 262144;  // packet buffers, 2 KiB each
};

struct CliError {
  std::string message;  // one line, names the option and the problem
  int exit_code = kExitUsage;
};

// args excludes the program name.
std::expected<Config, CliError> parse_command_line(std::span<const std::string_view> args);

std::string usage_text();

// Value parsers, exposed for tests. Each rejects trailing garbage, NaN, infinities and
// negative values.
// A duration: NUMBER[ns|us|ms|s]; a bare number is in `bare_unit`.
std::expected<Duration, std::string> parse_duration(std::string_view text, Duration bare_unit);
// A percentage NUMBER[%] in [0, 100], returned as a probability.
std::expected<double, std::string> parse_percent(std::string_view text);
// A rate in bit/s: NUMBER[k|M|G][bit|bps|bit/s], decimal multiples, from 8 kbit/s to below
// 1 Tbit/s; 0 = unlimited (tools::parse_rate, bounded).
std::expected<std::uint64_t, std::string> parse_rate(std::string_view text);
// A size in bytes: NUMBER[K|M|G][B|iB], binary multiples (K = 1024), at most 64 GiB
// (tools::parse_size, bounded).
std::expected<std::uint64_t, std::string> parse_bytes(std::string_view text);

}  // namespace dwcp::wanem
