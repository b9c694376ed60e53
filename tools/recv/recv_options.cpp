#include "tools/recv/recv_options.h"

#include "tools/common/units.h"

namespace dwcp::tools {

std::expected<RecvOptions, CliError> parse_recv_options(std::span<const std::string_view> args) {
  RecvOptions options;
  ArgCursor cursor(args);
  while (!cursor.done()) {
    const std::string_view name = cursor.next();
    const bool flag = name == "--json" || name == "-J" || name == "--json-stream" ||
                      name == "--one-off" || name == "-1" || name == "--version" || name == "-v" ||
                      name == "--help" || name == "-h" || name == "-s" || name == "--server" ||
                      name == "--stdout";
    if (flag) {
      if (cursor.has_inline_value()) return std::unexpected(usage_error(name, "takes no value"));
      if (name == "--json" || name == "-J") options.json = true;
      if (name == "--json-stream") options.json_stream = true;
      if (name == "--one-off" || name == "-1") options.one_off = true;
      if (name == "--stdout") options.to_stdout = true;
      if (name == "--version" || name == "-v") options.action = RecvOptions::Action::version;
      if (name == "--help" || name == "-h") options.action = RecvOptions::Action::help;
      continue;  // -s: iperf3's "server", accepted for habit's sake
    }
    if (!name.starts_with("-") || name == "-" || name == "--") {
      return std::unexpected(usage_error(name, "unexpected argument (options start with '-')"));
    }
    const bool known = name == "-B" || name == "--bind" || name == "-p" || name == "--port" ||
                       name == "-i" || name == "--interval" || name == "--idle-timeout" ||
                       name == "-o" || name == "--output" || name == "--sync-dir" ||
                       is_node_flag(name);
    if (!known) return std::unexpected(usage_error(name, "unknown option (see --help)"));
    auto value = cursor.value();
    if (!value) return std::unexpected(value.error());
    const std::string_view text = *value;
    if (is_node_flag(name)) {
      if (auto error = parse_node_flag(name, text, options.node)) return std::unexpected(*error);
    } else if (name == "-B" || name == "--bind") {
      if (text.empty()) return std::unexpected(usage_error(name, "empty address"));
      options.bind = text;
    } else if (name == "-p" || name == "--port") {
      auto port = parse_port(text);
      if (!port) return std::unexpected(usage_error(name, port.error()));
      options.port = *port;
    } else if (name == "-o" || name == "--output") {
      if (text.empty()) return std::unexpected(usage_error(name, "empty directory"));
      options.output = text;
    } else if (name == "--sync-dir") {
      if (text.empty()) return std::unexpected(usage_error(name, "empty directory"));
      options.sync_dir = text;
    } else {
      auto seconds = parse_seconds(text);
      if (!seconds) return std::unexpected(usage_error(name, seconds.error()));
      (name == "--idle-timeout" ? options.idle_timeout : options.interval) = *seconds;
    }
  }
  if (options.json && options.json_stream) {
    return std::unexpected(usage_error("--json-stream", "cannot be combined with --json"));
  }
  if (options.to_stdout && !options.output.empty()) {
    return std::unexpected(usage_error("--stdout", "cannot be combined with --output"));
  }
  return options;
}

std::string recv_usage() {
  return "usage: dwcp-recv [options]\n"
         "  -B, --bind ADDRESS        listen on this address (default 0.0.0.0)\n"
         "  -p, --port PORT           and port (default 5301; 0 picks one, printed on stderr)\n"
         "  -i, --interval SECONDS    between report lines per client (default 1; 0: none)\n"
         "  -1, --one-off             exit after the first client finished\n"
         "      --idle-timeout S      exit after S seconds without any client (default: never)\n"
         "  -o, --output DIR          write received files under DIR (default: verify, drop)\n"
         "      --stdout              write the one file or stdin received to stdout; reports\n"
         "                            go to stderr\n"
         "      --sync-dir DIR        keep the replicas of dwcp-send --sync under DIR\n"
         "  -J, --json                one JSON object per client summary, nothing else\n"
         "      --json-stream         JSON events, one per line: start, interval, end per "
         "client\n" +
         node_flags_usage() +
         "  -v, --version             version\n"
         "  -h, --help                this text\n";
}

}  // namespace dwcp::tools
