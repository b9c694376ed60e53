// One dwcp connection, without sockets or clocks (the style of ngtcp2's conn): the node
// feeds it verified packets and the time, asks it for datagrams to send, and wakes it at
// next_timer(). It runs the handshake's hello exchange, loss recovery (LossDetector), ACK
// scheduling (AckScheduler), congestion control and pacing, flow control, and the streams.
//
// The stateless cookie (Retry) is the node's: a server Connection is created only after
// the node has validated the client's address, from the CLIENT_HELLO packet.
//
// Thread safety: none; one I/O thread drives a connection. Streams are reached through
// the connection.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "proto/packet.h"
#include "proto/transport_params.h"
#include "transport/ack_scheduler.h"
#include "transport/block_cache.h"
#include "transport/clock.h"
#include "transport/congestion_controller.h"
#include "transport/loss_detector.h"
#include "transport/pacer.h"
#include "transport/stream_state.h"

namespace dwcp::transport {

struct ConnectionConfig {
  proto::TransportParameters params;  // what we offer the peer
  CongestionAlgorithm congestion = CongestionAlgorithm::bbr;
  Bandwidth fixed_rate = 0;                                 // for CongestionAlgorithm::fixed
  std::size_t stream_send_capacity = std::size_t{1} << 20;  // bytes buffered per stream
  Duration initial_rtt = std::chrono::milliseconds(100);
  Duration handshake_timeout = std::chrono::seconds(10);
  // A versioned block goes as an XOR delta only when the delta is at most block size ×
  // (1 − delta_margin) bytes; whole otherwise. The caches are params.delta_cache_keys /
  // delta_cache_bytes (ours, as receiver) and the peer's (as sender).
  double delta_margin = 0.25;
};

enum class ConnectionState : std::uint8_t {
  handshaking,  // hellos not yet exchanged
  established,
  closing,   // we sent CONNECTION_CLOSE
  draining,  // the peer sent CONNECTION_CLOSE
  closed,
};
std::string_view to_string(ConnectionState state) noexcept;

// Why a connection ended.
struct CloseReason {
  std::uint64_t error_code = 0;  // proto::TransportError, or an application code
  bool by_peer = false;
  bool idle_timeout = false;
  std::string reason;
};

struct ConnectionStats {
  Duration smoothed_rtt{};
  Duration min_rtt{};
  Duration rtt_variation{};
  std::uint64_t congestion_window = 0;
  Bandwidth pacing_rate = 0;
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bytes_sent = 0;  // UDP payload
  std::uint64_t bytes_received = 0;
  std::uint64_t stream_bytes_sent = 0;  // first transmissions
  std::uint64_t stream_bytes_retransmitted = 0;
  std::uint64_t packets_lost = 0;
  std::uint64_t spurious_losses = 0;
  std::uint64_t duplicate_packets = 0;
  std::uint64_t probe_timeouts = 0;
  std::uint64_t flow_control_stalls = 0;     // times a stream or the connection ran out of credit
  std::uint64_t amplification_limited = 0;   // sends held back: the peer's address is unvalidated
  std::uint64_t pmtu_probes_sent = 0;        // path MTU probes (docs/protocol.md §7.5)
  std::uint64_t pmtu_probes_lost = 0;        // not in packets_lost: no congestion signal
  std::uint64_t receive_buffered_bytes = 0;  // received, not yet read: bounded by the credit
  std::uint64_t send_buffered_bytes = 0;     // accepted, not yet acknowledged
  // Versioned blocks (docs/protocol.md §5.9–5.11), summed over the streams. Sending:
  std::uint64_t blocks_sent_whole = 0;  // resends included
  std::uint64_t blocks_sent_delta = 0;
  std::uint64_t block_bytes_saved = 0;  // block bytes minus record bytes, over the deltas
  std::uint64_t block_resends = 0;      // whole blocks sent to answer BLOCK_REQUESTs
  // Receiving:
  std::uint64_t blocks_received = 0;          // rebuilt, checked and handed over
  std::uint64_t block_crc_failures = 0;       // a rebuilt block failed its CRC32C: not handed over
  std::uint64_t block_poisoned_drops = 0;     // deltas against a block that failed: not handed over
  std::uint64_t block_resends_requested = 0;  // keys asked for whole (BLOCK_REQUEST)
  // Both caches of every stream (ours and the mirror of the peer's):
  std::uint64_t block_cache_evictions = 0;
};

// What a stream holds next for the reader (Connection::next_inbound()).
struct InboundItem {
  std::size_t size = 0;  // bytes read_message() gives
  bool is_block = false;
  std::uint64_t key = 0;      // versioned blocks only
  std::uint64_t version = 0;  // versioned blocks only
};

class Connection {
 public:
  // A client: sends CLIENT_HELLO to `initial_remote` (a random DCID of its choice).
  static std::unique_ptr<Connection> connect(const ConnectionConfig& config,
                                             const proto::ConnectionId& local,
                                             const proto::ConnectionId& initial_remote,
                                             Instant now);
  // A server, from a client's Initial packet carrying a CLIENT_HELLO. `address_validated`:
  // the node checked the client's address with a Retry cookie. Until the address is
  // validated (by that, or by a packet from the client to the ID this side chose), the
  // server sends at most three times the bytes it received from it (RFC 9000 §8), so a
  // spoofed source cannot use it to amplify traffic. Errors: the packet is no such
  // Initial, or its parameters are invalid.
  static proto::Result<std::unique_ptr<Connection>> accept(const ConnectionConfig& config,
                                                           const proto::ConnectionId& local,
                                                           const proto::ParsedPacket& initial,
                                                           std::size_t datagram_size, Instant now,
                                                           bool address_validated = false);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // The largest UDP payload the local route to the peer carries (the node asks the kernel:
  // transport/route_mtu.h). Once established, the connection probes with PMTU_PROBE
  // packets up to the smallest of this and both sides' max_datagram_size, and sends
  // datagrams of the largest size acknowledged (docs/protocol.md §7.5). Until it is
  // called, the connection keeps to proto::kBaseDatagramSize. Called again (the peer's
  // address changed), it starts over from that size.
  void set_path_limit(std::size_t bytes);

