#include "simd/checksum.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

using namespace dwcp::simd;

namespace doctest {
template <>
struct StringMaker<Hash128> {
  static String convert(const Hash128& h) { return h.to_hex().c_str(); }
};
}  // namespace doctest

namespace {

// Bit-at-a-time CRC32C (reflected polynomial 0x82F63B78): the reference the ISA-L path is
// checked against. Tests only.
std::uint32_t reference_crc32c(std::span<const std::byte> data, std::uint32_t seed = 0) {
  std::uint32_t reg = ~seed;
  for (const std::byte b : data) {
    reg ^= std::to_integer<std::uint32_t>(b);
    for (int bit = 0; bit < 8; ++bit) reg = (reg >> 1) ^ ((reg & 1U) != 0 ? 0x82F63B78U : 0U);
  }
  return ~reg;
}

// The deterministic pattern the known answers below were computed over.
std::vector<std::byte> pattern(std::size_t n) {
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i * 131 + 17) % 251);
  return out;
}

std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

std::vector<std::byte> repeated(std::size_t n, std::uint8_t value) {
  return std::vector<std::byte>(n, static_cast<std::byte>(value));
}

// Cuts [0, size) into random pieces, empty ones included; returns the piece lengths.
std::vector<std::size_t> random_split(std::size_t size, std::mt19937_64& rng) {
  std::vector<std::size_t> pieces;
  std::size_t left = size;
  while (left > 0) {
    const std::size_t cap = std::min<std::size_t>(left, rng() % 2 == 0 ? 16 : 700);
    const std::size_t n = rng() % (cap + 1);
    pieces.push_back(n);
    left -= n;
  }
  return pieces;
}

// Feeds `data` to every kind of accumulator in the given pieces and checks each against its
// one-shot function.
void check_pieces(std::span<const std::byte> data, const std::vector<std::size_t>& pieces,
                  std::uint64_t seed) {
  const auto crc_seed = static_cast<std::uint32_t>(seed);
  Crc32c crc(crc_seed);
  Xxh3_64Stream h64(seed);
  Xxh3_128Stream h128(seed);
  std::size_t at = 0;
  for (const std::size_t n : pieces) {
    const auto piece = data.subspan(at, n);
    crc.update(piece);
    h64.update(piece);
    h128.update(piece);
    at += n;
  }
  REQUIRE(at == data.size());
  CHECK(crc.value() == crc32c(data, crc_seed));
  CHECK(h64.digest() == xxh3_64(data, seed));
  CHECK(h128.digest() == xxh3_128(data, seed));
}

// Two pages: the first readable and writable, the second PROT_NONE, so reading one byte past
// the end of the first page faults.
class GuardedPage {
 public:
  GuardedPage() : page_size_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))) {
    void* map =
        ::mmap(nullptr, 2 * page_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(map != MAP_FAILED);
    base_ = static_cast<std::byte*>(map);
    REQUIRE(::mprotect(base_ + page_size_, page_size_, PROT_NONE) == 0);
  }
  GuardedPage(const GuardedPage&) = delete;
  GuardedPage& operator=(const GuardedPage&) = delete;
  ~GuardedPage() { ::munmap(base_, 2 * page_size_); }

  std::span<std::byte> readable() const { return {base_, page_size_}; }
  // The last `n` readable bytes: the byte after them is in the PROT_NONE page.
  std::span<std::byte> tail(std::size_t n) const { return readable().last(n); }

 private:
  std::size_t page_size_;
  std::byte* base_ = nullptr;
};

struct Kat {
  std::size_t len;      // prefix of pattern()
  std::uint32_t crc;    // CRC32C
  std::uint64_t h64;    // XXH3-64, seed 0
  std::uint64_t h128h;  // XXH3-128 high half, seed 0
  std::uint64_t h128l;  // XXH3-128 low half
  const char* hex;      // XXH3-128 as `xxhsum -H2` prints it
};

