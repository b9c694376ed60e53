// Checksums over byte spans: CRC32C (Castagnoli) through ISA-L, XXH3 64- and 128-bit through
// xxHash 0.8.1.
//
// Every one-shot function is pure and re-entrant: it reads only `data` and may be called from
// any number of threads at once, also on the same bytes. The stream and accumulator classes
// hold state; one object must not be used from two threads at once without external
// synchronisation (different objects are independent). No function allocates or throws,
// except Hash128::to_hex. Empty spans are allowed everywhere, also with a null data pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dwcp::simd {

// The bytes of a string, without the terminating NUL.
inline std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

// ---- CRC32C ----

// The standard CRC32C (polynomial 0x1EDC6F41 reflected, initial value and final XOR
// 0xFFFFFFFF, as in iSCSI, SCTP and ext4): crc32c(as_bytes("123456789")) == 0xE3069283 and
// the CRC of no bytes is 0.
//
// `seed` is the CRC32C of the bytes that came before `data`, so a message can be checksummed
// in pieces: crc32c(b, crc32c(a)) == crc32c(a ++ b). Seed 0 starts a new message. Spans of
// any length are accepted (ISA-L takes an int length; longer spans are fed in pieces).
// Returns with the upper halves of the vector registers cleared (vzeroupper), which ISA-L's
// AVX-512 kernel does not do, so SSE code that runs next is not slowed down.
std::uint32_t crc32c(std::span<const std::byte> data, std::uint32_t seed = 0) noexcept;

// CRC32C of a message that arrives in pieces. value() after any sequence of update() calls
// equals crc32c() of the concatenated pieces, seeded with the constructor's (or reset's)
// seed. Copying an accumulator forks the computation.
class Crc32c {
 public:
  // `seed` as for crc32c(): the CRC of bytes that conceptually come before the first update.
  explicit Crc32c(std::uint32_t seed = 0) noexcept : value_(seed) {}

  void update(std::span<const std::byte> data) noexcept { value_ = crc32c(data, value_); }
  // CRC32C of everything passed to update() since construction or the last reset().
  [[nodiscard]] std::uint32_t value() const noexcept { return value_; }
  // Starts a new message.
  void reset(std::uint32_t seed = 0) noexcept { value_ = seed; }

 private:
  std::uint32_t value_;
};

// ---- XXH3 ----

// XXH3_64bits_withSeed of `data`; seed 0 gives plain XXH3_64bits (what `xxhsum -H3` prints).
// Unlike crc32c(), the seed is not a chaining value: it selects one of 2^64 hash functions,
// and different seeds give unrelated results for the same bytes. Use Xxh3_64Stream to hash a
// message that arrives in pieces.
std::uint64_t xxh3_64(std::span<const std::byte> data, std::uint64_t seed = 0) noexcept;

// A 128-bit XXH3 hash as two 64-bit halves, in xxHash's XXH128_hash_t convention.
struct Hash128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;

  friend bool operator==(const Hash128&, const Hash128&) = default;

  // 32 lowercase hex digits in xxHash's canonical (big-endian) form, as `xxhsum -H2` prints
  // it: `high` first, then `low`. Throws std::bad_alloc only.
  [[nodiscard]] std::string to_hex() const;
};

// XXH3_128bits_withSeed of `data`; seed 0 gives plain XXH3_128bits (`xxhsum -H2`). The seed
// means what it means for xxh3_64().
Hash128 xxh3_128(std::span<const std::byte> data, std::uint64_t seed = 0) noexcept;

namespace detail {

// Size and alignment of xxHash 0.8.1's XXH3_state_t. The stream classes keep the state inside
// the object (no heap allocation); checksum.cpp checks these against the real type.
inline constexpr std::size_t kXxh3StateSize = 576;
inline constexpr std::size_t kXxh3StateAlign = 64;

}  // namespace detail

// XXH3-64 of a message that arrives in pieces: digest() after any sequence of update() calls
// equals xxh3_64() of the concatenated pieces with the same seed, whatever the split.
// Copying a stream forks it (both continue independently from the same point).
class Xxh3_64Stream {
 public:
  explicit Xxh3_64Stream(std::uint64_t seed = 0) noexcept;
  Xxh3_64Stream(const Xxh3_64Stream& other) noexcept;
  Xxh3_64Stream& operator=(const Xxh3_64Stream& other) noexcept;
  ~Xxh3_64Stream() = default;

  void update(std::span<const std::byte> data) noexcept;
  // Hash of everything passed to update() since construction or the last reset(). Does not
  // end the stream: more update() calls may follow.
  [[nodiscard]] std::uint64_t digest() const noexcept;
  // Starts a new message with the seed given at construction (or to the last reset).
  void reset() noexcept;
  void reset(std::uint64_t seed) noexcept;

 private:
  alignas(detail::kXxh3StateAlign) std::byte state_[detail::kXxh3StateSize];
  std::uint64_t seed_;
};

// XXH3-128 of a message that arrives in pieces; as Xxh3_64Stream.
class Xxh3_128Stream {
 public:
  explicit Xxh3_128Stream(std::uint64_t seed = 0) noexcept;
  Xxh3_128Stream(const Xxh3_128Stream& other) noexcept;
  Xxh3_128Stream& operator=(const Xxh3_128Stream& other) noexcept;
  ~Xxh3_128Stream() = default;

  void update(std::span<const std::byte> data) noexcept;
  [[nodiscard]] Hash128 digest() const noexcept;
  void reset() noexcept;
  void reset(std::uint64_t seed) noexcept;

 private:
  alignas(detail::kXxh3StateAlign) std::byte state_[detail::kXxh3StateSize];
  std::uint64_t seed_;
};

namespace detail {

// crc32c() with ISA-L called on pieces of at most `max_piece` bytes (clamped to
// 1..kIsalMaxPiece). crc32c() uses kIsalMaxPiece; tests pass small values to exercise the
// piecewise path without allocating gigabytes.
inline constexpr std::size_t kIsalMaxPiece = std::size_t{1} << 30;
std::uint32_t crc32c_pieces(std::span<const std::byte> data, std::uint32_t seed,
                            std::size_t max_piece) noexcept;

}  // namespace detail

}  // namespace dwcp::simd
