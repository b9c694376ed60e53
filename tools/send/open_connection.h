// What dwcp-send does first in every mode: resolve the receiver, start a node, connect and
// wait for the handshake. A failure prints its one-line error and comes back as the exit
// code docs/tools.md gives it (3: address or node, 4: no connection).
#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>

#include "tools/send/send_options.h"
#include "transport/api/node.h"

namespace dwcp::tools {

struct OpenConnection {
  std::unique_ptr<Node> node;
  Connection connection;  // established; declared after the node, so it goes first
  std::string io;         // the node's backend, as Node::backend() names it
  transport::SocketAddress peer;
};

// `node_options` makes the node's options once the receiver's address is known (its
// family decides the local one).
std::expected<OpenConnection, int> open_connection(
    const SendOptions& options,
    const std::function<NodeOptions(const transport::SocketAddress& peer)>& node_options);

}  // namespace dwcp::tools
