// The machinery behind the public handles (node.h, connection.h, stream.h): the channels
// app threads and the I/O thread share, and the I/O thread's loop.
//
// App threads never touch a transport::Connection. They write messages into a stream's
// outbound byte ring and read them from its inbound ring (lockfree/spsc_byte_ring.h), and
// pass everything else (connect, open, finish, close) as commands through one MPMC ring.
// The I/O thread drains the commands, moves outbound messages into the connections, runs
// the transport::Node, moves whole received messages into the inbound rings, and publishes
// each connection's state and statistics.
//
// Memory per stream: the outbound ring (NodeOptions::stream_send_queue) plus the
// connection's send buffer on the way out; the inbound ring (stream_receive_queue) plus
// the stream window on the way in. A full inbound ring leaves messages in the connection,
// whose credit then runs out: a slow reader stalls its sender and nothing grows.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "affinity/cpu_set.h"
#include "lockfree/mpmc_ring.h"
#include "lockfree/spsc_byte_ring.h"
#include "lockfree/spsc_ring.h"
#include "transport/api/connection.h"
#include "transport/api/options.h"
#include "transport/api/stream.h"
#include "transport/connection.h"
#include "transport/idle_strategy.h"
#include "transport/io_select.h"
#include "transport/node.h"

namespace dwcp::detail {

using transport::Instant;

// What a record in a stream's rings is (SpscByteRing tags). A block goes out as its key
// (8 bytes, host order) and its bytes, and comes in as its key and version (8 bytes each)
// and its bytes.
inline constexpr std::uint32_t kMessageRecord = 0;
inline constexpr std::uint32_t kBlockRecord = 1;
inline constexpr std::size_t kOutboundBlockHeader = 8;
inline constexpr std::size_t kInboundBlockHeader = 16;

class Runtime;
struct ConnectionChannel;

// One stream as both sides see it.
struct StreamChannel {
  StreamChannel(std::uint64_t stream_id, std::size_t send_queue, std::size_t receive_queue)
      : id(stream_id), outbound(send_queue), inbound(receive_queue) {}

  const std::uint64_t id;
  lockfree::SpscByteRing outbound;  // app → I/O thread: messages and blocks to send
  lockfree::SpscByteRing inbound;   // I/O thread → app: whole received messages and blocks
  // Set while the I/O thread polls the stream's outbound ring on every pass; the app sends
  // a doorbell command when it queues a message and finds it clear. The I/O thread clears
  // it only before it sleeps, for streams with nothing queued (Runtime::quiesce()).
  std::atomic<bool> doorbell{false};
  std::atomic<bool> finish_requested{false};  // the app called finish(): no more send()
  // The I/O thread found the inbound ring full; the app's next release() asks it to go on.
  std::atomic<bool> delivery_paused{false};
  // The peer's FIN arrived (or the connection ended) and every message is in `inbound`.
  std::atomic<bool> peer_finished{false};
  // send() or claim() found `outbound` full: the I/O thread notifies the connection's
  // waiters once half of it is free again, so a sender waits instead of polling.
  std::atomic<bool> wants_room{false};

  // I/O thread only.
  bool finish_passed = false;  // finish_stream() given to the connection
  bool active = false;         // in Runtime::active_: polled on every pass
};

enum class ChannelStatus : std::uint8_t { connecting, established, closing, closed };

// One connection as both sides see it.
struct ConnectionChannel : std::enable_shared_from_this<ConnectionChannel> {
  ConnectionChannel(std::shared_ptr<Runtime> owner, transport::SocketAddress remote, bool client)
      : runtime(std::move(owner)), peer(remote), is_client(client) {}

  const std::shared_ptr<Runtime> runtime;
  const transport::SocketAddress peer;
  const bool is_client;

  std::atomic<ChannelStatus> status{ChannelStatus::connecting};
  // The app called close() or abort(): sends are refused from that moment on.
  std::atomic<bool> close_called{false};
  // Streams this side may open: the peer's limit, set once established.
  std::atomic<std::uint64_t> stream_limit{0};
  std::atomic<std::uint64_t> max_message{0};  // largest message the peer's window takes
  std::mutex open_mutex;                      // orders open_stream() across app threads
  std::uint64_t streams_opened = 0;           // under open_mutex
  // Streams the peer opened, waiting for accept_stream().
  lockfree::MpmcRing<std::shared_ptr<StreamChannel>> incoming{1024};

