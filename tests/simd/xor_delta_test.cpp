// Every XOR-delta variant against the byte-at-a-time reference, at every SIMD level this
// CPU has. CTest also runs the "public" cases once per forced DWCP_SIMD level.
#include "simd/xor_delta.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "simd/cpu_features.h"
#include "simd/xor_kernels.h"
#include "tests/simd/forced_level_main.h"
#include "tests/simd/xor_reference.h"

using namespace dwcp::simd;
using dwcp::test::reference_decode;
using dwcp::test::reference_encode;
using dwcp::test::reference_xor;

namespace {

std::vector<const XorKernels*> all_kernels() {
  std::vector<const XorKernels*> out;
  for (SimdLevel level : supported_simd_levels()) out.push_back(xor_kernels_for(level));
  return out;
}

std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// `block` = `base` with roughly `density` of its bytes changed (each to a different value).
std::vector<std::byte> mutate(std::mt19937_64& rng, std::span<const std::byte> base,
                              double density) {
  std::vector<std::byte> block(base.begin(), base.end());
  std::bernoulli_distribution change(density);
  for (auto& b : block) {
    if (change(rng)) b ^= static_cast<std::byte>(1 + rng() % 255);
  }
  return block;
}

// Memory that ends at the last byte before an inaccessible page: reading one byte past
// the end faults.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(std::size_t max_size) {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    data_pages_ = (max_size + page_ - 1) / page_ + 1;
    void* p = mmap(nullptr, (data_pages_ + 1) * page_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<std::byte*>(p);
    REQUIRE(mprotect(base_ + data_pages_ * page_, page_, PROT_NONE) == 0);
  }
  ~GuardedBuffer() { munmap(base_, (data_pages_ + 1) * page_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  // n bytes ending at the guard page.
  std::span<std::byte> tail(std::size_t n) { return {base_ + data_pages_ * page_ - n, n}; }

 private:
  std::size_t page_ = 0;
  std::size_t data_pages_ = 0;
  std::byte* base_ = nullptr;
};

void check_round_trip(const XorKernels& k, std::span<const std::byte> base,
                      std::span<const std::byte> block) {
  std::vector<std::byte> delta(block.size() + 1);
  const auto expected = reference_encode(base, block);
  const auto encoded = k.encode(base.data(), base.size(), block.data(), block.size(), delta.data());
  if (!expected) {
    REQUIRE_FALSE(encoded.has_value());
    CHECK(encoded.error() == DeltaErrc::not_smaller);
    CHECK(delta.back() == std::byte{0});  // wrote nothing past block.size()
    return;
  }
  REQUIRE(encoded.has_value());
  REQUIRE(*encoded == expected->size());
  CHECK(std::equal(expected->begin(), expected->end(), delta.begin()));

  std::vector<std::byte> rebuilt(block.size());
  const auto decoded =
      k.decode(base.data(), base.size(), delta.data(), *encoded, rebuilt.data(), rebuilt.size());
  REQUIRE(decoded.has_value());
  CHECK(*decoded == block.size());
  CHECK(std::equal(block.begin(), block.end(), rebuilt.begin()));
  const auto by_reference = reference_decode(base, *expected, block.size());
  REQUIRE(by_reference.has_value());
  CHECK(std::equal(block.begin(), block.end(), by_reference->begin(), by_reference->end()));
}

// Decodes `delta` with `k` into memory that ends at a guard page, and checks the result
// (the block, or the error) against the reference decoder.
void check_decode_agrees(const XorKernels& k, std::span<const std::byte> base,
                         std::span<const std::byte> delta, std::span<std::byte> guarded_out) {
  const auto want = reference_decode(base, delta, guarded_out.size());
  const auto got = k.decode(base.data(), base.size(), delta.data(), delta.size(),
                            guarded_out.data(), guarded_out.size());
  REQUIRE(got.has_value() == want.has_value());
  if (!got) {
    CHECK(got.error() == want.error());
    return;
  }
  REQUIRE(*got == want->size());
  CHECK(std::equal(want->begin(), want->end(), guarded_out.begin()));
}

}  // namespace

TEST_CASE("xor_into matches the reference for every length, alignment and level") {
  std::mt19937_64 rng(0x0005a138fbde8743ULL);
  const auto a = random_bytes(rng, 5000);
  const auto b = random_bytes(rng, 5000);
  std::vector<std::byte> out(5000);
  std::vector<std::byte> want(5000);
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t n = 0; n <= 4096; ++n) {
      const std::size_t ao = n % 7;
      const std::size_t bo = n % 5;
      const std::size_t oo = n % 3;
      reference_xor(want.data(), a.data() + ao, b.data() + bo, n);
      std::fill(out.begin(), out.end(), std::byte{0x5a});
      k->xor_into(out.data() + oo, a.data() + ao, b.data() + bo, n);
      REQUIRE(std::equal(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(n),
                         out.begin() + static_cast<std::ptrdiff_t>(oo)));
      REQUIRE(out[oo + n] == std::byte{0x5a});  // nothing written past the end
    }
  }
}

