// Two connections joined by a simulated link, in simulated time, with no sockets: the
// link plays the node's part (it checks each datagram's trailer and hands the client's
// first Initial to Connection::accept) and can lose, reorder, duplicate and corrupt
// datagrams, from a seeded generator. Shared by the connection tests.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <random>
#include <vector>

#include "proto/packet.h"
#include "transport/connection.h"

namespace dwcp::transport::test {

using std::chrono::microseconds;
using Bytes = std::vector<std::byte>;

struct LinkFaults {
  double loss = 0;
  double reorder = 0;  // extra delay of up to 5 ms for this datagram
  double duplicate = 0;
  double corrupt = 0;
  // A copy of this datagram comes 50 ms late, after hundreds of newer ones (a path that
  // holds a packet back: a retransmitting radio link, a route flap).
  double stale_copy = 0;
  std::size_t drop_above = 0;  // larger datagrams vanish (a path MTU black hole); 0: none
};

struct Datagram {
  Instant arrival;
  std::uint64_t sequence;
  bool to_server;
  Bytes bytes;
  friend bool operator>(const Datagram& a, const Datagram& b) {
    return a.arrival != b.arrival ? a.arrival > b.arrival : a.sequence > b.sequence;
  }
};

// The link, both endpoints, and a clock.
class Simulation {
 public:
  Simulation(const ConnectionConfig& client_config, const ConnectionConfig& server_config,
             Duration one_way_delay, LinkFaults faults, std::uint64_t seed)
      : server_config_(server_config), delay_(one_way_delay), faults_(faults), rng_(seed) {
    client_ = Connection::connect(client_config, id(1), id(99), now_);
  }

  Connection& client() { return *client_; }
  Connection* server() { return server_.get(); }
  Instant now() const { return now_; }
  std::uint64_t corrupt_dropped() const { return corrupt_dropped_; }
  // Datagrams the client sent in each flush that sent any: the batches a node would hand
  // to one sendmmsg.
  const std::vector<std::size_t>& client_batches() const { return client_batches_; }
  void set_blackhole(bool on) { blackhole_ = on; }
  // What both ends' nodes would report as the route's datagram limit
  // (Connection::set_path_limit): the client's at once, the server's when it is accepted.
  void set_path_limit(std::size_t bytes) {
    path_limit_ = bytes;
    client_->set_path_limit(bytes);
  }
  // The server sends only when a datagram reached it or its timer fired, as a node's
  // thread that sleeps until then; by default it is asked on every step.
  void set_server_event_driven(bool on) { server_event_driven_ = on; }
  // Datagrams the link dropped for their size (LinkFaults::drop_above).
  std::uint64_t too_large_dropped() const { return too_large_dropped_; }

  // Runs until `done` holds or `limit` of simulated time passed; false on the limit.
  template <typename Done, typename App>
  bool run(Duration limit, Done&& done, App&& app) {
    const Instant end = now_ + limit;
    while (now_ < end) {
      app(*this);
      flush(*client_, false);
      if (server_ && (!server_event_driven_ || server_woken_)) flush(*server_, true);
      server_woken_ = false;
      deliver();
      fire_timers();
      if (done(*this)) return true;
      advance();
    }
    return false;
  }

 private:
  static proto::ConnectionId id(std::uint8_t value) {
    std::array<std::byte, proto::kConnectionIdLength> bytes{};
    bytes.fill(std::byte{value});
    return proto::ConnectionId(bytes);
  }

  bool chance(double p) { return p > 0 && std::uniform_real_distribution<>(0, 1)(rng_) < p; }

  void flush(Connection& connection, bool from_server) {
    std::array<std::byte, 65536> buffer{};
    for (std::size_t i = 0; i < 10000; ++i) {
      const std::size_t size = connection.send(buffer, now_);
      if (size == 0) {
        if (!from_server && i > 0) client_batches_.push_back(i);
        return;
      }
      if (blackhole_ || chance(faults_.loss)) continue;
      if (faults_.drop_above > 0 && size > faults_.drop_above) {
        ++too_large_dropped_;
        continue;
      }
      Bytes bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
      if (chance(faults_.corrupt)) bytes[rng_() % bytes.size()] ^= std::byte{0x20};
      Duration delay = delay_;
      if (chance(faults_.reorder)) delay += microseconds(rng_() % 5000);
      const int copies = chance(faults_.duplicate) ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        wire_.push(Datagram{now_ + delay, sequence_++, !from_server, bytes});
      }
      if (chance(faults_.stale_copy)) {
        wire_.push(Datagram{now_ + delay + std::chrono::milliseconds(50), sequence_++, !from_server,
                            bytes});
      }
    }
    FAIL("an endpoint never stops sending");
  }

  void deliver() {
    bool to_client = false;
    bool to_server = false;
    while (!wire_.empty() && wire_.top().arrival <= now_) {
      const Datagram datagram = wire_.top();
      wire_.pop();
      auto packet = proto::parse_packet(datagram.bytes);
      if (!packet) {  // a flipped bit fails the checksum, or the header check before it
        ++corrupt_dropped_;
        continue;
      }
      if (datagram.to_server) {
        if (!server_) {
          auto accepted =
              Connection::accept(server_config_, id(2), *packet, datagram.bytes.size(), now_);
          REQUIRE(accepted);
          server_ = std::move(*accepted);
          if (path_limit_ > 0) server_->set_path_limit(path_limit_);
        } else {
          server_->receive(*packet, datagram.bytes.size(), now_);
        }
        to_server = true;
        server_woken_ = true;
      } else {
        client_->receive(*packet, datagram.bytes.size(), now_);
        to_client = true;
      }
    }
    if (to_client) client_->on_batch_end(now_);
    if (to_server && server_) server_->on_batch_end(now_);
  }

  void fire_timers() {
    for (Connection* c : {client_.get(), server_.get()}) {
      if (c == nullptr) continue;
      const auto timer = c->next_timer();
      if (timer && *timer <= now_) {
        c->on_timer(now_);
        if (c == server_.get()) server_woken_ = true;
      }
    }
  }

  void advance() {
    // Small steps keep pacing honest; jump ahead when nothing can happen sooner.
    Instant next = now_ + microseconds(200);
    if (!wire_.empty() && wire_.top().arrival < next)
      next = std::max(now_ + Duration{1}, wire_.top().arrival);
    now_ = next;
  }

  ConnectionConfig server_config_;
  Duration delay_;
  LinkFaults faults_;
  std::mt19937_64 rng_;
  Instant now_ = kSimulatedEpoch;
  std::unique_ptr<Connection> client_;
  std::unique_ptr<Connection> server_;
  std::priority_queue<Datagram, std::vector<Datagram>, std::greater<>> wire_;
  std::uint64_t sequence_ = 0;
  std::uint64_t corrupt_dropped_ = 0;
  bool blackhole_ = false;
  std::size_t path_limit_ = 0;
  bool server_event_driven_ = false;
  bool server_woken_ = false;
  std::uint64_t too_large_dropped_ = 0;
  std::vector<std::size_t> client_batches_;
};

}  // namespace dwcp::transport::test
