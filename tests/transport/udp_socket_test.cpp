#include "transport/udp_socket.h"

#include <doctest/doctest.h>
#include <netinet/udp.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/io_backend.h"
#include "transport/io_mmsg.h"
#include "transport/io_plain.h"

using namespace dwcp::transport;

TEST_CASE("IPv4 addresses parse and print back") {
  const auto a = SocketAddress::parse("127.0.0.1:4433");
  REQUIRE(a.has_value());
  CHECK(a->is_v4());
  CHECK(a->port() == 4433);
  CHECK(a->to_string() == "127.0.0.1:4433");
  CHECK(*a == SocketAddress::loopback_v4(4433));
  CHECK(a->size() == sizeof(sockaddr_in));

  const auto any = SocketAddress::parse("0.0.0.0:0");
  REQUIRE(any.has_value());
  CHECK(*any == SocketAddress::any_v4(0));
  CHECK(SocketAddress::parse("10.1.2.3:65535")->port() == 65535);
}

TEST_CASE("IPv6 addresses parse in brackets and print back") {
  const auto a = SocketAddress::parse("[::1]:443");
  REQUIRE(a.has_value());
  CHECK(a->is_v6());
  CHECK(a->port() == 443);
  CHECK(a->to_string() == "[::1]:443");
  CHECK(*a == SocketAddress::loopback_v6(443));
  CHECK(a->size() == sizeof(sockaddr_in6));

  const auto b = SocketAddress::parse("[2001:db8::a:b]:1");
  REQUIRE(b.has_value());
  CHECK(b->to_string() == "[2001:db8::a:b]:1");
  CHECK(SocketAddress::parse("[::]:0").value() == SocketAddress::any_v6(0));
  CHECK(SocketAddress::parse("[::ffff:1.2.3.4]:9")->to_string() == "[::ffff:1.2.3.4]:9");
}

TEST_CASE("bad addresses give the reason") {
  struct Case {
    const char* text;
    AddressErrc code;
  };
  const std::vector<Case> cases = {
      {"", AddressErrc::empty},
      {"127.0.0.1", AddressErrc::missing_port},
      {"127.0.0.1:", AddressErrc::bad_port},
      {"127.0.0.1:65536", AddressErrc::bad_port},
      {"127.0.0.1:-1", AddressErrc::bad_port},
      {"127.0.0.1:80x", AddressErrc::bad_port},
      {"127.0.0.1: 80", AddressErrc::bad_port},
      {"256.0.0.1:80", AddressErrc::bad_host},
      {"localhost:80", AddressErrc::bad_host},
      {":80", AddressErrc::bad_host},
      {"1.2.3:80", AddressErrc::bad_host},
      {"::1:80", AddressErrc::missing_bracket},
      {"[::1:80", AddressErrc::missing_bracket},
      {"[::1]", AddressErrc::missing_port},
      {"[::1]80", AddressErrc::missing_port},
      {"[::1]:", AddressErrc::bad_port},
      {"[1.2.3.4]:80", AddressErrc::bad_host},
      {"[::g]:80", AddressErrc::bad_host},
      {"[]:80", AddressErrc::bad_host},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const auto r = SocketAddress::parse(c.text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == c.code);
    CHECK_FALSE(r.error().detail.empty());
  }
  const auto r = SocketAddress::parse("127.0.0.1:99999");
  CHECK(to_string(r.error()) == "bad_port: port '99999' in '127.0.0.1:99999' is not 0-65535");
}

TEST_CASE("an unspecified address has no size and compares equal only to itself") {
  const SocketAddress none;
  CHECK(none.is_unspecified());
  CHECK(none.size() == 0);
  CHECK(none.port() == 0);
  CHECK(none.to_string() == "unspecified");
  CHECK(none == SocketAddress{});
  CHECK_FALSE(none == SocketAddress::loopback_v4(0));
  CHECK_FALSE(SocketAddress::loopback_v4(1) == SocketAddress::loopback_v4(2));
  CHECK_FALSE(SocketAddress::loopback_v4(1) == SocketAddress::loopback_v6(1));
  CHECK(SocketAddress::from_sockaddr(nullptr, 0).is_unspecified());
}

