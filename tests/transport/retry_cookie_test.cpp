#include "transport/retry_cookie.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <vector>

using namespace dwcp::transport;
using dwcp::proto::ConnectionId;
using dwcp::proto::ConnectionIdRef;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

CookieSecret secret_of(std::uint8_t seed) {
  CookieSecret secret{};
  for (std::size_t i = 0; i < secret.size(); ++i) {
    secret[i] = static_cast<std::byte>(seed + (i * 7));
  }
  return secret;
}

ConnectionId cid_of(std::uint8_t seed, std::size_t length = 8) {
  std::array<std::byte, 20> bytes{};
  for (std::size_t i = 0; i < length; ++i) bytes[i] = static_cast<std::byte>(seed + i);
  return ConnectionId(std::span(bytes).first(length));
}

SocketAddress address(std::string_view text) {
  auto parsed = SocketAddress::parse(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

const Instant kNow = kSimulatedEpoch;

struct Fixture {
  RetryCookieMinter minter{secret_of(1)};
  SocketAddress client = address("192.0.2.7:40000");
  ConnectionId retry_cid = cid_of(0x10);
  ConnectionId original_dcid = cid_of(0x80);

  std::vector<std::byte> mint() {
    auto cookie = minter.mint(client, retry_cid, original_dcid, kNow);
    REQUIRE(cookie.has_value());
    return {cookie->bytes().begin(), cookie->bytes().end()};
  }
  std::expected<ValidatedCookie, CookieError> validate(std::span<const std::byte> cookie,
                                                       Instant now = kNow + seconds(1)) {
    return minter.validate(cookie, client, retry_cid, now);
  }
};

}  // namespace

TEST_CASE("a minted cookie validates and returns the original DCID") {
  Fixture f;
  const auto cookie = f.mint();
  const auto result = f.validate(cookie);
  REQUIRE(result.has_value());
  CHECK(result->original_dcid == f.original_dcid);
}

TEST_CASE("original DCIDs of 0 to 20 bytes round trip, and cookies stay within 255 bytes") {
  Fixture f;
  for (std::size_t length = 0; length <= dwcp::proto::kMaxConnectionIdLength; ++length) {
    CAPTURE(length);
    f.original_dcid = cid_of(0x40, length);
    const auto cookie = f.mint();
    CHECK(cookie.size() == RetryCookie::kFixedLength + length);
    CHECK(cookie.size() <= dwcp::proto::kMaxCookieLength);
    const auto result = f.validate(cookie);
    REQUIRE(result.has_value());
    CHECK(result->original_dcid == f.original_dcid);
  }
  CHECK(RetryCookie::kMaxLength <= dwcp::proto::kMaxCookieLength);
}

TEST_CASE("a cookie expires after its lifetime, default 10 s") {
  Fixture f;
  CHECK(f.minter.lifetime() == seconds(10));
  const auto cookie = f.mint();
  CHECK(f.validate(cookie, kNow).has_value());
  CHECK(f.validate(cookie, kNow + seconds(10) - milliseconds(1)).has_value());
  CHECK(f.validate(cookie, kNow + seconds(10)).error() == CookieError::expired);
  CHECK(f.validate(cookie, kNow + seconds(3600)).error() == CookieError::expired);

  RetryCookieMinter short_lived(secret_of(1), milliseconds(500));
  const auto brief = short_lived.mint(f.client, f.retry_cid, f.original_dcid, kNow);
  REQUIRE(brief.has_value());
  CHECK(short_lived.validate(brief->bytes(), f.client, f.retry_cid, kNow + milliseconds(499))
            .has_value());
  CHECK(short_lived.validate(brief->bytes(), f.client, f.retry_cid, kNow + milliseconds(500))
            .error() == CookieError::expired);
}

TEST_CASE("a cookie from another address or port is refused as wrong_address") {
  Fixture f;
  const auto cookie = f.mint();
  for (const auto* other : {"192.0.2.8:40000", "192.0.2.7:40001", "[::ffff:192.0.2.7]:40000"}) {
    CAPTURE(other);
    CHECK(f.minter.validate(cookie, address(other), f.retry_cid, kNow).error() ==
          CookieError::wrong_address);
  }
  // An expired cookie from another address says expired: the cookie was ours.
  CHECK(f.minter.validate(cookie, address("192.0.2.8:40000"), f.retry_cid, kNow + seconds(11))
            .error() == CookieError::expired);
}

TEST_CASE("IPv6 addresses are bound, port and every address byte") {
  Fixture f;
  f.client = address("[2001:db8::1]:4433");
  const auto cookie = f.mint();
  CHECK(f.validate(cookie).has_value());
  CHECK(f.minter.validate(cookie, address("[2001:db8::1]:4434"), f.retry_cid, kNow).error() ==
        CookieError::wrong_address);
  CHECK(f.minter.validate(cookie, address("[2001:db8::2]:4433"), f.retry_cid, kNow).error() ==
        CookieError::wrong_address);
  CHECK(f.minter.validate(cookie, address("[3001:db8::1]:4433"), f.retry_cid, kNow).error() ==
        CookieError::wrong_address);
  CHECK(f.minter.validate(cookie, address("32.1.13.184:4433"), f.retry_cid, kNow).error() ==
        CookieError::wrong_address);
}

TEST_CASE("a cookie presented under another retry connection ID is refused") {
  Fixture f;
  const auto cookie = f.mint();
  CHECK(f.minter.validate(cookie, f.client, cid_of(0x11), kNow).error() == CookieError::forged);
  CHECK(f.minter.validate(cookie, f.client, cid_of(0x10, 7), kNow).error() == CookieError::forged);
  CHECK(f.minter.validate(cookie, f.client, ConnectionIdRef{}, kNow).error() ==
        CookieError::forged);
}

TEST_CASE("every single-bit flip of a cookie is refused") {
  Fixture f;
  const auto cookie = f.mint();
  for (std::size_t bit = 0; bit < cookie.size() * 8; ++bit) {
    CAPTURE(bit);
    auto flipped = cookie;
    flipped[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
    CHECK_FALSE(f.validate(flipped).has_value());
  }
}

TEST_CASE("every truncated prefix, and a cookie with a byte appended, is malformed") {
  Fixture f;
  auto cookie = f.mint();
  for (std::size_t length = 0; length < cookie.size(); ++length) {
    CAPTURE(length);
    CHECK(f.validate(std::span(cookie).first(length)).error() == CookieError::malformed);
  }
  cookie.push_back(std::byte{0});
  CHECK(f.validate(cookie).error() == CookieError::malformed);
}

TEST_CASE("a cookie minted under another secret is forged") {
  Fixture f;
  RetryCookieMinter other(secret_of(2));
  const auto cookie = other.mint(f.client, f.retry_cid, f.original_dcid, kNow);
  REQUIRE(cookie.has_value());
  CHECK(f.validate(cookie->bytes()).error() == CookieError::forged);

  // Two minters with random secrets do not accept each other's cookies either.
  RetryCookieMinter random_a;
  RetryCookieMinter random_b;
  const auto from_a = random_a.mint(f.client, f.retry_cid, f.original_dcid, kNow);
  REQUIRE(from_a.has_value());
  CHECK(random_a.validate(from_a->bytes(), f.client, f.retry_cid, kNow).has_value());
  CHECK(random_b.validate(from_a->bytes(), f.client, f.retry_cid, kNow).error() ==
        CookieError::forged);
}

TEST_CASE("a rotation keeps the previous secret valid; a second rotation drops it") {
  Fixture f;
  const auto before = f.mint();
  f.minter.rotate(secret_of(3));
  CHECK(f.validate(before).has_value());
  const auto after_one = f.mint();
  CHECK(f.validate(after_one).has_value());
  CHECK(before != after_one);

  f.minter.rotate(secret_of(4));
  CHECK(f.validate(before).error() == CookieError::forged);
  CHECK(f.validate(after_one).has_value());
  const auto after_two = f.mint();
  CHECK(f.validate(after_two).has_value());

  f.minter.rotate();  // random secrets from here on
  CHECK(f.validate(after_one).error() == CookieError::forged);
  CHECK(f.validate(after_two).has_value());
  CHECK(f.validate(f.mint()).has_value());
  f.minter.rotate();
  CHECK(f.validate(after_two).error() == CookieError::forged);
  CHECK(f.validate(f.mint()).has_value());
}

TEST_CASE("a minter that shares a secret accepts the other's cookies") {
  Fixture f;
  RetryCookieMinter twin(secret_of(1));
  const auto cookie = f.mint();
  const auto result = twin.validate(cookie, f.client, f.retry_cid, kNow);
  REQUIRE(result.has_value());
  CHECK(result->original_dcid == f.original_dcid);
}

TEST_CASE("error codes have names") {
  CHECK(to_string(CookieError::malformed) == "malformed");
  CHECK(to_string(CookieError::expired) == "expired");
  CHECK(to_string(CookieError::forged) == "forged");
  CHECK(to_string(CookieError::wrong_address) == "wrong_address");
  CHECK(to_string(CookieError::internal) == "internal");
}
