// dwcp-send: sends generated test data or files to dwcp-recv, or has dwcp-recv send test
// data to it (-R, --bidir), and reports like iperf3; or keeps a replica of a file up to
// date at dwcp-recv (--sync) (docs/tools.md).
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "simd/cpu_features.h"
#include "tools/common/exit_codes.h"
#include "tools/common/node_flags.h"
#include "tools/send/self_test.h"
#include "tools/send/send_options.h"
#include "tools/send/sender.h"
#include "tools/send/sync_sender.h"
#include "transport/io_select.h"

namespace {

using namespace dwcp::tools;

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int /*signal*/) {
  g_stop.store(true, std::memory_order_relaxed);
}

int print_version() {
  std::printf("dwcp-send %s\n", DWCP_VERSION);
  std::printf("simd: %s (detected %s)\n",
              std::string(dwcp::simd::to_string(dwcp::simd::active_simd_level())).c_str(),
              std::string(dwcp::simd::to_string(dwcp::simd::detected_simd_level())).c_str());
  using dwcp::transport::BackendKind;
  for (const BackendKind kind :
       {BackendKind::mmsg_gso, BackendKind::mmsg, BackendKind::plain, BackendKind::uring}) {
    auto backend =
        dwcp::transport::open_backend(dwcp::transport::SocketAddress::loopback_v4(0), {}, kind);
    std::string state = backend ? "available" : "unavailable: ";
    if (!backend) state += to_string(backend.error());
    std::printf("io %-8s %s\n", std::string(to_string(kind)).c_str(), state.c_str());
  }
  auto automatic = dwcp::transport::open_backend(dwcp::transport::SocketAddress::loopback_v4(0));
  if (automatic) std::printf("io chosen: %s\n", automatic->reason.c_str());
  std::fflush(stdout);
  const SelfTestResult self_test = run_self_test();
  std::printf("self-test: %s\n", self_test.detail.c_str());
  return self_test.ok ? kExitOk : kExitSelfTest;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto options = parse_send_options(args);
  if (!options) {
    std::fprintf(stderr, "dwcp-send: %s\n", options.error().message.c_str());
    return options.error().exit_code;
  }
  switch (options->action) {
    case SendOptions::Action::help:
      std::fputs(send_usage().c_str(), stdout);
      return kExitOk;
    case SendOptions::Action::version:
      return print_version();
    case SendOptions::Action::run:
      break;
  }
  if (auto unavailable = check_cpus_available(options->node)) {
    std::fprintf(stderr, "dwcp-send: %s\n", unavailable->message.c_str());
    return unavailable->exit_code;
  }
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  if (!options->sync.empty()) return run_sync(*options, g_stop, stdout);
  return run_send(*options, g_stop, stdout);
}
