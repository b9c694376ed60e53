// dwcp-send's transfer: connects, sends the test pattern (tools/common/test_pattern.h) on
// every stream for the time or byte count asked, or the files of -F spread over the
// streams (tools/common/stream_sender.h), finishes the streams, waits for the receiver's
// verdict on each, closes gracefully (every byte acknowledged) and reports. With -R the
// streams ask the receiver for the pattern instead and verify it (tools/send/
// reverse_stream.h); --bidir does both at once. Every wait is bounded.
#pragma once

#include <atomic>
#include <cstdio>

#include "tools/send/send_options.h"

namespace dwcp::tools {

// Runs the transfer `options` describe, printing interval lines and the summary (text, or
// JSON with options.json) on `out` and problems on stderr. `stop` (set from a signal
// handler) ends the sending early; the transfer still closes gracefully and reports.
// Returns the exit code (tools/common/exit_codes.h).
int run_send(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out);

}  // namespace dwcp::tools
