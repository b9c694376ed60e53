#include "transport/flow_credit.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace dwcp::transport;

TEST_CASE("a sender stays within its credit and reports blocked once per limit") {
  SendCredit credit(1000);
  credit.consume(600);
  CHECK(credit.available() == 400);
  CHECK_FALSE(credit.blocked_report());
  credit.consume(1000);  // capped at what is available
  CHECK(credit.used() == 1000);
  CHECK(credit.blocked_report() == 1000u);
  CHECK_FALSE(credit.blocked_report());
  CHECK_FALSE(credit.raise_limit(900));  // limits only grow
  CHECK(credit.raise_limit(1500));
  CHECK(credit.available() == 500);
  credit.consume(500);
  CHECK(credit.blocked_report() == 1500u);
}

TEST_CASE("a receiver refuses data past its limit and grants more per half window") {
  ReceiveCredit credit(1000);
  CHECK(credit.on_received(1000));
  CHECK_FALSE(credit.on_received(1001));
  CHECK_FALSE(credit.update());  // nothing consumed yet
  credit.on_consumed(400);
  CHECK_FALSE(credit.update());  // less than half a window
  credit.on_consumed(100);
  CHECK(credit.update() == 1500u);
  CHECK(credit.on_received(1500));
  CHECK_FALSE(credit.update());
}

TEST_CASE("a slow consumer bounds what a fast sender can have outstanding") {
  // Sender and receiver share one credit loop; the consumer takes 1 byte for every 10 the
  // sender would like to send. Outstanding bytes never pass the window.
  constexpr std::uint64_t kWindow = 64 * 1024;
  SendCredit send(kWindow);
  ReceiveCredit receive(kWindow);
  std::uint64_t sent = 0;
  std::uint64_t stalls = 0;
  for (int tick = 0; tick < 100000; ++tick) {
    const std::uint64_t chunk = std::min<std::uint64_t>(1400, send.available());
    if (chunk == 0) ++stalls;
    send.consume(chunk);
    sent += chunk;
    REQUIRE(receive.on_received(sent));
    receive.on_consumed(std::min<std::uint64_t>(140, sent - receive.consumed()));
    if (auto limit = receive.update()) send.raise_limit(*limit);
    REQUIRE(sent - receive.consumed() <= kWindow);
  }
  CHECK(stalls > 0);
  CHECK(receive.consumed() == doctest::Approx(100000 * 140).epsilon(0.01));
}
