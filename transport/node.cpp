#include "transport/node.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "transport/route_mtu.h"

namespace dwcp::transport {
namespace {

// What a connection to `peer` may probe up to (Connection::set_path_limit): the route's
// limit, or the base size where the kernel will not say.
std::size_t path_limit_to(const SocketAddress& peer) noexcept {
  return route_datagram_limit(peer).value_or(proto::kBaseDatagramSize);
}

constexpr std::size_t kReceiveSlots = 32;
constexpr std::size_t kReceiveSlotBytes = 65536;  // one GRO buffer
constexpr std::size_t kSendMemory = std::size_t{1} << 20;
constexpr std::size_t kMaxSendsPerConnection = 256;  // per poll, so no connection starves others

proto::ConnectionId key_of(std::span<const std::byte> id) {
  return proto::ConnectionId(id);
}

std::uint64_t random_seed() {
  std::uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
    seed = static_cast<std::uint64_t>(MonotonicClock::now().time_since_epoch().count());
  }
  return seed;
}

}  // namespace

bool Node::IdLess::operator()(const proto::ConnectionId& a,
                              const proto::ConnectionId& b) const noexcept {
  if (a.size() != b.size()) return a.size() < b.size();
  return std::memcmp(a.bytes().data(), b.bytes().data(), a.size()) < 0;
}

Node::Node(IoBackend& backend, const NodeConfig& config)
    : backend_(backend),
      config_(config),
      id_source_(random_seed()),
      receive_memory_(kReceiveSlots * kReceiveSlotBytes),
      send_memory_(kSendMemory) {
  send_batch_.reserve(kMaxBatch);  // GSO runs point into it: it must never reallocate
  receive_slots_.reserve(kReceiveSlots);
  for (std::size_t i = 0; i < kReceiveSlots; ++i) {
    receive_slots_.emplace_back(
        std::span(receive_memory_).subspan(i * kReceiveSlotBytes, kReceiveSlotBytes));
  }
}

Node::~Node() = default;

proto::ConnectionId Node::new_connection_id() {
  std::array<std::byte, proto::kConnectionIdLength> bytes{};
  for (;;) {
    const std::uint64_t value = id_source_();
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::byte>(value >> (8 * i));
    if (!by_id_.contains(key_of(bytes))) return proto::ConnectionId(bytes);
  }
}

Connection& Node::connect(const SocketAddress& peer, Instant now) {
  const proto::ConnectionId local = new_connection_id();
  const proto::ConnectionId initial_remote = new_connection_id();
  auto entry = std::make_unique<Entry>();
  entry->connection = Connection::connect(config_.connection, local, initial_remote, now);
  entry->peer = peer;
  entry->connection->set_path_limit(path_limit_to(peer));
  by_id_[key_of(local.bytes())] = entry.get();
  last_found_ = nullptr;
  entries_.push_back(std::move(entry));
  return *entries_.back()->connection;
}

std::vector<Connection*> Node::connections() const {
  std::vector<Connection*> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry->connection.get());
  return out;
}

void Node::forget_closed() {
  last_found_ = nullptr;
  std::erase_if(by_id_, [](const auto& item) {
    return item.second->connection->state() == ConnectionState::closed;
  });
  std::erase_if(entries_, [](const auto& entry) {
    return entry->connection->state() == ConnectionState::closed;
  });
}

std::optional<Instant> Node::poll(Instant now) {
  receive(now);
  return send(now);
}

void Node::receive(Instant now) {
  receive_batch(now);
  for (auto& entry : entries_) {
    Connection& connection = *entry->connection;
    const auto timer = connection.next_timer();
    if (timer && *timer <= now) connection.on_timer(now);
  }
}

std::optional<Instant> Node::send(Instant now) {
  send_all(now);
  std::optional<Instant> earliest;
  next_is_paced_send_ = false;
  for (const auto& entry : entries_) {
    const auto timer = entry->connection->next_timer();
    if (timer && (!earliest || *timer < *earliest)) {
      earliest = timer;
      next_is_paced_send_ = entry->connection->pacer_hold() == timer;
    }
  }
  return earliest;
}

void Node::receive_batch(Instant now) {
  if (config_.receive_from_socket) {
    // A bounded number of batches per poll, so sending is never starved by a flood.
    for (int round = 0; round < 8; ++round) {
      touched_.clear();
      std::size_t received = std::exchange(waited_, 0);
      if (received == 0) {
        auto got = backend_.receive(receive_slots_);
        if (!got) break;  // would_block, or an error the next poll sees again
        received = *got;
      }
      if (config_.clock) now = std::max(now, config_.clock());
      handle_slots(std::span(receive_slots_).first(received), now);
      end_batch(now);
      if (received < receive_slots_.size()) break;
      // More is waiting: what this batch made due (ACKs above all) leaves before the next
      // one, so a backlog is acknowledged as it is worked through, not only at its end.
      send_all(now);
    }
  }
}

