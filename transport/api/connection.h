// A dwcp connection as an application holds it: open and accept streams, watch its state
// and statistics, close it gracefully or abort it.
//
// A Connection is a handle to state shared with the node's I/O thread: copies refer to the
// same connection. It stays safe to use after the connection ended or the node stopped.
//
// Thread safety: every call may come from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string_view>

#include "transport/api/stream.h"
#include "transport/connection.h"
#include "transport/udp_socket.h"

namespace dwcp {

namespace detail {
struct ConnectionChannel;
}

enum class ConnectionStatus : std::uint8_t {
  connecting,   // the handshake runs
  established,  // streams may be opened
  closing,      // close() or abort() was called, or the peer closed; no new streams
  closed,       // over: close_reason() says why
};

std::string_view to_string(ConnectionStatus status) noexcept;

enum class OpenError : std::uint8_t {
  not_established,  // the handshake has not finished (wait_established()), or it is over
  stream_limit,     // the peer's limit on streams is reached
  busy,             // the node's command queue is full; try again
};

std::string_view to_string(OpenError error) noexcept;

class Connection {
 public:
  Connection() = default;  // refers to no connection

  [[nodiscard]] explicit operator bool() const noexcept { return channel_ != nullptr; }
  [[nodiscard]] ConnectionStatus status() const noexcept;
  [[nodiscard]] transport::SocketAddress peer() const noexcept;

  // Waits until the handshake is over: true when established, false on timeout or when
  // the connection failed (close_reason() says why).
  bool wait_established(std::chrono::milliseconds timeout);
  // Waiting without polling: read events(), look at the streams, and if there is nothing
  // to do, wait(seen, timeout) returns once something happened since (a message, a new
  // stream, a status change, half of a stream's send queue free again after its send()
  // or claim() reported back_pressured), or after the timeout.
  [[nodiscard]] std::uint64_t events() const noexcept;
  void wait(std::uint64_t seen, std::chrono::milliseconds timeout);

  // A new stream of ours. Never blocks.
  std::expected<Stream, OpenError> open_stream();
  // The next stream the peer opened (it arrives with its first message), if any.
  std::optional<Stream> accept_stream();

  // Graceful: every stream is finished, no new messages are taken; everything accepted so
  // far is delivered and acknowledged, then the connection closes (or fails after the
  // idle timeout). Returns at once; status() follows.
  void close();
  // Immediate: CONNECTION_CLOSE with `error_code` goes out; queued data is dropped.
  void abort(std::uint64_t error_code = 0);
  // This connection's congestion controller from now on, instead of the node's
  // (NodeOptions::connection): a server learns what a client wants only once connected.
  // `fixed_rate` (bytes/s) is for CongestionAlgorithm::fixed. Takes effect on the I/O
  // thread shortly after; false when the command could not be queued (retry) or the
  // connection is gone.
  bool set_congestion(transport::CongestionAlgorithm algorithm, transport::Bandwidth fixed_rate);

  // Why the connection ended, once closed.
  [[nodiscard]] std::optional<transport::CloseReason> close_reason() const;
  // RTT, window, rates, counters: a snapshot at most a millisecond old.
  [[nodiscard]] transport::ConnectionStats stats() const;

 private:
  friend class Node;
  friend struct ConnectionAccess;
  explicit Connection(std::shared_ptr<detail::ConnectionChannel> channel)
      : channel_(std::move(channel)) {}

  std::shared_ptr<detail::ConnectionChannel> channel_;
};

}  // namespace dwcp