  // A packet for this connection whose trailer verified. A frame that breaks the protocol
  // closes the connection (see close_reason()).
  void receive(const proto::ParsedPacket& packet, std::size_t datagram_size, Instant now);
  // The node finished a receive batch: ACKs due now go out with the next send().
  void on_batch_end(Instant now);
  // Writes the next datagram into `out` (at least max_datagram_size() bytes; a path MTU
  // probe goes only into room for it); its size, or 0 when nothing may or need be sent now
  // (see next_timer()).
  std::size_t send(std::span<std::byte> out, Instant now);
  // When the connection wants on_timer() (or send(), for pacing); nullopt if never.
  [[nodiscard]] std::optional<Instant> next_timer() const noexcept;
  // When the pacer lets out data that waits for nothing else (the window has room);
  // nullopt if no data waits for the pacer alone. One of the times next_timer() considers.
  [[nodiscard]] std::optional<Instant> pacer_hold() const noexcept;
  void on_timer(Instant now);

  // Streams. open_stream() fails (nullopt) once the peer's stream limit is reached or the
  // connection is not established.
  std::optional<std::uint64_t> open_stream();
  // Queues one whole message; see AppendStatus (back_pressured is the would-block value).
  // too_large/empty/finished for bad input; `finished` too for an unknown stream;
  // too_large also for a message larger than the peer's stream or connection window.
  AppendStatus send_message(std::uint64_t stream_id, std::span<const std::byte> message);
  // Queues `block` as the next version of `key` on the stream (versions count from 1 per
  // key and stream): as an XOR delta against the version the peer's cache holds when that
  // is small enough (ConnectionConfig::delta_margin), whole otherwise; either way one
  // record of stream space, so one message's worth of credit. Statuses as send_message();
  // back_pressured also while the send buffer has less room than the whole block (so a
  // block never waits on how well it happens to compress).
  AppendStatus send_block(std::uint64_t stream_id, std::uint64_t key,
                          std::span<const std::byte> block);
  // No more messages on the stream.
  void finish_stream(std::uint64_t stream_id);
  // What read_message() gives next on the stream: a whole message, or a versioned block
  // rebuilt and checked; nullopt when nothing whole waits. Reading in stream order is when
  // a block record is processed: the block is rebuilt (the record's bytes are consumed and
  // their credit returned), its CRC32C checked and the cache updated. A block that fails
  // is not handed over (it is counted and asked for whole) and the item after it is
  // looked at. A record that breaks the protocol closes the connection.
  std::optional<InboundItem> next_inbound(std::uint64_t stream_id);
  // The next whole item of the stream (next_inbound()) into `out`: its size, or nullopt
  // (none, or `out` too small).
  std::optional<std::size_t> read_message(std::uint64_t stream_id, std::span<std::byte> out);
  // read_message() of `item`, which next_inbound() has just returned for the stream (with
  // nothing read since): the item is not looked for again.
  std::optional<std::size_t> read_inbound(std::uint64_t stream_id, const InboundItem& item,
                                          std::span<std::byte> out);
  // The size of the next whole message or of a rebuilt block waiting; nullopt also while a
  // block record waits to be rebuilt (next_inbound() does that).
  [[nodiscard]] std::optional<std::size_t> next_message_size(std::uint64_t stream_id) const;
  // Streams with a whole message or block record waiting, in id order.
  [[nodiscard]] std::vector<std::uint64_t> readable_streams() const;
  // Counts STREAM frames taken: while it stands still, no stream became readable or
  // finished, so a caller polling for messages can skip looking.
  [[nodiscard]] std::uint64_t stream_frames_received() const noexcept {
    return stream_frames_received_;
  }
  // The peer's FIN reached and everything before it was read.
  [[nodiscard]] bool stream_finished(std::uint64_t stream_id) const;
  // Everything sent on the stream (and its FIN) was acknowledged.
  [[nodiscard]] bool stream_all_acked(std::uint64_t stream_id) const;

