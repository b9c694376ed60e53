// dwcp-send --sync (docs/tools.md, "Sync"): keeps a replica of one file up to date at a
// dwcp-recv --sync-dir. Connects, opens one stream, names the file and the block size in
// a sync header, and takes the manifest of what the replica already holds; then runs
// rounds (tools/send/sync_round.h): each reads the file, hands the blocks whose hash the
// replica does not hold to Stream::send_block (the transport sends each as an XOR delta
// against the version both ends hold, or whole), ends with the file's length and
// XXH3-128, and waits for the receiver's verdict on the whole replica.
//
// One round by default; --rounds N rounds, -i seconds apart; --watch a round whenever the
// file's size, mtime or inode changed (looked at every -i seconds), until -t, --rounds or
// SIGINT. Every wait is bounded; between rounds a keepalive every few seconds keeps the
// connection from its idle timeout.
#pragma once

#include <atomic>
#include <cstdio>

#include "tools/send/send_options.h"

namespace dwcp::tools {

// Runs the sync `options` describe (options.sync set), printing a line (or with
// options.json a JSON object) per round and the summary on `out`, problems on stderr.
// `stop` (set from a signal handler) ends it: between rounds cleanly, inside a round as a
// failure. Returns the exit code (tools/common/exit_codes.h).
int run_sync(const SendOptions& options, const std::atomic<bool>& stop, std::FILE* out);

}  // namespace dwcp::tools