  // Events wake wait() callers: the I/O thread bumps `events`, then signals `changed` if
  // anyone waits. Stats and the close reason are published under `mutex`.
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint32_t> waiters{0};
  mutable std::mutex mutex;
  std::condition_variable changed;
  transport::ConnectionStats stats;
  std::optional<transport::CloseReason> close_reason;

  // I/O thread only. The Stream handles here refer back to this channel; the runtime
  // clears the map when the connection ends, which breaks the cycle.
  transport::Connection* core = nullptr;
  std::map<std::uint64_t, Stream> streams;
  bool close_requested = false;  // no new messages; close once everything is delivered
  Instant stats_published{};
  bool stats_stale = false;  // a pass changed what `stats` would say; published at the interval
  // What deliver() last saw: the core's stream_frames_received(), and whether a message
  // was left behind (a full inbound ring). Passes that change neither skip the streams.
  std::uint64_t frames_seen = ~std::uint64_t{0};
  bool messages_left = false;
};

struct Command {
  enum class Kind : std::uint8_t { connect, open_stream, doorbell, close, abort, set_congestion };
  Kind kind = Kind::doorbell;
  std::shared_ptr<ConnectionChannel> connection;
  std::shared_ptr<StreamChannel> stream;
  std::uint64_t code = 0;  // abort: the error code; set_congestion: the fixed rate
  transport::CongestionAlgorithm congestion = transport::CongestionAlgorithm::bbr;
};

class Runtime : public std::enable_shared_from_this<Runtime> {
 public:
  // Opens the socket and starts the threads. Errors: a message naming what failed.
  static std::expected<std::shared_ptr<Runtime>, std::string> start(NodeOptions options);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  // Any thread. False when the queue is full or the node stopped.
  bool submit(Command command);
  // Any thread: the I/O thread should run a pass now.
  void wake() noexcept { idle_->wake(); }
  // Any thread: a doorbell could not be queued; the I/O thread drains every stream.
  void request_rescan() noexcept {
    rescan_.store(true, std::memory_order_release);
    idle_->wake();
  }
  // Aborts every connection and joins the threads. Idempotent; not from the I/O thread.
  void stop();

  [[nodiscard]] const NodeOptions& options() const noexcept { return options_; }
  [[nodiscard]] bool stopped() const noexcept { return stopped_.load(std::memory_order_acquire); }
  [[nodiscard]] transport::SocketAddress local_address() const;
  [[nodiscard]] const std::string& backend_description() const noexcept { return backend_; }
  [[nodiscard]] transport::NodeCounters counters() const;
  // Capacity of a stream's inbound ring: a whole message of up to one stream window fits.
  [[nodiscard]] std::size_t inbound_capacity() const noexcept;

  // Incoming connections for Node::accept().
  std::shared_ptr<ConnectionChannel> try_accept();
  // Waits until a connection may have arrived, or the timeout.
  void wait_accept(std::chrono::milliseconds timeout);

  // Tells `channel`'s waiters that something happened.
  static void notify(ConnectionChannel& channel);
  // The low bit of a stream id is 0 for the client's streams, 1 for the server's.
  static bool is_peer_stream(const ConnectionChannel& channel, std::uint64_t id) noexcept {
    return ((id & 1U) == 0) != channel.is_client;
  }

 private:
  struct ActiveStream {
    ConnectionChannel* connection;
    StreamChannel* stream;
  };

  // The dedicated mode's receiver: slots of receive memory that circulate between it and
  // the I/O thread through two SPSC rings.
  struct Receiver {
    static constexpr std::uint32_t kSlots = 256;
    static constexpr std::uint32_t kBatch = 32;
    static constexpr std::size_t kSlotBytes = 65536;  // one GRO buffer
    explicit Receiver(std::unique_ptr<transport::IdleStrategy> strategy);
    std::unique_ptr<transport::IdleStrategy> idle;  // waits on the socket
    std::vector<std::byte> memory;
    std::array<transport::RxDatagram, kSlots> datagrams;  // what each filled slot holds
    lockfree::SpscRing<std::uint32_t> free_slots;         // I/O thread → receiver
    lockfree::SpscRing<std::uint32_t> filled_slots;       // receiver → I/O thread
  };

