#include "transport/connection.h"

#include <algorithm>
#include <array>
#include <limits>

#include "proto/packet_number.h"
#include "proto/varint.h"
#include "simd/checksum.h"

namespace dwcp::transport {
namespace {

using proto::TransportError;

// Bytes a STREAM frame's fields can take besides its data: type, stream id, offset, length.
constexpr std::size_t kStreamFrameOverhead = 1 + 8 + 8 + 4;

bool is_local_stream(bool is_client, std::uint64_t id) noexcept {
  return (id & 1u) == (is_client ? 0u : 1u);
}

// RFC 8899 §5.1.2 MAX_PROBES: a size whose probes were lost this many times in a row is
// taken not to cross the path.
constexpr std::uint32_t kMaxPmtuProbeLosses = 3;
// The search ends when the sizes known to cross and known not to are this close.
constexpr std::size_t kPmtuSearchResolution = 256;

std::size_t next_probe_size(std::size_t acknowledged, std::size_t failed) {
  if (failed == 0 || failed <= acknowledged + kPmtuSearchResolution) return 0;
  return acknowledged + (failed - acknowledged) / 2;
}

// Datagrams start at the base size, or at a smaller limit the config sets.
std::size_t start_datagram_size(const ConnectionConfig& config) noexcept {
  return static_cast<std::size_t>(
      std::min(config.params.max_datagram_size, proto::kBaseDatagramSize));
}

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return std::as_bytes(std::span(text.data(), text.size()));
}

}  // namespace

std::string_view to_string(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::handshaking:
      return "handshaking";
    case ConnectionState::established:
      return "established";
    case ConnectionState::closing:
      return "closing";
    case ConnectionState::draining:
      return "draining";
    case ConnectionState::closed:
      return "closed";
  }
  return "unknown";
}

// Routes what the loss detector learns back to the streams and to the ACK scheduler.
class Connection::Recovery final : public PacketVisitor {
 public:
  Recovery(Connection& connection, Instant now) : c_(connection), now_(now) {}

  void on_acked(const SentPacket& packet) override {
    for (std::size_t i = 0; i < packet.chunk_count; ++i) add_acked(packet.chunks[i]);
    if ((packet.control & control_frame::kHandshake) != 0) c_.hello_acked_ = true;
    if (packet.is_pmtu_probe()) c_.on_pmtu_probe_acked(packet.bytes, now_);
    // The peer saw our ACK: what it covered need not be acknowledged again.
    auto it = c_.find_ack_sent_in(packet.packet_number);
    if (it != c_.ack_sent_in_.end()) {
      c_.acks_.on_ack_acknowledged(it->second);
      c_.ack_sent_in_.erase(c_.ack_sent_in_.begin(), std::next(it));
    }
  }

  void on_lost(const SentPacket& packet) override {
    flush_acked();
    if (packet.is_pmtu_probe()) {
      c_.on_pmtu_probe_lost(packet.bytes);
      return;
    }
    for (std::size_t i = 0; i < packet.chunk_count; ++i) {
      const StreamChunk& chunk = packet.chunks[i];
      if (StreamState* stream = c_.find_stream(chunk.stream_id)) {
        stream->send.on_lost(chunk.offset, chunk.length, chunk.fin);
      }
    }
    if ((packet.control & control_frame::kHandshake) != 0 && !c_.hello_acked_) {
      c_.hello_due_ = true;
    }
    if ((packet.control & control_frame::kMaxData) != 0) c_.max_data_due_ = true;
    if ((packet.control & control_frame::kBlockRequest) != 0) {
      for (auto& [id, stream] : c_.streams_) {
        if (stream.blocks_in) stream.blocks_in->on_requests_lost();
      }
    }
    if ((packet.control & control_frame::kMaxStreamData) != 0) {
      // Send every stream's current limit again: cheaper to track than which it was.
      for (auto& [id, stream] : c_.streams_) {
        if (stream.receive_credit.limit() > c_.config_.params.initial_max_stream_data) {
          stream.max_stream_data_due = true;
        }
      }
    }
    auto it = c_.find_ack_sent_in(packet.packet_number);
    if (it != c_.ack_sent_in_.end()) c_.ack_sent_in_.erase(it);
  }

  // Hands the acknowledged stretch still held to its stream; call when the loss detector
  // is done.
  void flush_acked() {
    if (!acked_.has_value()) return;
    const StreamChunk chunk = *acked_;
    acked_.reset();
    if (StreamState* stream = c_.find_stream(chunk.stream_id)) {
      stream->send.on_acked(chunk.offset, chunk.length, chunk.fin);
      if (stream->blocks_out) stream->blocks_out->release_below(stream->send.acked_prefix());
    }
  }

 private:
  // Stretches of one stream that follow each other go to its send buffer as one: an ACK
  // of a bulk transfer covers a hundred packets of the same stream, each of which cost a
  // stream lookup and a send-buffer release.
  void add_acked(const StreamChunk& chunk) {
    if (acked_ && acked_->stream_id == chunk.stream_id && !acked_->fin &&
        acked_->offset + acked_->length == chunk.offset &&
        acked_->length <= std::numeric_limits<std::uint32_t>::max() - chunk.length) {
      acked_->length += chunk.length;
      acked_->fin = chunk.fin;
      return;
    }
    flush_acked();
    acked_ = chunk;
  }

  Connection& c_;
  Instant now_;
  std::optional<StreamChunk> acked_;
};

Connection::Connection(const ConnectionConfig& config, bool is_client,
                       const proto::ConnectionId& local, const proto::ConnectionId& remote,
                       Instant now)
    : config_(config),
      is_client_(is_client),
      local_id_(local),
      remote_id_(remote),
      max_datagram_size_(start_datagram_size(config)),
      loss_([&] {
        LossDetectorConfig loss;
        loss.initial_rtt = config.initial_rtt;
        loss.max_ack_delay = std::chrono::milliseconds(peer_params_.max_ack_delay_ms);
        return loss;
      }()),
      acks_([&] {
        AckSchedulerConfig ack;
        ack.max_ack_delay = std::chrono::milliseconds(config.params.max_ack_delay_ms);
        ack.ack_delay_exponent = static_cast<std::uint8_t>(config.params.ack_delay_exponent);
        return ack;
      }()),
      congestion_([&] {
        CongestionConfig cc;
        cc.max_datagram_size = start_datagram_size(config);
        cc.fixed_rate = config.fixed_rate;
        return make_congestion_controller(config.congestion, cc);
      }()),
      pacer_(start_datagram_size(config), now),
      // No credit until the peer's hello says how much: raise_limit() only grows a limit,
      // so starting at the default would ignore a peer that offers less.
      connection_send_credit_(0),
      connection_receive_credit_(config.params.initial_max_data),
      last_activity_(now),
      created_(now) {
  pacer_.set_rate(congestion_->pacing_rate(), now);
}