bool Node::wait_receive(std::optional<Duration> timeout) noexcept {
  if (!config_.receive_from_socket || waited_ != 0) return waited_ != 0;
  const auto got = backend_.receive_wait(receive_slots_, timeout);
  if (got) {
    waited_ = *got;
    return true;
  }
  // A timeout or a signal ended the wait; anything else is the socket's to report.
  return got.error().code == IoErrc::would_block || got.error().code == IoErrc::interrupted;
}

void Node::receive_datagrams(std::span<const RxDatagram> batch, Instant now) {
  touched_.clear();
  handle_slots(batch, now);
  end_batch(now);
}

void Node::handle_slots(std::span<const RxDatagram> slots, Instant now) {
  for (const RxDatagram& slot : slots) {
    if (slot.length == 0 && wake_source_ && slot.from == *wake_source_) continue;
    if (slot.truncated) {
      ++counters_.malformed;
      continue;
    }
    for (std::size_t s = 0; s < slot.segment_count(); ++s) {
      ++counters_.datagrams_received;
      handle_datagram(slot.segment(s), slot.from, now);
    }
  }
}

void Node::end_batch(Instant now) {
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (Entry* entry : touched_) entry->connection->on_batch_end(now);
  touched_.clear();
}

void Node::handle_datagram(std::span<const std::byte> datagram, const SocketAddress& from,
                           Instant now) {
  if (datagram.empty()) {
    ++counters_.malformed;
    return;
  }
  // A datagram may hold several long-header packets and end with one short-header packet.
  while (!datagram.empty()) {
    auto packet = proto::parse_packet(datagram, proto::kConnectionIdLength);
    if (!packet) {
      if (packet.error() == proto::Errc::bad_checksum) {
        ++counters_.bad_checksum;
      } else if (packet.error() == proto::Errc::unsupported_version) {
        answer_version(datagram, from);
      } else {
        ++counters_.malformed;
      }
      return;
    }
    const std::size_t size = packet->packet_size;
    if (packet->header.type == proto::PacketType::version_negotiation) {
      // We speak only version 1, and so did our Initial: a negotiation packet listing
      // something else can only be stale or forged; ignore it.
      return;
    }
    Entry* entry = find_entry(packet->header.dcid);
    if (entry != nullptr) {
      const std::uint64_t taken = entry->connection->packets_received();
      entry->connection->receive(*packet, datagram.size(), now);
      // Follow a peer whose address or port changed, but only for a packet the connection
      // took as new: a replayed copy sent from elsewhere must not redirect the connection.
      if (entry->connection->packets_received() != taken && from != entry->peer) {
        entry->peer = from;
        // A new path: the datagram size starts over, up to what the new route carries.
        entry->connection->set_path_limit(path_limit_to(from));
      }
      touched_.push_back(entry);
    } else if (packet->header.type == proto::PacketType::initial) {
      accept_initial(*packet, datagram.size(), from, now);
    } else {
      ++counters_.unknown_connection;
    }
    datagram = datagram.subspan(size);
  }
}

Node::Entry* Node::find_entry(proto::ConnectionIdRef dcid) {
  // Packets come in runs for one connection: remember the last one found.
  if (last_found_ != nullptr && dcid == last_found_id_) return last_found_;
  auto it = by_id_.find(key_of(dcid.bytes()));
  if (it == by_id_.end()) return nullptr;
  last_found_ = it->second;
  last_found_id_ = it->first;
  return last_found_;
}

