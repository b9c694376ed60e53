// The server's stateless address-validation cookie (docs/protocol.md §7.2–7.3).
//
// A server answers a CLIENT_HELLO without a valid cookie with a Retry carrying a cookie
// and keeps nothing. The client echoes the cookie in its next CLIENT_HELLO, sent to the
// Retry's SCID; the server validates it and only then creates the connection. The cookie
// binds the client's address and port, the connection ID the server chose for the Retry,
// and the client's original DCID; it expires, and cannot be forged without the server's
// secret (HMAC-SHA256, OpenSSL's libcrypto).
//
// Format, version 1 (all integers big-endian):
//
//   u8        bits 7..1: format version (1); bit 0: key phase (which secret minted it)
//   u64       expiry: nanoseconds of the MonotonicClock
//   u8        original DCID length (0..20)
//             original DCID
//   8 bytes   content tag: HMAC(secret, "content" ‖ the bytes above ‖ retry CID)[0..8)
//   16 bytes  address tag: HMAC(secret, "address" ‖ the bytes above ‖ retry CID ‖
//             client address)[0..16)
//
// The address tag alone authenticates everything. The content tag, which does not cover
// the address, lets validate() tell a cookie this server minted for another address
// (a client behind a NAT that rebound between Retry and CLIENT_HELLO) from one it never
// minted. 34..54 bytes, well under proto::kMaxCookieLength.
//
// The expiry is read from the monotonic clock, so a cookie does not survive a reboot,
// and servers sharing a secret must also share a clock; a Retry round trip is short
// enough that neither matters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string_view>

#include "proto/frames.h"
#include "proto/packet.h"
#include "transport/clock.h"
#include "transport/udp_socket.h"

namespace dwcp::transport {

// Why validate() refused a cookie. Every one calls for CONNECTION_CLOSE(INVALID_COOKIE)
// or a silent drop (§7.2); only `internal` is not the peer's doing.
enum class CookieError : std::uint8_t {
  malformed,      // wrong length, unknown format version, original DCID longer than 20
  expired,        // minted by this server, for this address, but past its expiry
  forged,         // not minted by this server's current or previous secret, or minted for
                  // another retry connection ID, or altered
  wrong_address,  // minted by this server for another client address or port (or its
                  // address tag was altered)
  internal,       // libcrypto failed (out of memory); drop the packet
};

std::string_view to_string(CookieError error) noexcept;

inline constexpr std::size_t kCookieSecretLength = 32;
using CookieSecret = std::array<std::byte, kCookieSecretLength>;

// A fresh secret from getrandom(2). Throws std::system_error if the kernel cannot supply
// one.
CookieSecret random_cookie_secret();

// A minted cookie: a fixed-capacity value, so minting allocates nothing.
class RetryCookie {
 public:
  static constexpr std::size_t kFixedLength = 1 + 8 + 1 + 8 + 16;
  static constexpr std::size_t kMaxLength = kFixedLength + proto::kMaxConnectionIdLength;
  static_assert(kMaxLength <= proto::kMaxCookieLength);

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept {
    return std::span(bytes_).first(size_);
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  friend class RetryCookieMinter;
  std::array<std::byte, kMaxLength> bytes_{};
  std::uint8_t size_ = 0;
};

// What a valid cookie carries back: the DCID of the client's first Initial.
struct ValidatedCookie {
  proto::ConnectionId original_dcid;
};

// Mints and validates cookies under a current secret, and keeps the previous one after
// rotate() so that cookies minted just before a rotation still validate until they
// expire. Rotate more slowly than the lifetime (say every minute for 10 s cookies):
// a cookie validates under the secret that minted it and the one after, never later.
//
// Not thread-safe: mint() and validate() reuse one keyed HMAC context per secret. A
// server with several receive threads gives each its own minter, built from the same
// secrets (random_cookie_secret(), rotate(secret)).
class RetryCookieMinter {
 public:
  static constexpr Duration kDefaultLifetime = std::chrono::seconds(10);

  // A fresh random secret. Throws std::system_error if getrandom(2) fails, and
  // std::runtime_error if libcrypto cannot set up HMAC-SHA256.
  explicit RetryCookieMinter(Duration lifetime = kDefaultLifetime);
  // A given secret (tests; servers sharing one). Throws std::runtime_error if libcrypto
  // cannot set up HMAC-SHA256.
  explicit RetryCookieMinter(const CookieSecret& secret, Duration lifetime = kDefaultLifetime);
  ~RetryCookieMinter();
  RetryCookieMinter(RetryCookieMinter&&) noexcept;
  RetryCookieMinter& operator=(RetryCookieMinter&&) noexcept;
  RetryCookieMinter(const RetryCookieMinter&) = delete;
  RetryCookieMinter& operator=(const RetryCookieMinter&) = delete;

  [[nodiscard]] Duration lifetime() const noexcept { return lifetime_; }

  // The current secret becomes the previous one (the one before is forgotten) and a new
  // secret, random or given, becomes current. Throws as the constructors do; on a throw
  // nothing has changed.
  void rotate();
  void rotate(const CookieSecret& secret);

  // A cookie for `client`, which sent an Initial with DCID `original_dcid`, answered by a
  // Retry whose SCID is `retry_cid`; it expires at now + lifetime(). Only error:
  // CookieError::internal.
  [[nodiscard]] std::expected<RetryCookie, CookieError> mint(const SocketAddress& client,
                                                             proto::ConnectionIdRef retry_cid,
                                                             proto::ConnectionIdRef original_dcid,
                                                             Instant now) noexcept;

  // Checks a cookie from a CLIENT_HELLO that `client` sent in an Initial whose DCID is
  // `retry_cid`. Valid while now < expiry. Reads only `cookie`, of any length.
  [[nodiscard]] std::expected<ValidatedCookie, CookieError> validate(
      std::span<const std::byte> cookie, const SocketAddress& client,
      proto::ConnectionIdRef retry_cid, Instant now) noexcept;

 private:
  class Key;  // a keyed HMAC-SHA256 context (libcrypto stays out of this header)

  std::unique_ptr<Key> current_;
  std::unique_ptr<Key> previous_;  // null until the first rotate()
  std::uint8_t phase_ = 0;         // key phase of current_; previous_ has the other
  Duration lifetime_;
};

}  // namespace dwcp::transport
