// dwcp-recv's server: listens, hands every accepted client to its own ClientSession
// (tools/recv/client_session.h), and stops after the first client (--one-off), after the
// idle timeout, or when `stop` is set (SIGINT/SIGTERM), printing every summary first.
#pragma once

#include <atomic>
#include <cstdio>

#include "tools/recv/recv_options.h"

namespace dwcp::tools {

// Prints "dwcp-recv: listening on ADDRESS" on stderr once bound, reports on `out`.
// Returns the exit code (tools/common/exit_codes.h).
int run_recv(const RecvOptions& options, const std::atomic<bool>& stop, std::FILE* out);

}  // namespace dwcp::tools