  // Closes with CONNECTION_CLOSE(error_code, reason): immediate; unsent data is dropped.
  void close(std::uint64_t error_code, std::string_view reason, Instant now);
  // Replaces the congestion controller with a fresh one of `algorithm` (`fixed_rate` for
  // fixed). Meant for the start of a transfer a peer described only once connected: the
  // new controller knows nothing of the packets already in flight.
  void set_congestion(CongestionAlgorithm algorithm, Bandwidth fixed_rate, Instant now);

  [[nodiscard]] ConnectionState state() const noexcept { return state_; }
  [[nodiscard]] bool is_client() const noexcept { return is_client_; }
  [[nodiscard]] const std::optional<CloseReason>& close_reason() const noexcept {
    return close_reason_;
  }
  [[nodiscard]] ConnectionStats stats() const noexcept;
  [[nodiscard]] const proto::ConnectionId& local_id() const noexcept { return local_id_; }
  [[nodiscard]] const proto::ConnectionId& remote_id() const noexcept { return remote_id_; }
  // The size of a full datagram now: what path MTU discovery proved so far.
  [[nodiscard]] std::size_t max_datagram_size() const noexcept { return max_datagram_size_; }
  [[nodiscard]] bool address_validated() const noexcept { return address_validated_; }
  // Packets taken as new (duplicates and undecodable ones excluded): stats().packets_received.
  [[nodiscard]] std::uint64_t packets_received() const noexcept { return stats_.packets_received; }
  [[nodiscard]] const proto::TransportParameters& peer_params() const noexcept {
    return peer_params_;
  }

  // Tests: a stream's block caches, the mirror of the peer's (blocks we send) and ours
  // (blocks we receive); nullptr while the stream carried no blocks that way.
  [[nodiscard]] const BlockCache* sent_block_cache(std::uint64_t stream_id) const;
  [[nodiscard]] const BlockCache* received_block_cache(std::uint64_t stream_id) const;
  // Tests: flips a byte of our cached copy of `key` on the stream, so that the next delta
  // against it fails its CRC. False when there is no such copy.
  bool corrupt_received_block_for_testing(std::uint64_t stream_id, std::uint64_t key);

 private:
  class Recovery;  // the PacketVisitor that routes acks and losses back to streams

  Connection(const ConnectionConfig& config, bool is_client, const proto::ConnectionId& local,
             const proto::ConnectionId& remote, Instant now);

  void set_peer_params(const proto::TransportParameters& params);
  void on_retry(const proto::ParsedPacket& packet);
  void process_frame(const proto::Frame& frame, proto::PacketType type, Instant now);
  void on_ack_frame(const proto::AckFrame& ack, Instant now);
  void report_losses(const RecoveryOutcome& outcome, Instant now);
  void on_stream_frame(const proto::StreamFrame& frame, Instant now);
  void on_delta_block_frame(const proto::DeltaBlockFrame& frame, Instant now);
  void on_block_request(const proto::BlockRequestFrame& frame);
  StreamState* stream_for_data_frame(std::uint64_t stream_id, Instant now);
  void receive_stream_data(StreamState& stream, std::uint64_t offset,
                           std::span<const std::byte> data, bool fin, bool message_end,
                           Instant now);
  std::size_t consume_message(StreamState& stream, std::span<std::byte> out);
  void send_block_resends(StreamState& stream);
  void add_block_requests(proto::PacketBuilder& packet, SentPacket& sent);
  StreamState* stream_for_peer_frame(std::uint64_t stream_id);
  StreamState* find_stream(std::uint64_t stream_id);
  std::deque<std::pair<std::uint64_t, std::uint64_t>>::iterator find_ack_sent_in(
      std::uint64_t packet_number);
  const StreamState* find_stream(std::uint64_t stream_id) const;
  void fail(proto::TransportError error, std::string_view reason, Instant now);

