// dwcp-recv's command line (docs/tools.md), parsed without I/O so it is unit-tested:
//
//   dwcp-recv [-B ADDRESS] [-p PORT] [-i INTERVAL] [--json | --json-stream] [--one-off]
//             [--idle-timeout SECONDS] [-o DIR | --stdout] [--sync-dir DIR] [--io KIND]
//             [--zerocopy MODE]
//             [--threads MODE] [--cpus LIST] [--version] [--help]
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "tools/common/arg_cursor.h"
#include "tools/common/node_flags.h"

namespace dwcp::tools {

struct RecvOptions {
  enum class Action : std::uint8_t { run, help, version };
  Action action = Action::run;
  std::string bind = "0.0.0.0";
  std::uint16_t port = 5301;  // 0 picks a free port (printed on stderr)
  double interval = 1.0;      // 0: no interval lines
  double idle_timeout = 0.0;  // exit after this long without a client; 0: never
  bool json = false;
  bool json_stream = false;  // start, interval and end events, one JSON object a line
  bool one_off = false;
  // -o: received files go under this directory; empty: they are hashed and dropped.
  std::string output;
  // --stdout: the content of one file (or of the sender's stdin) goes to stdout, and every
  // report to stderr.
  bool to_stdout = false;
  // --sync-dir: replicas dwcp-send --sync keeps up to date live here; empty: syncs are
  // refused.
  std::string sync_dir;
  NodeFlags node;  // --io, --zerocopy, --threads, --cpus
};

// `args` excludes the program name.
std::expected<RecvOptions, CliError> parse_recv_options(std::span<const std::string_view> args);

std::string recv_usage();

}  // namespace dwcp::tools