TEST_CASE("xor_into handles long random lengths and works in place") {
  std::mt19937_64 rng(7);
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (int round = 0; round < 8; ++round) {
      const std::size_t n = 4096 + rng() % (1 << 20);
      const auto a = random_bytes(rng, n);
      auto b = random_bytes(rng, n);
      std::vector<std::byte> want(n);
      reference_xor(want.data(), a.data(), b.data(), n);
      k->xor_into(b.data(), a.data(), b.data(), n);
      REQUIRE(b == want);
    }
  }
}

TEST_CASE("no variant reads past the end of its inputs") {
  GuardedBuffer ga(4096), gb(4096), gout(4096), gdelta(4096);
  std::mt19937_64 rng(11);
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t n = 0; n <= 4096; n += (n < 300 ? 1 : 61)) {
      auto a = ga.tail(n);
      auto b = gb.tail(n);
      auto out = gout.tail(n);
      for (auto& x : a) x = static_cast<std::byte>(rng());
      std::copy(a.begin(), a.end(), b.begin());
      for (std::size_t i = 0; i < n; i += 97) b[i] ^= std::byte{0x40};
      k->xor_into(out.data(), a.data(), b.data(), n);
      // Encode b against a, with the output also ending at a guard page.
      auto delta_room = gdelta.tail(n);
      const auto encoded = k->encode(a.data(), n, b.data(), n, delta_room.data());
      if (encoded) {
        auto delta = gdelta.tail(*encoded);
        std::memmove(delta.data(), delta_room.data(), *encoded);
        const auto decoded = k->decode(a.data(), n, delta.data(), delta.size(), out.data(), n);
        REQUIRE(decoded.has_value());
        REQUIRE(std::equal(b.begin(), b.end(), out.begin()));
      }
    }
  }
}

TEST_CASE("encodings equal the reference and round-trip at every change density") {
  std::mt19937_64 rng(42);
  const std::size_t sizes[] = {1,  2,   7,   8,   9,   15,  16,  17,   31,   32,   33,   63,   64,
                               65, 100, 127, 128, 129, 255, 256, 1000, 1472, 4096, 4097, 65536};
  const double densities[] = {0.0, 0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 1.0};
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t n : sizes) {
      const auto base = random_bytes(rng, n);
      for (double d : densities) {
        CAPTURE(n);
        CAPTURE(d);
        check_round_trip(*k, base, mutate(rng, base, d));
      }
    }
  }
}

TEST_CASE("single changed bytes at block and vector edges round-trip") {
  std::mt19937_64 rng(3);
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t n : {64u, 100u, 4096u}) {
      const auto base = random_bytes(rng, n);
      for (std::size_t at = 0; at < n; at += (at < 140 || at > n - 140 ? 1 : 37)) {
        auto block = base;
        block[at] ^= std::byte{1};
        CAPTURE(n);
        CAPTURE(at);
        check_round_trip(*k, base, block);
        // A second change in the next word: two byte masks, maybe two chunks.
        if (at + 9 < n) {
          block[at + 9] ^= std::byte{2};
          check_round_trip(*k, base, block);
        }
      }
    }
  }
}

TEST_CASE("blocks longer or shorter than their base round-trip") {
  std::mt19937_64 rng(5);
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t base_len : {0u, 10u, 100u, 4000u}) {
      for (std::size_t n : {50u, 200u, 4096u}) {
        auto full = random_bytes(rng, std::max(base_len, n));
        std::span<const std::byte> base(full.data(), base_len);
        std::vector<std::byte> block(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        if (n > base_len) {
          // Zeros past the base are squeezed too? No: they travel as literal bytes.
          std::fill(block.begin() + static_cast<std::ptrdiff_t>(base_len), block.end(),
                    std::byte{0});
        }
        if (!block.empty()) block[block.size() / 2] ^= std::byte{0x11};
        CAPTURE(base_len);
        CAPTURE(n);
        check_round_trip(*k, base, block);
      }
    }
  }
}