Connection::~Connection() = default;

void Connection::set_congestion(CongestionAlgorithm algorithm, Bandwidth fixed_rate, Instant now) {
  config_.congestion = algorithm;
  config_.fixed_rate = fixed_rate;
  CongestionConfig cc;
  // Built for the base size, as at the start (its initial window counts datagrams), then
  // told the size path MTU discovery found.
  cc.max_datagram_size = start_datagram_size(config_);
  cc.fixed_rate = fixed_rate;
  congestion_ = make_congestion_controller(algorithm, cc);
  if (max_datagram_size_ != cc.max_datagram_size) congestion_->on_datagram_size(max_datagram_size_);
  pacer_.set_rate(congestion_->pacing_rate(), now);
}

std::unique_ptr<Connection> Connection::connect(const ConnectionConfig& config,
                                                const proto::ConnectionId& local,
                                                const proto::ConnectionId& initial_remote,
                                                Instant now) {
  return std::unique_ptr<Connection>(new Connection(config, true, local, initial_remote, now));
}

proto::Result<std::unique_ptr<Connection>> Connection::accept(const ConnectionConfig& config,
                                                              const proto::ConnectionId& local,
                                                              const proto::ParsedPacket& initial,
                                                              std::size_t datagram_size,
                                                              Instant now, bool address_validated) {
  if (initial.header.type != proto::PacketType::initial) {
    return std::unexpected(proto::Errc::invalid_value);
  }
  std::optional<proto::TransportParameters> params;
  proto::FrameReader reader(initial.header.type, initial.payload);
  while (!reader.done()) {
    auto frame = reader.next();
    if (!frame) return std::unexpected(frame.error());
    if (const auto* hello = std::get_if<proto::ClientHelloFrame>(*frame)) params = hello->params;
  }
  if (!params) return std::unexpected(proto::Errc::invalid_value);
  std::unique_ptr<Connection> connection(
      new Connection(config, false, local, proto::ConnectionId(initial.header.scid), now));
  connection->set_peer_params(*params);
  connection->state_ = ConnectionState::established;
  connection->address_validated_ = address_validated;
  connection->receive(initial, datagram_size, now);
  return connection;
}

void Connection::set_peer_params(const proto::TransportParameters& params) {
  peer_params_ = params;
  update_datagram_limits();
  connection_send_credit_.raise_limit(params.initial_max_data);
  for (auto& [id, stream] : streams_)
    stream.send_credit.raise_limit(params.initial_max_stream_data);
  loss_.set_max_ack_delay(std::chrono::milliseconds(params.max_ack_delay_ms));
}

// ---- path MTU discovery (docs/protocol.md §7.5) ----

void Connection::set_path_limit(std::size_t bytes) {
  path_limit_ = std::clamp<std::size_t>(bytes, proto::kMinDatagramSize, proto::kMaxDatagramSize);
  // A new path starts over from the base size: what crossed the old one proves nothing.
  set_datagram_size(std::min(max_datagram_size_, start_datagram_size(config_)), last_activity_);
  probe_bytes_in_flight_ = 0;
  update_datagram_limits();
}

void Connection::update_datagram_limits() {
  const auto ceiling = static_cast<std::size_t>(std::min<std::uint64_t>(
      {config_.params.max_datagram_size, peer_params_.max_datagram_size, path_limit_}));
  // A smaller limit applies at once; a larger size waits for a probe to prove it.
  set_datagram_size(std::min(max_datagram_size_, ceiling), last_activity_);
  probe_size_ = ceiling > max_datagram_size_ ? ceiling : 0;
  probe_failed_ = 0;
  probe_losses_ = 0;
}

void Connection::set_datagram_size(std::size_t size, Instant now) {
  if (size == max_datagram_size_) return;
  max_datagram_size_ = size;
  congestion_->on_datagram_size(size);
  pacer_.set_max_datagram_size(size, now);
}

std::uint64_t Connection::window_bytes_in_flight() const noexcept {
  // A probe in flight does not hold data back: it may be as large as the whole window.
  const std::uint64_t in_flight = loss_.bytes_in_flight();
  return in_flight - std::min<std::uint64_t>(in_flight, probe_bytes_in_flight_);
}

bool Connection::pmtu_probe_due() const noexcept {
  return probe_size_ > max_datagram_size_ && probe_bytes_in_flight_ == 0 &&
         state_ == ConnectionState::established && hello_acked_ && address_validated_;
}

std::size_t Connection::send_pmtu_probe(std::span<std::byte> out, Instant now) {
  const std::uint64_t pn = next_packet_number_;
  auto packet = proto::PacketBuilder::short_header(out.first(probe_size_), remote_id_, pn,
                                                   proto::kSentPacketNumberLength);
  if (!packet || !packet->add(proto::PmtuProbeFrame{probe_size_}) || !packet->pad_to(probe_size_)) {
    return 0;
  }
  auto size = packet->finish();
  if (!size) return 0;
  // Counted in flight like any packet, but outside the window and the pacer: one packet,
  // once per search step, and the connection's size depends on its answer.
  SentPacket sent;
  sent.packet_number = pn;
  sent.sent_time = now;
  sent.bytes = static_cast<std::uint32_t>(*size);
  sent.ack_eliciting = true;
  sent.in_flight = true;
  sent.control = control_frame::kPmtuProbe;
  ++next_packet_number_;
  probe_bytes_in_flight_ = sent.bytes;
  ++stats_.pmtu_probes_sent;
  record_sent(sent, now);
  return *size;
}

void Connection::on_pmtu_probe_acked(std::size_t size, Instant now) {
  probe_bytes_in_flight_ = 0;
  probe_losses_ = 0;
  if (size > max_datagram_size_) set_datagram_size(size, now);
  probe_size_ = next_probe_size(max_datagram_size_, probe_failed_);
}

void Connection::on_pmtu_probe_lost(std::size_t size) {
  probe_bytes_in_flight_ = 0;
  ++stats_.pmtu_probes_lost;
  if (size != probe_size_ || ++probe_losses_ < kMaxPmtuProbeLosses) return;
  probe_losses_ = 0;
  probe_failed_ = size;
  probe_size_ = next_probe_size(max_datagram_size_, probe_failed_);
}

// ---- receiving ----

