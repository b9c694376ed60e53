// Exit codes shared by dwcp-send and dwcp-recv (docs/tools.md lists them): one per class
// of failure, so scripts can tell a typo from an unreachable peer.
#pragma once

namespace dwcp::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitSelfTest = 1;    // --version: the self-test failed
inline constexpr int kExitUsage = 2;       // bad command line
inline constexpr int kExitAddress = 3;     // cannot resolve the host, or cannot bind
inline constexpr int kExitConnection = 4;  // no connection: refused, nothing listening
inline constexpr int kExitTransfer = 5;    // the transfer failed or data did not verify
inline constexpr int kExitLocalFile = 6;   // a local file or directory cannot be read or written

}  // namespace dwcp::tools
