// A stream of one dwcp connection: whole messages, in order, reliably. Many streams share
// a connection without blocking each other.
//
// A stream also carries versioned blocks (docs/protocol.md §5.9): send_block(key, bytes)
// sends a new version of a key, as an XOR delta against the version the peer already
// holds when that is smaller, and the peer gets the full rebuilt block with its key and
// version, never a delta. Messages and blocks may be mixed on one stream; they arrive in
// the order they were sent. A block whose rebuilt bytes fail their CRC32C (the peer's
// cached copy broke) is not delivered: the peer asks for the key whole and gets the
// sender's current version, so a reader can see a key's versions skip (statistics in
// transport::ConnectionStats count such failures).
//
// A Stream is a handle: copies refer to the same stream, and the stream's memory lives
// until the last handle and the connection are gone. Handles stay safe to use after the
// connection or the node ended; send() then says `closed`.
//
// Thread safety: the sending calls (send, send_block, claim/commit, finish) may come from
// one thread at a time, and the receiving calls (receive, peek, peek_block, release) from
// one thread at a time; the two sides may be different threads, and different streams are
// independent.
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

// A versioned block as delivered: the full rebuilt block, never a delta.
struct BlockView {
  std::uint64_t key = 0;
  std::uint64_t version = 0;         // 1 for a key's first block, +1 for each newer one
  std::span<const std::byte> bytes;  // valid until release() (polling) or the callback returns
};

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

  // Sends `block` as the newest version of `key` on this stream: as an XOR delta against
  // the version both ends hold when that is smaller by the configured margin
  // (NodeOptions::delta_margin), whole otherwise. Same back-pressure contract as send();
  // the bytes are copied. A block is at most max_message_size() bytes, less 8.
  SendStatus send_block(std::uint64_t key, std::span<const std::byte> block);

  // No more messages: the peer sees the end after the last one. Idempotent.
  void finish();

  // The next whole message, read in place: valid until release(). Empty when none waits,
  // and while a block is next (peek_block() takes it).
  [[nodiscard]] std::span<const std::byte> peek();
  // Polling: the next block on this stream, read in place; nullopt when none waits, and
  // while a message is next (peek() takes it). release() frees it. Blocks taken by
  // NodeOptions::on_block never come here.
  [[nodiscard]] std::optional<BlockView> peek_block();
  // Drops the message or block peek() or peek_block() returned.
  void release();
  // Copies the next message into `out` and drops it: its size; nullopt when none waits (a
  // block is next, or nothing) or when `out` is too small (then the message stays; peek()
  // shows its size).
  std::optional<std::size_t> receive(std::span<std::byte> out);
  // The peer finished the stream and every message was received.
  [[nodiscard]] bool at_end();

  // Bytes of messages (and blocks) queued on this stream that the I/O thread has not yet
  // taken, and of received ones waiting to be read.
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
  SendStatus send_record(std::span<const std::byte> prefix, std::span<const std::byte> bytes,
                         std::uint32_t tag);
  void ring_doorbell();

  std::shared_ptr<detail::StreamChannel> channel_;
  std::shared_ptr<detail::ConnectionChannel> connection_;
};

}  // namespace dwcp
