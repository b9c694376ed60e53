// The configuration of a public dwcp::Node (transport/api/node.h): where it listens, how
// its threads run, and the settings every connection starts with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "transport/connection.h"
#include "transport/idle_strategy.h"
#include "transport/io_fault.h"
#include "transport/io_select.h"
#include "transport/udp_socket.h"

namespace dwcp {

class Connection;
class Stream;
struct BlockView;

enum class ThreadingMode : std::uint8_t {
  // One I/O thread receives, sends and runs every timer (the default; right for small
  // machines).
  shared,
  // A receiver thread that only reads the socket, and the I/O thread (connections,
  // timers, sending), each pinned to its own CPU of `cpus` when given. Worth it when the
  // receive system calls, not the connections, hold the I/O thread back.
  dedicated,
};

std::string_view to_string(ThreadingMode mode) noexcept;
// "shared", "dedicated"; false, `out` untouched, for anything else.
bool parse_threading_mode(std::string_view text, ThreadingMode& out) noexcept;

struct NodeOptions {
  // The local address (numeric; port 0 picks a free port).
  transport::SocketAddress bind = transport::SocketAddress::any_v4(0);
  // Take incoming connections (a server). They arrive through on_accept, else Node::accept().
  bool accept_connections = false;
  // Validate a client's address with a stateless Retry before creating state for it
  // (docs/protocol.md §7.2). Turn off only on trusted networks.
  bool require_retry = true;

  ThreadingMode threading = ThreadingMode::shared;
  transport::IdleMode idle = transport::IdleMode::backoff;
  // CPUs for the I/O threads, as a CPU list ("2", "2,3"). The first is the I/O thread's;
  // in dedicated mode the second (or the first) the receiver's; the threads' memory comes
  // from the first CPU's NUMA node. Empty: in dedicated mode on a machine with several NUMA
  // nodes, the threads run on the node of the interface holding `bind` (when sysfs tells
  // it) and allocate there; otherwise they are not pinned. Node::backend() says which.
  std::string cpus;
  transport::BackendKind io = transport::BackendKind::automatic;
  transport::SocketOptions socket;

  // Every connection's settings: congestion controller, windows, timeouts.
  transport::ConnectionConfig connection;
  // Bytes of messages an app thread may queue on one stream before send() says
  // back_pressured, on top of the connection's own per-stream buffer
  // (connection.stream_send_capacity). It also bounds one message: half of it, less 8.
  std::size_t stream_send_queue = std::size_t{1} << 20;
  // Bytes of whole received messages one stream holds for the app before the node stops
  // reading it (and the peer's credit runs out): at least twice the stream window.
  std::size_t stream_receive_queue = std::size_t{1} << 20;
  // Commands app threads may have queued for the I/O thread at once.
  std::size_t command_queue = 4096;

  // Called on the I/O thread for every new incoming connection; false refuses it. When
  // unset, incoming connections wait for Node::accept(). Must not block.
  std::function<bool(Connection&)> on_accept;
  // Called on the I/O thread with each received message, in order per stream, instead of
  // queueing it for Stream::receive(). The bytes are valid during the call only. Must not
  // block; it may call Stream::send(). Messages taken here do not wake Connection::wait()
  // (a stream's end, status changes and new streams still do).
  std::function<void(Stream&, std::span<const std::byte>)> on_message;
  // Called on the I/O thread for each versioned block (instead of on_message for blocks).
  // When unset, blocks wait for Stream::peek_block(). The same rules as on_message: the
  // view is valid during the call only, and it must not block.
  std::function<void(Stream&, const BlockView&)> on_block;

  // Versioned-block cache this node keeps per connection (offered in the handshake as
  // delta_cache_keys / delta_cache_bytes; 0 keys = no deltas, blocks still go whole).
  // The limits hold for each stream that carries blocks (docs/protocol.md §5.9): a peer
  // that sends blocks on n streams can make this node keep n times as much. At most 2^32
  // keys and 2^40 bytes.
  std::uint64_t block_cache_keys = 65536;
  std::uint64_t block_cache_bytes = 256 << 20;
  // A delta is sent only when encoded_size <= block_size * (1 - margin); in [0, 1).
  double delta_margin = 0.25;

  // Tests: faults injected into every datagram this node sends (transport/io_fault.h);
  // none by default.
  transport::FaultConfig faults;
};

}  // namespace dwcp