void Node::accept_initial(const proto::ParsedPacket& packet, std::size_t datagram_size,
                          const SocketAddress& from, Instant now) {
  if (!config_.accept_connections || datagram_size < proto::kMinInitialDatagram) {
    ++counters_.refused;
    return;
  }
  proto::ConnectionId local = new_connection_id();
  bool keep_initial_dcid = true;
  if (config_.require_retry) {
    std::optional<std::span<const std::byte>> cookie;
    proto::FrameReader reader(packet.header.type, packet.payload);
    while (!reader.done()) {
      auto frame = reader.next();
      if (!frame) break;
      if (const auto* hello = std::get_if<proto::ClientHelloFrame>(*frame)) cookie = hello->cookie;
    }
    if (!cookie) {
      ++counters_.malformed;
      return;
    }
    if (cookie->empty()) return send_retry(packet, from, now);
    // The client sends its second hello to the ID our Retry chose: that becomes our ID.
    if (!cookies_.validate(*cookie, from, packet.header.dcid, now)) {
      ++counters_.invalid_cookies;
      return;
    }
    local = proto::ConnectionId(packet.header.dcid);
    keep_initial_dcid = false;
  }
  // A cookie proved the address; without one the connection limits what it sends.
  auto accepted = Connection::accept(config_.connection, local, packet, datagram_size, now,
                                     config_.require_retry);
  if (!accepted) {
    ++counters_.malformed;
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->connection = std::move(*accepted);
  entry->peer = from;
  if (accept_ && !accept_(*entry->connection, from)) {
    ++counters_.refused;
    return;
  }
  entry->connection->set_path_limit(path_limit_to(from));
  by_id_[key_of(entry->connection->local_id().bytes())] = entry.get();
  // Without a Retry the client's Initials keep its own DCID until it hears from us.
  if (keep_initial_dcid) by_id_[key_of(packet.header.dcid.bytes())] = entry.get();
  last_found_ = nullptr;
  touched_.push_back(entry.get());
  entries_.push_back(std::move(entry));
}

void Node::send_retry(const proto::ParsedPacket& packet, const SocketAddress& from, Instant now) {
  const proto::ConnectionId retry_id = new_connection_id();
  auto cookie = cookies_.mint(from, retry_id, packet.header.dcid, now);
  if (!cookie) return;
  // Stateless: nothing is remembered; the cookie carries what the next hello must prove.
  std::array<std::byte, 256> out{};
  auto builder = proto::PacketBuilder::long_header(out, proto::PacketType::retry,
                                                   packet.header.scid, retry_id, 0, 1);
  if (!builder || !builder->add(proto::RetryFrame{cookie->bytes()})) return;
  auto size = builder->finish();
  if (!size) return;
  const TxDatagram reply{from, std::span(out).first(*size), 0};
  if (backend_.send(std::span(&reply, 1))) ++counters_.retries_sent;
}

void Node::answer_version(std::span<const std::byte> datagram, const SocketAddress& from) {
  if (datagram.size() < proto::kMinInitialDatagram) {
    ++counters_.malformed;  // never amplify small ones; a version we cannot read
    return;
  }
  auto header = proto::parse_invariant_header(datagram);
  if (!header) {
    ++counters_.malformed;
    return;
  }
  std::array<std::byte, 128> out{};
  const std::uint32_t versions[] = {proto::kVersion1};
  auto size = proto::encode_version_negotiation(out, header->scid, header->dcid, versions);
  if (!size) return;
  const TxDatagram reply{from, std::span(out).first(*size), 0};
  if (backend_.send(std::span(&reply, 1))) ++counters_.version_negotiations;
}

void Node::send_all(Instant now) {
  const IoCapabilities caps = backend_.capabilities();
  const std::size_t max_segments = std::max<std::size_t>(1, caps.gso_max_segments);
  for (auto& entry : entries_) {
    Connection& connection = *entry->connection;
    TxDatagram* run = nullptr;  // the GSO entry this connection's packets are joining
    for (std::size_t n = 0; n < kMaxSendsPerConnection; ++n) {
      if (send_used_ + proto::kMaxDatagramSize > send_memory_.size() ||
          send_batch_.size() == std::min(caps.max_batch, kMaxBatch)) {
        flush(now);
        run = nullptr;
      }
      // Room for the largest datagram: a path MTU probe is larger than the others.
      const auto space = std::span(send_memory_).subspan(send_used_, proto::kMaxDatagramSize);
      const std::size_t size = connection.send(space, now);
      if (size == 0) break;
      const bool fits = run != nullptr && run->datagram_count() < max_segments &&
                        run->data.size() + size <= caps.gso_max_bytes &&
                        run->data.data() + run->data.size() == space.data();
      if (fits && size <= run->segment_size) {
        run->data = std::span(run->data.data(), run->data.size() + size);
        if (size < run->segment_size) run = nullptr;  // a shorter packet ends the buffer
      } else {
        // A GSO buffer's segments all have the first one's size, but for a shorter last:
        // the packets that follow join while they are as large as this one.
        send_batch_.push_back(
            TxDatagram{entry->peer, space.first(size), static_cast<std::uint16_t>(size)});
        run = &send_batch_.back();
      }
      send_used_ += size;
    }
  }
  flush(now);
}

void Node::flush(Instant /*now*/) {
  std::span<const TxDatagram> pending(send_batch_);
  for (int attempts = 0; !pending.empty() && attempts < 64; ++attempts) {
    auto sent = backend_.send(pending);
    if (sent) {
      for (const TxDatagram& d : pending.first(*sent))
        counters_.datagrams_sent += d.datagram_count();
      pending = pending.subspan(*sent);
      continue;
    }
    if (sent.error().code == IoErrc::would_block || is_fatal(sent.error().code)) break;
    // This entry is lost (too big, unreachable); loss recovery resends its data.
    counters_.send_errors += pending.front().datagram_count();
    pending = pending.subspan(1);
  }
  // What the socket would not take now counts as lost on the wire; loss recovery sends
  // the data again.
  for (const TxDatagram& d : pending) counters_.send_errors += d.datagram_count();
  send_batch_.clear();
  send_used_ = 0;
}

}  // namespace dwcp::transport