TEST_CASE("an unrelated or empty block is reported as not smaller") {
  std::mt19937_64 rng(9);
  const auto base = random_bytes(rng, 4096);
  const auto block = random_bytes(rng, 4096);
  std::vector<std::byte> out(4096);
  for (const XorKernels* k : all_kernels()) {
    auto r = k->encode(base.data(), base.size(), block.data(), block.size(), out.data());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == DeltaErrc::not_smaller);
    r = k->encode(base.data(), base.size(), block.data(), 0, out.data());
    CHECK(r.error() == DeltaErrc::not_smaller);
  }
}

TEST_CASE("every truncated prefix of a delta is rejected") {
  std::mt19937_64 rng(13);
  const auto base = random_bytes(rng, 3000);
  const auto block = mutate(rng, base, 0.02);
  const auto delta = reference_encode(base, block).value();
  std::vector<std::byte> out(block.size());
  for (const XorKernels* k : all_kernels()) {
    CAPTURE(to_string(k->level));
    for (std::size_t len = 0; len < delta.size(); ++len) {
      // Copy, so the prefix really ends where the decoder must stop reading.
      std::vector<std::byte> prefix(delta.begin(),
                                    delta.begin() + static_cast<std::ptrdiff_t>(len));
      const auto r =
          k->decode(base.data(), base.size(), prefix.data(), prefix.size(), out.data(), out.size());
      REQUIRE_FALSE(r.has_value());
      CHECK(r.error() == DeltaErrc::truncated);
    }
  }
}

TEST_CASE("malformed deltas are rejected with a specific error") {
  const std::vector<std::byte> base(64, std::byte{7});
  std::vector<std::byte> out(64);
  auto decode = [&](std::vector<std::uint8_t> raw, std::size_t out_size = 64) {
    std::vector<std::byte> delta(raw.size());
    std::memcpy(delta.data(), raw.data(), raw.size());
    return active_xor_kernels().decode(base.data(), base.size(), delta.data(), delta.size(),
                                       out.data(), out_size);
  };
  // A 4-byte block: one chunk, one word.
  CHECK(decode({4, 2}).error() == DeltaErrc::malformed);              // chunk past the block
  CHECK(decode({4, 1, 2, 1, 9}).error() == DeltaErrc::malformed);     // word past the block
  CHECK(decode({4, 1, 1, 0x10, 9}).error() == DeltaErrc::malformed);  // byte past the block
  CHECK(decode({4, 0, 7}).error() == DeltaErrc::malformed);           // trailing byte
  CHECK(decode({4}).error() == DeltaErrc::truncated);                 // no chunk map
  CHECK(decode({4, 1}).error() == DeltaErrc::truncated);              // no word mask
  CHECK(decode({4, 1, 1}).error() == DeltaErrc::truncated);           // no byte mask
  CHECK(decode({4, 1, 1, 3, 9}).error() == DeltaErrc::truncated);     // a byte short
  CHECK(decode({0x80, 0x80}).error() == DeltaErrc::truncated);        // integer cut short
  CHECK(decode({65}).error() == DeltaErrc::no_space);                 // block larger than out
  CHECK(decode({4, 0}, 3).error() == DeltaErrc::no_space);
  std::vector<std::uint8_t> huge(11, 0xff);
  CHECK(decode(huge).error() == DeltaErrc::malformed);  // integer over 64 bits
  // A 64-byte block: a chunk map bit past its one chunk; a second segment that is not there.
  CHECK(decode({64, 2}).error() == DeltaErrc::malformed);
  CHECK(decode({64, 0, 0}).error() == DeltaErrc::malformed);
  const auto ok = decode({4, 1, 1, 0x0a, 0xa, 0xb});
  REQUIRE(ok.has_value());
  CHECK(*ok == 4);
  CHECK(out[0] == std::byte{7});
  CHECK(out[1] == (std::byte{7} ^ std::byte{0xa}));
  CHECK(out[2] == std::byte{7});
  CHECK(out[3] == (std::byte{7} ^ std::byte{0xb}));
  CHECK(decode({0}).value() == 0);  // empty block
  // Not canonical, accepted: a zero word mask, a zero byte mask, a zero XOR byte.
  for (const auto& spent :
       std::vector<std::vector<std::uint8_t>>{{4, 1, 0}, {4, 1, 1, 0}, {4, 1, 1, 1, 0}}) {
    REQUIRE(decode(spent) == 4u);
    CHECK(std::all_of(out.begin(), out.begin() + 4, [](std::byte b) { return b == std::byte{7}; }));
  }
}

