// dwcp-wanem: a userspace WAN link emulator bridging two interfaces (docs/wan-lab.md).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string_view>
#include <vector>

#include "tools/wanem/cli.h"
#include "tools/wanem/counters.h"
#include "tools/wanem/forwarder.h"
#include "tools/wanem/profiles.h"
#include "tools/wanem/random.h"

namespace {

using namespace dwcp::wanem;

// Known answer: the generator must give the same sequence everywhere, or seeded runs
// would not repeat across builds.
bool random_self_test() {
  Random random(1);
  return random.next_u64() == 0xb3f2af6d0fc710c5ULL;
}

int write_json(const Config& config, const Counters& counters) {
  if (config.json_path.empty()) return kExitOk;
  std::ofstream out(config.json_path, std::ios::trunc);
  out << format_json(counters);
  out.close();
  if (!out) {
    std::fprintf(stderr, "dwcp-wanem: cannot write %s\n", config.json_path.c_str());
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  auto parsed = parse_command_line(args);
  if (!parsed) {
    std::fprintf(stderr, "dwcp-wanem: %s\n", parsed.error().message.c_str());
    return parsed.error().exit_code;
  }
  const Config& config = *parsed;
  switch (config.action) {
    case Action::help:
      std::fputs(usage_text().c_str(), stdout);
      return kExitOk;
    case Action::version: {
      const bool ok = random_self_test();
      std::printf(
          "dwcp-wanem 0.1.0: I/O AF_PACKET recvmmsg/sendmmsg (batch %zu), scheduler "
          "time-ordered heap + timerfd; self-test %s\n",
          PacketPort::kBatch, ok ? "ok" : "FAILED");
      return ok ? kExitOk : kExitRuntime;
    }
    case Action::list_profiles:
      for (const Profile& p : profiles()) {
        std::printf("%-17s %.*s\n", std::string(p.name).c_str(), static_cast<int>(p.summary.size()),
                    p.summary.data());
      }
      return kExitOk;
    case Action::run:
      break;
  }

  // SIGINT/SIGTERM are read from a signalfd by the forwarder.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  auto a = PacketPort::open(config.if_a);
  if (!a) {
    std::fprintf(stderr, "dwcp-wanem: %s\n", a.error().c_str());
    return kExitSetup;
  }
  auto b = PacketPort::open(config.if_b);
  if (!b) {
    std::fprintf(stderr, "dwcp-wanem: %s\n", b.error().c_str());
    return kExitSetup;
  }
  Forwarder forwarder(config, std::move(*a), std::move(*b));
  // scripts/wan-lab waits for this line before it reports the lab up.
  std::fprintf(stderr, "dwcp-wanem: forwarding %s <-> %s, profile %s, seed %llu\n",
               config.if_a.c_str(), config.if_b.c_str(), config.profile.c_str(),
               static_cast<unsigned long long>(config.seed));
  std::fflush(stderr);
  const auto result = forwarder.run();
  const Counters counters = forwarder.counters();
  if (!config.quiet) std::fputs(format_text(counters).c_str(), stderr);
  const int json = write_json(config, counters);
  if (!result) {
    std::fprintf(stderr, "dwcp-wanem: %s\n", result.error().c_str());
    return kExitRuntime;
  }
  return json;
}