// XXH3 values printed by xxhsum 0.8.1 (`xxhsum -H3` and `xxhsum -H2` on the pattern prefix).
// CRC32C values from a bitwise implementation in Python. The lengths cover each of XXH3's
// input-size paths (0, 1-3, 4-8, 9-16, 17-128, 129-240, >240 bytes).
constexpr std::array<Kat, 13> kPatternKats = {{
    {0, 0x00000000, 0x2d06800538d394c2, 0x99aa06d3014798d8, 0x6001c324468d497f,
     "99aa06d3014798d86001c324468d497f"},
    {1, 0xb048173d, 0xf319fe2bdfcdfebd, 0xf46d8182f5a4994a, 0xf319fe2bdfcdfebd,
     "f46d8182f5a4994af319fe2bdfcdfebd"},
    {3, 0x62162e95, 0x783f5bb022906e8d, 0xf96f0bb52a613771, 0x783f5bb022906e8d,
     "f96f0bb52a613771783f5bb022906e8d"},
    {4, 0x39fd6d47, 0xecb6b53c1ccb45ed, 0x6d6586a87cf1e015, 0xc0b558323ee47119,
     "6d6586a87cf1e015c0b558323ee47119"},
    {8, 0x204e51f0, 0x44979e978879e887, 0x931e9b27f65c5c34, 0x3e96b9c735855762,
     "931e9b27f65c5c343e96b9c735855762"},
    {9, 0x2ef87717, 0x1563c8b0d01c5705, 0x94d17d7c66158802, 0xac267f38040cda37,
     "94d17d7c66158802ac267f38040cda37"},
    {16, 0xc7907f50, 0x85915bb3d4afef90, 0x2088da67f0bb69bd, 0x55148810a7c7220f,
     "2088da67f0bb69bd55148810a7c7220f"},
    {17, 0x1aeb5153, 0x9810c9a1e38ac419, 0x67df71659277e887, 0xeed4468381bd4c82,
     "67df71659277e887eed4468381bd4c82"},
    {128, 0x72c83a7e, 0xd19b9ef5e7ffe94b, 0x095ca7a2455b3987, 0x1644d778513da7d7,
     "095ca7a2455b39871644d778513da7d7"},
    {129, 0xc5b53ad1, 0x9c1c3a7f14430ab5, 0x2ed460c68b9fa257, 0xd26bd9267025e357,
     "2ed460c68b9fa257d26bd9267025e357"},
    {240, 0xc9ee6672, 0x84c8f5b8b2191a69, 0xfb0a8726d71cd0ef, 0xa0475d2f71f49157,
     "fb0a8726d71cd0efa0475d2f71f49157"},
    {241, 0x720933e9, 0xccf4c89522b37f0a, 0xb950025876f5f710, 0xccf4c89522b37f0a,
     "b950025876f5f710ccf4c89522b37f0a"},
    {1000, 0x9b4c0e21, 0x4b5c4d836c9f3316, 0xa6e141aca0039fbc, 0x4b5c4d836c9f3316,
     "a6e141aca0039fbc4b5c4d836c9f3316"},
}};

}  // namespace

// ---- CRC32C ----

TEST_CASE("crc32c matches the standard check value and the RFC 3720 B.4 vectors") {
  CHECK(crc32c(as_bytes("123456789")) == 0xE3069283U);
  CHECK(crc32c({}) == 0U);
  CHECK(crc32c(repeated(32, 0x00)) == 0x8A9136AAU);
  CHECK(crc32c(repeated(32, 0xFF)) == 0x62A8AB43U);
  std::vector<std::byte> ascending(32);
  for (std::size_t i = 0; i < ascending.size(); ++i) ascending[i] = static_cast<std::byte>(i);
  CHECK(crc32c(ascending) == 0x46DD794EU);
}

TEST_CASE("crc32c matches the known answers for the pattern") {
  const auto data = pattern(1000);
  for (const Kat& kat : kPatternKats) {
    CAPTURE(kat.len);
    CHECK(crc32c(std::span(data).first(kat.len)) == kat.crc);
  }
}

TEST_CASE("crc32c agrees with a bitwise reference for every length up to 1 KiB and any seed") {
  const auto data = random_bytes(1024, 1);
  for (std::size_t len = 0; len <= data.size(); ++len) {
    CAPTURE(len);
    const auto piece = std::span(data).first(len);
    CHECK(crc32c(piece) == reference_crc32c(piece));
    CHECK(crc32c(piece, 0xDEADBEEF) == reference_crc32c(piece, 0xDEADBEEF));
  }
}

TEST_CASE("crc32c of no bytes is the seed") {
  CHECK(crc32c({}) == 0U);
  CHECK(crc32c({}, 0x12345678) == 0x12345678U);
  CHECK(crc32c(std::span<const std::byte>(static_cast<const std::byte*>(nullptr), 0), 7) == 7U);
  Crc32c acc(99);
  acc.update({});
  CHECK(acc.value() == 99U);
}

TEST_CASE("crc32c seeded with the crc of a prefix equals the crc of the whole") {
  const auto data = random_bytes(1024, 2);
  const std::uint32_t whole = crc32c(data);
  for (std::size_t split = 0; split <= data.size(); ++split) {
    CAPTURE(split);
    const std::span<const std::byte> all(data);
    CHECK(crc32c(all.subspan(split), crc32c(all.first(split))) == whole);
  }
}

