#include "tools/send/open_connection.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

#include "tools/common/address_resolver.h"
#include "tools/common/close_reason_text.h"
#include "tools/common/exit_codes.h"

namespace dwcp::tools {

std::expected<OpenConnection, int> open_connection(
    const SendOptions& options,
    const std::function<NodeOptions(const transport::SocketAddress& peer)>& node_options) {
  auto peer = resolve_address(options.host, options.port);
  if (!peer) {
    std::fprintf(stderr, "dwcp-send: %s\n", peer.error().c_str());
    return std::unexpected(kExitAddress);
  }
  auto node = Node::start(node_options(*peer));
  if (!node) {
    // A backend asked for by name does not fall back: --io auto is there for that.
    const std::string asked = options.node.io == transport::BackendKind::automatic
                                  ? std::string()
                                  : " with --io " + std::string(to_string(options.node.io));
    std::fprintf(stderr, "dwcp-send: cannot start a node%s: %s\n", asked.c_str(),
                 node.error().c_str());
    return std::unexpected(kExitAddress);
  }
  OpenConnection opened{std::move(*node), Connection(), {}, *peer};
  opened.io = opened.node->backend();
  opened.connection = opened.node->connect(*peer);
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(options.connect_timeout));
  if (!opened.connection.wait_established(timeout)) {
    const auto reason = opened.connection.close_reason();
    const std::string why = reason ? describe(reason) : "no answer (is dwcp-recv running there?)";
    std::fprintf(stderr, "dwcp-send: cannot connect to %s within %.1f s: %s\n",
                 peer->to_string().c_str(), options.connect_timeout, why.c_str());
    opened.connection.abort();
    return std::unexpected(kExitConnection);
  }
  return opened;
}

}  // namespace dwcp::tools
