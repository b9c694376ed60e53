// Waiting in the receive call: the mmsg backend's receive_wait() (the datagram that ends
// the wait is read by it; timeouts; receive() never waits), the node keeping what a wait
// read for its next receive() and dropping wake-ups uncounted, and the idle strategy's
// doorbell ending such a wait.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/transport/io_test_support.h"
#include "tests/transport/node_pair.h"
#include "transport/clock.h"
#include "transport/idle_strategy.h"
#include "transport/node.h"

using namespace dwcp::transport;
using namespace dwcp::transport::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::unique_ptr<IoBackend> open_mmsg() {
  std::string why;
  auto backend = open_kind(Kind::mmsg, SocketAddress::loopback_v4(0), 1, why);
  REQUIRE_MESSAGE(backend, why);
  return backend;
}

// Slots of kMaxUdpPayload bytes each.
struct Slots {
  explicit Slots(std::size_t count)
      : storage(count, std::vector<std::byte>(kMaxUdpPayload)), slots(count) {
    for (std::size_t i = 0; i < count; ++i) slots[i] = RxDatagram{storage[i]};
  }
  std::vector<std::vector<std::byte>> storage;
  std::vector<RxDatagram> slots;
};

// Spins (yielding) until `flag` is set, for at most five seconds.
bool await_flag(const std::atomic<bool>& flag) {
  const auto give_up = Clock::now() + 5s;
  while (!flag.load(std::memory_order_acquire)) {
    if (Clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

timeval receive_timeout_of(int fd) {
  timeval tv{};
  socklen_t length = sizeof tv;
  REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &length) == 0);
  return tv;
}

}  // namespace

TEST_CASE("mmsg receive_wait: the datagram that ends the wait is read by it") {
  auto rx = open_mmsg();
  auto tx = open_mmsg();
  REQUIRE(rx->capabilities().receive_wait);
  Slots slots(4);
  // receive() itself never waits, although the socket now blocks.
  const auto empty = rx->receive(slots.slots);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().code == IoErrc::would_block);

  std::atomic<bool> waiting{false};
  IoResult<std::size_t> got = 0;
  std::thread receiver([&] {
    waiting.store(true, std::memory_order_release);
    got = rx->receive_wait(slots.slots, 5s);
  });
  REQUIRE(await_flag(waiting));
  const auto payload = pattern(7, 300);
  const TxDatagram datagram{rx->local_address(), payload, 0};
  const auto started = Clock::now();
  REQUIRE(tx->send(std::span(&datagram, 1)).value() == 1);
  receiver.join();
  CHECK(Clock::now() - started < 5s);  // ended by the datagram, not by the timeout
  REQUIRE(got.has_value());
  REQUIRE(*got == 1);
  CHECK(slots.slots[0].from == tx->local_address());
  CHECK(std::vector(slots.slots[0].buffer.begin(),
                    slots.slots[0].buffer.begin() +
                        static_cast<std::ptrdiff_t>(slots.slots[0].length)) == payload);
}