TEST_CASE("a different seed gives a different crc32c") {
  const auto data = as_bytes("123456789");
  CHECK(crc32c(data, 1) != crc32c(data, 0));
  CHECK(crc32c(data, 0xFFFFFFFF) != crc32c(data, 0));
  CHECK(crc32c(data, 1) != crc32c(data, 2));
}

TEST_CASE("Crc32c accumulator restarts with reset and forks when copied") {
  const auto data = pattern(1000);
  Crc32c acc;
  acc.update(as_bytes("garbage"));
  acc.reset();
  acc.update(std::span(data).first(400));
  Crc32c fork = acc;
  acc.update(std::span(data).subspan(400));
  CHECK(acc.value() == 0x9b4c0e21U);
  fork.update(std::span(data).subspan(400, 100));
  CHECK(fork.value() == crc32c(std::span(data).first(500)));
  acc.reset(0x1234);
  acc.update(data);
  CHECK(acc.value() == crc32c(data, 0x1234));
}

TEST_CASE("crc32c fed to ISA-L in pieces equals one call, whatever the piece size") {
  const auto data = random_bytes(5000, 3);
  const std::uint32_t whole = reference_crc32c(data, 0xABCDEF01);
  // 0 and sizes above kIsalMaxPiece are clamped into range.
  constexpr std::array<std::size_t, 14> kPieceSizes = {
      0, 1, 2, 3, 7, 8, 63, 64, 1000, 4999, 5000, 5001, detail::kIsalMaxPiece, SIZE_MAX};
  for (const std::size_t piece : kPieceSizes) {
    CAPTURE(piece);
    CHECK(detail::crc32c_pieces(data, 0xABCDEF01, piece) == whole);
  }
  CHECK(detail::crc32c_pieces({}, 5, 1) == 5U);
}

TEST_CASE("crc32c handles a span longer than INT_MAX") {
  // The same 1 MiB of random bytes mapped over and over: INT_MAX + 4099 readable bytes that
  // cost 1 MiB of memory. MAP_POPULATE fills the page tables up front, which on this
  // project's VMs is ten times faster than 4 KiB read faults on untouched anonymous memory.
  constexpr std::size_t kPiece = std::size_t{1} << 20;
  const std::size_t len = std::size_t{INT_MAX} + 4099;
  const std::size_t copies = (len + kPiece - 1) / kPiece;
  const int fd = ::memfd_create("crc32c_test", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, kPiece) != 0) {
    MESSAGE("skipped: memfd_create failed");
    return;
  }
  const auto fill = random_bytes(kPiece, 10);
  REQUIRE(::pwrite(fd, fill.data(), kPiece, 0) == static_cast<ssize_t>(kPiece));
  void* reserve = ::mmap(nullptr, copies * kPiece, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  bool mapped = reserve != MAP_FAILED;
  auto* base = static_cast<std::byte*>(reserve);
  for (std::size_t i = 0; mapped && i < copies; ++i) {
    mapped = ::mmap(base + i * kPiece, kPiece, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd,
                    0) != MAP_FAILED;
  }
  ::close(fd);
  if (!mapped) {
    if (reserve != MAP_FAILED) ::munmap(reserve, copies * kPiece);
    MESSAGE("skipped: cannot map 2 GiB of address space in 1 MiB pieces");
    return;
  }
  const std::span<const std::byte> big(base, len);
  // The public function hands ISA-L 1 GiB at a time; compare with 1 MiB at a time, which the
  // test above ties to the bitwise reference.
  const std::uint32_t expected = detail::crc32c_pieces(big, 0, kPiece);
  CHECK(crc32c(big) == expected);
  ::munmap(reserve, copies * kPiece);
}

#if defined(__x86_64__)
TEST_CASE("crc32c leaves the upper halves of the vector registers clean") {
  // XGETBV with ECX=1 reads XINUSE: bit 2 is set while the upper 128 bits of ymm0-15 may be
  // non-zero, bit 6 the upper 256 bits of zmm0-15. Either makes later legacy-SSE code slow.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool osxsave = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1U << 27)) != 0;
  const bool xinuse =
      osxsave && __get_cpuid_count(0xD, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1U << 2)) != 0;
  if (!xinuse) {
    MESSAGE("skipped: this CPU cannot report which register state is in use (XGETBV ECX=1)");
    return;
  }
  auto in_use = [] {
    std::uint32_t lo = 0, hi = 0;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
    return lo;
  };
  const auto data = random_bytes(4096, 11);  // long enough for ISA-L's widest kernel
  constexpr std::uint32_t kUpperState = (1U << 2) | (1U << 6);
  for (const std::size_t len : {1, 64, 1472, 4096}) {
    CAPTURE(len);
    const std::uint32_t crc = crc32c(std::span(data).first(len));
    const std::uint32_t state = in_use();
    CHECK((state & kUpperState) == 0);
    CHECK(crc == reference_crc32c(std::span(data).first(len)));
  }
}
#endif