  explicit Runtime(NodeOptions options);
  void run();
  void receive_loop();
  bool take_received(Instant now);
  void shut_down();
  bool pass(Instant now, std::optional<Instant>& deadline);
  bool run_commands(Instant now);
  void handle(Command& command, Instant now);
  bool pump_outbound(ConnectionChannel& channel, StreamChannel& stream);
  // After messages left `stream`'s outbound ring: notifies a sender waiting for room.
  static void offer_room(ConnectionChannel& channel, StreamChannel& stream);
  void activate(ConnectionChannel& channel, StreamChannel& stream);
  bool quiesce();
  // Hands received messages over; true if there were any.
  bool deliver(ConnectionChannel& channel);
  // Where a stream's messages went: the last one decides, as on_message is all or none.
  enum class Delivery { none, to_callback, to_ring };
  Delivery deliver_stream(ConnectionChannel& channel, Stream& handle);
  // Room in `stream`'s inbound ring for a record of `size` bytes, or empty (the ring is
  // full: delivery pauses until the app releases a record).
  static std::span<std::byte> claim_inbound(StreamChannel& stream, std::size_t size);
  std::map<std::uint64_t, Stream>::iterator add_peer_stream(ConnectionChannel& channel,
                                                            std::uint64_t id);
  void check_graceful_close(ConnectionChannel& channel, Instant now);
  void publish(ConnectionChannel& channel, Instant now, bool force) const;
  // Publishes the snapshots the interval held back (the thread is about to sleep).
  void publish_held_back(Instant now) const;
  void forget_closed();
  void publish_counters();
  std::shared_ptr<ConnectionChannel> adopt(transport::Connection& core,
                                           const transport::SocketAddress& peer);

  NodeOptions options_;
  std::string backend_;
  std::optional<int> memory_node_;  // the NUMA node the I/O threads allocate from
  std::unique_ptr<transport::IoBackend> io_;
  std::unique_ptr<transport::FaultBackend> faults_;  // over io_, when options_.faults asks
  std::unique_ptr<transport::Node> node_;
  std::unique_ptr<transport::IdleStrategy> idle_;
  std::optional<Instant> node_deadline_;  // what the node's send() returned last pass
  lockfree::MpmcRing<Command> commands_;
  lockfree::MpmcRing<std::shared_ptr<ConnectionChannel>> accepted_{1024};
  std::thread thread_;
  std::unique_ptr<Receiver> receiver_;  // dedicated mode only
  std::thread receiver_thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> rescan_{false};
  std::mutex stop_mutex_;

  mutable std::mutex counters_mutex_;  // the node's counters, as last published
  transport::NodeCounters counters_;
  std::mutex accept_mutex_;
  std::condition_variable accept_changed_;
  std::uint64_t accept_events_ = 0;  // under accept_mutex_

  // I/O thread only.
  std::vector<std::shared_ptr<ConnectionChannel>> channels_;
  std::vector<ActiveStream> active_;             // streams whose outbound rings are polled
  std::vector<std::byte> scratch_;               // on_message delivery
  std::vector<transport::RxDatagram> received_;  // dedicated mode: a batch from the receiver
  std::vector<std::uint32_t> received_slots_;
  transport::NodeCounters counters_seen_;
};

}  // namespace dwcp::detail

namespace dwcp {

// Builds and opens up the public handles for the runtime.
struct StreamAccess {
  static Stream make(std::shared_ptr<detail::StreamChannel> stream,
                     std::shared_ptr<detail::ConnectionChannel> connection) {
    return Stream(std::move(stream), std::move(connection));
  }
  static detail::StreamChannel& channel_of(Stream& stream) noexcept { return *stream.channel_; }
};

struct ConnectionAccess {
  static Connection make(std::shared_ptr<detail::ConnectionChannel> channel) {
    return Connection(std::move(channel));
  }
};

}  // namespace dwcp