  void update_datagram_limits();
  // Makes `size` the datagram size; the controller and the pacer follow.
  void set_datagram_size(std::size_t size, Instant now);
  // Bytes in flight that count against the window: all but a path MTU probe's.
  [[nodiscard]] std::uint64_t window_bytes_in_flight() const noexcept;
  [[nodiscard]] bool pmtu_probe_due() const noexcept;
  std::size_t send_pmtu_probe(std::span<std::byte> out, Instant now);
  void on_pmtu_probe_acked(std::size_t size, Instant now);
  void on_pmtu_probe_lost(std::size_t size);
  std::size_t send_handshake(std::span<std::byte> out, Instant now);
  std::size_t send_close(std::span<std::byte> out, Instant now);
  std::size_t send_data(std::span<std::byte> out, Instant now);
  // What a new paced batch waits for: a pacing quantum, or less when the window or the
  // data waiting allow less; at least one datagram. Batches cut to the quantum are what
  // let a paced sender make one system call per quantum, not one per datagram.
  [[nodiscard]] std::uint64_t paced_batch_bytes() const noexcept;
  std::size_t send_packet(std::span<std::byte> out, Instant now);
  void add_stream_frames(proto::PacketBuilder& packet, SentPacket& sent,
                         std::uint64_t& stream_bytes);
  void record_sent(const SentPacket& packet, Instant now);
  [[nodiscard]] Duration idle_timeout() const noexcept;

  ConnectionConfig config_;
  bool is_client_;
  ConnectionState state_ = ConnectionState::handshaking;
  std::optional<CloseReason> close_reason_;
  proto::ConnectionId local_id_;
  proto::ConnectionId remote_id_;
  proto::TransportParameters peer_params_;
  std::size_t max_datagram_size_;
  // Path MTU discovery: a search between max_datagram_size_ (acknowledged) and the
  // smallest size whose probes were all lost, below the limit set_path_limit() gave.
  std::size_t path_limit_ = proto::kBaseDatagramSize;
  std::size_t probe_size_ = 0;             // the next probe's size; 0: the search is over
  std::size_t probe_failed_ = 0;           // smallest size lost kMaxPmtuProbeLosses times; 0: none
  std::uint32_t probe_losses_ = 0;         // of probe_size_, in a row
  std::size_t probe_bytes_in_flight_ = 0;  // the probe sent and not yet acked or lost; 0: none

  LossDetector loss_;
  AckScheduler acks_;
  std::unique_ptr<CongestionController> congestion_;
  Pacer pacer_;
  // When the last in-flight packet left: a pass that already sent (the same `now`) goes on
  // while the bucket holds a datagram; a new one waits for paced_batch_bytes().
  Instant last_paced_send_;
  SendCredit connection_send_credit_;
  ReceiveCredit connection_receive_credit_;
  std::uint64_t connection_bytes_sent_ = 0;  // highest offsets sent, summed over streams
  // Connection credit promised to messages already started. The peer delivers whole
  // messages only, so a message starts only when the credit left covers it and every
  // other started message: partial messages can then never use up the window between them
  // and stall for good.
  std::uint64_t reserved_credit_ = 0;
  std::uint64_t connection_bytes_received_ = 0;
  std::uint64_t stream_frames_received_ = 0;
  bool max_data_due_ = false;
  std::vector<std::byte> record_scratch_;  // a block record read out of its stream

  std::map<std::uint64_t, StreamState> streams_;
  std::uint64_t next_local_stream_ = 0;  // count of streams we opened
  std::uint64_t round_robin_ = 0;        // the stream to serve first in the next packet

  std::uint64_t next_packet_number_ = 0;
  std::optional<std::uint64_t> largest_received_;
  bool hello_due_ = true;  // our hello must go (again)
  bool hello_acked_ = false;
  bool server_hello_received_ = false;   // client only
  std::vector<std::byte> retry_cookie_;  // client only: from the server's Retry
  std::uint32_t probes_due_ = 0;
  bool close_sent_ = false;
  // Anti-amplification (servers): bytes received from and sent to the peer while its
  // address is unvalidated.
  bool address_validated_ = true;
  std::uint64_t unvalidated_received_ = 0;
  std::uint64_t unvalidated_sent_ = 0;
  Instant close_deadline_;
  Instant last_activity_;
  Instant created_;
  // Packets that carried an ACK, ascending: (packet number, largest it acknowledged).
  std::deque<std::pair<std::uint64_t, std::uint64_t>> ack_sent_in_;

  ConnectionStats stats_;
};

}  // namespace dwcp::transport