// ---- XXH3 ----

TEST_CASE("xxh3_64 matches the values xxhsum prints") {
  // xxhsum 0.8.1: printf '' | xxhsum -H3; printf '123456789' | xxhsum -H3.
  CHECK(xxh3_64({}) == 0x2d06800538d394c2U);
  CHECK(xxh3_64(as_bytes("123456789")) == 0x72dcb18b67a17dffU);
  const auto data = pattern(1000);
  for (const Kat& kat : kPatternKats) {
    CAPTURE(kat.len);
    CHECK(xxh3_64(std::span(data).first(kat.len)) == kat.h64);
  }
}

TEST_CASE("xxh3_128 matches the values xxhsum prints, in the same hex form") {
  // xxhsum 0.8.1: printf '' | xxhsum -H2; printf '123456789' | xxhsum -H2.
  const Hash128 empty = xxh3_128({});
  CHECK(empty.high == 0x99aa06d3014798d8U);
  CHECK(empty.low == 0x6001c324468d497fU);
  CHECK(empty.to_hex() == "99aa06d3014798d86001c324468d497f");
  CHECK(xxh3_128(as_bytes("123456789")).to_hex() == "33119477ede5dcd5e9716427681d5860");
  const auto data = pattern(1000);
  for (const Kat& kat : kPatternKats) {
    CAPTURE(kat.len);
    const Hash128 h = xxh3_128(std::span(data).first(kat.len));
    CHECK(h == Hash128{kat.h128l, kat.h128h});
    CHECK(h.to_hex() == kat.hex);
  }
}

TEST_CASE("Hash128 prints leading zeros and orders high before low") {
  CHECK(Hash128{0x1, 0x0}.to_hex() == "00000000000000000000000000000001");
  CHECK(Hash128{0x0, 0xF}.to_hex() == "000000000000000f0000000000000000");
  CHECK(Hash128{~0ULL, ~0ULL}.to_hex() == std::string(32, 'f'));
}

TEST_CASE("a different seed gives a different xxh3 hash") {
  for (const std::size_t len : {0, 3, 9, 100, 200, 1000}) {
    CAPTURE(len);
    const auto data = pattern(len);
    CHECK(xxh3_64(data, 1) != xxh3_64(data, 0));
    CHECK(xxh3_64(data, 1) != xxh3_64(data, 2));
    CHECK(xxh3_128(data, 1) != xxh3_128(data, 0));
    CHECK(xxh3_128(data, 1) != xxh3_128(data, 2));
  }
}

TEST_CASE("streams of no bytes give the one-shot hash of no bytes") {
  CHECK(Xxh3_64Stream().digest() == xxh3_64({}));
  CHECK(Xxh3_128Stream(42).digest() == xxh3_128({}, 42));
  Xxh3_64Stream s(7);
  s.update(std::span<const std::byte>(static_cast<const std::byte*>(nullptr), 0));
  CHECK(s.digest() == xxh3_64({}, 7));
}

// ---- Streaming equals one-shot ----

TEST_CASE("incremental checksums equal one-shot for every split point of 1 KiB") {
  const auto data = random_bytes(1024, 4);
  for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{0x9E3779B97F4A7C15}}) {
    for (std::size_t split = 0; split <= data.size(); ++split) {
      CAPTURE(seed);
      CAPTURE(split);
      check_pieces(data, {split, data.size() - split}, seed);
    }
  }
}

TEST_CASE("incremental checksums equal one-shot for random multi-piece splits") {
  // 10 000 bytes spans several XXH3 blocks (1 KiB each) and internal buffer refills (256 B).
  const auto data = random_bytes(10000, 5);
  std::mt19937_64 rng(6);
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    const std::size_t len = rng() % (data.size() + 1);
    check_pieces(std::span(data).first(len), random_split(len, rng), rng() % 3 == 0 ? 0 : rng());
  }
}