TEST_CASE("mmsg receive_wait: an empty socket times out early, never late") {
  auto rx = open_mmsg();
  Slots slots(2);
  const auto started = Clock::now();
  const auto got = rx->receive_wait(slots.slots, kMinReceiveWait);
  const auto waited = Clock::now() - started;
  REQUIRE_FALSE(got);
  CHECK(got.error().code == IoErrc::would_block);
  // SO_RCVTIMEO is half the wait; a loaded machine may return late by its scheduling only.
  CHECK(waited < 1s);
  // The kernel reads back the half asked for rounded up to whole jiffies (at most 10 ms).
  const timeval tv = receive_timeout_of(rx->fd());
  CHECK(tv.tv_sec == 0);
  CHECK(tv.tv_usec >= 10'000);
  CHECK(tv.tv_usec <= 20'000);
  // A wait within a quarter to a half of the timeout in place keeps it (no setsockopt);
  // a longer one sets its own half.
  REQUIRE_FALSE(rx->receive_wait(slots.slots, 30ms));
  CHECK(receive_timeout_of(rx->fd()).tv_usec == tv.tv_usec);
  REQUIRE_FALSE(rx->receive_wait(slots.slots, 50ms));
  const timeval longer = receive_timeout_of(rx->fd());
  CHECK(longer.tv_usec >= 25'000);
  CHECK(longer.tv_usec <= 35'000);
  // Shorter waits than kMinReceiveWait are refused without waiting.
  const auto refused = rx->receive_wait(slots.slots, 1ms);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == IoErrc::invalid_argument);
}

TEST_CASE("backends that cannot wait in the receive call say so") {
  std::string why;
  auto plain = open_kind(Kind::plain, SocketAddress::loopback_v4(0), 1, why);
  REQUIRE_MESSAGE(plain, why);
  CHECK_FALSE(plain->capabilities().receive_wait);
  Slots slots(1);
  const auto got = plain->receive_wait(slots.slots, 1s);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == IoErrc::unsupported);
  FaultBackend faults(*plain, FaultConfig{});
  CHECK_FALSE(faults.capabilities().receive_wait);
}

TEST_CASE("a node keeps what its wait read for receive(); wake-ups are dropped uncounted") {
  auto backend = open_mmsg();
  NodeConfig config;
  config.accept_connections = true;
  Node node(*backend, config);
  RawClient doorbell;
  RawClient stranger;
  const auto bind_raw = [](const RawClient& raw) {
    const SocketAddress any = SocketAddress::loopback_v4(0);
    REQUIRE(::bind(raw.fd(), any.data(), any.size()) == 0);
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    REQUIRE(::getsockname(raw.fd(), reinterpret_cast<sockaddr*>(&bound), &length) == 0);
    return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), length);
  };
  node.set_wake_source(bind_raw(doorbell));
  bind_raw(stranger);

  REQUIRE(doorbell.send_to(node.local_address(), {}));
  REQUIRE(node.wait_receive(5s));
  node.receive(MonotonicClock::now());
  CHECK(node.counters().datagrams_received == 0);
  CHECK(node.counters().malformed == 0);

  // The same empty datagram from anyone else is garbage, counted once: the wait read it
  // and receive() handled it without reading the socket again.
  REQUIRE(stranger.send_to(node.local_address(), {}));
  REQUIRE(node.wait_receive(5s));
  node.receive(MonotonicClock::now());
  CHECK(node.counters().datagrams_received == 1);
  CHECK(node.counters().malformed == 1);
}

TEST_CASE("idle strategy: a wake() ends a wait in the receive call with a doorbell datagram") {
  auto backend = open_mmsg();
  Slots slots(4);
  std::atomic<bool> waiting{false};
  IoResult<std::size_t> got = 0;
  std::optional<Duration> asked;
  ReceiveWait receive_wait;
  receive_wait.address = backend->local_address();
  receive_wait.wait = [&](std::optional<Duration> timeout) {
    asked = timeout;
    waiting.store(true, std::memory_order_release);
    got = backend->receive_wait(slots.slots, timeout);
    return true;
  };
  auto created = IdleStrategy::create(IdleMode::block, backend->fd(), std::move(receive_wait));
  REQUIRE(created);
  IdleStrategy& idle = **created;
  const auto source = idle.wake_source();
  REQUIRE(source.has_value());

  // A deadline nearer than kMinReceiveWait is waited for in epoll.
  Instant now = MonotonicClock::now();
  idle.begin_pass();
  idle.idle(false, now + 1ms, now);
  CHECK_FALSE(waiting.load());
  CHECK(idle.counters().blocks == 1);
  CHECK(idle.counters().receive_waits == 0);

  now = MonotonicClock::now();
  const Instant deadline = now + 5s;
  std::thread loop([&] {
    idle.begin_pass();
    idle.idle(false, deadline, now);
  });
  REQUIRE(await_flag(waiting));
  idle.wake();
  loop.join();
  CHECK(MonotonicClock::now() < deadline);  // ended by the doorbell, not by the timeout
  REQUIRE(asked.has_value());
  CHECK(*asked <= 5s);
  CHECK(idle.counters().receive_waits == 1);
  CHECK(idle.counters().wakeups == 1);
  REQUIRE(got.has_value());
  REQUIRE(*got == 1);
  CHECK(slots.slots[0].length == 0);
  CHECK(slots.slots[0].from == *source);
}

TEST_CASE("idle strategy: spin mode and strategies without a receive wait have no doorbell") {
  auto backend = open_mmsg();
  ReceiveWait receive_wait;
  receive_wait.address = backend->local_address();
  receive_wait.wait = [](std::optional<Duration>) { return true; };
  auto spin = IdleStrategy::create(IdleMode::spin, backend->fd(), receive_wait);
  REQUIRE(spin);
  CHECK_FALSE((*spin)->wake_source().has_value());
  auto plain = IdleStrategy::create(IdleMode::block, backend->fd());
  REQUIRE(plain);
  CHECK_FALSE((*plain)->wake_source().has_value());
}
