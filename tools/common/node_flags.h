// The node flags dwcp-send and dwcp-recv share (docs/tools.md): --io, --zerocopy,
// --threads, --idle and --cpus, each one NodeOptions field (transport/api/options.h). Parsed
// without I/O, like the rest of the command line; check_cpus_available() then asks the
// kernel whether the listed CPUs may be used.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tools/common/arg_cursor.h"
#include "transport/api/options.h"

namespace dwcp::tools {

struct NodeFlags {
  transport::BackendKind io = transport::BackendKind::automatic;
  transport::ZerocopyMode zerocopy = transport::ZerocopyMode::automatic;
  ThreadingMode threading = ThreadingMode::shared;
  transport::IdleMode idle = transport::IdleMode::backoff;
  std::string cpus;  // a CPU list ("0", "0,1", "2-3"); empty: the threads are not pinned
};

// Whether `name` is one of the flags (each takes a value).
[[nodiscard]] bool is_node_flag(std::string_view name) noexcept;
// Takes `value` for the flag `name` (is_node_flag()); a usage error naming the flag when
// the value is not one of its choices, or not a CPU list.
std::optional<CliError> parse_node_flag(std::string_view name, std::string_view value,
                                        NodeFlags& flags);
// A usage error when --cpus names a CPU this process may not run on (offline, or outside
// its affinity mask): pinning would fail only once the node starts.
std::optional<CliError> check_cpus_available(const NodeFlags& flags);
// Copies the flags into `node`.
void apply(const NodeFlags& flags, NodeOptions& node);

// The flags' lines of --help.
std::string node_flags_usage();

}  // namespace dwcp::tools
