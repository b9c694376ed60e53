// A peer that dies mid-transfer: the server node runs in a forked child process, which is
// killed with SIGKILL while the client is sending. The client must notice by its idle
// timeout, close with close_reason().idle_timeout, and never hang.
#include <doctest/doctest.h>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "tests/transport/node_pair.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr std::uint64_t kIdleTimeoutMs = 1500;

// Windows far above what is sent before the kill: the client is still sending when the
// server dies, so what it has in flight goes unacknowledged and is probed for. With the
// default windows it could be waiting for credit with everything sent acknowledged, and
// then nothing is due but the idle timeout.
ConnectionConfig short_idle_timeout() {
  ConnectionConfig config;
  config.params.max_idle_timeout_ms = kIdleTimeoutMs;
  config.params.initial_max_stream_data = std::uint64_t{64} << 20;
  config.params.initial_max_data = std::uint64_t{64} << 20;
  return config;
}

// The child: a server node on `socket` that reads and drops everything, until killed (or,
// as a backstop, 60 s). Never returns: it leaves with _exit(), so nothing of the parent's
// (doctest, destructors, atexit handlers) runs twice.
[[noreturn]] void serve_until_killed(IoBackend& socket) {
  // Die with the parent, should the test process go first.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  NodeConfig config;
  config.connection = short_idle_timeout();
  config.accept_connections = true;
  Node server(socket, config);
  Connection* connection = nullptr;
  server.on_accept([&](Connection& c, const SocketAddress&) {
    connection = &c;
    return true;
  });
  std::vector<std::byte> buffer(1 << 16);
  const Instant end = MonotonicClock::now() + seconds(60);
  while (MonotonicClock::now() < end) {
    server.poll(MonotonicClock::now());
    if (connection == nullptr) continue;
    for (std::uint64_t id : connection->readable_streams()) {
      while (connection->read_message(id, buffer)) {
      }
    }
  }
  _exit(0);
}

}  // namespace

TEST_CASE("a client whose peer is killed mid-transfer closes on its idle timeout") {
  auto server_socket = loopback_backend();
  const SocketAddress server_address = server_socket->local_address();
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) serve_until_killed(*server_socket);
  // The parent keeps no copy of the server's socket: once the child dies, nothing answers.
  server_socket.reset();

  auto client_socket = loopback_backend();
  NodeConfig config;
  config.connection = short_idle_timeout();
  Node client_node(*client_socket, config);
  Connection& client = client_node.connect(server_address, MonotonicClock::now());
  std::optional<std::uint64_t> stream;
  std::uint64_t index = 0;
  std::uint64_t appended = 0;
  bool killed = false;
  Instant killed_at{};
  std::uint64_t acked_before_kill = 0;

  const Instant end = MonotonicClock::now() + seconds(30);
  for (std::uint64_t i = 0; i < 100'000'000 && MonotonicClock::now() < end; ++i) {
    if (!stream && client.state() == ConnectionState::established) {
      stream = client.open_stream();
      REQUIRE(stream);
    }
    // Keep the stream full for as long as the connection takes data.
    while (stream && client.state() == ConnectionState::established) {
      const Bytes m = message(*stream, index, 4000);
      if (client.send_message(*stream, m) != AppendStatus::accepted) break;
      appended += m.size();
      ++index;
    }
    client_node.poll(MonotonicClock::now());
    const auto stats = client.stats();
    // Kill the server once the transfer is well under way: megabytes acknowledged.
    if (!killed && appended > stats.send_buffered_bytes + (4 << 20)) {
      acked_before_kill = appended - stats.send_buffered_bytes;
      REQUIRE(kill(child, SIGKILL) == 0);
      int status = 0;
      REQUIRE(waitpid(child, &status, 0) == child);
      CHECK(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGKILL);
      killed = true;
      killed_at = MonotonicClock::now();
    }
    if (client.state() == ConnectionState::closed) break;
  }
  if (!killed) {  // never leave the child behind, whatever failed
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  REQUIRE(killed);
  const double after_kill =
      std::chrono::duration<double>(MonotonicClock::now() - killed_at).count();
  MESSAGE(acked_before_kill, " bytes acknowledged before the kill; closed ", after_kill,
          " s after it");
  REQUIRE(client.state() == ConnectionState::closed);
  REQUIRE(client.close_reason());
  CHECK(client.close_reason()->idle_timeout);
  CHECK_FALSE(client.close_reason()->by_peer);
  // Not before the idle timeout (counted from the last packet, which came before the kill)
  // minus that packet's head start, and not much after it.
  CHECK(after_kill > 0.5 * kIdleTimeoutMs / 1000);
  CHECK(after_kill < 1.0 * kIdleTimeoutMs / 1000 + 2.0);
  // It kept trying until it gave up: what it sent after the kill was never acknowledged.
  CHECK(client.stats().bytes_in_flight > 0);
  CHECK(client.stats().flow_control_stalls == 0);
  CHECK(client.stats().probe_timeouts > 0);
  // Nothing more happens on a closed connection.
  CHECK(client.send_message(*stream, message(*stream, index, 4000)) == AppendStatus::finished);
  CHECK(client_node.poll(MonotonicClock::now()) == std::nullopt);
}
