#include "transport/api/runtime.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>

#include "affinity/cpu_set.h"
#include "affinity/memory_binding.h"
#include "affinity/pinning.h"
#include "affinity/topology.h"
#include "transport/api/fence.h"
#include "transport/api/numa_placement.h"

namespace dwcp::detail {
namespace {

// The calling thread's allocations prefer `node` while this lives (best effort: without
// NUMA support nothing changes).
class MemoryNodeScope {
 public:
  explicit MemoryNodeScope(int node)
      : active_(affinity::prefer_node_for_current_thread(node).has_value()) {}
  ~MemoryNodeScope() {
    if (active_) std::ignore = affinity::reset_memory_policy_for_current_thread();
  }
  MemoryNodeScope(const MemoryNodeScope&) = delete;
  MemoryNodeScope& operator=(const MemoryNodeScope&) = delete;

 private:
  bool active_;
};

using transport::ConnectionState;
using transport::MonotonicClock;

constexpr auto kStatsInterval = std::chrono::milliseconds(1);

ChannelStatus status_of(const transport::Connection& core, bool close_requested) {
  switch (core.state()) {
    case ConnectionState::handshaking:
      return close_requested ? ChannelStatus::closing : ChannelStatus::connecting;
    case ConnectionState::established:
      return close_requested ? ChannelStatus::closing : ChannelStatus::established;
    case ConnectionState::closing:
    case ConnectionState::draining:
      return ChannelStatus::closing;
    case ConnectionState::closed:
      return ChannelStatus::closed;
  }
  return ChannelStatus::closed;
}

}  // namespace

std::expected<std::shared_ptr<Runtime>, std::string> Runtime::start(NodeOptions options) {
  if (options.block_cache_keys > (std::uint64_t{1} << 32)) {
    return std::unexpected("block_cache_keys: at most 2^32");
  }
  if (options.block_cache_bytes > (std::uint64_t{1} << 40)) {
    return std::unexpected("block_cache_bytes: at most 2^40");
  }
  if (std::isnan(options.delta_margin) || options.delta_margin < 0.0 ||
      options.delta_margin >= 1.0) {
    return std::unexpected("delta_margin: from 0 up to (not including) 1");
  }
  options.connection.params.delta_cache_keys = options.block_cache_keys;
  options.connection.params.delta_cache_bytes = options.block_cache_bytes;
  options.connection.delta_margin = options.delta_margin;
  const bool dedicated = options.threading == ThreadingMode::dedicated;
  NumaPlacement placement;
  if (auto topology = affinity::Topology::discover()) {
    auto planned = plan_numa_placement(options.cpus, options.threading, *topology,
                                       interface_holding(options.bind));
    if (!planned) return std::unexpected(planned.error());
    placement = std::move(*planned);
  } else if (!options.cpus.empty()) {
    return std::unexpected("cpus: cannot read the CPU topology: " +
                           affinity::to_string(topology.error()));
  }
  // The socket's buffers and the node's come from the placement's node: allocated here,
  // on the caller's thread, so its memory policy decides (reset to the default after).
  std::optional<MemoryNodeScope> memory_scope;
  if (placement.memory_node) memory_scope.emplace(*placement.memory_node);
  auto selection = transport::open_backend(options.bind, options.socket, options.io);
  if (!selection) {
    return std::unexpected("cannot open a UDP socket on " + options.bind.to_string() + ": " +
                           transport::to_string(selection.error()));
  }
  std::shared_ptr<Runtime> runtime(new Runtime(std::move(options)));
  runtime->backend_ = selection->reason;  // starts with the backend's name
  runtime->backend_ += "; threads " + placement.detail;
  runtime->memory_node_ = placement.memory_node;
  runtime->io_ = std::move(selection->backend);
  if (runtime->options_.faults.any()) {
    runtime->faults_ = std::make_unique<transport::FaultBackend>(
        *runtime->io_, runtime->options_.faults, MonotonicClock::now());
    runtime->backend_ += "; faults injected";
  }
  transport::NodeConfig config;
  config.connection = runtime->options_.connection;
  config.accept_connections = runtime->options_.accept_connections;
  config.require_retry = runtime->options_.require_retry;
  config.receive_from_socket = !dedicated;
  config.clock = [] { return MonotonicClock::now(); };
  transport::IoBackend& node_io =
      runtime->faults_ ? *runtime->faults_ : static_cast<transport::IoBackend&>(*runtime->io_);
  runtime->node_ = std::make_unique<transport::Node>(node_io, config);
  // In dedicated mode the receiver thread waits on the socket; the I/O thread only on its
  // eventfd (woken by app threads and by the receiver). In shared mode the I/O thread
  // sleeps in the node's receive call where the backend allows that.
  transport::ReceiveWait receive_wait;
  if (!dedicated && node_io.capabilities().receive_wait) {
    transport::Node* node = runtime->node_.get();
    receive_wait.address = node_io.local_address();
    receive_wait.wait = [node](std::optional<transport::Duration> timeout) {
      return node->wait_receive(timeout);
    };
  }
  auto idle = transport::IdleStrategy::create(
      runtime->options_.idle, dedicated ? -1 : runtime->io_->fd(), std::move(receive_wait));
  if (!idle) return std::unexpected("cannot set up waiting: " + transport::to_string(idle.error()));
  runtime->idle_ = std::move(*idle);
  if (const auto source = runtime->idle_->wake_source()) runtime->node_->set_wake_source(*source);
  if (dedicated) {
    auto receiver_idle =
        transport::IdleStrategy::create(runtime->options_.idle, runtime->io_->fd());
    if (!receiver_idle) {
      return std::unexpected("cannot set up waiting: " +
                             transport::to_string(receiver_idle.error()));
    }
    runtime->receiver_ = std::make_unique<Receiver>(std::move(*receiver_idle));
  }

  Runtime* self = runtime.get();
  runtime->node_->on_accept(
      [self](transport::Connection& core, const transport::SocketAddress& peer) {
        auto channel = self->adopt(core, peer);
        if (self->options_.on_accept) {
          dwcp::Connection handle = ConnectionAccess::make(channel);
          if (!self->options_.on_accept(handle)) {
            self->channels_.pop_back();
            return false;
          }
          return true;
        }
        if (!self->accepted_.try_push(channel)) {
          self->channels_.pop_back();
          return false;
        }
        {
          const std::lock_guard lock(self->accept_mutex_);
          ++self->accept_events_;
        }
        self->accept_changed_.notify_all();
        return true;
      });

  runtime->thread_ = std::thread([self] { self->run(); });
  if (dedicated) runtime->receiver_thread_ = std::thread([self] { self->receive_loop(); });
  if (placement.io_cpus) {
    auto pinned = affinity::pin_thread(runtime->thread_, *placement.io_cpus);
    if (pinned && dedicated && placement.receiver_cpus)
      pinned = affinity::pin_thread(runtime->receiver_thread_, *placement.receiver_cpus);
    if (!pinned) {
      runtime->stop();
      return std::unexpected("cpus: " + affinity::to_string(pinned.error()));
    }
  }
  return runtime;
}

Runtime::Runtime(NodeOptions options)
    : options_(std::move(options)), commands_(std::max<std::size_t>(options_.command_queue, 16)) {}

Runtime::~Runtime() {
  stop();
}

bool Runtime::submit(Command command) {
  if (stopped()) return false;
  if (!commands_.try_push(std::move(command))) return false;
  idle_->wake();
  return true;
}

void Runtime::stop() {
  const std::lock_guard lock(stop_mutex_);
  if (!thread_.joinable()) return;
  stop_requested_.store(true, std::memory_order_release);
  if (receiver_thread_.joinable()) {
    receiver_->idle->wake();
    receiver_thread_.join();
  }
  idle_->wake();
  thread_.join();
}

transport::SocketAddress Runtime::local_address() const {
  return io_->local_address();
}

transport::NodeCounters Runtime::counters() const {
  const std::lock_guard lock(counters_mutex_);
  return counters_;
}

std::shared_ptr<ConnectionChannel> Runtime::try_accept() {
  std::shared_ptr<ConnectionChannel> channel;
  if (accepted_.try_pop(channel)) return channel;
  return nullptr;
}

void Runtime::wait_accept(std::chrono::milliseconds timeout) {
  std::unique_lock lock(accept_mutex_);
  const std::uint64_t seen = accept_events_;
  accept_changed_.wait_for(lock, timeout, [&] { return accept_events_ != seen || stopped(); });
}

void Runtime::publish_counters() {
  const std::lock_guard lock(counters_mutex_);
  counters_ = node_->counters();
}

void Runtime::notify(ConnectionChannel& channel) {
  channel.events.fetch_add(1, std::memory_order_seq_cst);
  if (channel.waiters.load(std::memory_order_seq_cst) != 0) {
    { const std::lock_guard lock(channel.mutex); }
    channel.changed.notify_all();
  }
}

// ---- the I/O thread ----

void Runtime::run() {
  // Timers of a few microseconds (pacing) must not be stretched by the default 50 µs slack.
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  if (memory_node_) std::ignore = affinity::prefer_node_for_current_thread(*memory_node_);
  while (!stop_requested_.load(std::memory_order_acquire)) {
    idle_->begin_pass();
    const Instant now = MonotonicClock::now();
    std::optional<Instant> deadline;
    bool did_work = pass(now, deadline);
    const Instant after = MonotonicClock::now();
    // pass() may have brought the deadline forward (statistics due): then it is no send.
    bool paced = node_->next_is_paced_send() && deadline == node_deadline_;
    // Before sleeping, stop polling idle streams (they ring again when they get data), and
    // publish the statistics the interval held back rather than wake up for them: a wait
    // no shorter than kMinReceiveWait can then sleep in the receive call.
    if (idle_->would_block(did_work, after, deadline, paced)) {
      if (quiesce()) {
        did_work = true;
      } else if (deadline != node_deadline_) {
        publish_held_back(after);
        deadline = node_deadline_;
        paced = node_->next_is_paced_send();
      }
    }
    idle_->idle(did_work, deadline, after, paced);
  }
  shut_down();
}

void Runtime::shut_down() {
  // Stopping: every connection is aborted, the CONNECTION_CLOSEs leave, handles see closed.
  const Instant now = MonotonicClock::now();
  for (auto& channel : channels_) {
    if (channel->core != nullptr) channel->core->close(0, "node stopped", now);
  }
  node_->poll(now);
  publish_counters();
  stopped_.store(true, std::memory_order_release);
  for (auto& channel : channels_) {
    {
      const std::lock_guard lock(channel->mutex);
      if (!channel->close_reason) {
        channel->close_reason = transport::CloseReason{0, false, false, "node stopped"};
      }
    }
    channel->status.store(ChannelStatus::closed, std::memory_order_release);
    channel->streams.clear();  // the cached Stream handles refer back to the channel
    channel->core = nullptr;
    notify(*channel);
  }
  // The channels hold the runtime: letting go of them breaks the cycle, and the last
  // handle frees the rest.
  channels_.clear();
  active_.clear();
  std::shared_ptr<ConnectionChannel> unclaimed;
  while (accepted_.try_pop(unclaimed)) unclaimed.reset();
  Command command;
  while (commands_.try_pop(command)) {
    if (command.connection) {
      command.connection->status.store(ChannelStatus::closed, std::memory_order_release);
      notify(*command.connection);
    }
  }
  { const std::lock_guard lock(accept_mutex_); }
  accept_changed_.notify_all();
}

Runtime::Receiver::Receiver(std::unique_ptr<transport::IdleStrategy> strategy)
    : idle(std::move(strategy)),
      memory(kSlots * kSlotBytes),
      free_slots(kSlots),
      filled_slots(kSlots) {
  for (std::uint32_t i = 0; i < kSlots; ++i) [[maybe_unused]] bool pushed = free_slots.try_push(i);
}

// The dedicated mode's receiver thread: reads the socket into free slots and hands the
// filled ones to the I/O thread, which returns them once handled.
void Runtime::receive_loop() {
  if (memory_node_) std::ignore = affinity::prefer_node_for_current_thread(*memory_node_);
  Receiver& r = *receiver_;
  std::vector<std::uint32_t> slots;  // free slots this thread holds
  std::vector<transport::RxDatagram> batch;
  slots.reserve(Receiver::kSlots);
  batch.reserve(Receiver::kBatch);
  while (!stop_requested_.load(std::memory_order_acquire)) {
    r.idle->begin_pass();
    std::uint32_t slot = 0;
    while (slots.size() < Receiver::kBatch && r.free_slots.try_pop(slot)) slots.push_back(slot);
    bool did_work = false;
    if (!slots.empty()) {
      batch.clear();
      for (const std::uint32_t index : slots) {
        batch.emplace_back(std::span(r.memory).subspan(std::size_t{index} * Receiver::kSlotBytes,
                                                       Receiver::kSlotBytes));
      }
      auto received = io_->receive(batch);
      if (received && *received > 0) {
        for (std::size_t i = 0; i < *received; ++i) {
          r.datagrams[slots[i]] = batch[i];
          [[maybe_unused]] const bool pushed = r.filled_slots.try_push(slots[i]);
        }
        slots.erase(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(*received));
        idle_->wake();
        did_work = true;
      }
    } else {
      // Every slot is with the I/O thread: it returns them within a pass.
      std::this_thread::yield();
      continue;
    }
    r.idle->idle(did_work, std::nullopt, MonotonicClock::now());
  }
}

bool Runtime::take_received(Instant now) {
  Receiver& r = *receiver_;
  received_.clear();
  received_slots_.clear();
  std::uint32_t slot = 0;
  while (received_slots_.size() < Receiver::kSlots && r.filled_slots.try_pop(slot)) {
    received_slots_.push_back(slot);
    received_.push_back(r.datagrams[slot]);
  }
  if (received_.empty()) return false;
  node_->receive_datagrams(received_, now);
  for (const std::uint32_t index : received_slots_) {
    [[maybe_unused]] const bool pushed = r.free_slots.try_push(index);
  }
  return true;
}

bool Runtime::pass(Instant now, std::optional<Instant>& deadline) {
  bool did_work = run_commands(now);
  if (faults_) std::ignore = faults_->advance(now);
  if (receiver_) did_work |= take_received(now);
  if (rescan_.exchange(false, std::memory_order_acq_rel)) {
    for (auto& channel : channels_) {
      if (channel->core == nullptr) continue;
      for (auto& [id, handle] : channel->streams)
        activate(*channel, StreamAccess::channel_of(handle));
    }
  }
  // Streams with messages coming are polled on every pass, without doorbells.
  for (std::size_t i = 0; i < active_.size(); ++i) {
    did_work |= pump_outbound(*active_[i].connection, *active_[i].stream);
  }
  const transport::NodeCounters before = node_->counters();
  // A fresh reading, not the pass's: the commands and the copying above can take long (or
  // the thread may lose its core), and an ACK stamped with a time from before it was read
  // gives an RTT sample below the path's. One such sample sets BBR's min RTT for 10 s and
  // pins its window to a fraction of the path's (seen on the WAN lab under load: 1 ms
  // measured on a 40 ms path).
  node_->receive(MonotonicClock::now());
  // Received messages go to the app (or to on_message) before sending, so that answers
  // given in the callbacks leave in the same packets as the ACKs and credit updates.
  for (auto& channel : channels_) {
    if (channel->core != nullptr) did_work |= deliver(*channel);
  }
  // Answers sent from the callbacks rang doorbells: they leave in this pass, not after
  // another trip round the loop (a receive system call on a ping-pong's critical path).
  did_work |= run_commands(now);
  for (std::size_t i = 0; i < active_.size(); ++i) {
    did_work |= pump_outbound(*active_[i].connection, *active_[i].stream);
  }
  deadline = node_->send(now);
  node_deadline_ = deadline;
  const transport::NodeCounters& after = node_->counters();
  did_work |= after.datagrams_received != before.datagrams_received ||
              after.datagrams_sent != before.datagrams_sent;
  bool any_closed = false;
  for (auto& channel : channels_) {
    if (channel->core == nullptr) continue;
    if (channel->close_requested) check_graceful_close(*channel, now);
    publish(*channel, now, false);
    // A snapshot held back by the interval is published at its end, also when the pass
    // after it would come only with the next packet.
    if (channel->stats_stale) {
      const Instant due = channel->stats_published + kStatsInterval;
      deadline = deadline ? std::min(*deadline, due) : due;
    }
    any_closed |= channel->core->state() == ConnectionState::closed;
  }
  if (any_closed) forget_closed();
  if (did_work) publish_counters();
  return did_work;
}

bool Runtime::run_commands(Instant now) {
  bool did_work = false;
  Command command;
  // Bounded, so a flood of commands cannot starve the network.
  for (int i = 0; i < 4096 && commands_.try_pop(command); ++i) {
    handle(command, now);
    did_work = true;
  }
  return did_work;
}

void Runtime::handle(Command& command, Instant now) {
  ConnectionChannel& channel = *command.connection;
  switch (command.kind) {
    case Command::Kind::connect: {
      transport::Connection& core = node_->connect(channel.peer, now);
      channel.core = &core;
      channels_.push_back(command.connection);
      publish(channel, now, true);
      return;
    }
    case Command::Kind::open_stream: {
      if (channel.core == nullptr) return;
      const auto id = channel.core->open_stream();
      if (!id || *id != command.stream->id) {
        // The app side counted against the same limit; a mismatch means the connection
        // left `established` in between. The stream's sends will say closed.
        return;
      }
      channel.streams.emplace(*id, StreamAccess::make(command.stream, command.connection));
      return;
    }
    case Command::Kind::doorbell: {
      if (channel.core == nullptr) return;
      StreamChannel& stream = *command.stream;
      if (!channel.streams.contains(stream.id)) return;
      activate(channel, stream);
      pump_outbound(channel, stream);
      return;
    }
    case Command::Kind::close:
      channel.close_requested = true;
      if (channel.core != nullptr) {
        for (auto& [id, handle] : channel.streams) {
          StreamChannel& stream = StreamAccess::channel_of(handle);
          stream.finish_requested.store(true);
          pump_outbound(channel, stream);
        }
        check_graceful_close(channel, now);
        publish(channel, now, true);
      }
      return;
    case Command::Kind::abort:
      channel.close_requested = true;
      if (channel.core != nullptr) {
        channel.core->close(command.code, "aborted by the application", now);
        publish(channel, now, true);
      }
      return;
    case Command::Kind::set_congestion:
      if (channel.core != nullptr) {
        channel.core->set_congestion(command.congestion, command.code, now);
      }
      return;
  }
}

void Runtime::activate(ConnectionChannel& channel, StreamChannel& stream) {
  stream.doorbell.store(true, std::memory_order_relaxed);
  if (stream.active) return;
  stream.active = true;
  active_.push_back({&channel, &stream});
}

bool Runtime::quiesce() {
  // Streams with nothing queued leave the polled set; their doorbells are cleared, so the
  // next message rings. One fence for all of them pairs with the fence in Stream::send:
  // either the re-check below sees the message, or the app sees the flag cleared and rings.
  bool cleared = false;
  for (const ActiveStream& a : active_) {
    if (a.stream->outbound.peek().empty()) {
      a.stream->doorbell.store(false, std::memory_order_relaxed);
      cleared = true;
    }
  }
  if (!cleared) return false;
  full_fence();
  bool found = false;
  std::erase_if(active_, [&found](const ActiveStream& a) {
    if (a.stream->doorbell.load(std::memory_order_relaxed)) return false;  // rang meanwhile
    if (!a.stream->outbound.peek().empty()) {
      a.stream->doorbell.store(true, std::memory_order_relaxed);
      found = true;
      return false;
    }
    a.stream->active = false;
    return true;
  });
  return found;
}

void Runtime::offer_room(ConnectionChannel& channel, StreamChannel& stream) {
  // Pairs with the fence in Stream::claim_room(): a request made before this point is seen
  // here, or the sender's second look found the room. Half the ring, not any room: a
  // sender woken for every freed message would cost a wake-up per message.
  full_fence();
  if (stream.wants_room.load(std::memory_order_relaxed) &&
      stream.outbound.used_bytes() <= stream.outbound.capacity() / 2 &&
      stream.wants_room.exchange(false)) {
    notify(channel);
  }
}

bool Runtime::pump_outbound(ConnectionChannel& channel, StreamChannel& stream) {
  transport::Connection& core = *channel.core;
  bool moved = false;
  for (;;) {
    const auto record = stream.outbound.peek();
    if (record.empty()) break;
    transport::AppendStatus status;
    if (stream.outbound.peek_tag() == kBlockRecord) {
      std::uint64_t key = 0;
      std::memcpy(&key, record.data(), sizeof key);
      status = core.send_block(stream.id, key, record.subspan(kOutboundBlockHeader));
    } else {
      status = core.send_message(stream.id, record);
    }
    // Back-pressured: the stream stays active and is tried again on every pass.
    if (status == transport::AppendStatus::back_pressured) {
      activate(channel, stream);
      if (moved) offer_room(channel, stream);
      return moved;
    }
    // accepted, or an error the app side already ruled out (then the connection is gone
    // and the message with it).
    stream.outbound.release();
    moved = true;
  }
  if (moved) offer_room(channel, stream);
  if (!stream.finish_passed && stream.finish_requested.load(std::memory_order_acquire) &&
      stream.outbound.peek().empty()) {
    core.finish_stream(stream.id);
    stream.finish_passed = true;
    moved = true;
  }
  return moved;
}

bool Runtime::deliver(ConnectionChannel& channel) {
  const std::uint64_t frames = channel.core->stream_frames_received();
  if (frames == channel.frames_seen && !channel.messages_left) return false;
  channel.frames_seen = frames;
  bool delivered = false;  // handed over, to on_message or to a ring
  bool visible = false;    // something a thread in Connection::wait() can now see
  for (const std::uint64_t id : channel.core->readable_streams()) {
    auto found = channel.streams.find(id);
    if (found == channel.streams.end()) {
      if (!is_peer_stream(channel, id)) continue;
      found = add_peer_stream(channel, id);
      if (found == channel.streams.end()) continue;
    }
    const Delivery delivery = deliver_stream(channel, found->second);
    delivered |= delivery != Delivery::none;
    visible |= delivery == Delivery::to_ring;
  }
  // A FIN that arrives after the last message makes no stream readable: look for it. On
  // the streams we opened too: streams are bidirectional, and a peer that answers on ours
  // (dwcp-recv in a reverse run) ends its side with a FIN as well.
  for (auto& [id, handle] : channel.streams) {
    StreamChannel& stream = StreamAccess::channel_of(handle);
    if (!stream.peer_finished.load(std::memory_order_relaxed) &&
        channel.core->stream_finished(id)) {
      stream.peer_finished.store(true, std::memory_order_release);
      delivered = visible = true;
    }
  }
  channel.messages_left = !channel.core->readable_streams().empty();
  // Messages taken by on_message wake no one: a waiter would find nothing new to read, and
  // a futex wake per message costs the I/O thread microseconds.
  if (visible) notify(channel);
  return delivered;
}

Runtime::Delivery Runtime::deliver_stream(ConnectionChannel& channel, Stream& handle) {
  transport::Connection& core = *channel.core;
  StreamChannel& stream = StreamAccess::channel_of(handle);
  Delivery delivered = Delivery::none;
  while (auto item = core.next_inbound(stream.id)) {
    if (item->is_block) {
      if (options_.on_block) {
        scratch_.resize(item->size);
        core.read_inbound(stream.id, *item, scratch_);
        options_.on_block(handle, BlockView{item->key, item->version, scratch_});
        delivered = Delivery::to_callback;
        continue;
      }
      auto room = claim_inbound(stream, kInboundBlockHeader + item->size);
      if (room.empty()) break;
      std::memcpy(room.data(), &item->key, sizeof item->key);
      std::memcpy(room.data() + sizeof item->key, &item->version, sizeof item->version);
      core.read_inbound(stream.id, *item, room.subspan(kInboundBlockHeader));
      stream.inbound.commit_tagged(0, kBlockRecord);
      delivered = Delivery::to_ring;
    } else if (options_.on_message) {
      scratch_.resize(item->size);
      core.read_inbound(stream.id, *item, scratch_);
      options_.on_message(handle, std::span<const std::byte>(scratch_));
      delivered = Delivery::to_callback;
    } else {
      auto room = claim_inbound(stream, item->size);
      if (room.empty()) break;
      core.read_inbound(stream.id, *item, room);
      stream.inbound.commit();
      delivered = Delivery::to_ring;
    }
  }
  return delivered;
}

std::span<std::byte> Runtime::claim_inbound(StreamChannel& stream, std::size_t size) {
  auto room = stream.inbound.try_claim(size);
  if (!room.empty()) return room;
  stream.delivery_paused.store(true, std::memory_order_relaxed);
  full_fence();
  // The app may have emptied the ring between the claim and the flag.
  room = stream.inbound.try_claim(size);
  if (!room.empty()) stream.delivery_paused.store(false, std::memory_order_relaxed);
  return room;
}

std::map<std::uint64_t, dwcp::Stream>::iterator Runtime::add_peer_stream(ConnectionChannel& channel,
                                                                         std::uint64_t id) {
  auto stream = std::make_shared<StreamChannel>(id, options_.stream_send_queue, inbound_capacity());
  if (!channel.incoming.try_push(stream)) return channel.streams.end();
  return channel.streams.emplace(id, StreamAccess::make(stream, channel.shared_from_this())).first;
}

std::size_t Runtime::inbound_capacity() const noexcept {
  // A whole message of up to one stream window must fit, with room for the next one.
  const std::size_t window = options_.connection.params.initial_max_stream_data;
  return std::max(options_.stream_receive_queue, 2 * window + 64);
}

void Runtime::check_graceful_close(ConnectionChannel& channel, Instant now) {
  transport::Connection& core = *channel.core;
  if (core.state() != ConnectionState::established) return;
  for (auto& [id, handle] : channel.streams) {
    StreamChannel& stream = StreamAccess::channel_of(handle);
    if (!stream.outbound.peek().empty() || !core.stream_all_acked(id)) return;
  }
  core.close(0, "closed by the application", now);
}

void Runtime::publish(ConnectionChannel& channel, Instant now, bool force) const {
  transport::Connection& core = *channel.core;
  const ChannelStatus status = status_of(core, channel.close_requested);
  const bool status_changed = status != channel.status.load(std::memory_order_relaxed);
  if (!force && !status_changed && now - channel.stats_published < kStatsInterval) {
    channel.stats_stale = true;
    return;
  }
  channel.stats_published = now;
  channel.stats_stale = false;
  if (status == ChannelStatus::established && channel.stream_limit.load() == 0) {
    const auto& peer = core.peer_params();
    channel.max_message.store(std::min<std::uint64_t>(peer.initial_max_stream_data,
                                                      options_.connection.stream_send_capacity));
    channel.stream_limit.store(peer.initial_max_streams);
  }
  {
    const std::lock_guard lock(channel.mutex);
    channel.stats = core.stats();
    if (core.close_reason()) channel.close_reason = core.close_reason();
  }
  channel.status.store(status, std::memory_order_release);
  if (status_changed) notify(channel);
}

void Runtime::publish_held_back(Instant now) const {
  for (const auto& channel : channels_) {
    if (channel->core != nullptr && channel->stats_stale) publish(*channel, now, true);
  }
}

void Runtime::forget_closed() {
  // A closed connection stays until its received messages are all handed over.
  bool all_drained = true;
  for (auto& channel : channels_) {
    if (channel->core == nullptr || channel->core->state() != ConnectionState::closed) continue;
    if (!channel->core->readable_streams().empty()) {
      all_drained = false;
      continue;
    }
  }
  if (!all_drained) return;
  for (auto& channel : channels_) {
    if (channel->core == nullptr || channel->core->state() != ConnectionState::closed) continue;
    for (auto& [id, handle] : channel->streams) {
      // The peer will send nothing more: a reader waiting for the end must not wait forever.
      StreamAccess::channel_of(handle).peer_finished.store(true, std::memory_order_release);
    }
    channel->streams.clear();
    channel->core = nullptr;
    notify(*channel);
  }
  std::erase_if(active_, [](const ActiveStream& a) { return a.connection->core == nullptr; });
  std::erase_if(channels_, [](const auto& channel) { return channel->core == nullptr; });
  node_->forget_closed();
}

std::shared_ptr<ConnectionChannel> Runtime::adopt(transport::Connection& core,
                                                  const transport::SocketAddress& peer) {
  auto channel = std::make_shared<ConnectionChannel>(shared_from_this(), peer, false);
  channel->core = &core;
  channels_.push_back(channel);
  return channel;
}

}  // namespace dwcp::detail
