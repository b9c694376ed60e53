// dwcp-recv: receives dwcp-send's test data or files from any number of clients at once,
// verifies them, sends test data to the clients that ask (dwcp-send -R, --bidir), and
// reports each client like iperf3 (docs/tools.md).
#include <csignal>
#include <cstdio>
#include <vector>

#include "tools/common/exit_codes.h"
#include "tools/common/node_flags.h"
#include "tools/recv/receiver.h"
#include "tools/recv/recv_options.h"

namespace {

using namespace dwcp::tools;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*signal*/) {
  g_stop.store(true, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto options = parse_recv_options(args);
  if (!options) {
    std::fprintf(stderr, "dwcp-recv: %s\n", options.error().message.c_str());
    return options.error().exit_code;
  }
  switch (options->action) {
    case RecvOptions::Action::help:
      std::fputs(recv_usage().c_str(), stdout);
      return kExitOk;
    case RecvOptions::Action::version:
      std::printf("dwcp-recv %s\n", DWCP_VERSION);
      return kExitOk;
    case RecvOptions::Action::run:
      break;
  }
  if (auto unavailable = check_cpus_available(options->node)) {
    std::fprintf(stderr, "dwcp-recv: %s\n", unavailable->message.c_str());
    return unavailable->exit_code;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A reader of --stdout that goes away (`| head`) is a failed write, not a dead process.
  std::signal(SIGPIPE, SIG_IGN);
  // With --stdout, stdout carries the data alone.
  return run_recv(*options, g_stop, options->to_stdout ? stderr : stdout);
}
