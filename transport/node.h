// A dwcp endpoint on one UDP socket: it owns the connections that use the socket, routes
// each received packet to its connection by destination connection ID, answers unknown
// versions, accepts new connections, and sends what the connections produce in batches
// (consecutive equal-size packets of one connection leave as one GSO buffer).
//
// This is the shared threading mode: one thread calls poll() in a loop and does all the
// receiving, sending and timer work. Nothing here blocks but wait_receive(); poll()
// returns when the socket has nothing more to give and the connections nothing more to send.
//
// Thread safety: a Node and its connections belong to the thread that calls poll().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "proto/packet.h"
#include "transport/clock.h"
#include "transport/connection.h"
#include "transport/io_backend.h"
#include "transport/retry_cookie.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

struct NodeConfig {
  ConnectionConfig connection;
  // Accept connections from peers (a server). A client node refuses CLIENT_HELLOs.
  bool accept_connections = false;
  // Validate a client's address with a stateless Retry cookie before creating any state
  // for it (docs/protocol.md §7.2). Turn off only on trusted networks.
  bool require_retry = true;
  // poll() reads the socket. Off when another thread receives and hands the datagrams
  // over through receive_datagrams() (the dedicated threading mode).
  bool receive_from_socket = true;
  // Reads the time after each receive system call, for a poll() that reads the socket in
  // several rounds with sends between them: the later rounds' ACKs must not carry the
  // time poll() was given, or their RTT samples come out below the path's. Unset (tests
  // in simulated time) the rounds keep poll()'s time.
  std::function<Instant()> clock;
};

// What the node dropped or answered without a connection, for statistics.
struct NodeCounters {
  std::uint64_t datagrams_received = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t malformed = 0;             // header unreadable: dropped
  std::uint64_t bad_checksum = 0;          // trailer mismatch: dropped
  std::uint64_t unknown_connection = 0;    // no connection for the DCID: dropped
  std::uint64_t version_negotiations = 0;  // answered unknown versions
  std::uint64_t refused = 0;               // hellos the accept callback refused
  std::uint64_t retries_sent = 0;          // Retry answers to hellos without a cookie
  std::uint64_t invalid_cookies = 0;       // hellos with a forged, expired or misdirected cookie
  std::uint64_t send_errors = 0;  // datagrams the socket would not take (recovered as loss)
};

class Node {
 public:
  // Uses `backend` (which must outlive the node); its socket is the node's.
  Node(IoBackend& backend, const NodeConfig& config);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  // Starts a connection to `peer`; the handshake runs in poll(). The node owns it.
  Connection& connect(const SocketAddress& peer, Instant now);
  // Called for every new incoming connection, before its first answer; false refuses it.
  void on_accept(std::function<bool(Connection&, const SocketAddress&)> callback) {
    accept_ = std::move(callback);
  }

  // Receives what is waiting, runs due timers, sends what is due. Returns the earliest
  // time poll() has work without new datagrams (timers, pacing), if any.
  std::optional<Instant> poll(Instant now);
  // poll() in two halves, for a caller that answers received messages in between, so the
  // answers leave with the ACKs in the same packets: receive() reads the socket and runs
  // due timers; send() sends what is due and returns what poll() returns.
  void receive(Instant now);
  std::optional<Instant> send(Instant now);
  // Whether the time the last poll() or send() returned is a pacer letting data out
  // (Connection::pacer_hold()): the node then knows when it next has data to send.
  [[nodiscard]] bool next_is_paced_send() const noexcept { return next_is_paced_send_; }

  // For a thread with nothing to do: waits in the socket's receive call for a datagram, at
  // most `timeout` (at least kMinReceiveWait; none: no limit), and keeps what arrives for
  // the next receive(), which then reads the socket no further. The datagram that ends
  // the wait is read by the same system call that waited. False, at once, if the backend
  // cannot wait so (IoCapabilities::receive_wait) or the socket reports an error: wait
  // elsewhere (epoll) then.
  bool wait_receive(std::optional<Duration> timeout) noexcept;
  // Empty datagrams from `source` are wake-ups (another thread ending a wait_receive()):
  // dropped without being counted.
  void set_wake_source(const SocketAddress& source) noexcept { wake_source_ = source; }

  // Datagrams another thread received from the node's socket (receive_from_socket off):
  // handled as poll() handles its own; ACKs due go out with the next poll().
  void receive_datagrams(std::span<const RxDatagram> batch, Instant now);

  // Connections the node holds, closed ones included until forget_closed().
  [[nodiscard]] std::vector<Connection*> connections() const;
  void forget_closed();
  [[nodiscard]] const NodeCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] SocketAddress local_address() const noexcept { return backend_.local_address(); }

 private:
  struct Entry {
    std::unique_ptr<Connection> connection;
    SocketAddress peer;
  };

  proto::ConnectionId new_connection_id();
  void receive_batch(Instant now);
  void handle_slots(std::span<const RxDatagram> slots, Instant now);
  // Tells the connections that got packets in this receive batch that it is over.
  void end_batch(Instant now);
  // The connection a destination ID names, or nullptr.
  Entry* find_entry(proto::ConnectionIdRef dcid);
  void handle_datagram(std::span<const std::byte> datagram, const SocketAddress& from, Instant now);
  void accept_initial(const proto::ParsedPacket& packet, std::size_t datagram_size,
                      const SocketAddress& from, Instant now);
  void answer_version(std::span<const std::byte> datagram, const SocketAddress& from);
  void send_retry(const proto::ParsedPacket& packet, const SocketAddress& from, Instant now);
  void send_all(Instant now);
  void flush(Instant now);

  IoBackend& backend_;
  NodeConfig config_;
  std::function<bool(Connection&, const SocketAddress&)> accept_;
  std::vector<std::unique_ptr<Entry>> entries_;
  // Orders IDs by length, then bytes.
  struct IdLess {
    bool operator()(const proto::ConnectionId& a, const proto::ConnectionId& b) const noexcept;
  };
  std::map<proto::ConnectionId, Entry*, IdLess> by_id_;  // local IDs, clients' initial DCIDs
  Entry* last_found_ = nullptr;  // find_entry()'s last answer, for last_found_id_
  proto::ConnectionId last_found_id_;
  std::mt19937_64 id_source_;
  RetryCookieMinter cookies_;
  NodeCounters counters_;

  // Receive slots, large enough for a GRO buffer each.
  std::vector<std::byte> receive_memory_;
  std::vector<RxDatagram> receive_slots_;
  std::size_t waited_ = 0;  // slots wait_receive() filled, for the next receive()
  std::optional<SocketAddress> wake_source_;
  std::vector<Entry*> touched_;  // connections that got packets in this batch
  // Send staging: packets written back to back, cut into GSO entries.
  std::vector<std::byte> send_memory_;
  std::vector<TxDatagram> send_batch_;
  std::size_t send_used_ = 0;
  bool next_is_paced_send_ = false;
};

}  // namespace dwcp::transport