void Connection::receive(const proto::ParsedPacket& packet, std::size_t datagram_size,
                         Instant now) {
  if (state_ == ConnectionState::closed || state_ == ConnectionState::draining) return;
  if (state_ == ConnectionState::closing) {
    close_sent_ = false;  // answer each packet with the close again
    return;
  }
  if (packet.header.type == proto::PacketType::retry) return on_retry(packet);
  if (!address_validated_) {
    unvalidated_received_ += datagram_size;
    // Only a client that saw our packets knows the ID we chose.
    if (packet.header.type != proto::PacketType::initial && packet.header.dcid == local_id_) {
      address_validated_ = true;
    }
  }
  const std::uint64_t pn =
      proto::decode_packet_number(largest_received_.value_or(proto::kNoAck),
                                  packet.header.packet_number, packet.header.packet_number_length);
  if (pn < acks_.ranges().floor() || acks_.ranges().contains(pn)) {
    ++stats_.duplicate_packets;
    return;
  }
  ++stats_.packets_received;
  stats_.bytes_received += datagram_size;
  last_activity_ = now;

  if (is_client_ && packet.header.type == proto::PacketType::handshake &&
      state_ == ConnectionState::handshaking) {
    remote_id_ = proto::ConnectionId(packet.header.scid);  // the server's own ID from now on
  }

  bool ack_eliciting = false;
  proto::FrameReader reader(packet.header.type, packet.payload);
  while (!reader.done()) {
    auto frame = reader.next();
    if (!frame) {
      fail(proto::close_code(frame.error()), proto::to_string(frame.error()), now);
      return;
    }
    // A probe that arrives shorter than it says was cut on the way: not acknowledged.
    if (const auto* probe = std::get_if<proto::PmtuProbeFrame>(&**frame);
        probe != nullptr && probe->probe_size > datagram_size) {
      return;
    }
    ack_eliciting = ack_eliciting || proto::is_ack_eliciting(**frame);
    process_frame(**frame, packet.header.type, now);
    if (state_ != ConnectionState::handshaking && state_ != ConnectionState::established) return;
  }
  acks_.on_packet_received(now, pn, ack_eliciting);
  largest_received_ = std::max(largest_received_.value_or(0), pn);
}

void Connection::on_retry(const proto::ParsedPacket& packet) {
  // Only a client still waiting for its first answer takes a Retry, and only one: a
  // second (or a late one) is ignored. A Retry is never acknowledged.
  if (!is_client_ || state_ != ConnectionState::handshaking || server_hello_received_ ||
      !retry_cookie_.empty()) {
    return;
  }
  proto::FrameReader reader(packet.header.type, packet.payload);
  while (!reader.done()) {
    auto frame = reader.next();
    if (!frame) return;
    if (const auto* retry = std::get_if<proto::RetryFrame>(*frame)) {
      retry_cookie_.assign(retry->cookie.begin(), retry->cookie.end());
      remote_id_ = proto::ConnectionId(packet.header.scid);  // the ID the server chose
      hello_due_ = true;                                     // the hello again, now with the cookie
      // The server answered the Initials and dropped them: they were neither lost nor
      // delivered, and must not count as a congestion signal (RFC 9002 §6.3).
      loss_.discard_all();
      probes_due_ = 0;
      return;
    }
  }
}

void Connection::on_batch_end(Instant now) {
  acks_.on_batch_end(now);
}

void Connection::process_frame(const proto::Frame& frame, proto::PacketType type, Instant now) {
  if (const auto* f = std::get_if<proto::StreamFrame>(&frame)) return on_stream_frame(*f, now);
  if (const auto* f = std::get_if<proto::AckFrame>(&frame)) return on_ack_frame(*f, now);
  if (const auto* f = std::get_if<proto::MaxDataFrame>(&frame)) {
    connection_send_credit_.raise_limit(f->maximum);
    return;
  }
  if (const auto* f = std::get_if<proto::MaxStreamDataFrame>(&frame)) {
    if (StreamState* stream = find_stream(f->stream_id))
      stream->send_credit.raise_limit(f->maximum);
    return;
  }
  if (const auto* f = std::get_if<proto::ConnectionCloseFrame>(&frame)) {
    state_ = ConnectionState::draining;
    close_reason_ =
        CloseReason{f->error_code, true, false,
                    std::string(reinterpret_cast<const char*>(f->reason.data()), f->reason.size())};
    close_deadline_ = now + 3 * loss_.pto();
    return;
  }
  if (const auto* f = std::get_if<proto::ServerHelloFrame>(&frame)) {
    if (!is_client_)
      return fail(TransportError::protocol_violation, "SERVER_HELLO to a server", now);
    if (state_ == ConnectionState::handshaking) {
      set_peer_params(f->params);
      server_hello_received_ = true;
      state_ = ConnectionState::established;
    }
    return;
  }
  if (std::holds_alternative<proto::ClientHelloFrame>(frame)) {
    if (is_client_)
      return fail(TransportError::protocol_violation, "CLIENT_HELLO to a client", now);
    if (!hello_acked_) hello_due_ = true;  // the client did not get our hello yet
    return;
  }
  if (const auto* f = std::get_if<proto::DeltaBlockFrame>(&frame)) {
    return on_delta_block_frame(*f, now);
  }
  if (const auto* f = std::get_if<proto::BlockRequestFrame>(&frame)) return on_block_request(*f);
  if (std::holds_alternative<proto::RetryFrame>(frame)) {
    return fail(TransportError::protocol_violation, "RETRY inside a connection", now);
  }
  (void)type;
  // PADDING, PING, PMTU_PROBE: only the acknowledgement matters. RESET_STREAM,
  // MAX_STREAMS, DATA_BLOCKED, STREAM_DATA_BLOCKED: nothing to do in this version (we never
  // reset streams and stream limits are fixed by the transport parameters).
}

std::deque<std::pair<std::uint64_t, std::uint64_t>>::iterator Connection::find_ack_sent_in(
    std::uint64_t packet_number) {
  // Most packets carry no ACK: only the few after an ACK-only packet from the peer do.
  if (ack_sent_in_.empty() || packet_number < ack_sent_in_.front().first ||
      packet_number > ack_sent_in_.back().first) {
    return ack_sent_in_.end();
  }
  auto it = std::lower_bound(ack_sent_in_.begin(), ack_sent_in_.end(), packet_number,
                             [](const auto& entry, std::uint64_t pn) { return entry.first < pn; });
  return it != ack_sent_in_.end() && it->first == packet_number ? it : ack_sent_in_.end();
}

StreamState* Connection::find_stream(std::uint64_t stream_id) {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : &it->second;
}

const StreamState* Connection::find_stream(std::uint64_t stream_id) const {
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : &it->second;
}

StreamState* Connection::stream_for_peer_frame(std::uint64_t stream_id) {
  if (StreamState* stream = find_stream(stream_id)) return stream;
  if (is_local_stream(is_client_, stream_id)) return nullptr;  // one we never opened
  if ((stream_id >> 1) >= config_.params.initial_max_streams) return nullptr;
  auto [it, inserted] = streams_.try_emplace(stream_id, stream_id, config_.stream_send_capacity,
                                             peer_params_.initial_max_stream_data,
                                             config_.params.initial_max_stream_data);
  return &it->second;
}

