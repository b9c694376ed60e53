#include "tools/send/send_options.h"

#include <optional>
#include <utility>

#include "tools/common/units.h"

namespace dwcp::tools {
namespace {

// HOST[:PORT] as --sync's positional argument: "host", "host:5301", "10.0.0.1:5301",
// "[::1]:5301", "[::1]", and a bare IPv6 address ("::1", more than one colon) as a host.
std::optional<std::string> split_host_port(std::string_view text, SendOptions& options) {
  std::string_view host = text;
  std::optional<std::string_view> port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return "no ']' after the IPv6 address";
    host = text.substr(0, close + 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return "expected ':PORT' after ']'";
      port = rest.substr(1);
    }
  } else if (const std::size_t colon = text.find(':');
             colon != std::string_view::npos && text.rfind(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return "empty host";
  if (port) {
    auto parsed = parse_port(*port);
    if (!parsed) return parsed.error();
    if (*parsed == 0) return "port 0 cannot be connected to";
    options.port = *parsed;
  }
  options.host = host;
  return std::nullopt;
}

}  // namespace

std::expected<SendOptions, CliError> parse_send_options(std::span<const std::string_view> args) {
  SendOptions options;
  ArgCursor cursor(args);
  bool have_time = false;
  bool have_congestion = false;
  // Given at all: --sync refuses them even at their defaults.
  bool have_streams = false;
  bool have_length = false;
  bool have_block_size = false;
  std::optional<std::string> positional;
  while (!cursor.done()) {
    const std::string_view name = cursor.next();
    // Flags without a value.
    if (name == "--json" || name == "-J" || name == "--json-stream" || name == "--version" ||
        name == "-v" || name == "--help" || name == "-h" || name == "-R" || name == "--reverse" ||
        name == "--bidir" || name == "--watch") {
      if (cursor.has_inline_value()) return std::unexpected(usage_error(name, "takes no value"));
      if (name == "--json" || name == "-J") options.json = true;
      if (name == "--json-stream") options.json_stream = true;
      if (name == "-R" || name == "--reverse") options.reverse = true;
      if (name == "--bidir") options.bidir = true;
      if (name == "--watch") options.watch = true;
      if (name == "--version" || name == "-v") options.action = SendOptions::Action::version;
      if (name == "--help" || name == "-h") options.action = SendOptions::Action::help;
      continue;
    }
    if (!name.starts_with("-") && !name.empty() && !positional) {
      // HOST[:PORT], which only --sync takes (checked at the end).
      positional = std::string(name);
      continue;
    }
    if (!name.starts_with("-") || name == "-" || name == "--") {
      std::string problem = "unexpected argument (options start with '-')";
      return std::unexpected(usage_error(name, problem));
    }
    const bool known =
        name == "-c" || name == "--client" || name == "-p" || name == "--port" || name == "-t" ||
        name == "--time" || name == "-n" || name == "--bytes" || name == "-P" ||
        name == "--parallel" || name == "-l" || name == "--length" || name == "-C" ||
        name == "--congestion" || name == "-b" || name == "--bitrate" || name == "-i" ||
        name == "--interval" || name == "--connect-timeout" || name == "-F" || name == "--file" ||
        name == "--sync" || name == "--block-size" || name == "--rounds" || is_node_flag(name);
    if (!known) return std::unexpected(usage_error(name, "unknown option (see --help)"));
    auto value = cursor.value();
    if (!value) return std::unexpected(value.error());
    const std::string_view text = *value;
    auto fail = [&](const std::string& problem) {
      return std::unexpected(usage_error(name, problem));
    };
    if (is_node_flag(name)) {
      if (auto error = parse_node_flag(name, text, options.node)) return std::unexpected(*error);
    } else if (name == "-c" || name == "--client") {
      if (text.empty()) return fail("empty host");
      options.host = text;
    } else if (name == "-p" || name == "--port") {
      auto port = parse_port(text);
      if (!port) return fail(port.error());
      if (*port == 0) return fail("port 0 cannot be connected to");
      options.port = *port;
    } else if (name == "-t" || name == "--time") {
      auto seconds = parse_seconds(text);
      if (!seconds) return fail(seconds.error());
      if (*seconds <= 0.0) return fail("must be above 0");
      options.seconds = *seconds;
      have_time = true;
    } else if (name == "-n" || name == "--bytes") {
      auto bytes = parse_size(text);
      if (!bytes) return fail(bytes.error());
      if (*bytes == 0) return fail("must be above 0");
      options.bytes = *bytes;
    } else if (name == "-P" || name == "--parallel") {
      auto streams = parse_count(text, 1, kMaxStreams);
      if (!streams) return fail(streams.error());
      options.streams = *streams;
      have_streams = true;
    } else if (name == "-l" || name == "--length") {
      auto size = parse_size(text);
      if (!size) return fail(size.error());
      if (*size == 0 || *size > kMaxMessageSize) return fail("must be 1 byte .. 1M");
      options.message_size = *size;
      have_length = true;
    } else if (name == "-C" || name == "--congestion") {
      auto congestion = transport::parse_congestion_algorithm(text);
      if (!congestion) return fail("is bbr, cubic or fixed");
      options.congestion = *congestion;
      have_congestion = true;
    } else if (name == "-b" || name == "--bitrate") {
      auto rate = parse_rate(text);
      if (!rate) return fail(rate.error());
      if (*rate < 8) return fail("must be at least 8 bit/s");
      options.rate_bits = *rate;
    } else if (name == "-i" || name == "--interval") {
      auto seconds = parse_seconds(text);
      if (!seconds) return fail(seconds.error());
      options.interval = *seconds;
    } else if (name == "-F" || name == "--file") {
      if (text.empty()) return fail("empty path (- reads stdin)");
      options.file = text;
    } else if (name == "--sync") {
      if (text.empty()) return fail("empty path");
      options.sync = text;
    } else if (name == "--block-size") {
      auto size = parse_size(text);
      if (!size) return fail(size.error());
      if (*size < kMinBlockSize || *size > kMaxBlockSize) return fail("must be 64 bytes .. 1M");
      options.block_size = static_cast<std::uint32_t>(*size);
      have_block_size = true;
    } else if (name == "--rounds") {
      auto rounds = parse_count(text, 1, kMaxRounds);
      if (!rounds) return fail(rounds.error());
      options.rounds = *rounds;
    } else {  // --connect-timeout
      auto seconds = parse_seconds(text);
      if (!seconds) return fail(seconds.error());
      if (*seconds <= 0.0) return fail("must be above 0");
      options.connect_timeout = *seconds;
    }
  }
  if (options.action != SendOptions::Action::run) return options;
  if (options.json && options.json_stream) {
    return std::unexpected(usage_error("--json-stream", "cannot be combined with --json"));
  }
  if (options.sync.empty()) {
    if (positional) {
      return std::unexpected(
          usage_error(*positional, "unexpected argument (options start with '-')"));
    }
    for (const auto& [given, flag] :
         {std::pair{options.watch, "--watch"}, std::pair{options.rounds != 0, "--rounds"},
          std::pair{have_block_size, "--block-size"}}) {
      if (given) return std::unexpected(usage_error(flag, "needs --sync"));
    }
  } else {
    if (positional) {
      if (!options.host.empty()) {
        return std::unexpected(usage_error(*positional, "the host is already given with -c"));
      }
      if (auto problem = split_host_port(*positional, options)) {
        return std::unexpected(usage_error(*positional, *problem));
      }
    }
    // One file, one stream, blocks instead of messages, and rounds instead of a duration.
    for (const auto& [given, flag] :
         {std::pair{!options.file.empty(), "-F"}, std::pair{options.bytes != 0, "-n"},
          std::pair{options.reverse, "-R"}, std::pair{options.bidir, "--bidir"},
          std::pair{have_streams, "-P"}, std::pair{have_length, "-l"},
          std::pair{options.json_stream, "--json-stream"}}) {
      if (given) return std::unexpected(usage_error(flag, "cannot be combined with --sync"));
    }
    if (have_time) options.sync_seconds = options.seconds;
  }
  if (options.host.empty())
    return std::unexpected(usage_error("-c", "a host to send to is required"));
  // A file's size (or stdin's end) decides how much is sent.
  if (!options.file.empty() && have_time) {
    return std::unexpected(usage_error("-F", "cannot be combined with -t"));
  }
  if (!options.file.empty() && options.bytes != 0) {
    return std::unexpected(usage_error("-F", "cannot be combined with -n"));
  }
  // Only the test pattern goes the other way.
  if (!options.file.empty() && options.reverse) {
    return std::unexpected(usage_error("-R", "cannot be combined with -F"));
  }
  if (!options.file.empty() && options.bidir) {
    return std::unexpected(usage_error("--bidir", "cannot be combined with -F"));
  }
  if (options.reverse && options.bidir) {
    return std::unexpected(usage_error("--bidir", "cannot be combined with -R"));
  }
  if (have_time && options.bytes != 0) {
    return std::unexpected(usage_error("-n", "cannot be combined with -t"));
  }
  if (options.bytes != 0 && options.bytes < options.streams) {
    return std::unexpected(usage_error("-n", "must give every stream (-P) at least one byte"));
  }
  if (options.rate_bits != 0) {
    if (have_congestion && options.congestion != transport::CongestionAlgorithm::fixed) {
      return std::unexpected(usage_error("-b", "needs the fixed controller (-C fixed)"));
    }
    options.congestion = transport::CongestionAlgorithm::fixed;
  } else if (options.congestion == transport::CongestionAlgorithm::fixed) {
    return std::unexpected(usage_error("-C", "fixed needs a rate (-b)"));
  }
  return options;
}

std::string send_usage() {
  return "usage: dwcp-send -c HOST [options]\n"
         "  -c, --client HOST        receiver to send to (name or address)\n"
         "  -p, --port PORT          its port (default 5301)\n"
         "  -t, --time SECONDS       send for this long (default 10); with --sync, start no\n"
         "                           round after this long\n"
         "  -n, --bytes SIZE         send this many bytes in all instead (10M, 1G)\n"
         "  -F, --file PATH          send a file, a directory tree, or stdin (-) instead\n"
         "                           of the test pattern; not with -t or -n\n"
         "  -P, --parallel N         streams (default 1, at most 128)\n"
         "  -l, --length SIZE        message size (default 64K, at most 1M)\n"
         "  -C, --congestion NAME    bbr (default), cubic or fixed\n"
         "  -b, --bitrate RATE       fixed rate in bit/s (100M, 2.5G); implies -C fixed\n"
         "  -i, --interval SECONDS   between report lines (default 1; 0: none); with --sync,\n"
         "                           between rounds or looks at the file\n"
         "      --connect-timeout S  give up on the handshake after S seconds (default 5)\n"
         "  -R, --reverse            the receiver sends, we verify (-t/-n/-P/-l/-C/-b go to it)\n"
         "      --bidir              both directions at once, each on -P streams\n"
         "      --sync FILE          keep a replica of FILE up to date at the receiver\n"
         "                           (dwcp-recv --sync-dir): only changed blocks travel;\n"
         "                           also as: dwcp-send --sync FILE HOST[:PORT]\n"
         "      --block-size SIZE    --sync's block (default 4K, 64 .. 1M)\n"
         "      --watch              --sync again whenever FILE changes (looks every -i\n"
         "                           seconds) until -t, --rounds or SIGINT\n"
         "      --rounds N           --sync N rounds in all, -i seconds apart\n" +
         node_flags_usage() +
         "  -J, --json               print the summary as one JSON object\n"
         "      --json-stream        print JSON events, one per line, as they happen: start,\n"
         "                           interval (every -i), end (the --json summary)\n"
         "  -v, --version            version, SIMD level, I/O backends, and a self-test\n"
         "  -h, --help               this text\n";
}

}  // namespace dwcp::tools
