// dwcp-send's command line (docs/tools.md), parsed without I/O so it is unit-tested:
//
//   dwcp-send -c HOST [-p PORT] [-t SECONDS | -n BYTES] [-P STREAMS] [-l MESSAGE_SIZE]
//             [-C bbr|cubic|fixed] [-b RATE] [-i INTERVAL] [--connect-timeout SECONDS]
//             [-F PATH] [-R | --bidir] [--io KIND] [--zerocopy MODE] [--threads MODE]
//             [--cpus LIST] [--json | --json-stream] [--version] [--help]
//   dwcp-send --sync FILE -c HOST [-p PORT] [--block-size SIZE] [--watch] [--rounds N]
//             [-i SECONDS] [-t SECONDS] [...]        (or: dwcp-send --sync FILE HOST[:PORT])
//
// Flags mean what they mean in iperf3 where iperf3 has them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "tools/common/arg_cursor.h"
#include "tools/common/node_flags.h"
#include "transport/congestion_controller.h"

namespace dwcp::tools {

inline constexpr std::uint16_t kDefaultPort = 5301;

struct SendOptions {
  enum class Action : std::uint8_t { run, help, version };
  Action action = Action::run;
  std::string host;
  std::uint16_t port = kDefaultPort;
  double seconds = 10.0;    // when bytes == 0
  std::uint64_t bytes = 0;  // total over all streams; 0: send for `seconds`
  std::uint64_t streams = 1;
  std::size_t message_size = std::size_t{64} << 10;
  transport::CongestionAlgorithm congestion = transport::CongestionAlgorithm::bbr;
  std::uint64_t rate_bits = 0;  // -b, bit/s; set means the fixed-rate controller
  double interval = 1.0;        // 0: no interval lines
  double connect_timeout = 5.0;
  bool json = false;
  bool json_stream = false;  // start, interval and end events, one JSON object a line
  // -F: a file, a directory tree, or "-" for stdin, instead of the test pattern.
  std::string file;
  // -R: the receiver sends the test pattern to us (-t, -n, -P, -l, -C and -b go to it in
  // the stream headers); --bidir: both directions at once, each on -P streams.
  bool reverse = false;
  bool bidir = false;
  NodeFlags node;  // --io, --zerocopy, --threads, --cpus
  // --sync: keep a replica of this file up to date at the receiver, sending only the
  // blocks that changed (tools/send/sync_sender.h). -i is then the pause between rounds
  // (or between looks at the file, with --watch), -t a bound on the whole run.
  std::string sync;
  std::uint32_t block_size = 4096;
  bool watch = false;         // a round whenever the file's size or mtime changes
  std::uint64_t rounds = 0;   // rounds in all, the first included; 0: one, or with --watch
                              // until -t or SIGINT
  double sync_seconds = 0.0;  // -t with --sync: no round starts after this long; 0: no bound
};

inline constexpr std::uint64_t kMaxStreams = 128;
inline constexpr std::size_t kMaxMessageSize = std::size_t{1} << 20;
inline constexpr std::uint32_t kMinBlockSize = 64;
inline constexpr std::uint32_t kMaxBlockSize = std::uint32_t{1} << 20;
inline constexpr std::uint64_t kMaxRounds = 1000000000;

// `args` excludes the program name.
std::expected<SendOptions, CliError> parse_send_options(std::span<const std::string_view> args);

std::string send_usage();

}  // namespace dwcp::tools