StreamState* Connection::stream_for_data_frame(std::uint64_t stream_id, Instant now) {
  StreamState* stream = stream_for_peer_frame(stream_id);
  if (stream == nullptr) {
    const bool local = is_local_stream(is_client_, stream_id);
    fail(local ? TransportError::stream_state_error : TransportError::stream_limit_error,
         local ? "data for a stream not opened" : "stream limit exceeded", now);
  }
  return stream;
}

void Connection::on_stream_frame(const proto::StreamFrame& frame, Instant now) {
  StreamState* stream = stream_for_data_frame(frame.stream_id, now);
  if (stream == nullptr) return;
  receive_stream_data(*stream, frame.offset, frame.data, frame.fin, frame.message_end, now);
}

void Connection::on_delta_block_frame(const proto::DeltaBlockFrame& frame, Instant now) {
  StreamState* stream = stream_for_data_frame(frame.stream_id, now);
  if (stream == nullptr) return;
  const proto::TransportParameters& ours = config_.params;
  if (frame.encoding == proto::BlockEncoding::xor_delta &&
      (ours.delta_cache_keys == 0 || ours.delta_cache_bytes == 0)) {
    return fail(TransportError::protocol_violation, "XOR delta without a delta cache", now);
  }
  // The header is kept until the record is read: records starting within the credit are
  // all it can keep, at most one per byte of the window. (A record may end past the
  // credit: its sender sends what the credit covers.)
  if (frame.record_offset >= stream->receive.offset_limit()) {
    return fail(TransportError::flow_control_error, "DELTA_BLOCK record beyond the credit", now);
  }
  if (!stream->blocks_in) {
    stream->blocks_in =
        std::make_unique<BlockReceiver>(ours.delta_cache_keys, ours.delta_cache_bytes);
  }
  if (auto error = stream->blocks_in->on_frame(frame, stream->receive.consumed())) {
    return fail(error->code, error->reason, now);
  }
  const bool record_end = frame.fragment_offset + frame.fragment.size() == frame.record_length;
  receive_stream_data(*stream, frame.record_offset + frame.fragment_offset, frame.fragment,
                      frame.fin, record_end, now);
}

void Connection::on_block_request(const proto::BlockRequestFrame& frame) {
  // A stream we sent no blocks on has nothing to resend: ignored, as a request can outlive
  // what it asks for.
  StreamState* stream = find_stream(frame.stream_id);
  if (stream == nullptr || !stream->blocks_out) return;
  stream->blocks_out->on_request(frame.key, frame.version);
  send_block_resends(*stream);
}

void Connection::receive_stream_data(StreamState& stream, std::uint64_t offset,
                                     std::span<const std::byte> data, bool fin, bool message_end,
                                     Instant now) {
  const std::uint64_t before = stream.receive.highest_received();
  if (auto error = stream.receive.insert(offset, data, fin, message_end)) {
    return fail(close_code(*error), to_string(*error), now);
  }
  ++stream_frames_received_;
  const std::uint64_t grown = stream.receive.highest_received() - before;
  if (grown != 0) {
    connection_bytes_received_ += grown;
    if (!connection_receive_credit_.on_received(connection_bytes_received_)) {
      return fail(TransportError::flow_control_error, "connection credit exceeded", now);
    }
  }
}

void Connection::on_ack_frame(const proto::AckFrame& ack, Instant now) {
  std::array<proto::PacketRange, proto::kMaxAckRanges + 1> ranges{};
  std::size_t count = 0;
  for (const proto::PacketRange range : ack.ranges()) ranges[count++] = range;
  const auto delay = std::chrono::microseconds(ack.ack_delay << peer_params_.ack_delay_exponent);
  Recovery recovery(*this, now);
  auto outcome = loss_.on_ack(now, std::span(ranges).first(count), delay, recovery);
  recovery.flush_acked();
  if (!outcome) return fail(TransportError::protocol_violation, "ACK of a packet never sent", now);
  if (outcome->acked_bytes > 0) {
    AckEvent event;
    event.now = now;
    event.acked_bytes = outcome->acked_bytes;
    event.bytes_in_flight = loss_.bytes_in_flight();
    event.largest_acked_sent_time = outcome->largest_acked_sent_time;
    event.rtt = &loss_.rtt();
    event.rate = outcome->rate;
    congestion_->on_ack(event);
  }
  report_losses(*outcome, now);
  if (outcome->spurious_losses > 0) congestion_->on_spurious_loss(now);
  stats_.spurious_losses += outcome->spurious_losses;
  pacer_.set_rate(congestion_->pacing_rate(), now);
}

// Tells the controller about packets an ACK or a timeout declared lost.
void Connection::report_losses(const RecoveryOutcome& outcome, Instant now) {
  stats_.packets_lost += outcome.lost_packets;
  if (outcome.lost_bytes == 0) return;
  LossEvent event;
  event.now = now;
  event.lost_bytes = outcome.lost_bytes;
  event.bytes_in_flight = loss_.bytes_in_flight();
  event.largest_lost_sent_time = outcome.largest_lost_sent_time;
  event.persistent_congestion = outcome.persistent_congestion;
  congestion_->on_loss(event);
}

// ---- sending ----

void Connection::record_sent(const SentPacket& packet, Instant now) {
  // Held back by the application or by the peer's credit, the sender does not fill the
  // window: its delivery-rate samples then say nothing of the path (they are app-limited),
  // and must not pull the bandwidth estimate down while the receiver is slow to read.
  const bool more_to_send =
      std::any_of(streams_.begin(), streams_.end(), [this](const auto& entry) {
        const StreamState& stream = entry.second;
        if (!stream.send.has_data_to_send()) return false;
        if (stream.send.bytes_lost() > 0 || stream.send.bytes_unsent() == 0) return true;
        return stream.send_credit.limit() > stream.send.highest_sent() &&
               connection_send_credit_.available() > 0;
      });
  loss_.on_packet_sent(packet, !more_to_send);
  if (packet.in_flight) {
    congestion_->on_packet_sent(now, packet.bytes, loss_.bytes_in_flight());
    pacer_.on_sent(now, packet.bytes);
    last_paced_send_ = now;
  }
  ++stats_.packets_sent;
  stats_.bytes_sent += packet.bytes;
}

