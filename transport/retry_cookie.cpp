#include "transport/retry_cookie.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace dwcp::transport {

namespace {

constexpr std::uint8_t kFormatVersion = 1;
constexpr std::size_t kExpiryOffset = 1;
constexpr std::size_t kDcidLengthOffset = 9;
constexpr std::size_t kDcidOffset = 10;
constexpr std::size_t kContentTagLength = 8;
constexpr std::size_t kAddressTagLength = 16;
constexpr std::size_t kSha256Length = 32;

// Domain separation: the two tags are HMACs under one key over different messages.
constexpr std::string_view kContentLabel = "dwcp retry cookie v1 content";
constexpr std::string_view kAddressLabel = "dwcp retry cookie v1 address";

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return std::as_bytes(std::span(text.data(), text.size()));
}

void put_u64(std::byte* out, std::uint64_t value) noexcept {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::byte>(value & 0xff);
    value >>= 8;
  }
}

std::uint64_t get_u64(const std::byte* in) noexcept {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | std::to_integer<std::uint64_t>(in[i]);
  return value;
}

// The client's address as the tag sees it: a family tag (4, 6, or 0 for unspecified),
// the port, the address bytes and, for IPv6, the scope id, so that exactly the addresses
// SocketAddress's operator== calls equal encode equally.
struct AddressBytes {
  std::array<std::byte, 1 + 2 + 16 + 4> bytes{};
  std::size_t size = 0;

  [[nodiscard]] std::span<const std::byte> span() const noexcept {
    return std::span(bytes).first(size);
  }
};

AddressBytes encode_address(const SocketAddress& address) noexcept {
  AddressBytes out;
  auto append = [&out](const void* data, std::size_t n) {
    std::memcpy(out.bytes.data() + out.size, data, n);
    out.size += n;
  };
  const std::uint16_t port = address.port();
  const std::array<std::byte, 2> port_bytes{static_cast<std::byte>(port >> 8),
                                            static_cast<std::byte>(port & 0xff)};
  if (address.is_v4()) {
    sockaddr_in v4{};
    std::memcpy(&v4, address.data(), sizeof(v4));
    out.bytes[out.size++] = std::byte{4};
    append(port_bytes.data(), port_bytes.size());
    append(&v4.sin_addr, sizeof(v4.sin_addr));
  } else if (address.is_v6()) {
    sockaddr_in6 v6{};
    std::memcpy(&v6, address.data(), sizeof(v6));
    out.bytes[out.size++] = std::byte{6};
    append(port_bytes.data(), port_bytes.size());
    append(&v6.sin6_addr, sizeof(v6.sin6_addr));
    const std::uint32_t scope = v6.sin6_scope_id;
    const std::array<std::byte, 4> scope_bytes{
        static_cast<std::byte>(scope >> 24), static_cast<std::byte>((scope >> 16) & 0xff),
        static_cast<std::byte>((scope >> 8) & 0xff), static_cast<std::byte>(scope & 0xff)};
    append(scope_bytes.data(), scope_bytes.size());
  } else {
    out.bytes[out.size++] = std::byte{0};
  }
  return out;
}

Instant saturating_add(Instant now, Duration lifetime) noexcept {
  if (lifetime > Duration::zero() && now > Instant::max() - lifetime) return Instant::max();
  return now + lifetime;
}

}  // namespace

std::string_view to_string(CookieError error) noexcept {
  switch (error) {
    case CookieError::malformed:
      return "malformed";
    case CookieError::expired:
      return "expired";
    case CookieError::forged:
      return "forged";
    case CookieError::wrong_address:
      return "wrong_address";
    case CookieError::internal:
      return "internal";
  }
  return "unknown";
}

CookieSecret random_cookie_secret() {
  CookieSecret secret{};
  std::size_t filled = 0;
  while (filled < secret.size()) {
    const ssize_t n = getrandom(secret.data() + filled, secret.size() - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    filled += static_cast<std::size_t>(n);
  }
  return secret;
}

// ---------------------------------------------------------------------------------------
// Key: one EVP_MAC_CTX keyed once; every tag re-initialises it with the same key, which
// costs a digest-state copy instead of re-deriving the HMAC pads (and re-fetching the
// algorithm, as the one-shot HMAC() does).

class RetryCookieMinter::Key {
 public:
  explicit Key(const CookieSecret& secret) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) throw std::runtime_error("retry cookie: libcrypto has no HMAC");
    ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context holds its own reference
    if (ctx_ == nullptr) throw std::runtime_error("retry cookie: EVP_MAC_CTX_new failed");
    std::array<char, 7> digest{"SHA256"};
    const std::array<OSSL_PARAM, 2> params{
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     params.data()) != 1) {
      EVP_MAC_CTX_free(ctx_);
      throw std::runtime_error("retry cookie: cannot key HMAC-SHA256");
    }
  }
  ~Key() { EVP_MAC_CTX_free(ctx_); }  // cleanses the key material
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  Key(Key&&) = delete;
  Key& operator=(Key&&) = delete;

  // HMAC-SHA256 over the concatenation of `parts`; false if libcrypto failed.
  bool tag(std::initializer_list<std::span<const std::byte>> parts,
           std::array<unsigned char, kSha256Length>& out) noexcept {
    if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1) return false;
    for (const auto part : parts) {
      if (EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(part.data()), part.size()) !=
          1) {
        return false;
      }
    }
    std::size_t length = 0;
    return EVP_MAC_final(ctx_, out.data(), &length, out.size()) == 1 && length == out.size();
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

// ---------------------------------------------------------------------------------------

