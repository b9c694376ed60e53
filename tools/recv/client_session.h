// One client of dwcp-recv: a thread that takes the client's streams, hands every message
// to the stream's StreamReceiver (the test pattern verified and dropped, files verified
// with XXH3-128 and stored or dropped), prints the client's interval lines, and at the end
// its summary. Clients run side by side.
//
// A stream that opens with a reverse request (dwcp-send -R, --bidir) carries the other way:
// the session sends it the test pattern with a StreamSender, as the request says (bytes or
// a time bound, message size, congestion controller), until the byte count is sent, the
// time is up, the client sends a stop frame, or the client ends the stream; the client's
// verdict comes back on the same stream. Such streams get their own summary, as the
// sender's (marked reverse).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "tools/common/stream_receiver.h"
#include "tools/common/transfer_report.h"
#include "tools/recv/recv_options.h"
#include "transport/api/connection.h"

namespace dwcp::tools {

// Where every session prints: lines from different clients never interleave.
struct SharedOutput {
  std::FILE* out = stdout;
  std::mutex lock;
};

class ClientSession {
 public:
  // Starts the session's thread at once.
  // `target` says where received files go; it must outlive the session.
  ClientSession(std::uint64_t id, Connection connection, const RecvOptions& options,
                SharedOutput& output, ReceiveTarget& target, std::string io);
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;
  ~ClientSession();

  // Ends the session early (SIGINT): the connection is aborted and the summary printed.
  void request_stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
  // The summaries were printed; failed() is final.
  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  // Waits for the thread.
  void join();
  // After join(): a direction's transfer was incomplete, had verification errors, or was
  // not verified.
  [[nodiscard]] bool failed() const noexcept { return failed_; }

 private:
  void run();

  std::uint64_t id_;
  Connection connection_;
  const RecvOptions& options_;
  SharedOutput& output_;
  ReceiveTarget& target_;
  std::string io_;
  bool failed_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace dwcp::tools