TEST_CASE("random garbage never decodes out of bounds") {
  std::mt19937_64 rng(17);
  const auto base = random_bytes(rng, 256);
  GuardedBuffer guarded_out(256);
  for (const XorKernels* k : all_kernels()) {
    for (int round = 0; round < 20000; ++round) {
      auto garbage = random_bytes(rng, rng() % 40);
      if (!garbage.empty() && round % 2 == 0) garbage[0] = static_cast<std::byte>(rng() % 200);
      const std::size_t cap = rng() % 257;
      auto out = guarded_out.tail(cap);
      check_decode_agrees(*k, base, garbage, out);
    }
  }
}

TEST_CASE("damaged deltas decode as the reference decodes them") {
  // Valid deltas with bytes flipped, cut or added: what each level rebuilds, or the error
  // it reports, matches the reference; nothing is read or written out of bounds.
  std::mt19937_64 rng(19);
  GuardedBuffer guarded_out(9000);
  for (const std::size_t n : {4u, 64u, 100u, 4096u, 4097u, 8200u}) {
    const auto base = random_bytes(rng, n);
    const auto block = mutate(rng, base, 0.02);
    const auto delta = reference_encode(base, block);
    if (!delta) continue;
    for (const XorKernels* k : all_kernels()) {
      CAPTURE(to_string(k->level));
      CAPTURE(n);
      for (int round = 0; round < 3000; ++round) {
        auto damaged = *delta;
        const int flips = 1 + static_cast<int>(rng() % 3);
        for (int f = 0; f < flips; ++f) {
          damaged[rng() % damaged.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
        }
        if (round % 3 == 1) damaged.resize(rng() % damaged.size());
        if (round % 3 == 2) damaged.push_back(static_cast<std::byte>(rng()));
        const std::size_t cap = round % 5 == 0 ? n - rng() % (n / 2 + 1) : n;
        check_decode_agrees(*k, base, damaged, guarded_out.tail(cap));
      }
    }
  }
}

TEST_CASE("the public functions check their spans and agree with the kernels") {
  if (const char* expected = std::getenv("DWCP_EXPECT_SIMD")) {
    CHECK(to_string(active_simd_level()) == expected);
  }
  std::mt19937_64 rng(21);
  const auto base = random_bytes(rng, 4096);
  const auto block = mutate(rng, base, 0.01);
  std::vector<std::byte> delta(max_encoded_size(block.size()));
  CHECK(encode_delta(base, block, std::span(delta).first(100)).error() == DeltaErrc::no_space);
  const auto n = encode_delta(base, block, delta);
  REQUIRE(n.has_value());
  CHECK(*n == reference_encode(base, block)->size());
  const std::span<const std::byte> d(delta.data(), *n);
  CHECK(delta_block_size(d) == 4096u);

  std::vector<std::byte> rebuilt(4096);
  CHECK(decode_delta(base, d, rebuilt) == 4096u);
  CHECK(rebuilt == block);

  auto in_place = base;
  CHECK(decode_delta(in_place, d, in_place) == 4096u);
  CHECK(in_place == block);

  std::vector<std::byte> x(4096);
  CHECK(xor_into(x, base, block).has_value());
  std::vector<std::byte> want(4096);
  reference_xor(want.data(), base.data(), block.data(), 4096);
  CHECK(x == want);
  CHECK(xor_into(x, std::span(base).first(10), block).error() == DeltaErrc::no_space);

  // No base at all (an empty span, no data pointer): the block against zeros.
  std::vector<std::byte> sparse(4096);
  sparse[5] = std::byte{1};
  sparse[4000] = std::byte{2};
  const auto alone = encode_delta({}, sparse, delta);
  REQUIRE(alone.has_value());
  CHECK(*alone == reference_encode({}, sparse)->size());
  std::vector<std::byte> rebuilt_alone(4096, std::byte{0x5a});
  CHECK(decode_delta({}, std::span<const std::byte>(delta.data(), *alone), rebuilt_alone) == 4096u);
  CHECK(rebuilt_alone == sparse);
  CHECK(to_string(DeltaErrc::truncated) == "truncated delta");
}

int main(int argc, char** argv) {
  return dwcp::test::run_at_forced_simd_level(argc, argv);
}