TEST_CASE("xxh3 streams restart with reset, keeping or replacing the seed") {
  const auto data = pattern(1000);
  Xxh3_64Stream s64(11);
  Xxh3_128Stream s128(11);
  s64.update(as_bytes("garbage"));
  s128.update(as_bytes("garbage"));
  s64.reset();
  s128.reset();
  s64.update(data);
  s128.update(data);
  CHECK(s64.digest() == xxh3_64(data, 11));
  CHECK(s128.digest() == xxh3_128(data, 11));
  s64.reset(0);
  s128.reset(0);
  s64.update(data);
  s128.update(data);
  CHECK(s64.digest() == 0x4b5c4d836c9f3316U);
  CHECK(s128.digest().to_hex() == "a6e141aca0039fbc4b5c4d836c9f3316");
}

TEST_CASE("copying an xxh3 stream forks it") {
  const auto data = random_bytes(3000, 7);
  const std::span<const std::byte> all(data);
  Xxh3_64Stream a64(5);
  Xxh3_128Stream a128(5);
  a64.update(all.first(1500));
  a128.update(all.first(1500));
  Xxh3_64Stream b64 = a64;
  Xxh3_128Stream b128 = a128;
  a64.update(all.subspan(1500));
  a128.update(all.subspan(1500));
  b64.update(all.subspan(1500, 700));
  b128.update(all.subspan(1500, 700));
  CHECK(a64.digest() == xxh3_64(all, 5));
  CHECK(a128.digest() == xxh3_128(all, 5));
  CHECK(b64.digest() == xxh3_64(all.first(2200), 5));
  CHECK(b128.digest() == xxh3_128(all.first(2200), 5));

  // Assignment replaces the whole state, the seed included.
  Xxh3_64Stream c64(99);
  Xxh3_128Stream c128(99);
  c64 = b64;
  c128 = b128;
  c64.update(all.subspan(2200));
  c128.update(all.subspan(2200));
  CHECK(c64.digest() == xxh3_64(all, 5));
  CHECK(c128.digest() == xxh3_128(all, 5));
  c64.reset();
  CHECK(c64.digest() == xxh3_64({}, 5));
}

// ---- Memory access ----

TEST_CASE("checksums do not depend on the alignment of the data") {
  struct alignas(64) Buffer {
    std::array<std::byte, 64 + 4096> bytes;
  };
  auto aligned = std::make_unique<Buffer>();
  auto shifted = std::make_unique<Buffer>();
  const auto data = random_bytes(4096, 8);
  for (const std::size_t len :
       {0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 129, 255, 256, 1000, 1472, 4096}) {
    std::memcpy(aligned->bytes.data(), data.data(), len);
    const std::span<const std::byte> ref(aligned->bytes.data(), len);
    const std::uint32_t crc = crc32c(ref);
    const std::uint64_t h64 = xxh3_64(ref, 3);
    const Hash128 h128 = xxh3_128(ref, 3);
    CHECK(crc == reference_crc32c(ref));
    for (std::size_t offset = 0; offset < 64; ++offset) {
      CAPTURE(len);
      CAPTURE(offset);
      std::memcpy(shifted->bytes.data() + offset, data.data(), len);
      const std::span<const std::byte> at(shifted->bytes.data() + offset, len);
      CHECK(crc32c(at) == crc);
      CHECK(xxh3_64(at, 3) == h64);
      CHECK(xxh3_128(at, 3) == h128);
    }
  }
}

TEST_CASE("checksums never read past the end of the data") {
  GuardedPage page;
  const auto fill = random_bytes(page.readable().size(), 9);
  std::memcpy(page.readable().data(), fill.data(), fill.size());
  for (std::size_t len = 0; len <= 4096; ++len) {
    CAPTURE(len);
    const std::span<const std::byte> tail = page.tail(len);
    const std::vector<std::byte> copy(tail.begin(), tail.end());
    CHECK(crc32c(tail) == crc32c(copy));
    CHECK(xxh3_64(tail) == xxh3_64(copy));
    CHECK(xxh3_128(tail) == xxh3_128(copy));
    // The streams see the end of the page in a short final piece.
    const std::size_t head = len / 3;
    Crc32c acc;
    Xxh3_64Stream s64;
    Xxh3_128Stream s128;
    for (const auto piece : {tail.first(head), tail.subspan(head)}) {
      acc.update(piece);
      s64.update(piece);
      s128.update(piece);
    }
    CHECK(acc.value() == crc32c(copy));
    CHECK(s64.digest() == xxh3_64(copy));
    CHECK(s128.digest() == xxh3_128(copy));
  }
}
