// A stream of one dwcp connection: whole messages, in order, reliably. Many streams share
// a connection without blocking each other.
//
// A Stream is a handle: copies refer to the same stream, and the stream's memory lives
// until the last handle and the connection are gone. Handles stay safe to use after the
// connection or the node ended; send() then says `closed`.
//
// Thread safety: the sending calls (send, claim/commit, finish) may come from one thread at
// a time, and the receiving calls (receive, peek/release) from one thread at a time; the
// two sides may be different threads, and different streams are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace dwcp {

namespace detail {
struct StreamChannel;
struct ConnectionChannel;
}  // namespace detail

enum class SendStatus : std::uint8_t {
  accepted,        // the message is queued and will be delivered unless the connection dies
  back_pressured,  // would block: the stream's queue is full now; try again later (nothing
                   // was taken)
  too_large,       // error: larger than the largest message the stream can carry
  empty,           // error: a message has at least one byte
  finished,        // error: finish() was called
  closed,          // error: the connection is closed or closing, or the node stopped
};

std::string_view to_string(SendStatus status) noexcept;

class Stream {
 public:
  Stream() = default;  // refers to no stream: every call reports closed / nothing

  [[nodiscard]] std::uint64_t id() const noexcept;
  [[nodiscard]] explicit operator bool() const noexcept { return channel_ != nullptr; }

  // Queues a copy of `message`. Never blocks; see SendStatus.
  SendStatus send(std::span<const std::byte> message);

  // The copy-free path: room for a message of `size` bytes inside the stream's queue, to
  // be written and then handed over with commit(). Empty when send() would not return
  // accepted (status() of claim tells why). Claiming again abandons the earlier claim.
  [[nodiscard]] std::span<std::byte> claim(std::size_t size, SendStatus* why = nullptr);
  // Hands over the claimed message, its first `size` bytes (0: all of the claim).
  SendStatus commit(std::size_t size = 0);

  // No more messages: the peer sees the end after the last one. Idempotent.
  void finish();

  // The next whole message, read in place: valid until release(). Empty when none waits.
  [[nodiscard]] std::span<const std::byte> peek();
  // Drops the message peek() returned.
  void release();
  // Copies the next message into `out` and drops it: its size; nullopt when none waits or
  // when `out` is too small (then the message stays; peek() shows its size).
  std::optional<std::size_t> receive(std::span<std::byte> out);
  // The peer finished the stream and every message was received.
  [[nodiscard]] bool at_end();

  // Bytes of messages queued on this stream that the I/O thread has not yet taken, and of
  // received messages waiting for receive().
  [[nodiscard]] std::size_t queued_bytes() const noexcept;
  [[nodiscard]] std::size_t received_bytes() const noexcept;

  // Largest message send() takes now.
  [[nodiscard]] std::size_t max_message_size() const noexcept;

 private:
  friend class Connection;
  friend class Node;
  friend struct StreamAccess;
  Stream(std::shared_ptr<detail::StreamChannel> channel,
         std::shared_ptr<detail::ConnectionChannel> connection) noexcept
      : channel_(std::move(channel)), connection_(std::move(connection)) {}
  [[nodiscard]] SendStatus check_send(std::size_t size) const noexcept;
  void ring_doorbell();
  // The outbound ring's room for `size` bytes; when full, asks for a room notification.
  std::span<std::byte> claim_room(std::size_t size);

  std::shared_ptr<detail::StreamChannel> channel_;
  std::shared_ptr<detail::ConnectionChannel> connection_;
};

}  // namespace dwcp
