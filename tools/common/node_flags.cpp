#include "tools/common/node_flags.h"

#include "affinity/affinity_error.h"
#include "affinity/cpu_set.h"
#include "affinity/pinning.h"

namespace dwcp::tools {

bool is_node_flag(std::string_view name) noexcept {
  return name == "--io" || name == "--zerocopy" || name == "--threads" || name == "--idle" ||
         name == "--cpus";
}

std::optional<CliError> parse_node_flag(std::string_view name, std::string_view value,
                                        NodeFlags& flags) {
  auto bad = [&](std::string_view choices) {
    std::string problem = "'";
    problem += value;
    problem += "' is not ";
    problem += choices;
    return usage_error(name, problem);
  };
  if (name == "--io") {
    if (!transport::parse_backend_kind(value, flags.io)) {
      return bad("auto, mmsg+gso, mmsg, uring or plain");
    }
  } else if (name == "--zerocopy") {
    if (!transport::parse_zerocopy_mode(value, flags.zerocopy)) return bad("auto, on or off");
  } else if (name == "--threads") {
    if (!parse_threading_mode(value, flags.threading)) return bad("shared or dedicated");
  } else if (name == "--idle") {
    if (!transport::parse_idle_mode(value, flags.idle)) return bad("spin, backoff or block");
  } else {
    auto cpus = affinity::CpuSet::parse(value);
    if (!cpus) return bad("a CPU list like 0 or 0,1 (" + affinity::to_string(cpus.error()) + ")");
    flags.cpus = value;
  }
  return std::nullopt;
}

std::optional<CliError> check_cpus_available(const NodeFlags& flags) {
  if (flags.cpus.empty()) return std::nullopt;
  auto wanted = affinity::CpuSet::parse(flags.cpus);
  if (!wanted) return usage_error("--cpus", "not a CPU list");
  // The threads start unpinned, with this thread's mask: what it allows, they may use.
  auto allowed = affinity::current_thread_affinity();
  if (!allowed) return std::nullopt;  // cannot tell; the node reports a failed pinning
  for (const int cpu : wanted->ids()) {
    if (!allowed->contains(cpu)) {
      return usage_error("--cpus", "CPU " + std::to_string(cpu) +
                                       " is not available to this process (it may use " +
                                       allowed->to_string() + ")");
    }
  }
  return std::nullopt;
}

void apply(const NodeFlags& flags, NodeOptions& node) {
  node.io = flags.io;
  node.socket.zerocopy = flags.zerocopy;
  node.threading = flags.threading;
  node.idle = flags.idle;
  node.cpus = flags.cpus;
}

std::string node_flags_usage() {
  return "      --io KIND            I/O backend: auto (default), mmsg+gso, mmsg, uring, plain\n"
         "      --zerocopy MODE      zero-copy sends: auto (default), on, off\n"
         "      --threads MODE       shared (default: one I/O thread) or dedicated (a\n"
         "                           receiver thread besides)\n"
         "      --idle MODE          how an idle I/O thread waits: backoff (default: spin\n"
         "                           briefly, then sleep), spin (never sleep: lowest\n"
         "                           latency, a core busy) or block (sleep at once)\n"
         "      --cpus LIST          pin the I/O thread (and the receiver thread) to these\n"
         "                           CPUs, e.g. 0 or 0,1\n";
}

}  // namespace dwcp::tools
