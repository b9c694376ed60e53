#include "simd/checksum.h"

#include <algorithm>
#include <array>
#include <climits>
#include <new>

#include <isa-l/crc.h>

// xxhash.h is xxHash's whole implementation. Compiling it into this file, rather than calling
// libxxhash.so, lets the state live inside the stream objects without the ABI hazard the
// header warns about (XXH3_state_t's layout is not part of the shared library's ABI), and lets
// the compiler inline the short-input paths. XXH_INLINE_ALL gives every symbol internal
// linkage and a private prefix, so this cannot clash with a libxxhash linked elsewhere.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace dwcp::simd {

// The stream objects embed the state as bytes; a newer xxHash with another layout must
// update these constants in checksum.h.
static_assert(sizeof(XXH3_state_t) == detail::kXxh3StateSize, "XXH3_state_t changed size");
static_assert(alignof(XXH3_state_t) == detail::kXxh3StateAlign, "XXH3_state_t changed alignment");
static_assert(sizeof(XXH128_hash_t) == sizeof(Hash128));
static_assert(detail::kIsalMaxPiece <= static_cast<std::size_t>(INT_MAX));

namespace {

#if defined(__x86_64__)
const bool kHaveAvx = [] {
  __builtin_cpu_init();  // may run before libgcc's own constructor has
  return __builtin_cpu_supports("avx") != 0;
}();
#endif

// ISA-L 2.30's AVX-512 CRC32C kernel (crc32_iscsi_by16_10) returns without vzeroupper,
// leaving the upper halves of the vector registers dirty. Until something clears them, every
// legacy-SSE instruction that follows on this thread pays a transition penalty: XXH3's SSE2
// loop ran 6x slower right after crc32_iscsi on the project's AMD EPYC VMs, and the SSE2 XOR
// kernels are exposed the same way. vzeroupper costs about a cycle; it is skipped on CPUs
// without AVX, where it would be an illegal instruction (and ISA-L cannot have dirtied
// anything). Inline asm because a target("avx") helper could not be inlined here.
void clear_upper_vector_state() noexcept {
#if defined(__x86_64__)
  if (kHaveAvx) asm volatile("vzeroupper");
#endif
}

// ISA-L's crc32_iscsi neither inverts its initial value nor its result: it returns the raw
// shift register. The standard CRC32C starts the register at 0xFFFFFFFF and inverts it at
// the end, so a standard CRC `seed` of the preceding bytes is register state ~seed.
std::uint32_t isal_crc32c(std::span<const std::byte> data, std::uint32_t seed,
                          std::size_t max_piece) noexcept {
  if (data.empty()) return seed;
  std::uint32_t reg = ~seed;
  while (!data.empty()) {
    const std::size_t n = std::min(data.size(), max_piece);
    // ISA-L only reads the buffer; its prototype lacks the const.
    auto* bytes = const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(data.data()));
    reg = crc32_iscsi(bytes, static_cast<int>(n), reg);
    data = data.subspan(n);
  }
  clear_upper_vector_state();
  return ~reg;
}

XXH3_state_t* state_of(std::byte* storage) noexcept {
  return std::launder(reinterpret_cast<XXH3_state_t*>(storage));
}
const XXH3_state_t* state_of(const std::byte* storage) noexcept {
  return std::launder(reinterpret_cast<const XXH3_state_t*>(storage));
}

// Begins the lifetime of a zeroed XXH3_state_t in `storage`. Zero is what XXH3_INITSTATE
// asks for: the seeded reset compares against the previous seed to skip rebuilding the
// secret, so the state must not start as garbage.
XXH3_state_t* init_state(std::byte* storage) noexcept {
  return ::new (storage) XXH3_state_t{};
}

Hash128 from_xxh(XXH128_hash_t h) noexcept {
  return Hash128{h.low64, h.high64};
}

}  // namespace

std::uint32_t detail::crc32c_pieces(std::span<const std::byte> data, std::uint32_t seed,
                                    std::size_t max_piece) noexcept {
  return isal_crc32c(data, seed, std::clamp<std::size_t>(max_piece, 1, kIsalMaxPiece));
}

std::uint32_t crc32c(std::span<const std::byte> data, std::uint32_t seed) noexcept {
  return isal_crc32c(data, seed, detail::kIsalMaxPiece);
}

std::uint64_t xxh3_64(std::span<const std::byte> data, std::uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

Hash128 xxh3_128(std::span<const std::byte> data, std::uint64_t seed) noexcept {
  return from_xxh(XXH3_128bits_withSeed(data.data(), data.size(), seed));
}

std::string Hash128::to_hex() const {
  static constexpr std::array<char, 16> kDigits = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                   '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(32, '0');
  const std::array<std::uint64_t, 2> halves = {high, low};
  std::size_t pos = 0;
  for (const std::uint64_t half : halves) {
    for (int shift = 60; shift >= 0; shift -= 4) {
      out[pos++] = kDigits[(half >> shift) & 0xF];
    }
  }
  return out;
}

// The XXH3 calls below cannot fail: they return XXH_ERROR only for a null state, or a null
// input with a non-zero length, which a span cannot produce.

Xxh3_64Stream::Xxh3_64Stream(std::uint64_t seed) noexcept : state_{}, seed_(seed) {
  XXH3_64bits_reset_withSeed(init_state(state_), seed_);
}

Xxh3_64Stream::Xxh3_64Stream(const Xxh3_64Stream& other) noexcept : state_{}, seed_(other.seed_) {
  XXH3_copyState(init_state(state_), state_of(other.state_));
}

Xxh3_64Stream& Xxh3_64Stream::operator=(const Xxh3_64Stream& other) noexcept {
  if (this != &other) {
    XXH3_copyState(state_of(state_), state_of(other.state_));
    seed_ = other.seed_;
  }
  return *this;
}

void Xxh3_64Stream::update(std::span<const std::byte> data) noexcept {
  XXH3_64bits_update(state_of(state_), data.data(), data.size());
}

std::uint64_t Xxh3_64Stream::digest() const noexcept {
  return XXH3_64bits_digest(state_of(state_));
}

void Xxh3_64Stream::reset() noexcept {
  XXH3_64bits_reset_withSeed(state_of(state_), seed_);
}

void Xxh3_64Stream::reset(std::uint64_t seed) noexcept {
  seed_ = seed;
  reset();
}

Xxh3_128Stream::Xxh3_128Stream(std::uint64_t seed) noexcept : state_{}, seed_(seed) {
  XXH3_128bits_reset_withSeed(init_state(state_), seed_);
}

Xxh3_128Stream::Xxh3_128Stream(const Xxh3_128Stream& other) noexcept
    : state_{}, seed_(other.seed_) {
  XXH3_copyState(init_state(state_), state_of(other.state_));
}

Xxh3_128Stream& Xxh3_128Stream::operator=(const Xxh3_128Stream& other) noexcept {
  if (this != &other) {
    XXH3_copyState(state_of(state_), state_of(other.state_));
    seed_ = other.seed_;
  }
  return *this;
}

void Xxh3_128Stream::update(std::span<const std::byte> data) noexcept {
  XXH3_128bits_update(state_of(state_), data.data(), data.size());
}

Hash128 Xxh3_128Stream::digest() const noexcept {
  return from_xxh(XXH3_128bits_digest(state_of(state_)));
}

void Xxh3_128Stream::reset() noexcept {
  XXH3_128bits_reset_withSeed(state_of(state_), seed_);
}

void Xxh3_128Stream::reset(std::uint64_t seed) noexcept {
  seed_ = seed;
  reset();
}

}  // namespace dwcp::simd
