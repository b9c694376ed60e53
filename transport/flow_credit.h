// Credit-based flow control (docs/protocol.md §5.5), one pair per stream and one per
// connection: the receiver grants offsets up to a limit, the sender stays below it, and a
// slow consumer therefore stalls its sender instead of growing the receiver's memory.
#pragma once

#include <cstdint>
#include <optional>

namespace dwcp::transport {

// What the peer lets us send.
class SendCredit {
 public:
  explicit SendCredit(std::uint64_t initial_limit) noexcept : limit_(initial_limit) {}

  [[nodiscard]] std::uint64_t limit() const noexcept { return limit_; }
  [[nodiscard]] std::uint64_t used() const noexcept { return used_; }
  [[nodiscard]] std::uint64_t available() const noexcept { return limit_ - used_; }
  // Takes `bytes` (at most available()).
  void consume(std::uint64_t bytes) noexcept;
  // A MAX_DATA / MAX_STREAM_DATA from the peer; limits only grow, smaller ones are ignored.
  // True when credit was added.
  bool raise_limit(std::uint64_t limit) noexcept;
  // The limit to report in a DATA_BLOCKED frame, once per limit: the sender has data but no
  // credit and has not said so at this limit yet.
  std::optional<std::uint64_t> blocked_report() noexcept;

 private:
  std::uint64_t limit_;
  std::uint64_t used_ = 0;
  std::uint64_t reported_blocked_at_ = ~std::uint64_t{0};
};

// What we let the peer send.
class ReceiveCredit {
 public:
  // `window`: bytes the peer may send beyond what the application has consumed.
  explicit ReceiveCredit(std::uint64_t window) noexcept : window_(window), limit_(window) {}

  // Data reaching offset `end` arrived; false when it passes the limit granted (the peer
  // broke flow control: FLOW_CONTROL_ERROR).
  [[nodiscard]] bool on_received(std::uint64_t end) noexcept;
  // The application took `bytes` more.
  void on_consumed(std::uint64_t bytes) noexcept { consumed_ += bytes; }
  // A new limit to send when half the window has been consumed since the last one;
  // nullopt otherwise. Sending updates per half window keeps frames few and the pipe full.
  std::optional<std::uint64_t> update() noexcept;

  [[nodiscard]] std::uint64_t limit() const noexcept { return limit_; }
  [[nodiscard]] std::uint64_t highest_received() const noexcept { return highest_; }
  [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
  [[nodiscard]] std::uint64_t window() const noexcept { return window_; }

 private:
  std::uint64_t window_;
  std::uint64_t limit_;
  std::uint64_t highest_ = 0;
  std::uint64_t consumed_ = 0;
};

}  // namespace dwcp::transport