RetryCookieMinter::RetryCookieMinter(Duration lifetime)
    : RetryCookieMinter(random_cookie_secret(), lifetime) {}

RetryCookieMinter::RetryCookieMinter(const CookieSecret& secret, Duration lifetime)
    : current_(std::make_unique<Key>(secret)), lifetime_(lifetime) {}

RetryCookieMinter::~RetryCookieMinter() = default;
RetryCookieMinter::RetryCookieMinter(RetryCookieMinter&&) noexcept = default;
RetryCookieMinter& RetryCookieMinter::operator=(RetryCookieMinter&&) noexcept = default;

void RetryCookieMinter::rotate() {
  CookieSecret secret = random_cookie_secret();
  rotate(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
}

void RetryCookieMinter::rotate(const CookieSecret& secret) {
  auto next = std::make_unique<Key>(secret);
  previous_ = std::exchange(current_, std::move(next));
  phase_ ^= 1;
}

std::expected<RetryCookie, CookieError> RetryCookieMinter::mint(
    const SocketAddress& client, proto::ConnectionIdRef retry_cid,
    proto::ConnectionIdRef original_dcid, Instant now) noexcept {
  RetryCookie cookie;
  std::byte* out = cookie.bytes_.data();
  out[0] = static_cast<std::byte>((kFormatVersion << 1) | phase_);
  put_u64(out + kExpiryOffset,
          static_cast<std::uint64_t>(saturating_add(now, lifetime_).time_since_epoch().count()));
  const std::size_t dcid_length = original_dcid.size();  // ≤ 20: ConnectionIdRef caps it
  out[kDcidLengthOffset] = static_cast<std::byte>(dcid_length);
  std::memcpy(out + kDcidOffset, original_dcid.bytes().data(), dcid_length);

  const std::size_t body_length = kDcidOffset + dcid_length;
  const std::array<std::byte, 1> retry_length{static_cast<std::byte>(retry_cid.size())};
  std::array<unsigned char, kSha256Length> tag{};
  if (!current_->tag({as_bytes(kContentLabel), std::span(cookie.bytes_).first(body_length),
                      retry_length, retry_cid.bytes()},
                     tag)) {
    return std::unexpected(CookieError::internal);
  }
  std::memcpy(out + body_length, tag.data(), kContentTagLength);

  const std::size_t signed_length = body_length + kContentTagLength;
  const AddressBytes address = encode_address(client);
  if (!current_->tag({as_bytes(kAddressLabel), std::span(cookie.bytes_).first(signed_length),
                      retry_length, retry_cid.bytes(), address.span()},
                     tag)) {
    return std::unexpected(CookieError::internal);
  }
  std::memcpy(out + signed_length, tag.data(), kAddressTagLength);
  OPENSSL_cleanse(tag.data(), tag.size());
  cookie.size_ = static_cast<std::uint8_t>(signed_length + kAddressTagLength);
  return cookie;
}

std::expected<ValidatedCookie, CookieError> RetryCookieMinter::validate(
    std::span<const std::byte> cookie, const SocketAddress& client,
    proto::ConnectionIdRef retry_cid, Instant now) noexcept {
  if (cookie.size() < RetryCookie::kFixedLength || cookie.size() > RetryCookie::kMaxLength) {
    return std::unexpected(CookieError::malformed);
  }
  const auto first = std::to_integer<std::uint8_t>(cookie[0]);
  if ((first >> 1) != kFormatVersion) return std::unexpected(CookieError::malformed);
  const std::size_t dcid_length = std::to_integer<std::size_t>(cookie[kDcidLengthOffset]);
  if (dcid_length > proto::kMaxConnectionIdLength ||
      cookie.size() != RetryCookie::kFixedLength + dcid_length) {
    return std::unexpected(CookieError::malformed);
  }
  Key* key = (first & 1) == phase_ ? current_.get() : previous_.get();
  if (key == nullptr) return std::unexpected(CookieError::forged);

  const std::size_t body_length = kDcidOffset + dcid_length;
  const std::size_t signed_length = body_length + kContentTagLength;
  const std::array<std::byte, 1> retry_length{static_cast<std::byte>(retry_cid.size())};
  const auto expiry = Instant{
      Duration{static_cast<Duration::rep>(get_u64(cookie.subspan(kExpiryOffset, 8).data()))}};
  const bool expired = now >= expiry;

  // The address tag covers everything, so it alone decides acceptance; the content tag
  // is checked only to say why a cookie was refused.
  std::array<unsigned char, kSha256Length> tag{};
  const AddressBytes address = encode_address(client);
  if (!key->tag({as_bytes(kAddressLabel), cookie.first(signed_length), retry_length,
                 retry_cid.bytes(), address.span()},
                tag)) {
    return std::unexpected(CookieError::internal);
  }
  if (CRYPTO_memcmp(tag.data(), cookie.subspan(signed_length).data(), kAddressTagLength) == 0) {
    if (expired) return std::unexpected(CookieError::expired);
    return ValidatedCookie{proto::ConnectionId(cookie.subspan(kDcidOffset, dcid_length))};
  }
  if (!key->tag(
          {as_bytes(kContentLabel), cookie.first(body_length), retry_length, retry_cid.bytes()},
          tag)) {
    return std::unexpected(CookieError::internal);
  }
  if (CRYPTO_memcmp(tag.data(), cookie.subspan(body_length).data(), kContentTagLength) != 0) {
    return std::unexpected(CookieError::forged);
  }
  return std::unexpected(expired ? CookieError::expired : CookieError::wrong_address);
}

}  // namespace dwcp::transport
