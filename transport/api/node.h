// dwcp's public entry point: a Node owns one UDP socket and the I/O thread(s) that run its
// connections. Start it with NodeOptions, connect() to peers, accept() (or on_accept) peers
// that connect to it, and exchange messages over Streams (transport/api/stream.h).
//
//   auto node = dwcp::Node::start(options);          // binds, starts the I/O thread
//   dwcp::Connection c = (*node)->connect(peer);     // the handshake runs in the background
//   c.wait_established(std::chrono::seconds(5));
//   dwcp::Stream s = *c.open_stream();
//   s.send(bytes);                                   // accepted / back_pressured / error
//
// Ownership and lifetime: start() returns the only owner. Destroying the node (or stop())
// aborts its connections and joins its threads; Connection and Stream handles outlive it
// safely and then report `closed`.
//
// Thread safety: every member may be called from any thread; on_accept and on_message run
// on the I/O thread.
#pragma once

#include <chrono>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "transport/api/connection.h"
#include "transport/api/options.h"
#include "transport/api/stream.h"
#include "transport/node.h"

namespace dwcp {

namespace detail {
class Runtime;
}

class Node {
 public:
  // Opens the socket, chooses the I/O backend and starts the threads. Errors: one line
  // naming what failed (bind, pinning, ...).
  static std::expected<std::unique_ptr<Node>, std::string> start(const NodeOptions& options);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  // Starts a connection to `peer`. Status `closed` at once when the node stopped or its
  // queue is full (close_reason() says so).
  Connection connect(const transport::SocketAddress& peer);
  // The next accepted incoming connection, if any (when NodeOptions::on_accept is unset).
  std::optional<Connection> accept();
  // Waits up to `timeout` for one.
  std::optional<Connection> accept(std::chrono::milliseconds timeout);

  // Aborts every connection and joins the threads. Idempotent.
  void stop();

  [[nodiscard]] transport::SocketAddress local_address() const;
  // Which I/O backend runs, and why: "mmsg+gso (UDP_SEGMENT accepted, ...)".
  [[nodiscard]] const std::string& backend() const noexcept;
  // What the node dropped or answered without a connection.
  [[nodiscard]] transport::NodeCounters counters() const;

 private:
  explicit Node(std::shared_ptr<detail::Runtime> runtime) : runtime_(std::move(runtime)) {}
  std::shared_ptr<detail::Runtime> runtime_;
};

}  // namespace dwcp