std::size_t Connection::send(std::span<std::byte> out, Instant now) {
  if (out.size() < max_datagram_size_) return 0;
  if (address_validated_) return send_packet(out, now);
  // At most three times what the unvalidated peer sent, counting a whole datagram.
  if (unvalidated_sent_ + max_datagram_size_ > 3 * unvalidated_received_) {
    ++stats_.amplification_limited;
    return 0;
  }
  const std::size_t size = send_packet(out, now);
  unvalidated_sent_ += size;
  return size;
}

std::size_t Connection::send_packet(std::span<std::byte> out, Instant now) {
  switch (state_) {
    case ConnectionState::closed:
    case ConnectionState::draining:
      return 0;
    case ConnectionState::closing:
      return send_close(out, now);
    case ConnectionState::handshaking:
    case ConnectionState::established:
      break;
  }
  if (hello_due_) return send_handshake(out, now);
  if (state_ == ConnectionState::handshaking) {
    if (probes_due_ > 0) return send_handshake(out, now);  // the hello again
    return 0;
  }
  if (pmtu_probe_due() && out.size() >= probe_size_) return send_pmtu_probe(out, now);
  return send_data(out.first(max_datagram_size_), now);
}

std::size_t Connection::send_handshake(std::span<std::byte> out, Instant now) {
  const std::uint64_t pn = next_packet_number_;
  const auto type = is_client_ ? proto::PacketType::initial : proto::PacketType::handshake;
  auto packet = proto::PacketBuilder::long_header(out, type, remote_id_, local_id_, pn,
                                                  proto::kSentPacketNumberLength);
  if (!packet) return 0;
  SentPacket sent;
  sent.packet_number = pn;
  sent.sent_time = now;
  sent.ack_eliciting = true;
  sent.in_flight = true;
  sent.control = control_frame::kHandshake;
  if (acks_.has_unacked()) {
    const std::uint64_t largest = acks_.ranges().largest();
    if (acks_.write_ack(*packet, now)) ack_sent_in_.emplace_back(pn, largest);
  }
  const bool added =
      is_client_ ? packet->add(proto::ClientHelloFrame{retry_cookie_, config_.params}).has_value()
                 : packet->add(proto::ServerHelloFrame{config_.params}).has_value();
  if (!added) return 0;
  // A client's Initial fills a datagram of at least 1200 bytes (docs/protocol.md §3.1).
  if (is_client_ && !packet->pad_to(proto::kMinInitialDatagram)) return 0;
  auto size = packet->finish();
  if (!size) return 0;
  sent.bytes = static_cast<std::uint32_t>(*size);
  ++next_packet_number_;
  hello_due_ = false;
  if (probes_due_ > 0) --probes_due_;
  record_sent(sent, now);
  return *size;
}

std::size_t Connection::send_close(std::span<std::byte> out, Instant now) {
  if (close_sent_ || !close_reason_) return 0;
  const std::uint64_t pn = next_packet_number_;
  // A client that has no answer from the server yet closes in an Initial (the server's node
  // has no connection to route a short packet to); everyone else in a short packet.
  auto packet =
      is_client_ && !server_hello_received_
          ? proto::PacketBuilder::long_header(out, proto::PacketType::initial, remote_id_,
                                              local_id_, pn, proto::kSentPacketNumberLength)
          : proto::PacketBuilder::short_header(out, remote_id_, pn, proto::kSentPacketNumberLength);
  if (!packet) return 0;
  const std::string& reason = close_reason_->reason;
  const auto reason_bytes =
      as_bytes(reason).first(std::min(reason.size(), proto::kMaxReasonLength));
  if (!packet->add(proto::ConnectionCloseFrame{close_reason_->error_code, 0, reason_bytes}))
    return 0;
  auto size = packet->finish();
  if (!size) return 0;
  ++next_packet_number_;
  close_sent_ = true;
  ++stats_.packets_sent;
  stats_.bytes_sent += *size;
  (void)now;
  return *size;
}

std::uint64_t Connection::paced_batch_bytes() const noexcept {
  const std::uint64_t window = congestion_->congestion_window();
  const std::uint64_t in_flight = loss_.bytes_in_flight();
  std::uint64_t bytes = std::min(pacer_.quantum(), window > in_flight ? window - in_flight : 0);
  std::uint64_t waiting = 0;
  for (const auto& entry : streams_) {
    waiting += entry.second.send.bytes_unsent() + entry.second.send.bytes_lost();
    if (waiting >= bytes) break;
  }
  bytes = std::min(bytes, waiting);
  return std::max(bytes, max_datagram_size_);
}

std::size_t Connection::send_data(std::span<std::byte> out, Instant now) {
  const bool ack_due = acks_.ack_due(now);
  const bool probing = probes_due_ > 0;
  bool may_send =
      probing || window_bytes_in_flight() + max_datagram_size_ <= congestion_->congestion_window();
  // One walk over the streams per packet for everything it may carry: there may be
  // thousands, and each of four questions used to walk them on its own.
  bool stream_credit_due = false;
  bool block_requests = false;
  bool data_waiting = false;
  for (auto& [id, stream] : streams_) {
    if (stream.blocks_out && stream.blocks_out->has_requests()) send_block_resends(stream);
    stream_credit_due = stream_credit_due || stream.max_stream_data_due;
    block_requests = block_requests || (stream.blocks_in && stream.blocks_in->has_due_requests());
    data_waiting = data_waiting || stream.send.has_data_to_send();
  }
  // The pacer spaces out data. A packet of control frames alone does not wait for it:
  // pacer_hold() sets no timer for one, so after a burst that emptied the bucket (a
  // path MTU probe) a credit update could wait for the next packet from the peer, which
  // may be waiting for that credit.
  if (may_send && !probing && data_waiting) {
    // The first packet of a pass waits for a whole batch's worth of tokens; the rest of
    // the pass (the same `now`) only for their own size.
    const std::uint64_t due = last_paced_send_ == now ? max_datagram_size_ : paced_batch_bytes();
    if (pacer_.next_send_time(now, due) > now) may_send = false;
  }
  const bool control_due = max_data_due_ || stream_credit_due || block_requests;
  if (!ack_due && !(may_send && (probing || control_due || data_waiting))) return 0;

  const std::uint64_t pn = next_packet_number_;
  auto packet =
      proto::PacketBuilder::short_header(out, remote_id_, pn, proto::kSentPacketNumberLength);
  if (!packet) return 0;
  SentPacket& sent = loss_.prepare_packet();
  sent.packet_number = pn;
  sent.sent_time = now;
  if (acks_.has_unacked()) {
    const std::uint64_t largest = acks_.ranges().largest();
    if (acks_.write_ack(*packet, now)) ack_sent_in_.emplace_back(pn, largest);
  }
  if (may_send) {
    if (max_data_due_ && packet->add(proto::MaxDataFrame{connection_receive_credit_.limit()})) {
      max_data_due_ = false;
      sent.control |= control_frame::kMaxData;
      sent.ack_eliciting = true;
    }
    for (auto it = streams_.begin(); stream_credit_due && it != streams_.end(); ++it) {
      StreamState& stream = it->second;
      if (!stream.max_stream_data_due) continue;
      if (!packet->add(proto::MaxStreamDataFrame{it->first, stream.receive_credit.limit()})) break;
      stream.max_stream_data_due = false;
      sent.control |= control_frame::kMaxStreamData;
      sent.ack_eliciting = true;
    }
    if (block_requests) add_block_requests(*packet, sent);
    std::uint64_t stream_bytes = 0;
    add_stream_frames(*packet, sent, stream_bytes);
    if (!sent.ack_eliciting && probing && packet->add(proto::PingFrame{})) {
      sent.ack_eliciting = true;
    }
  }
  if (packet->payload_size() == 0) {
    loss_.drop_prepared();
    return 0;
  }
  auto size = packet->finish();
  if (!size) {
    loss_.drop_prepared();
    return 0;
  }
  sent.bytes = static_cast<std::uint32_t>(*size);
  sent.in_flight = sent.ack_eliciting;
  ++next_packet_number_;
  if (probing && sent.ack_eliciting) --probes_due_;
  record_sent(sent, now);
  return *size;
}

