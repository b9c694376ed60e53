#include "transport/api/connection.h"

#include "transport/api/runtime.h"

namespace dwcp {

using detail::ChannelStatus;
using detail::Command;

std::string_view to_string(ConnectionStatus status) noexcept {
  switch (status) {
    case ConnectionStatus::connecting:
      return "connecting";
    case ConnectionStatus::established:
      return "established";
    case ConnectionStatus::closing:
      return "closing";
    case ConnectionStatus::closed:
      return "closed";
  }
  return "unknown";
}

std::string_view to_string(OpenError error) noexcept {
  switch (error) {
    case OpenError::not_established:
      return "not_established";
    case OpenError::stream_limit:
      return "stream_limit";
    case OpenError::busy:
      return "busy";
  }
  return "unknown";
}

ConnectionStatus Connection::status() const noexcept {
  if (!channel_) return ConnectionStatus::closed;
  const bool close_called = channel_->close_called.load(std::memory_order_acquire);
  switch (channel_->status.load(std::memory_order_acquire)) {
    case ChannelStatus::connecting:
      return close_called ? ConnectionStatus::closing : ConnectionStatus::connecting;
    case ChannelStatus::established:
      return close_called ? ConnectionStatus::closing : ConnectionStatus::established;
    case ChannelStatus::closing:
      return ConnectionStatus::closing;
    case ChannelStatus::closed:
      return ConnectionStatus::closed;
  }
  return ConnectionStatus::closed;
}

transport::SocketAddress Connection::peer() const noexcept {
  return channel_ ? channel_->peer : transport::SocketAddress();
}

std::uint64_t Connection::events() const noexcept {
  return channel_ ? channel_->events.load(std::memory_order_seq_cst) : 0;
}

void Connection::wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
  if (!channel_) return;
  detail::ConnectionChannel& channel = *channel_;
  channel.waiters.fetch_add(1, std::memory_order_seq_cst);
  {
    std::unique_lock lock(channel.mutex);
    channel.changed.wait_for(lock, timeout, [&] {
      return channel.events.load(std::memory_order_seq_cst) != seen || channel.runtime->stopped();
    });
  }
  channel.waiters.fetch_sub(1, std::memory_order_relaxed);
}

bool Connection::wait_established(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::uint64_t seen = events();
    const ConnectionStatus now_status = status();
    if (now_status != ConnectionStatus::connecting) {
      return now_status == ConnectionStatus::established;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    wait(seen, left);
  }
}

std::expected<Stream, OpenError> Connection::open_stream() {
  if (status() != ConnectionStatus::established) return std::unexpected(OpenError::not_established);
  detail::ConnectionChannel& channel = *channel_;
  detail::Runtime& runtime = *channel.runtime;
  // Under the lock, ids are taken and their commands queued in the same order, so the
  // I/O thread opens them in the order the ids were given.
  const std::lock_guard lock(channel.open_mutex);
  if (channel.streams_opened >= channel.stream_limit.load(std::memory_order_acquire)) {
    return std::unexpected(OpenError::stream_limit);
  }
  const std::uint64_t id = (channel.streams_opened << 1) | (channel.is_client ? 0U : 1U);
  auto stream = std::make_shared<detail::StreamChannel>(id, runtime.options().stream_send_queue,
                                                        runtime.inbound_capacity());
  Command command;
  command.kind = Command::Kind::open_stream;
  command.connection = channel_;
  command.stream = stream;
  if (!runtime.submit(std::move(command))) {
    return std::unexpected(runtime.stopped() ? OpenError::not_established : OpenError::busy);
  }
  ++channel.streams_opened;
  return StreamAccess::make(std::move(stream), channel_);
}

std::optional<Stream> Connection::accept_stream() {
  if (!channel_) return std::nullopt;
  std::shared_ptr<detail::StreamChannel> stream;
  if (!channel_->incoming.try_pop(stream)) return std::nullopt;
  return StreamAccess::make(std::move(stream), channel_);
}

void Connection::close() {
  if (!channel_) return;
  channel_->close_called.store(true, std::memory_order_release);
  Command command;
  command.kind = Command::Kind::close;
  command.connection = channel_;
  channel_->runtime->submit(std::move(command));
}

void Connection::abort(std::uint64_t error_code) {
  if (!channel_) return;
  channel_->close_called.store(true, std::memory_order_release);
  Command command;
  command.kind = Command::Kind::abort;
  command.connection = channel_;
  command.code = error_code;
  channel_->runtime->submit(std::move(command));
}

bool Connection::set_congestion(transport::CongestionAlgorithm algorithm,
                                transport::Bandwidth fixed_rate) {
  if (!channel_) return false;
  Command command;
  command.kind = Command::Kind::set_congestion;
  command.connection = channel_;
  command.congestion = algorithm;
  command.code = fixed_rate;
  return channel_->runtime->submit(std::move(command));
}

std::optional<transport::CloseReason> Connection::close_reason() const {
  if (!channel_) return std::nullopt;
  const std::lock_guard lock(channel_->mutex);
  return channel_->close_reason;
}

transport::ConnectionStats Connection::stats() const {
  if (!channel_) return {};
  const std::lock_guard lock(channel_->mutex);
  return channel_->stats;
}

}  // namespace dwcp
