// One stream of dwcp-send -R or --bidir that carries the other way: it asks the server for
// the test pattern with a reverse request (tools/common/stream_header.h), verifies every
// byte that comes back with a StreamReceiver, answers the unit with its verdict, and
// finishes its side once the server finished its own. stop() sends a stop frame, which
// ends a timed unit at the server (its trailer comes next).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tools/common/stream_header.h"
#include "tools/common/stream_receiver.h"
#include "transport/api/stream.h"

namespace dwcp::tools {

class ReverseStream {
 public:
  // `request` is a header of kind reverse; `target` (pattern_only) must outlive the stream.
  ReverseStream(Stream stream, const StreamHeader& request, ReceiveTarget& target,
                std::uint64_t client);

  // Never blocks: sends the request, or the stop, when the stream takes it; reads and
  // verifies what arrived; finishes the stream when it may. The content bytes read.
  std::uint64_t step();
  // Asks the server to end the unit now. Idempotent.
  void stop() noexcept { stop_wanted_ = true; }

  // Our side is finished: the unit was answered (or refused) and the server ended its side.
  [[nodiscard]] bool done() const noexcept { return finished_; }
  // Why the stream cannot go on: the transport refused the request or the stop.
  [[nodiscard]] std::optional<SendStatus> failure() const noexcept { return failure_; }
  // The server's refusal of the request, if it sent one.
  [[nodiscard]] const std::optional<StreamVerdict>& refusal() const noexcept {
    return receiver_.peer_verdict();
  }
  [[nodiscard]] std::uint64_t id() const noexcept { return stream_.id(); }
  // The peer finished the stream and every message was read.
  [[nodiscard]] bool ended() { return stream_.at_end(); }
  // Adds this stream's figures to `tally` (once, at the end).
  void finish(ReceiveTally& tally) { receiver_.finish(tally); }

 private:
  bool send_control(std::span<const std::byte> frame);

  Stream stream_;
  StreamReceiver receiver_;
  std::vector<std::byte> request_;
  bool request_sent_ = false;
  bool stop_wanted_ = false;
  bool stop_sent_ = false;
  bool finished_ = false;
  std::optional<SendStatus> failure_;
};

}  // namespace dwcp::tools