void Connection::add_stream_frames(proto::PacketBuilder& packet, SentPacket& sent,
                                   std::uint64_t& stream_bytes) {
  if (streams_.empty()) return;
  auto it = streams_.lower_bound(round_robin_);
  for (std::size_t visited = 0; visited < streams_.size(); ++visited, ++it) {
    if (it == streams_.end()) it = streams_.begin();
    StreamState& stream = it->second;
    while (sent.chunk_count < SentPacket::kMaxChunks && packet.room() > kStreamFrameOverhead) {
      const std::uint64_t sent_before = stream.send.highest_sent();
      // The frame's fields at their largest for this stream: a chunk's offset is at most
      // highest_sent(). Sized exactly, a full packet is exactly max_datagram_size(), so
      // the node can send consecutive ones as one GSO buffer.
      std::size_t fields = 1 + proto::varint_size(stream.id) + proto::varint_size(sent_before) +
                           proto::varint_size(packet.room());
      // Bytes of a block record go in DELTA_BLOCK frames, whose fields are larger: exact for
      // new data (it starts at highest_sent()), an upper bound for data sent again.
      const BlockSender* blocks = stream.blocks_out.get();
      if (blocks != nullptr && blocks->has_records()) {
        if (stream.send.bytes_lost() == 0) {
          if (const proto::DeltaBlockFrame* next = blocks->record_at(sent_before)) {
            fields =
                BlockSender::header_size(*next, sent_before - next->record_offset, packet.room());
          }
        } else {
          fields = std::max(fields, blocks->max_header_size(packet.room()));
        }
      }
      if (packet.room() <= fields) break;
      std::uint64_t max_bytes = packet.room() - fields;
      if (stream.send.bytes_lost() == 0) {
        // New data needs credit from the stream and from the connection. A message starts
        // only when the connection credit not promised to started messages covers it.
        if (stream.message_remaining == 0 && stream.send.bytes_unsent() > 0) {
          const auto message_end = stream.send.message_end_after(sent_before);
          if (!message_end) break;  // not reached: appended bytes always end a message
          const std::uint64_t length = *message_end - sent_before;
          if (connection_send_credit_.available() < reserved_credit_ + length) {
            ++stats_.flow_control_stalls;
            break;
          }
          stream.message_remaining = length;
          reserved_credit_ += length;
        }
        const std::uint64_t stream_credit =
            stream.send_credit.limit() > sent_before ? stream.send_credit.limit() - sent_before : 0;
        // A stall: the stream's credit, not the packet's room, cuts the message short.
        if (stream_credit < std::min(max_bytes, stream.message_remaining)) {
          ++stats_.flow_control_stalls;
        }
        max_bytes = std::min({max_bytes, stream_credit, stream.message_remaining});
      }
      auto chunk = stream.send.next_chunk(max_bytes);
      if (!chunk) break;
      // Fits by construction (`fields` bounds the field encodings). The bytes go from the
      // send buffer straight into the packet.
      const proto::DeltaBlockFrame* record =
          blocks != nullptr && chunk->length > 0 ? blocks->record_at(chunk->offset) : nullptr;
      // The data area as a plain span: copying the Result (a span and a flag) through the
      // stack cost the sender a store-forwarding stall per packet.
      std::span<std::byte> area;
      if (record != nullptr) {
        proto::DeltaBlockFrame frame = *record;
        frame.fragment_offset = chunk->offset - record->record_offset;
        frame.fin = chunk->fin;
        auto added = packet.add_delta_block(frame, static_cast<std::size_t>(chunk->length));
        if (!added) break;
        area = *added;
      } else {
        proto::StreamFrame frame;
        frame.stream_id = stream.id;
        frame.offset = chunk->offset;
        frame.fin = chunk->fin;
        frame.message_end = chunk->message_end;
        auto added = packet.add_stream(frame, static_cast<std::size_t>(chunk->length));
        if (!added) break;
        area = *added;
      }
      stream.send.copy_out(chunk->offset, area);
      const std::uint64_t fresh = stream.send.highest_sent() - sent_before;
      connection_send_credit_.consume(fresh);
      stream.message_remaining -= fresh;
      reserved_credit_ -= fresh;
      stats_.stream_bytes_sent += fresh;
      if (chunk->retransmission) stats_.stream_bytes_retransmitted += chunk->length;
      stream_bytes += chunk->length;
      // Consecutive bytes of one stream (small messages back to back) share one record:
      // the send buffer knows where the messages end, so a packet holds as many as fit.
      StreamChunk* last = sent.chunk_count > 0 ? &sent.chunks[sent.chunk_count - 1] : nullptr;
      if (last != nullptr && last->stream_id == stream.id && !last->fin &&
          last->offset + last->length == chunk->offset) {
        last->length += static_cast<std::uint32_t>(chunk->length);
        last->fin = chunk->fin;
      } else {
        sent.chunks[sent.chunk_count++] = {stream.id, chunk->offset,
                                           static_cast<std::uint32_t>(chunk->length), chunk->fin};
      }
      sent.ack_eliciting = true;
    }
    if (sent.chunk_count == SentPacket::kMaxChunks || packet.room() <= kStreamFrameOverhead) {
      round_robin_ = it->first + 1;  // the next packet starts after the stream that filled this
      return;
    }
  }
}

// ---- timers ----

