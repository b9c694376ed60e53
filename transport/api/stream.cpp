#include "transport/api/stream.h"

#include <array>
#include <atomic>
#include <cstring>

#include "proto/frames.h"
#include "transport/api/fence.h"
#include "transport/api/runtime.h"

namespace dwcp {

using detail::ChannelStatus;
using detail::Command;

std::string_view to_string(SendStatus status) noexcept {
  switch (status) {
    case SendStatus::accepted:
      return "accepted";
    case SendStatus::back_pressured:
      return "back_pressured";
    case SendStatus::too_large:
      return "too_large";
    case SendStatus::empty:
      return "empty";
    case SendStatus::finished:
      return "finished";
    case SendStatus::closed:
      return "closed";
  }
  return "unknown";
}

std::uint64_t Stream::id() const noexcept {
  return channel_ ? channel_->id : 0;
}

std::size_t Stream::queued_bytes() const noexcept {
  return channel_ ? channel_->outbound.used_bytes() : 0;
}

std::size_t Stream::received_bytes() const noexcept {
  return channel_ ? channel_->inbound.used_bytes() : 0;
}

std::size_t Stream::max_message_size() const noexcept {
  if (!channel_) return 0;
  return std::min<std::size_t>(channel_->outbound.max_record(),
                               connection_->max_message.load(std::memory_order_relaxed));
}

SendStatus Stream::check_send(std::size_t size) const noexcept {
  if (!channel_) return SendStatus::closed;
  if (connection_->status.load(std::memory_order_acquire) != ChannelStatus::established ||
      connection_->close_called.load(std::memory_order_relaxed)) {
    return SendStatus::closed;
  }
  if (channel_->finish_requested.load(std::memory_order_relaxed)) return SendStatus::finished;
  if (size == 0) return SendStatus::empty;
  if (size > max_message_size()) return SendStatus::too_large;
  return SendStatus::accepted;
}

SendStatus Stream::send(std::span<const std::byte> message) {
  return send_record({}, message, detail::kMessageRecord);
}

SendStatus Stream::send_block(std::uint64_t key, std::span<const std::byte> block) {
  if (channel_ && block.size() > proto::kMaxBlockLength) return SendStatus::too_large;
  std::array<std::byte, detail::kOutboundBlockHeader> header{};
  std::memcpy(header.data(), &key, sizeof key);
  return send_record(header, block, detail::kBlockRecord);
}

SendStatus Stream::send_record(std::span<const std::byte> prefix, std::span<const std::byte> bytes,
                               std::uint32_t tag) {
  const SendStatus status = check_send(bytes.size());
  if (status != SendStatus::accepted) return status;
  if (prefix.size() + bytes.size() > channel_->outbound.max_record()) return SendStatus::too_large;
  auto room = channel_->outbound.try_claim(prefix.size() + bytes.size());
  if (room.empty()) return SendStatus::back_pressured;
  if (!prefix.empty()) std::memcpy(room.data(), prefix.data(), prefix.size());
  std::memcpy(room.data() + prefix.size(), bytes.data(), bytes.size());
  channel_->outbound.commit_tagged(0, tag);
  ring_doorbell();
  return SendStatus::accepted;
}

std::span<std::byte> Stream::claim(std::size_t size, SendStatus* why) {
  SendStatus status = check_send(size);
  std::span<std::byte> room;
  if (status == SendStatus::accepted) {
    room = channel_->outbound.try_claim(size);
    if (room.empty()) status = SendStatus::back_pressured;
  }
  if (why != nullptr) *why = status;
  return room;
}

SendStatus Stream::commit(std::size_t size) {
  if (!channel_) return SendStatus::closed;
  channel_->outbound.commit(size);
  ring_doorbell();
  return SendStatus::accepted;
}

void Stream::ring_doorbell() {
  // The commit above, then the flag (a fence between, paired with the fence after the I/O
  // thread clears the flag): either the I/O thread's re-check sees the message, or this
  // thread sees the flag cleared and sends a doorbell. The flag stays set while the I/O
  // thread polls the stream, so this line is read, not fought over.
  detail::full_fence();
  if (channel_->doorbell.load(std::memory_order_relaxed)) return;
  if (channel_->doorbell.exchange(true, std::memory_order_acq_rel)) return;
  Command command;
  command.kind = Command::Kind::doorbell;
  command.connection = connection_;
  command.stream = channel_;
  // A full queue: the I/O thread looks at every stream instead.
  if (!connection_->runtime->submit(std::move(command))) connection_->runtime->request_rescan();
}

void Stream::finish() {
  if (!channel_ || channel_->finish_requested.exchange(true)) return;
  channel_->doorbell.store(true, std::memory_order_release);
  Command command;
  command.kind = Command::Kind::doorbell;
  command.connection = connection_;
  command.stream = channel_;
  if (!connection_->runtime->submit(std::move(command))) connection_->runtime->request_rescan();
}

std::span<const std::byte> Stream::peek() {
  if (!channel_) return {};
  const auto record = channel_->inbound.peek();
  if (record.empty() || channel_->inbound.peek_tag() != detail::kMessageRecord) return {};
  return record;
}

std::optional<BlockView> Stream::peek_block() {
  if (!channel_) return std::nullopt;
  const auto record = channel_->inbound.peek();
  if (record.empty() || channel_->inbound.peek_tag() != detail::kBlockRecord) return std::nullopt;
  BlockView view;
  std::memcpy(&view.key, record.data(), sizeof view.key);
  std::memcpy(&view.version, record.data() + sizeof view.key, sizeof view.version);
  view.bytes = record.subspan(detail::kInboundBlockHeader);
  return view;
}

void Stream::release() {
  if (!channel_ || channel_->inbound.peek().empty()) return;
  channel_->inbound.release();
  detail::full_fence();
  // The I/O thread retries delivery on every pass; it only needs waking.
  if (channel_->delivery_paused.load(std::memory_order_relaxed) &&
      channel_->delivery_paused.exchange(false)) {
    connection_->runtime->wake();
  }
}

std::optional<std::size_t> Stream::receive(std::span<std::byte> out) {
  const auto message = peek();
  if (message.empty() || message.size() > out.size()) return std::nullopt;
  std::memcpy(out.data(), message.data(), message.size());
  const std::size_t size = message.size();
  release();
  return size;
}

bool Stream::at_end() {
  if (!channel_) return true;
  if (!channel_->peer_finished.load(std::memory_order_acquire)) return false;
  return channel_->inbound.peek().empty();
}

}  // namespace dwcp