TEST_CASE("errno values map to codes that say whether to carry on") {
  CHECK(io_error_from_errno(EAGAIN, "x").code == IoErrc::would_block);
  CHECK(io_error_from_errno(EMSGSIZE, "x").code == IoErrc::message_too_big);
  CHECK(io_error_from_errno(ECONNREFUSED, "x").code == IoErrc::unreachable);
  CHECK(io_error_from_errno(ENOBUFS, "x").code == IoErrc::no_buffers);
  CHECK(io_error_from_errno(EBADF, "x").code == IoErrc::bad_descriptor);
  CHECK(io_error_from_errno(EADDRINUSE, "x").code == IoErrc::address_in_use);
  CHECK(io_error_from_errno(ELOOP, "x").code == IoErrc::system);
  CHECK_FALSE(is_fatal(IoErrc::would_block));
  CHECK_FALSE(is_fatal(IoErrc::message_too_big));
  CHECK_FALSE(is_fatal(IoErrc::gso_refused));
  CHECK(is_fatal(IoErrc::bad_descriptor));
  CHECK(is_fatal(IoErrc::invalid_argument));
  const std::string text = to_string(io_error_from_errno(EAGAIN, "recvmmsg"));
  CHECK(text.starts_with("recvmmsg: would_block (errno "));
  CHECK(to_string(IoError{IoErrc::unsupported, 0, ""}) == "unsupported");
}

TEST_CASE("a socket binds to an ephemeral loopback port and reports its buffers") {
  auto s = UdpSocket::open(SocketAddress::loopback_v4(0));
  REQUIRE_MESSAGE(s.has_value(), to_string(s.error()));
  CHECK(s->is_open());
  CHECK(s->local_address().is_v4());
  CHECK(s->local_address().port() != 0);
  const SocketReport& r = s->report();
  const std::string forced_rx = r.receive_buffer_forced ? " (forced)" : "";
  const std::string forced_tx = r.send_buffer_forced ? " (forced)" : "";
  MESSAGE("rcvbuf " << r.receive_buffer << forced_rx << ", sndbuf " << r.send_buffer << forced_tx
                    << ", gro " << r.gro << ", dont_fragment " << r.dont_fragment);
  CHECK(r.receive_buffer > 0);
  CHECK(r.send_buffer > 0);
  CHECK(r.dont_fragment);
  if (r.receive_buffer_forced) {
    // The kernel doubles what it is given for its own bookkeeping.
    CHECK(r.receive_buffer >= SocketOptions{}.receive_buffer);
  }

  UdpSocket moved = std::move(*s);
  CHECK(moved.is_open());
  CHECK_FALSE(s->is_open());
  moved.close();
  CHECK_FALSE(moved.is_open());
}

TEST_CASE("binding a port already in use is an error value") {
  auto first = UdpSocket::open(SocketAddress::loopback_v4(0));
  REQUIRE(first.has_value());
  auto second = UdpSocket::open(first->local_address());
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == IoErrc::address_in_use);
  CHECK(std::string(second.error().op) == "bind");
  CHECK(UdpSocket::open(SocketAddress{}).error().code == IoErrc::invalid_argument);
}

TEST_CASE("receiving from an empty socket returns would_block, not an error to abort on") {
  std::vector<std::byte> buffer(2048);
  std::vector<RxDatagram> slots(4);
  for (auto& slot : slots) slot.buffer = buffer;
  {
    auto s = UdpSocket::open(SocketAddress::loopback_v4(0));
    REQUIRE(s.has_value());
    MmsgBackend mmsg(std::move(*s));
    const auto r = mmsg.receive(slots);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == IoErrc::would_block);
    CHECK_FALSE(is_fatal(r.error().code));
    CHECK(mmsg.receive(std::span<RxDatagram>{}).value() == 0);
  }
  {
    auto s = UdpSocket::open(SocketAddress::loopback_v4(0));
    REQUIRE(s.has_value());
    PlainBackend plain(std::move(*s));
    const auto r = plain.receive(slots);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == IoErrc::would_block);
  }
}

TEST_CASE("a send message carries UDP_SEGMENT only when the data spans several segments") {
  const SocketAddress to = SocketAddress::loopback_v4(4242);
  std::vector<std::byte> data(3000);
  msghdr msg{};
  iovec iov{};
  detail::GsoControl control{};

  detail::prepare_send_msg(msg, iov, control, to, data, 0);
  CHECK(msg.msg_control == nullptr);
  CHECK(msg.msg_iov == &iov);
  CHECK(iov.iov_base == data.data());
  CHECK(iov.iov_len == data.size());
  CHECK(msg.msg_namelen == to.size());

  detail::prepare_send_msg(msg, iov, control, to, data, 3000);  // one whole segment
  CHECK(msg.msg_control == nullptr);

  detail::prepare_send_msg(msg, iov, control, to, data, 1472);
  REQUIRE(msg.msg_control != nullptr);
  const cmsghdr* c = CMSG_FIRSTHDR(&msg);
  REQUIRE(c != nullptr);
  CHECK(c->cmsg_level == IPPROTO_UDP);
  CHECK(c->cmsg_type == UDP_SEGMENT);
  std::uint16_t segment = 0;
  std::memcpy(&segment, CMSG_DATA(c), sizeof segment);
  CHECK(segment == 1472);
}
