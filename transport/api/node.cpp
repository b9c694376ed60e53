#include "transport/api/node.h"

#include "transport/api/runtime.h"

namespace dwcp {

using detail::ChannelStatus;
using detail::Command;

std::string_view to_string(ThreadingMode mode) noexcept {
  switch (mode) {
    case ThreadingMode::shared:
      return "shared";
    case ThreadingMode::dedicated:
      return "dedicated";
  }
  return "unknown";
}

bool parse_threading_mode(std::string_view text, ThreadingMode& out) noexcept {
  for (ThreadingMode mode : {ThreadingMode::shared, ThreadingMode::dedicated}) {
    if (text == to_string(mode)) {
      out = mode;
      return true;
    }
  }
  return false;
}

std::expected<std::unique_ptr<Node>, std::string> Node::start(const NodeOptions& options) {
  auto runtime = detail::Runtime::start(options);
  if (!runtime) return std::unexpected(std::move(runtime.error()));
  return std::unique_ptr<Node>(new Node(std::move(*runtime)));
}

Node::~Node() {
  stop();
}

void Node::stop() {
  runtime_->stop();
}

Connection Node::connect(const transport::SocketAddress& peer) {
  auto channel = std::make_shared<detail::ConnectionChannel>(runtime_, peer, true);
  Command command;
  command.kind = Command::Kind::connect;
  command.connection = channel;
  if (!runtime_->submit(std::move(command))) {
    {
      const std::lock_guard lock(channel->mutex);
      channel->close_reason = transport::CloseReason{
          0, false, false,
          runtime_->stopped() ? "the node is stopped" : "the node's command queue is full"};
    }
    channel->status.store(ChannelStatus::closed, std::memory_order_release);
  }
  return ConnectionAccess::make(std::move(channel));
}

std::optional<Connection> Node::accept() {
  auto channel = runtime_->try_accept();
  if (!channel) return std::nullopt;
  return ConnectionAccess::make(std::move(channel));
}

std::optional<Connection> Node::accept(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto connection = accept()) return connection;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || runtime_->stopped()) return std::nullopt;
    runtime_->wait_accept(left);
  }
}

transport::SocketAddress Node::local_address() const {
  return runtime_->local_address();
}

const std::string& Node::backend() const noexcept {
  return runtime_->backend_description();
}

transport::NodeCounters Node::counters() const {
  return runtime_->counters();
}

}  // namespace dwcp