Duration Connection::idle_timeout() const noexcept {
  const std::uint64_t ours = config_.params.max_idle_timeout_ms;
  const std::uint64_t theirs = peer_params_.max_idle_timeout_ms;
  std::uint64_t ms = ours;
  if (ms == 0 || (theirs != 0 && theirs < ms)) ms = theirs;
  return ms == 0 ? Duration::max() : Duration(std::chrono::milliseconds(ms));
}

std::optional<Instant> Connection::next_timer() const noexcept {
  if (state_ == ConnectionState::closed) return std::nullopt;
  if (state_ == ConnectionState::closing || state_ == ConnectionState::draining) {
    return close_deadline_;
  }
  std::optional<Instant> earliest;
  auto consider = [&earliest](std::optional<Instant> t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  consider(loss_.timer());
  consider(acks_.deadline());
  consider(pacer_hold());
  if (idle_timeout() != Duration::max()) consider(last_activity_ + idle_timeout());
  if (state_ == ConnectionState::handshaking) consider(created_ + config_.handshake_timeout);
  return earliest;
}

std::optional<Instant> Connection::pacer_hold() const noexcept {
  // Data held back only by the pacer: the connection wants send() once the bucket refills.
  if (state_ == ConnectionState::established &&
      window_bytes_in_flight() + max_datagram_size_ <= congestion_->congestion_window() &&
      std::any_of(streams_.begin(), streams_.end(),
                  [](const auto& entry) { return entry.second.send.has_data_to_send(); })) {
    return pacer_.held_until(paced_batch_bytes());
  }
  return std::nullopt;
}

void Connection::on_timer(Instant now) {
  if (state_ == ConnectionState::closed) return;
  if (state_ == ConnectionState::closing || state_ == ConnectionState::draining) {
    if (now >= close_deadline_) state_ = ConnectionState::closed;
    return;
  }
  if (idle_timeout() != Duration::max() && now >= last_activity_ + idle_timeout()) {
    state_ = ConnectionState::closed;
    close_reason_ = CloseReason{0, false, true, "idle timeout"};
    return;
  }
  if (state_ == ConnectionState::handshaking && now >= created_ + config_.handshake_timeout) {
    state_ = ConnectionState::closed;
    close_reason_ = CloseReason{static_cast<std::uint64_t>(TransportError::connection_refused),
                                false, true, "handshake timed out"};
    return;
  }
  const auto deadline = loss_.timer();
  if (deadline && *deadline <= now) {
    Recovery recovery(*this, now);
    const RecoveryOutcome outcome = loss_.on_timeout(now, recovery);
    recovery.flush_acked();
    report_losses(outcome, now);
    pacer_.set_rate(congestion_->pacing_rate(), now);
    if (outcome.probes_to_send > 0) {
      probes_due_ += outcome.probes_to_send;
      ++stats_.probe_timeouts;
      if (!hello_acked_) hello_due_ = true;
    }
  }
}

// ---- streams ----

std::optional<std::uint64_t> Connection::open_stream() {
  if (state_ != ConnectionState::established) return std::nullopt;
  if (next_local_stream_ >= peer_params_.initial_max_streams) return std::nullopt;
  const std::uint64_t id = (next_local_stream_++ << 1) | (is_client_ ? 0u : 1u);
  streams_.try_emplace(id, id, config_.stream_send_capacity, peer_params_.initial_max_stream_data,
                       config_.params.initial_max_stream_data);
  return id;
}

AppendStatus Connection::send_message(std::uint64_t stream_id, std::span<const std::byte> message) {
  StreamState* stream = find_stream(stream_id);
  if (stream == nullptr || state_ != ConnectionState::established) return AppendStatus::finished;
  // The peer delivers whole messages only and grants credit as they are read: one larger
  // than its window could never be delivered, and would hold the stream forever.
  if (message.size() >
      std::min(peer_params_.initial_max_stream_data, peer_params_.initial_max_data)) {
    return AppendStatus::too_large;
  }
  return stream->send.append(message);
}

AppendStatus Connection::send_block(std::uint64_t stream_id, std::uint64_t key,
                                    std::span<const std::byte> block) {
  StreamState* stream = find_stream(stream_id);
  if (stream == nullptr || state_ != ConnectionState::established) return AppendStatus::finished;
  if (block.empty()) return AppendStatus::empty;
  if (block.size() > std::min({peer_params_.initial_max_stream_data, peer_params_.initial_max_data,
                               proto::kMaxBlockLength, std::uint64_t{stream->send.capacity()}})) {
    return AppendStatus::too_large;
  }
  if (stream->send.final_size()) return AppendStatus::finished;
  if (stream->send.free_space() < block.size()) return AppendStatus::back_pressured;
  if (!stream->blocks_out) {
    stream->blocks_out =
        std::make_unique<BlockSender>(stream_id, peer_params_.delta_cache_keys,
                                      peer_params_.delta_cache_bytes, config_.delta_margin);
  }
  const BlockSender::Record record = stream->blocks_out->prepare(key, block);
  const std::uint64_t offset = stream->send.end_offset();
  const AppendStatus status = stream->send.append(record.bytes);
  if (status != AppendStatus::accepted) return status;
  stream->blocks_out->commit(record, offset, block);
  return status;
}

void Connection::send_block_resends(StreamState& stream) {
  BlockSender& blocks = *stream.blocks_out;
  while (auto record = blocks.next_resend()) {
    const std::uint64_t offset = stream.send.end_offset();
    const AppendStatus status = stream.send.append(record->bytes);
    if (status == AppendStatus::back_pressured) return;  // again after acknowledgements
    if (status != AppendStatus::accepted) {
      blocks.drop_requests();  // the stream is finished: nothing can go any more
      return;
    }
    blocks.commit(*record, offset, {});
  }
}

void Connection::add_block_requests(proto::PacketBuilder& packet, SentPacket& sent) {
  // A BLOCK_REQUEST's fields at their largest: type, stream id, key, version.
  constexpr std::size_t kRequestSize = 1 + 3 * 8;
  for (auto& [id, stream] : streams_) {
    if (!stream.blocks_in || !stream.blocks_in->has_due_requests()) continue;
    const std::size_t fit = packet.room() / kRequestSize;
    if (fit == 0) return;
    for (const proto::BlockRequestFrame& request : stream.blocks_in->take_due_requests(id, fit)) {
      if (packet.add(request)) {
        sent.control |= control_frame::kBlockRequest;
        sent.ack_eliciting = true;
      }
    }
  }
}

void Connection::finish_stream(std::uint64_t stream_id) {
  if (StreamState* stream = find_stream(stream_id)) stream->send.finish();
}

std::optional<InboundItem> Connection::next_inbound(std::uint64_t stream_id) {
  StreamState* stream = find_stream(stream_id);
  if (stream == nullptr) return std::nullopt;
  BlockReceiver* blocks = stream->blocks_in.get();
  // Each turn reads one record out of the stream, so the loop ends with the stream's data.
  for (;;) {
    if (blocks != nullptr && blocks->has_ready()) {
      return InboundItem{blocks->ready_bytes().size(), true, blocks->ready_key(),
                         blocks->ready_version()};
    }
    const auto size = stream->receive.next_message_size();
    if (!size) return std::nullopt;
    const std::uint64_t at = stream->receive.consumed();
    if (blocks == nullptr || blocks->record_at(at) == nullptr) {
      if (blocks != nullptr && blocks->record_starts_within(at, at + *size)) {
        fail(TransportError::protocol_violation, "a message runs into a DELTA_BLOCK record",
             last_activity_);
        return std::nullopt;
      }
      return InboundItem{static_cast<std::size_t>(*size)};
    }
    record_scratch_.resize(static_cast<std::size_t>(*size));
    consume_message(*stream, record_scratch_);
    const auto outcome = blocks->process(at, record_scratch_);
    if (!outcome) {
      // Found when the record is read, not when its frames came: the close goes out now.
      fail(outcome.error().code, outcome.error().reason, last_activity_);
      return std::nullopt;
    }
  }
}

std::optional<std::size_t> Connection::read_message(std::uint64_t stream_id,
                                                    std::span<std::byte> out) {
  const auto item = next_inbound(stream_id);
  if (!item) return std::nullopt;
  return read_inbound(stream_id, *item, out);
}

std::optional<std::size_t> Connection::read_inbound(std::uint64_t stream_id,
                                                    const InboundItem& item,
                                                    std::span<std::byte> out) {
  StreamState* stream = find_stream(stream_id);
  if (stream == nullptr || item.size > out.size()) return std::nullopt;
  if (item.is_block) {
    const auto bytes = stream->blocks_in->ready_bytes();
    std::copy(bytes.begin(), bytes.end(), out.begin());
    stream->blocks_in->take_ready();
    return item.size;
  }
  return consume_message(*stream, out);
}

std::size_t Connection::consume_message(StreamState& stream, std::span<std::byte> out) {
  const std::uint64_t consumed_before = stream.receive.consumed();
  auto size = stream.receive.read_message(out);
  if (!size) return 0;
  const std::uint64_t consumed = stream.receive.consumed() - consumed_before;
  stream.receive_credit.on_consumed(consumed);
  if (auto limit = stream.receive_credit.update()) {
    stream.receive.set_offset_limit(*limit);
    stream.max_stream_data_due = true;
  }
  connection_receive_credit_.on_consumed(consumed);
  if (connection_receive_credit_.update()) max_data_due_ = true;
  return *size;
}

std::optional<std::size_t> Connection::next_message_size(std::uint64_t stream_id) const {
  const StreamState* stream = find_stream(stream_id);
  if (stream == nullptr) return std::nullopt;
  if (const BlockReceiver* blocks = stream->blocks_in.get()) {
    if (blocks->has_ready()) return blocks->ready_bytes().size();
    if (blocks->record_at(stream->receive.consumed()) != nullptr) return std::nullopt;
  }
  return stream->receive.next_message_size();
}

std::vector<std::uint64_t> Connection::readable_streams() const {
  std::vector<std::uint64_t> ids;
  for (const auto& [id, stream] : streams_) {
    if (stream.receive.next_message_size() || (stream.blocks_in && stream.blocks_in->has_ready())) {
      ids.push_back(id);
    }
  }
  return ids;
}

bool Connection::stream_finished(std::uint64_t stream_id) const {
  const StreamState* stream = find_stream(stream_id);
  return stream != nullptr && stream->receive.finished() &&
         !(stream->blocks_in && stream->blocks_in->has_ready());
}

const BlockCache* Connection::sent_block_cache(std::uint64_t stream_id) const {
  const StreamState* stream = find_stream(stream_id);
  return stream != nullptr && stream->blocks_out ? &stream->blocks_out->cache() : nullptr;
}

const BlockCache* Connection::received_block_cache(std::uint64_t stream_id) const {
  const StreamState* stream = find_stream(stream_id);
  return stream != nullptr && stream->blocks_in ? &stream->blocks_in->cache() : nullptr;
}

bool Connection::corrupt_received_block_for_testing(std::uint64_t stream_id, std::uint64_t key) {
  StreamState* stream = find_stream(stream_id);
  return stream != nullptr && stream->blocks_in && stream->blocks_in->corrupt_for_testing(key);
}

bool Connection::stream_all_acked(std::uint64_t stream_id) const {
  const StreamState* stream = find_stream(stream_id);
  return stream != nullptr && stream->send.all_acked();
}

// ---- closing ----

void Connection::close(std::uint64_t error_code, std::string_view reason, Instant now) {
  if (state_ == ConnectionState::closed || state_ == ConnectionState::draining ||
      state_ == ConnectionState::closing) {
    return;
  }
  state_ = ConnectionState::closing;
  close_reason_ = CloseReason{error_code, false, false, std::string(reason)};
  close_sent_ = false;
  close_deadline_ = now + 3 * loss_.pto();
}

void Connection::fail(TransportError error, std::string_view reason, Instant now) {
  close(static_cast<std::uint64_t>(error), reason, now);
}

ConnectionStats Connection::stats() const noexcept {
  ConnectionStats stats = stats_;
  stats.smoothed_rtt = loss_.rtt().smoothed();
  stats.min_rtt = loss_.rtt().min();
  stats.rtt_variation = loss_.rtt().variation();
  stats.congestion_window = congestion_->congestion_window();
  stats.pacing_rate = congestion_->pacing_rate();
  stats.bytes_in_flight = loss_.bytes_in_flight();
  stats.duplicate_packets += acks_.duplicates();
  for (const auto& [id, stream] : streams_) {
    stats.receive_buffered_bytes += stream.receive.bytes_buffered();
    stats.send_buffered_bytes += stream.send.bytes_buffered();
    if (const BlockSender* out = stream.blocks_out.get()) {
      const BlockSendCounters& c = out->counters();
      stats.blocks_sent_whole += c.sent_whole;
      stats.blocks_sent_delta += c.sent_delta;
      stats.block_bytes_saved += c.bytes_saved;
      stats.block_resends += c.resends;
      stats.block_cache_evictions += out->cache().evictions();
    }
    if (const BlockReceiver* in = stream.blocks_in.get()) {
      const BlockReceiveCounters& c = in->counters();
      stats.blocks_received += c.delivered;
      stats.block_crc_failures += c.crc_failures;
      stats.block_poisoned_drops += c.poisoned_drops;
      stats.block_resends_requested += c.requests;
      stats.block_cache_evictions += in->cache().evictions();
    }
  }
  return stats;
}

}  // namespace dwcp::transport
